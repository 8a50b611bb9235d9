package speechcache

import (
	"encoding/json"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// testRule is the shape of ElevenLabs' built-in rule.
var testRule = &aiproxy.SpeechCacheRule{
	Key: []aiproxy.RequestField{
		{In: aiproxy.InPath, Name: "voice_id"}, {In: aiproxy.InQuery, Name: "output_format"},
		{In: aiproxy.InQuery, Name: "enable_logging"}, {In: aiproxy.InHeader, Name: "Accept"},
		{In: aiproxy.InBody, Name: "text"}, {In: aiproxy.InBody, Name: "model_id"},
		{In: aiproxy.InBody, Name: "voice_settings"}, {In: aiproxy.InBody, Name: "seed"},
	},
	Uncacheable: []aiproxy.RequestField{
		{In: aiproxy.InQuery, Name: "enable_logging", Value: "false"}, {In: aiproxy.InBody, Name: "previous_request_ids"},
		{In: aiproxy.InBody, Name: "seed", Value: "0"},
	},
}

var (
	testService  = &aiproxy.Service{Slug: "elevenlabs", CredentialName: "elevenlabs"}
	testEndpoint = &aiproxy.Endpoint{Slug: "tts", SpeechCache: testRule}
)

// call is a call of org on the platform credential with an envelope.
func call(org, body string, mod ...func(*proxy.Call)) *proxy.Call {
	c := &proxy.Call{Org: org, Service: testService, Endpoint: testEndpoint, Source: aiproxy.SourcePlatform,
		Envelope: proxy.Envelope{PathParams: map[string]string{"voice_id": "v1"}, Body: json.RawMessage(body)}}
	for _, f := range mod {
		f(c)
	}
	return c
}

func mustKey(t *testing.T, c *proxy.Call) string {
	t.Helper()
	k, ok := keyOf(c, testRule)
	if !ok {
		t.Fatalf("call with body %s is uncacheable", c.Envelope.Body)
	}
	return k
}

const baseBody = `{"text":"Hello","model_id":"m1","voice_settings":{"stability":0.5,"similarity_boost":0.75}}`

func TestKeySameRequestSpeltOtherwise(t *testing.T) {
	want := mustKey(t, call("acme", baseBody))
	for _, body := range []string{
		`{"model_id":"m1","voice_settings":{"similarity_boost":0.75,"stability":0.5},"text":"Hello"}`,
		` { "text" : "Hello", "model_id":"m1", "voice_settings":{"stability":5e-1,"similarity_boost":0.750} } `,
		`{"text":"\u0048ello","model_id":"m1","voice_settings":{"stability":0.5,"similarity_boost":75E-2}}`,
		`{"text":"Hello","model_id":"m1","voice_settings":{"stability":0.5,"similarity_boost":0.75},"seed":null}`,
	} {
		if got := mustKey(t, call("acme", body)); got != want {
			t.Errorf("%s: another key", body)
		}
	}
	if got := mustKey(t, call("acme", baseBody, func(c *proxy.Call) {
		c.Envelope.Headers = map[string]string{"accept": "audio/mpeg"}
	})); got == want {
		t.Error("an Accept header left the key unchanged")
	}
}

func TestKeyDiffers(t *testing.T) {
	base := mustKey(t, call("acme", baseBody))
	cases := map[string]*proxy.Call{
		"text":      call("acme", `{"text":"Hello!","model_id":"m1","voice_settings":{"stability":0.5,"similarity_boost":0.75}}`),
		"model":     call("acme", `{"text":"Hello","model_id":"m2","voice_settings":{"stability":0.5,"similarity_boost":0.75}}`),
		"setting":   call("acme", `{"text":"Hello","model_id":"m1","voice_settings":{"stability":0.5,"similarity_boost":0.7}}`),
		"no model":  call("acme", `{"text":"Hello","voice_settings":{"stability":0.5,"similarity_boost":0.75}}`),
		"seed":      call("acme", `{"text":"Hello","model_id":"m1","voice_settings":{"stability":0.5,"similarity_boost":0.75},"seed":1}`),
		"integer":   call("acme", `{"text":"Hello","model_id":"m1","voice_settings":{"stability":0.5,"similarity_boost":0.75},"seed":12345678901234567891}`),
		"voice":     call("acme", baseBody, func(c *proxy.Call) { c.Envelope.PathParams["voice_id"] = "v2" }),
		"format":    call("acme", baseBody, func(c *proxy.Call) { c.Envelope.Query = map[string][]string{"output_format": {"pcm_16000"}} }),
		"org":       call("beta", baseBody),
		"source":    call("acme", baseBody, func(c *proxy.Call) { c.Source = aiproxy.SourceTenant }),
		"endpoint":  call("acme", baseBody, func(c *proxy.Call) { c.Endpoint = &aiproxy.Endpoint{Slug: "tts-stream"} }),
		"cred name": call("acme", baseBody, func(c *proxy.Call) { c.Service = &aiproxy.Service{Slug: "elevenlabs", CredentialName: "el2"} }),
	}
	seen := map[string]string{"base": base}
	for name, c := range cases {
		k := mustKey(t, c)
		for other, ok := range seen {
			if ok == k {
				t.Errorf("%s and %s share a key", name, other)
			}
		}
		seen[name] = k
	}
	big1 := mustKey(t, call("acme", `{"text":"a","seed":12345678901234567891}`))
	big2 := mustKey(t, call("acme", `{"text":"a","seed":12345678901234567892}`))
	if big1 == big2 {
		t.Error("two integers past a float's precision share a key")
	}
}

func TestKeyUncacheable(t *testing.T) {
	for name, c := range map[string]*proxy.Call{
		"unknown body field": call("acme", `{"text":"Hello","pitch":2}`),
		"uncacheable field":  call("acme", `{"text":"Hello","previous_request_ids":["r1"]}`),
		"uncacheable value":  call("acme", `{"text":"Hello","seed":0}`),
		"repeated member":    call("acme", `{"text":"Hello","text":"Bye"}`),
		"repeated nested":    call("acme", `{"text":"Hello","voice_settings":{"stability":0.1,"stability":0.9}}`),
		"not an object":      call("acme", `["Hello"]`),
		"not UTF-8":          call("acme", "{\"text\":\"\xff\"}"),
		"zero retention":     call("acme", baseBody, func(c *proxy.Call) { c.Envelope.Query = map[string][]string{"enable_logging": {"false"}} }),
		"unknown query":      call("acme", baseBody, func(c *proxy.Call) { c.Envelope.Query = map[string][]string{"speed": {"2"}} }),
		"unknown header":     call("acme", baseBody, func(c *proxy.Call) { c.Envelope.Headers = map[string]string{"Accept-Language": "de"} }),
		"header in two spellings": call("acme", baseBody, func(c *proxy.Call) {
			c.Envelope.Headers = map[string]string{"accept": "audio/mpeg", "ACCEPT": "audio/wav"}
		}),
	} {
		if _, ok := keyOf(c, testRule); ok {
			t.Errorf("%s: cacheable", name)
		}
	}
	if _, ok := keyOf(call("acme", baseBody, func(c *proxy.Call) {
		c.Envelope.Query = map[string][]string{"enable_logging": {"true"}}
	}), testRule); !ok {
		t.Error("enable_logging=true, in the key and unlike the uncacheable value, is uncacheable")
	}
	if _, ok := keyOf(call("acme", `{"text":"Hello","seed":1}`), testRule); !ok {
		t.Error("seed 1, unlike the uncacheable value 0, is uncacheable")
	}
}

func TestCanonicalNumber(t *testing.T) {
	for in, want := range map[string]string{
		"1": "1", "1.0": "1", "1e0": "1", "0.5": "0.5", "5e-1": "0.5", "0.750": "0.75", "-2.50": "-2.5",
		"12345678901234567891": "12345678901234567891", "1e300": "1e+300", "1e400": "1e400",
	} {
		if got := canonicalNumber(in); got != want {
			t.Errorf("canonicalNumber(%s) = %s, want %s", in, got, want)
		}
	}
}

// FuzzCanonicalMembers: whatever the body, canonical values are valid
// JSON, and canonicalizing a canonical body changes nothing.
func FuzzCanonicalMembers(f *testing.F) {
	for _, seed := range []string{baseBody, `{"a":[1,2.0,{"b":null}],"c":"\u00e9"}`, `{"text":"Hello","text":"Bye"}`, `[]`, `{"a":1e400}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := canonicalMembers(raw)
		if err != nil {
			return
		}
		re := map[string]json.RawMessage{}
		for k, v := range m {
			if !json.Valid([]byte(v)) {
				t.Fatalf("%q: canonical value %q is not JSON", k, v)
			}
			re[k] = json.RawMessage(v)
		}
		again, _ := json.Marshal(re)
		m2, err := canonicalMembers(again)
		if err != nil {
			t.Fatalf("canonical body %s refused: %v", again, err)
		}
		for k, v := range m {
			if m2[k] != v {
				t.Fatalf("%q: %q became %q", k, v, m2[k])
			}
		}
	})
}

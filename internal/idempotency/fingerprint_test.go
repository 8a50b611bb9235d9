package idempotency

import (
	"bytes"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// TestIdempotencyFingerprintFields checks that the fingerprint covers
// everything that reaches the provider: a change in any one field is
// another request, while a change in form only is not.
func TestIdempotencyFingerprintFields(t *testing.T) {
	base := proxy.Envelope{
		Body:       []byte(`{"variables":{"name":{"properties":{"content":"Ada"}}},"test":true}`),
		Query:      map[string][]string{"lang": {"en"}},
		Headers:    map[string]string{"X-Request-Tag": "a"},
		PathParams: map[string]string{"template_id": "tpl-1"},
	}
	fp := func(service, action string, env proxy.Envelope, testOnly bool) string {
		return fingerprint(service, action, env, testOnly)
	}
	want := fp("heygen", "generate-template-video", base, false)
	with := func(f func(*proxy.Envelope)) proxy.Envelope {
		env := base
		env.Query = maps.Clone(base.Query)
		env.Headers = maps.Clone(base.Headers)
		env.PathParams = maps.Clone(base.PathParams)
		f(&env)
		return env
	}
	for _, tc := range []struct {
		field string
		got   string
	}{
		{"service", fp("elevenlabs", "generate-template-video", base, false)},
		{"action", fp("heygen", "generate-video", base, false)},
		{"body", fp("heygen", "generate-template-video", with(func(e *proxy.Envelope) {
			e.Body = []byte(`{"variables":{"name":{"properties":{"content":"Bob"}}},"test":true}`)
		}), false)},
		{"body number as written", fp("heygen", "generate-template-video", with(func(e *proxy.Envelope) {
			e.Body = []byte(`{"variables":{},"n":12345678901234567891}`)
		}), false) + "|" + fp("heygen", "generate-template-video", with(func(e *proxy.Envelope) {
			e.Body = []byte(`{"variables":{},"n":12345678901234567890}`)
		}), false)},
		{"body with a repeated key", fp("heygen", "generate-template-video", with(func(e *proxy.Envelope) {
			e.Body = []byte(`{"variables":{"name":{"properties":{"content":"Bob"}}},"variables":{"name":{"properties":{"content":"Ada"}}},"test":true}`)
		}), false)},
		{"path parameter", fp("heygen", "generate-template-video", with(func(e *proxy.Envelope) { e.PathParams["template_id"] = "tpl-2" }), false)},
		{"added path parameter", fp("heygen", "generate-template-video", with(func(e *proxy.Envelope) { e.PathParams["x"] = "1" }), false)},
		{"query value", fp("heygen", "generate-template-video", with(func(e *proxy.Envelope) { e.Query["lang"] = []string{"fr"} }), false)},
		{"query repeated", fp("heygen", "generate-template-video", with(func(e *proxy.Envelope) { e.Query["lang"] = []string{"en", "en"} }), false)},
		{"query order of values", fp("heygen", "generate-template-video", with(func(e *proxy.Envelope) {
			e.Query["lang"] = []string{"en", "fr"}
		}), false) + "|" + fp("heygen", "generate-template-video", with(func(e *proxy.Envelope) { e.Query["lang"] = []string{"fr", "en"} }), false)},
		{"header value", fp("heygen", "generate-template-video", with(func(e *proxy.Envelope) { e.Headers["X-Request-Tag"] = "b" }), false)},
		{"added header", fp("heygen", "generate-template-video", with(func(e *proxy.Envelope) { e.Headers["Accept-Language"] = "fr" }), false)},
		{"test-only key", fp("heygen", "generate-template-video", base, true)},
	} {
		if strings.Contains(tc.got, "|") {
			a, b, _ := strings.Cut(tc.got, "|")
			if a == b {
				t.Errorf("%s: two requests share a fingerprint", tc.field)
			}
			continue
		}
		if tc.got == want {
			t.Errorf("changing the %s leaves the fingerprint unchanged", tc.field)
		}
	}
	reformatted := with(func(e *proxy.Envelope) {
		e.Body = []byte("{ \"test\" : true,\n \"variables\": {\"name\": {\"properties\": {\"content\": \"Ada\"}}} }")
	})
	if fp("heygen", "generate-template-video", reformatted, false) != want {
		t.Error("key order and spacing of the body changed the fingerprint")
	}
}

// TestCanonicalBodyKeepsStoredFingerprints checks that, for a body without
// repeated keys, the canonical form is the one fingerprints were computed
// with before it kept repeated keys (the body decoded and encoded again),
// so that keys claimed before an upgrade still replay after it.
func TestCanonicalBodyKeepsStoredFingerprints(t *testing.T) {
	for _, body := range []string{
		`{"b":1,"a":[true,null,{"y":"<&>","x":1.50}],"c":"é\u00e9"}`, `[]`, `"text"`, `12e3`, `{"k":{}}`,
		`{"video_inputs":[{"voice":{"input_text":"Hello \"there\"\n"}}],"dimension":{"width":1280}}`,
	} {
		doc, _ := aiproxy.DecodeJSON([]byte(body))
		old, _ := json.Marshal(doc)
		got, _ := json.Marshal(canonicalBody([]byte(body)))
		if !bytes.Equal(got, old) {
			t.Errorf("canonical %s = %s, want %s", body, got, old)
		}
	}
	if got := canonicalBody([]byte(`not json`)); got != "not json" {
		t.Errorf("a body that is not JSON = %v, want it compared as it is", got)
	}
	if canonicalBody([]byte(`{"a":1} {"a":2}`)) == canonicalBody([]byte(`{"a":1} {"a":3}`)) {
		t.Error("trailing data is ignored")
	}
}

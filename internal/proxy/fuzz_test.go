package proxy

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// FuzzDecodeEnvelope checks that decoding never panics, that a refusal is
// always the client's invalid error, and that an accepted envelope encodes
// back to one that decodes the same.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, tc := range envelopeCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := DecodeEnvelope(data)
		if err != nil {
			if aiproxy.ErrorCode(err) != aiproxy.CodeInvalid {
				t.Fatalf("refusal %v is not invalid", err)
			}
			return
		}
		if env.Body != nil && !json.Valid(env.Body) {
			t.Fatalf("accepted body %q is not JSON", env.Body)
		}
		for k, v := range env.Headers {
			if strings.ContainsAny(v, "\r\n\x00") {
				t.Fatalf("accepted header %q = %q", k, v)
			}
		}
		again, err := DecodeEnvelope(encodeEnvelope(t, env))
		if err != nil {
			t.Fatalf("re-encoded envelope refused: %v", err)
		}
		if !bytes.Equal(again.Body, env.Body) || !sameMap(again.Query, env.Query) ||
			!sameMap(again.Headers, env.Headers) || !sameMap(again.PathParams, env.PathParams) {
			t.Fatalf("round trip changed the envelope:\n%#v\n%#v", env, again)
		}
	})
}

// sameMap compares maps, treating nil and empty as equal.
func sameMap[V any](a, b map[string]V) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

// FuzzRedactor checks that for any chunking of a body the redactor's output
// never holds the secret and equals strings.ReplaceAll on the whole body.
func FuzzRedactor(f *testing.F) {
	for _, tc := range redactCases {
		var sizes []byte
		for _, n := range tc.chunks {
			sizes = append(sizes, byte(n))
		}
		f.Add(tc.secret, tc.body, sizes)
	}
	f.Add(tenantKey, `{"k":"`+tenantKey+`"}`, []byte{3, 7, 1})
	f.Fuzz(func(t *testing.T, secret, body string, sizes []byte) {
		if secret == "" || len(body) > 1<<16 {
			return
		}
		// Plant the secret so that most inputs exercise a match.
		body = body[:len(body)/2] + secret + body[len(body)/2:]
		chunks := make([]int, len(sizes))
		for i, s := range sizes {
			chunks[i] = int(s)
		}
		got := redactChunked(t, secret, body, chunks)
		want := strings.ReplaceAll(body, secret, redactedMark)
		if got != want {
			t.Fatalf("redact(%q, %q, %v) = %q, want %q", secret, body, chunks, got, want)
		}
		// A secret that shares no byte with the mark cannot be rebuilt from
		// it and its neighbours, so it must be gone entirely.
		if !strings.ContainsAny(secret, redactedMark) && strings.Contains(got, secret) {
			t.Fatalf("output %q holds the secret", got)
		}
	})
}

// FuzzApplyTestMode feeds a test-only key's job-start bodies to the rewrite
// that forces test mode: it must never panic (a JSON null body once did),
// and a body it accepts must come out as an object whose test field is
// true.
func FuzzApplyTestMode(f *testing.F) {
	for _, s := range []string{`null`, `{}`, `{"test":false}`, `{"test":true,"a":1}`, `[]`, `"x"`, `{"test":null}`, ``} {
		f.Add([]byte(s))
	}
	ep := &aiproxy.Endpoint{Slug: "generate-video", TestModeField: "test", CallbackMode: aiproxy.CallbackPoll}
	pr := aiproxy.Principal{KeyID: "k", OrgKey: "acme", Role: aiproxy.RoleInvoke, TestOnly: true}
	f.Fuzz(func(t *testing.T, body []byte) {
		env := Envelope{}
		if len(body) > 0 {
			env.Body = json.RawMessage(body)
		}
		if err := applyTestMode(pr, ep, &env); err != nil {
			return
		}
		var out map[string]json.RawMessage
		if err := json.Unmarshal(env.Body, &out); err != nil || string(out["test"]) != "true" {
			t.Fatalf("accepted %q as %q, want an object with test true", body, env.Body)
		}
	})
}

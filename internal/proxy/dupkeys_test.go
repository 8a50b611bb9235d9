package proxy

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

func TestCheckDuplicateKeys(t *testing.T) {
	tests := []struct {
		body string
		dup  bool
	}{
		{`{"text":"a","model_id":"m"}`, false},
		{`{"text":"a","text":"b"}`, true},
		{`{"text":"a","Text":"b"}`, true},
		{`{"TEXT":"a","tExt":"b"}`, true},
		{`{"a":{"x":1,"X":2}}`, true},
		{`{"a":[{"x":1},{"x":2}]}`, false},
		{`{"a":[{"x":1,"y":{"z":1,"Z":[]}}]}`, true},
		{`{"a":{"x":1},"b":{"x":1}}`, false},
		{`[{"k":1},{"k":1,"k":2}]`, true},
		{`{"a":"text","text":"a"}`, false},
		{`{"a":["x","x"],"x":1}`, false},
		{`{"a":{},"A":{}}`, true},
		{`"text"`, false},
		{`{"a":1,`, false}, // a syntax error is the validator's to report
	}
	for _, tc := range tests {
		err := checkDuplicateKeys(json.RawMessage(tc.body))
		if (err != nil) != tc.dup {
			t.Errorf("%s: err = %v, want duplicate %v", tc.body, err, tc.dup)
		}
	}
}

// FuzzCheckDuplicateKeys feeds the check untrusted bodies: it must never
// panic, and a body it accepts that decodes as an object must keep every
// top-level member it names when decoded into a map, once letter case is
// folded.
func FuzzCheckDuplicateKeys(f *testing.F) {
	for _, s := range []string{`{"text":"a","Text":"b"}`, `{"a":[{"x":1},{"x":2}]}`, `[{"k":1},{"k":1,"k":2}]`, `{"a":1,`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if checkDuplicateKeys(json.RawMessage(s)) != nil {
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(s), &m) != nil {
			return
		}
		folded := map[string]bool{}
		for k := range m {
			folded[strings.ToLower(k)] = true
		}
		if len(folded) != len(m) {
			t.Fatalf("accepted %q, whose top-level keys collide when case is folded", s)
		}
	})
}

// TestMeteredBodyWithDuplicateKeys checks that a metered body naming a key
// twice is refused before the provider: the meter and the provider must
// read the same text.
func TestMeteredBodyWithDuplicateKeys(t *testing.T) {
	up := newUpstream(t, nil)
	svc := testService(up.URL, bothPolicy, aiproxy.Endpoint{Slug: "tts", RequestMode: aiproxy.RequestJSON,
		ResponseMode: aiproxy.ResponseJSON, Meter: aiproxy.MetricCharacters})
	f := newFixture(t, services{"svc": svc}, Config{})
	f.setCredential(t, aiproxy.SourceTenant, "svc", tenantKey)
	pr := aiproxy.Principal{KeyID: "k", OrgKey: testOrg, Role: aiproxy.RoleInvoke}
	for _, body := range []string{`{"text":"a","Text":"` + strings.Repeat("b", 5000) + `"}`, `{"text":"a","text":"b"}`} {
		r := invokeRequest(`{"body":` + body + `}`)
		r = r.WithContext(aiproxy.WithPrincipal(r.Context(), pr))
		_, err := f.proxy.Invoke(httptest.NewRecorder(), r, testOrg, "svc", "tts")
		errorOf(t, err, aiproxy.CodeInvalid, "")
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("the provider got %d requests", n)
	}
}

package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// oddKey is a provider key with characters that JSON and URL encoding
// change, so that each echoed form differs from the key as it is.
const oddKey = "sk/ab+cd<ef>gh&ij=kl mn"

func TestSecretForms(t *testing.T) {
	if got := secretForms("sk_live_0123456789abcdef"); len(got) != 1 {
		t.Fatalf("a plain key has %d forms, want 1: %q", len(got), got)
	}
	forms := secretForms(oddKey)
	for _, want := range []string{oddKey, `sk/ab+cd\u003cef\u003egh\u0026ij=kl mn`, `sk\/ab+cd\u003cef\u003egh\u0026ij=kl mn`,
		url.QueryEscape(oddKey), url.PathEscape(oddKey)} {
		found := false
		for _, f := range forms {
			found = found || f == want
		}
		if !found {
			t.Errorf("forms %q lack %q", forms, want)
		}
	}
}

// TestEchoedKeyRedactedEverywhere checks that a provider echoing the key,
// in headers the proxy passes on and in any escaped form in a body, never
// shows it to the client.
func TestEchoedKeyRedactedEverywhere(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "https://files.example/v?key="+url.QueryEscape(oddKey)+"&p="+url.PathEscape(oddKey))
		w.Header().Set("Content-Disposition", `attachment; filename="`+oddKey+`.mp3"`)
		w.Header().Set("Retry-After", oddKey)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"raw":"`+oddKey+`","go":"sk/ab+cd\u003cef\u003egh\u0026ij=kl mn","php":"sk\/ab+cd\u003cef\u003egh\u0026ij=kl mn"}`)
	})
	svc := testService(up.URL, bothPolicy, aiproxy.Endpoint{Slug: "go", RequestMode: aiproxy.RequestJSON, ResponseMode: aiproxy.ResponseJSON})
	f := newFixture(t, services{"svc": svc}, Config{})
	f.setCredential(t, aiproxy.SourceTenant, "svc", oddKey)
	w := httptest.NewRecorder()
	if _, err := f.proxy.Invoke(w, invokeRequest(`{}`), testOrg, "svc", "go"); err != nil {
		t.Fatal(err)
	}
	var shown strings.Builder
	for name, values := range w.Header() {
		shown.WriteString(name + ": " + strings.Join(values, ",") + "\n")
	}
	shown.WriteString(w.Body.String())
	for _, form := range secretForms(oddKey) {
		if strings.Contains(shown.String(), form) {
			t.Errorf("the client saw the key as %q:\n%s", form, shown.String())
		}
	}
	if !strings.Contains(shown.String(), redactedMark) {
		t.Fatalf("nothing was redacted:\n%s", shown.String())
	}
}

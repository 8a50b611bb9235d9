package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/breaker"
)

// stallingBody yields its text, then fails as a read past the server's
// read deadline does.
type stallingBody struct{ r io.Reader }

func (s *stallingBody) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF {
		return n, fmt.Errorf("read tcp: %w", os.ErrDeadlineExceeded)
	}
	return n, err
}

// TestClientFaultsNeverOpenTheBreaker checks that failures the client
// caused (a header value Go's transport would refuse, an upload that
// stalled, a client that went away) are refused with the client's error
// and never count against the credential's breaker: a breaker that opens
// after one failure stays closed for the next caller.
func TestClientFaultsNeverOpenTheBreaker(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(300 * time.Millisecond)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	svc := testService(up.URL, bothPolicy,
		aiproxy.Endpoint{Slug: "go", RequestMode: aiproxy.RequestJSON, ResponseMode: aiproxy.ResponseJSON},
		aiproxy.Endpoint{Slug: "slow", PathTemplate: "/slow", RequestMode: aiproxy.RequestJSON, ResponseMode: aiproxy.ResponseJSON},
		aiproxy.Endpoint{Slug: "upload", PathTemplate: "/upload", RequestMode: aiproxy.RequestMultipart, ResponseMode: aiproxy.ResponseJSON})
	brk := breaker.New(1, time.Hour, nil)
	f := newFixture(t, services{"svc": svc}, Config{Breaker: brk})
	f.setCredential(t, aiproxy.SourceTenant, "svc", tenantKey)
	client := aiproxy.Principal{KeyID: "k", OrgKey: testOrg, Role: aiproxy.RoleInvoke}
	as := func(r *http.Request) *http.Request { return r.WithContext(aiproxy.WithPrincipal(r.Context(), client)) }

	t.Run("control character in a header value", func(t *testing.T) {
		const decoded = `Invalid request envelope: header "Accept" has a forbidden character.`
		const built = `Header "Accept" has a control character in its value.`
		for v, msg := range map[string]string{"a\x01b": built, "a\x1fb": built, "a\x7fb": built,
			"a\rb": decoded, "a\nb": decoded, "a\x00b": decoded} {
			jv, _ := json.Marshal(v)
			r := as(invokeRequest(fmt.Sprintf(`{"headers":{"Accept":%s}}`, jv)))
			_, err := f.proxy.Invoke(httptest.NewRecorder(), r, testOrg, "svc", "go")
			errorOf(t, err, aiproxy.CodeInvalid, msg)
		}
		if n := len(up.requests()); n != 0 {
			t.Fatalf("the provider got %d requests", n)
		}
	})
	t.Run("a tab is allowed", func(t *testing.T) {
		w := httptest.NewRecorder()
		if _, err := f.proxy.Invoke(w, as(invokeRequest(`{"headers":{"Accept":"a\tb"}}`)), testOrg, "svc", "go"); err != nil || w.Code != 200 {
			t.Fatalf("tab in a header value: %d %v", w.Code, err)
		}
	})
	t.Run("stalled upload", func(t *testing.T) {
		body := "--B\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.mp3\"\r\n\r\nsome bytes but not all"
		r := as(httptest.NewRequest(http.MethodPost, "/", &stallingBody{r: strings.NewReader(body)}))
		r.Header.Set("Content-Type", "multipart/form-data; boundary=B")
		_, err := f.proxy.Invoke(httptest.NewRecorder(), r, testOrg, "svc", "upload")
		errorOf(t, err, aiproxy.CodeRequestTimeout, "The request body was not received in time.")
	})
	t.Run("client gone", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		r := as(invokeRequest(`{}`)).WithContext(aiproxy.WithPrincipal(ctx, client))
		if _, err := f.proxy.Invoke(httptest.NewRecorder(), r, testOrg, "svc", "slow"); err != ErrClientGone {
			t.Fatalf("client gone: %v", err)
		}
	})
	if st := brk.State("svc|tenant|" + testOrg); st != breaker.Closed {
		t.Fatalf("breaker after client faults = %s, want closed", st)
	}
	w := httptest.NewRecorder()
	if _, err := f.proxy.Invoke(w, as(invokeRequest(`{}`)), testOrg, "svc", "go"); err != nil || w.Code != 200 {
		t.Fatalf("the next caller: %d %v", w.Code, err)
	}
}

package httpapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/sqlite"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// fakeLive is a LiveSessionVerifier over a map of tokens.
type fakeLive struct {
	mu     sync.Mutex
	tokens map[string]aiproxy.Principal
	asked  int
}

func (f *fakeLive) VerifyLiveSession(_ context.Context, service, raw string) (aiproxy.Principal, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked++
	p, ok := f.tokens[raw]
	if !ok || service != "liveavatar" {
		return aiproxy.Principal{}, false, nil
	}
	return p, true, nil
}

// nativeSpy records the native calls that passed authentication.
type nativeSpy struct {
	mu    sync.Mutex
	calls []aiproxy.Principal
}

func (n *nativeSpy) Invoke(http.ResponseWriter, *http.Request, string, string, string) (proxy.Outcome, error) {
	return proxy.Outcome{}, nil
}

func (n *nativeSpy) InvokeNative(w http.ResponseWriter, r *http.Request, _, _, _ string) (proxy.Outcome, error) {
	p, _ := aiproxy.PrincipalFrom(r.Context())
	n.mu.Lock()
	n.calls = append(n.calls, p)
	n.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	return proxy.Outcome{Status: 200}, nil
}

func (n *nativeSpy) count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.calls)
}

// TestLiveSessionToken checks the provider session token as a credential:
// accepted on its own org's native routes of its service only, refused
// everywhere else without reaching the proxy, and an aiproxy key still
// works on the same routes.
func TestLiveSessionToken(t *testing.T) {
	ctx := context.Background()
	cat, err := catalog.Load(catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "aiproxy.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	v, err := vault.New(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	adm := admin.New(db, v, cat, nil)
	for _, org := range []string{"acme", "other"} {
		if _, err := adm.CreateOrg(ctx, org, ""); err != nil {
			t.Fatal(err)
		}
	}
	key, _, err := adm.CreateKey(ctx, "acme", "test", aiproxy.RoleInvoke)
	if err != nil {
		t.Fatal(err)
	}
	const token = "eyJhbGciOiJIUzI1NiJ9.eyJzZXNzaW9uX2lkIjoiczEifQ.c2lnbmVk"
	live := &fakeLive{tokens: map[string]aiproxy.Principal{token: {Kind: aiproxy.KindLiveSession, OrgKey: "acme",
		Role: aiproxy.RoleInvoke, Services: []string{"liveavatar"}, LiveSession: "s1",
		Actions: []string{"liveavatar/start-session"}}}}
	spy := &nativeSpy{}
	srv := httptest.NewServer(New(Config{Catalog: cat, Invoker: spy, Keys: db, Orgs: db, Admin: adm, LiveSessions: live}))
	t.Cleanup(srv.Close)

	invalid := `{"code":"unauthenticated","detail":"Invalid token."}`
	forbidden := `{"code":"forbidden","detail":"You do not have permission to perform this action."}`
	tests := []struct {
		name, method, path, auth string
		status                   int
		body                     string
		reached                  aiproxy.PrincipalKind
	}{
		{"own org's native start", "POST", "/orgs/acme/native/liveavatar/v1/sessions/start", "Bearer " + token, 200, "", aiproxy.KindLiveSession},
		{"another org's native start", "POST", "/orgs/other/native/liveavatar/v1/sessions/start", "Bearer " + token, 403, forbidden, ""},
		{"another service's native route", "POST", "/orgs/acme/native/heygen/v2/video/generate", "Bearer " + token, 401, invalid, ""},
		{"discovery", "GET", "/orgs/acme/services/", "Bearer " + token, 401, invalid, ""},
		{"invoke route", "POST", "/orgs/acme/services/liveavatar/start-session/", "Bearer " + token, 401, invalid, ""},
		{"jobs route", "GET", "/orgs/acme/jobs/", "Bearer " + token, 401, invalid, ""},
		{"unknown session token", "POST", "/orgs/acme/native/liveavatar/v1/sessions/start", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.c2ln", 401, invalid, ""},
		{"aiproxy key on the native route", "POST", "/orgs/acme/native/liveavatar/v1/sessions/stop", "Bearer " + key, 200, "", aiproxy.KindKey},
		{"aiproxy key in X-API-KEY", "POST", "/orgs/acme/native/liveavatar/v1/sessions/stop", "", 200, "", aiproxy.KindKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := spy.count()
			req, _ := http.NewRequest(tc.method, srv.URL+base+tc.path, bytes.NewReader([]byte(`{}`)))
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			} else {
				req.Header.Set("X-API-KEY", key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.body != "" && !bytes.Equal(bytes.TrimSpace(body), []byte(tc.body)) {
				t.Errorf("body %s, want %s", body, tc.body)
			}
			reached := spy.count() > before
			if reached != (tc.reached != "") {
				t.Fatalf("reached the proxy: %v", reached)
			}
			if reached {
				spy.mu.Lock()
				got := spy.calls[len(spy.calls)-1]
				spy.mu.Unlock()
				if got.Kind != tc.reached || got.OrgKey != "acme" {
					t.Errorf("principal %+v, want kind %s of acme", got, tc.reached)
				}
			}
		})
	}
}

// TestNativeCORSCredentials checks that the native routes allow a browser's
// credentialed requests from an allowed origin (LiveAvatar's web SDK sends
// credentials "include"), echoing the exact origin, and no other route does.
func TestNativeCORSCredentials(t *testing.T) {
	cat, err := catalog.Load(catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Config{Catalog: cat, Invoker: &nativeSpy{}, Keys: &fakeKeys{}, Orgs: nil,
		CORSOrigins: []string{"https://app.example"}}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name, method, path, origin string
		wantOrigin, wantCreds      string
	}{
		{"native preflight", "OPTIONS", "/orgs/acme/native/liveavatar/v1/sessions/start", "https://app.example", "https://app.example", "true"},
		{"native call", "POST", "/orgs/acme/native/liveavatar/v1/sessions/start", "https://app.example", "https://app.example", "true"},
		{"native, another origin", "OPTIONS", "/orgs/acme/native/liveavatar/v1/sessions/start", "https://evil.example", "", ""},
		{"invoke preflight", "OPTIONS", "/orgs/acme/services/liveavatar/start-session/", "https://app.example", "https://app.example", ""},
		{"an org named native", "OPTIONS", "/orgs/native/services/", "https://app.example", "https://app.example", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+base+tc.path, nil)
			req.Header.Set("Origin", tc.origin)
			if tc.method == "OPTIONS" {
				req.Header.Set("Access-Control-Request-Method", "POST")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.wantOrigin {
				t.Errorf("Allow-Origin = %q, want %q", got, tc.wantOrigin)
			}
			if got := resp.Header.Get("Access-Control-Allow-Credentials"); got != tc.wantCreds {
				t.Errorf("Allow-Credentials = %q, want %q", got, tc.wantCreds)
			}
		})
	}
}

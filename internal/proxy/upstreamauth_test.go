package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// TestClientBearerUpstreamAuth checks the client-bearer endpoints: a
// live-session principal's Bearer goes upstream and the credential never
// does; any other caller of a client_bearer endpoint is refused before the
// provider, and a client_bearer_or_key endpoint sends them the credential.
func TestClientBearerUpstreamAuth(t *testing.T) {
	t.Parallel()
	const sessionToken = "eyJhbGciOiJIUzI1NiJ9.eyJzZXNzaW9uIjoiMSJ9.c2lnbmF0dXJlLXNlY3JldA"
	live := aiproxy.Principal{Kind: aiproxy.KindLiveSession, OrgKey: testOrg, Role: aiproxy.RoleInvoke, LiveSession: "s1"}
	key := aiproxy.Principal{Kind: aiproxy.KindKey, KeyID: "k1", OrgKey: testOrg, Role: aiproxy.RoleInvoke}
	tests := []struct {
		name       string
		mode       aiproxy.UpstreamAuth
		principal  aiproxy.Principal
		authz      string
		wantCalls  int
		wantBearer string
		wantKey    bool
		wantCode   aiproxy.Code
	}{
		{"live session on client_bearer", aiproxy.UpstreamAuthClientBearer, live, "Bearer " + sessionToken, 1, sessionToken, false, ""},
		{"live session on client_bearer_or_key", aiproxy.UpstreamAuthClientBearerOrKey, live, "bearer  " + sessionToken, 1, sessionToken, false, ""},
		{"key on client_bearer", aiproxy.UpstreamAuthClientBearer, key, "Api-Key aip_client_key_must_not_leak", 0, "", false, aiproxy.CodeForbidden},
		{"key as Bearer on client_bearer", aiproxy.UpstreamAuthClientBearer, key, "Bearer aip_client_key_must_not_leak", 0, "", false, aiproxy.CodeForbidden},
		{"live session without Bearer", aiproxy.UpstreamAuthClientBearer, live, "", 0, "", false, aiproxy.CodeForbidden},
		{"key on client_bearer_or_key", aiproxy.UpstreamAuthClientBearerOrKey, key, "Bearer aip_client_key_must_not_leak", 1, "", true, ""},
		{"key on a plain endpoint", aiproxy.UpstreamAuthKey, key, "Bearer aip_client_key_must_not_leak", 1, "", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := newUpstream(t, nil)
			svc := testService(u.URL, bothPolicy, aiproxy.Endpoint{Slug: "start", RequestMode: aiproxy.RequestJSON,
				ResponseMode: aiproxy.ResponseJSON, UpstreamAuth: tt.mode})
			f := newFixture(t, services{"svc": svc}, Config{})
			f.setCredential(t, aiproxy.SourceTenant, "svc", tenantKey)
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"body":{}}`))
			r.Header.Set("Content-Type", "application/json")
			if tt.authz != "" {
				r.Header.Set("Authorization", tt.authz)
			}
			r = r.WithContext(aiproxy.WithPrincipal(context.Background(), tt.principal))
			w := httptest.NewRecorder()
			_, err := f.proxy.Invoke(w, r, testOrg, "svc", "start")
			if tt.wantCode != "" {
				errorOf(t, err, tt.wantCode, "")
			} else if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			reqs := u.requests()
			if len(reqs) != tt.wantCalls {
				t.Fatalf("upstream got %d calls, want %d", len(reqs), tt.wantCalls)
			}
			if tt.wantCalls == 0 {
				return
			}
			h := reqs[0].Header
			if got := h.Get("X-Test-Key"); (got == tenantKey) != tt.wantKey || (got != "" && got != tenantKey) {
				t.Errorf("X-Test-Key = %q, want key %v", got, tt.wantKey)
			}
			wantAuthz := ""
			if tt.wantBearer != "" {
				wantAuthz = "Bearer " + tt.wantBearer
			}
			if got := h.Get("Authorization"); got != wantAuthz {
				t.Errorf("Authorization = %q, want %q", got, wantAuthz)
			}
			if strings.Contains(strings.Join(h.Values("Authorization"), " "), "aip_") {
				t.Error("an aiproxy key went upstream")
			}
		})
	}
}

// TestLiveAvatarBodyError checks LiveAvatar's envelope: a code other than
// 1000 in a 200 or 201 is the provider's failure.
func TestLiveAvatarBodyError(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]bool{
		`{"code":1000,"data":{},"message":"Success"}`: false,
		`{"code":4000,"data":null,"message":"bad"}`:   true,
		`{"code":"x"}`:                        false,
		`{"data":{}}`:                         false,
		`not json`:                            false,
		`{"code":100,"data":null}`:            true,
		`{"code":1000.0,"data":null}`:         true,
		`{"code":1000,"error":{"message":1}}`: false,
	} {
		for _, status := range []int{http.StatusOK, http.StatusCreated} {
			resp := &http.Response{StatusCode: status, Body: http.NoBody}
			resp.Body = nopCloser(body)
			if got := inspectBody("liveavatar", resp); got != want {
				t.Errorf("%d %s: error = %v, want %v", status, body, got, want)
			}
		}
	}
	resp := &http.Response{StatusCode: http.StatusCreated, Body: nopCloser(`{"code":4000}`)}
	if inspectBody("heygen", resp) {
		t.Error("heygen's envelope read a 201")
	}
}

func nopCloser(s string) *readCloser { return &readCloser{strings.NewReader(s)} }

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

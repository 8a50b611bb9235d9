package httpapi

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// bearerCases seed FuzzBearerKey.
var bearerCases = []struct {
	name, in, want string
}{
	{"api-key", "Api-Key aip_x", "aip_x"},
	{"token", "Token aip_x", "aip_x"},
	{"api-token", "Api-Token aip_x", "aip_x"},
	{"bearer", "Bearer aip_x", "aip_x"},
	{"case-insensitive scheme", "bEaReR aip_x", "aip_x"},
	{"extra spaces", "  Api-Key    aip_x  ", "aip_x"},
	{"empty", "", ""},
	{"scheme only", "Bearer", ""},
	{"scheme and space", "Bearer ", ""},
	{"basic", "Basic dXNlcjpwYXNz", ""},
	{"bare key", "aip_x", ""},
	{"tab separator", "Bearer\taip_x", ""},
	{"unknown scheme", "Key aip_x", ""},
	{"scheme prefix", "Api-Keys aip_x", ""},
}

func TestBearerKey(t *testing.T) {
	for _, tc := range bearerCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := bearerKey(tc.in); got != tc.want {
				t.Fatalf("bearerKey(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	noAuth := map[string]string{"detail": "Authentication credentials were not provided.", "code": "unauthenticated"}
	invalid := map[string]string{"detail": "Invalid token.", "code": "unauthenticated"}
	flip := "a"
	if strings.HasSuffix(e.acmeInvoke, "a") {
		flip = "b"
	}
	wrongSecret := e.acmeInvoke[:len(e.acmeInvoke)-1] + flip
	unknownID := "aip_0000000000000000_" + e.acmeInvoke[len(e.acmeInvoke)-52:]
	tests := []struct {
		name, auth string
		status     int
		want       map[string]string
	}{
		{"Api-Key", "Api-Key " + e.acmeInvoke, 200, nil},
		{"Token", "Token " + e.acmeInvoke, 200, nil},
		{"Api-Token", "Api-Token " + e.acmeInvoke, 200, nil},
		{"Bearer", "Bearer " + e.acmeInvoke, 200, nil},
		{"lower-case scheme", "api-key " + e.acmeInvoke, 200, nil},
		{"no header", "", 401, noAuth},
		{"other scheme", "Basic " + e.acmeInvoke, 401, noAuth},
		{"not a key", "Api-Key hello", 401, invalid},
		{"unknown key", "Api-Key " + unknownID, 401, invalid},
		{"wrong secret", "Api-Key " + wrongSecret, 401, invalid},
		{"revoked key", "Api-Key " + e.revoked, 401, invalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := e.do("GET", base+"/orgs/acme/services/", tc.auth, "")
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if tc.want != nil {
				expectBody(t, body, tc.want)
				if h.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			}
		})
	}
	if wrongSecret == e.acmeInvoke {
		t.Fatal("test bug: wrong secret equals the key")
	}
}

func TestAccessRules(t *testing.T) {
	e := newEnv(t)
	forbidden := map[string]string{"detail": "You do not have permission to perform this action.", "code": "forbidden"}
	tests := []struct {
		name, key, method, path string
		status                  int
	}{
		{"invoke key lists its org", e.acmeInvoke, "GET", "/orgs/acme/services/", 200},
		{"invoke key, other org", e.acmeInvoke, "GET", "/orgs/other/services/", 403},
		{"invoke key, unknown org", e.acmeInvoke, "GET", "/orgs/nope/services/", 403},
		{"invoke key invokes other org", e.acmeInvoke, "POST", "/orgs/other/services/heygen/list-avatars/", 403},
		{"invoke key, own keys", e.acmeInvoke, "GET", "/orgs/acme/keys/", 403},
		{"invoke key, own credentials", e.acmeInvoke, "GET", "/orgs/acme/credentials/", 403},
		{"invoke key, admin orgs", e.acmeInvoke, "GET", "/admin/orgs/", 403},
		{"org admin, own keys", e.acmeAdmin, "GET", "/orgs/acme/keys/", 200},
		{"org admin, own credentials", e.acmeAdmin, "GET", "/orgs/acme/credentials", 200},
		{"org admin, other org keys", e.acmeAdmin, "GET", "/orgs/other/keys/", 403},
		{"org admin, platform keys", e.acmeAdmin, "GET", "/admin/keys/", 403},
		{"org admin, platform credentials", e.acmeAdmin, "PUT", "/admin/credentials/heygen/", 403},
		{"org admin, create org", e.acmeAdmin, "POST", "/admin/orgs", 403},
		{"platform admin, any org", e.platform, "GET", "/orgs/other/keys/", 200},
		{"platform admin, services", e.platform, "GET", "/orgs/acme/services/", 200},
		{"platform admin, admin orgs", e.platform, "GET", "/admin/orgs/", 200},
		{"platform admin, unknown org", e.platform, "GET", "/orgs/nope/services/", 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := e.do(tc.method, base+tc.path, "Api-Key "+tc.key, "")
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if status == 403 {
				expectBody(t, body, forbidden)
			}
		})
	}
}

// fakeKeys is a KeyReader that counts touches.
type fakeKeys struct {
	key     aiproxy.APIKey
	touches chan time.Time
}

func (f *fakeKeys) Key(_ context.Context, id string) (aiproxy.APIKey, error) {
	if id != f.key.ID {
		return aiproxy.APIKey{}, aiproxy.ErrNotFound
	}
	return f.key, nil
}

func (f *fakeKeys) TouchKey(_ context.Context, _ string, at time.Time) error {
	f.touches <- at
	return nil
}

// TestTouchThrottled checks that last-used writes happen at most once per
// minute per key, with an injected clock.
func TestTouchThrottled(t *testing.T) {
	full, id, hash, err := aiproxy.NewKeySecret()
	if err != nil {
		t.Fatal(err)
	}
	keys := &fakeKeys{key: aiproxy.APIKey{ID: id, OrgKey: "acme", Role: aiproxy.RoleInvoke, SecretHash: hash}, touches: make(chan time.Time, 10)}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a := &authenticator{keys: keys, now: func() time.Time { return now }, touched: map[string]time.Time{}}
	auth := func() {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+full)
		p, err := a.authenticate(r, "")
		if err != nil || p.KeyID != id || p.OrgKey != "acme" {
			t.Fatalf("authenticate = %+v, %v", p, err)
		}
	}
	expectTouch := func(want bool) {
		t.Helper()
		select {
		case at := <-keys.touches:
			if !want {
				t.Fatalf("unexpected touch at %v", at)
			}
			if !at.Equal(now) {
				t.Fatalf("touched at %v, want %v", at, now)
			}
		case <-time.After(200 * time.Millisecond):
			if want {
				t.Fatal("no touch")
			}
		}
	}
	auth()
	expectTouch(true)
	now = now.Add(30 * time.Second)
	auth()
	expectTouch(false)
	now = now.Add(31 * time.Second)
	auth()
	expectTouch(true)
}

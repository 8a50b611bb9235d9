package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// holder is one kind of caller of the admin API, and what the platform
// admin routes must make of it.
type holder struct {
	name string
	// auth is the Authorization header value; "" sends none.
	auth string
	// want is the answer every /admin/* route gives: 0 lets the call
	// through, 401 and 403 refuse it before the handler runs.
	want int
	// detail is the refusal's message.
	detail string
	// limited marks a key limited to some services or to test mode: it
	// holds less than a plain platform admin key.
	limited bool
}

// adminRoute is one method and path of the platform admin API. setup
// prepares what the call acts on and returns the path and body to send;
// effect checks afterwards that the call changed something exactly when it
// was let through.
type adminRoute struct {
	method, path string
	status       int // when let through
	// heldOnly marks a route that acts on keys: a limited key may create
	// or revoke only keys within its own limits (a plain key is not), so
	// it is refused 403 here.
	heldOnly bool
	setup    func(t *testing.T, n int) (path, body string)
	effect   func(t *testing.T, n int, through bool)
}

// adminRoutesEnv is env serving the admin API with guardrails (for
// /admin/usage) and an audit log (for /admin/audit), over env's database
// and keys.
type adminRoutesEnv struct {
	*env
}

func newAdminRoutesEnv(t *testing.T) *adminRoutesEnv {
	t.Helper()
	e := newEnv(t)
	cat, err := catalog.Load(catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	adm := admin.New(e.db, v, cat, nil)
	adm.SetAuditor(e.db)
	srv := httptest.NewServer(New(Config{
		Catalog: cat, Keys: e.db, Orgs: e.db, Admin: adm,
		Guardrails: admin.NewGuardrails(e.db, cat, nil, nil),
	}))
	t.Cleanup(srv.Close)
	e.url, e.admin = srv.URL, adm
	return &adminRoutesEnv{env: e}
}

// holders makes a key of every kind: platform admins (plain, test-only,
// limited to one service), org keys of each role and option, and keys that
// must not authenticate at all.
func (e *adminRoutesEnv) holders(t *testing.T) []holder {
	ctx := t.Context()
	mustKey := func(full string, _ aiproxy.APIKey, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return "Api-Key " + full
	}
	heygenOnly := admin.KeyOptions{Services: []string{"heygen"}}
	expired := func() string {
		full, id, hash, err := aiproxy.NewKeySecret()
		if err != nil {
			t.Fatal(err)
		}
		k := aiproxy.APIKey{ID: id, Role: aiproxy.RoleAdmin, SecretHash: hash,
			CreatedAt: time.Now().Add(-time.Hour), ExpiresAt: time.Now().Add(-time.Minute)}
		if err := e.db.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		return "Api-Key " + full
	}
	revoked := func() string {
		full, k, err := e.admin.CreateKey(ctx, "", "revoked", aiproxy.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.admin.RevokeKey(ctx, "", k.ID); err != nil {
			t.Fatal(err)
		}
		return "Api-Key " + full
	}
	unknown, _, _, err := aiproxy.NewKeySecret()
	if err != nil {
		t.Fatal(err)
	}
	wrongSecret := e.platform[:len(e.platform)-1] + map[bool]string{true: "b", false: "a"}[strings.HasSuffix(e.platform, "a")]

	const (
		forbidden = aiproxy.MsgPermissionDenied
		invalid   = aiproxy.MsgInvalidToken
		noAuth    = aiproxy.MsgNoAuth
	)
	return []holder{
		{name: "platform admin", auth: "Api-Key " + e.platform},
		{name: "platform admin, test-only", auth: mustKey(e.admin.CreateTestKey(ctx, "", "test", aiproxy.RoleAdmin)), limited: true},
		{name: "platform admin, scoped", auth: mustKey(e.admin.CreateKeyWith(ctx, "", "scoped", aiproxy.RoleAdmin, heygenOnly)), limited: true},
		{name: "platform admin, Bearer scheme", auth: "Bearer " + e.platform},
		{name: "org admin", auth: "Api-Key " + e.acmeAdmin, want: 403, detail: forbidden},
		{name: "org admin, scoped", auth: mustKey(e.admin.CreateKeyWith(ctx, "acme", "scoped", aiproxy.RoleAdmin, heygenOnly)), want: 403, detail: forbidden},
		{name: "org admin, test-only", auth: mustKey(e.admin.CreateTestKey(ctx, "acme", "test", aiproxy.RoleAdmin)), want: 403, detail: forbidden},
		{name: "invoke key", auth: "Api-Key " + e.acmeInvoke, want: 403, detail: forbidden},
		{name: "invoke key, scoped", auth: mustKey(e.admin.CreateKeyWith(ctx, "acme", "scoped", aiproxy.RoleInvoke, heygenOnly)), want: 403, detail: forbidden},
		{name: "invoke key, test-only", auth: mustKey(e.admin.CreateTestKey(ctx, "acme", "test", aiproxy.RoleInvoke)), want: 403, detail: forbidden},
		{name: "invoke key of another org", auth: "Api-Key " + e.otherInvoke, want: 403, detail: forbidden},
		{name: "expired platform admin", auth: expired(), want: 401, detail: invalid},
		{name: "revoked platform admin", auth: revoked(), want: 401, detail: invalid},
		{name: "revoked invoke key", auth: "Api-Key " + e.revoked, want: 401, detail: invalid},
		{name: "platform admin, wrong secret", auth: "Api-Key " + wrongSecret, want: 401, detail: invalid},
		{name: "unknown key", auth: "Api-Key " + unknown, want: 401, detail: invalid},
		{name: "malformed key", auth: "Api-Key aip_nope", want: 401, detail: invalid},
		{name: "platform admin, Basic scheme", auth: "Basic " + e.platform, want: 401, detail: noAuth},
		{name: "no key", want: 401, detail: noAuth},
	}
}

// routes lists every /admin/* route and method. Each call that changes
// something acts on a target of its own (n numbers the call), so that the
// effect check sees only that call's doing.
func (e *adminRoutesEnv) routes() []adminRoute {
	ctx := context.Background()
	platformKey := func(t *testing.T, n int) string {
		t.Helper()
		_, k, err := e.admin.CreateKey(ctx, "", fmt.Sprintf("target-%d", n), aiproxy.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		return k.ID
	}
	platformKeys := func(t *testing.T) int {
		t.Helper()
		list, err := e.db.Keys(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	setHeyGen := func(t *testing.T, key string) {
		t.Helper()
		if _, err := e.admin.SetCredential(ctx, aiproxy.SourcePlatform, "", "heygen", aiproxy.CredentialValue{"key": key}); err != nil {
			t.Fatal(err)
		}
	}
	heygenMask := func(t *testing.T) string {
		t.Helper()
		c, err := e.db.Credential(ctx, aiproxy.SourcePlatform, "", "heygen")
		if errors.Is(err, aiproxy.ErrNotFound) {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		return c.Masked["key"]
	}
	get := func(path string) adminRoute {
		return adminRoute{method: "GET", path: path, status: 200}
	}
	var keysBefore int
	var revokeTarget string
	return []adminRoute{
		get("/admin/orgs/"),
		{
			method: "POST", path: "/admin/orgs/", status: 201,
			setup: func(_ *testing.T, n int) (string, string) {
				return "/admin/orgs/", fmt.Sprintf(`{"key": "new-%d"}`, n)
			},
			effect: func(t *testing.T, n int, through bool) {
				_, err := e.db.Org(ctx, fmt.Sprintf("new-%d", n))
				if created := err == nil; created != through {
					t.Errorf("org new-%d created = %v (%v), want %v", n, created, err, through)
				}
			},
		},
		get("/admin/keys/"),
		{
			method: "POST", path: "/admin/keys/", status: 201, heldOnly: true,
			setup: func(t *testing.T, n int) (string, string) {
				keysBefore = platformKeys(t)
				return "/admin/keys/", fmt.Sprintf(`{"name": "made-%d", "role": "admin"}`, n)
			},
			effect: func(t *testing.T, _ int, through bool) {
				if got, want := platformKeys(t), keysBefore+map[bool]int{true: 1}[through]; got != want {
					t.Errorf("platform keys = %d, want %d", got, want)
				}
			},
		},
		{
			method: "DELETE", path: "/admin/keys/{id}/", status: 200, heldOnly: true,
			setup: func(t *testing.T, n int) (string, string) {
				revokeTarget = platformKey(t, n)
				return "/admin/keys/" + revokeTarget + "/", ""
			},
			effect: func(t *testing.T, _ int, through bool) {
				k, err := e.db.Key(ctx, revokeTarget)
				if err != nil || k.Revoked() != through {
					t.Errorf("target key revoked = %v (%v), want %v", k.Revoked(), err, through)
				}
			},
		},
		get("/admin/credentials/"),
		{
			method: "PUT", path: "/admin/credentials/{name}/", status: 200,
			setup: func(t *testing.T, n int) (string, string) {
				setHeyGen(t, "hg-platform-before-0000")
				return "/admin/credentials/heygen/", fmt.Sprintf(`{"value": {"key": "hg-platform-after-%04d"}}`, n)
			},
			effect: func(t *testing.T, n int, through bool) {
				want := "****0000"
				if through {
					want = fmt.Sprintf("****%04d", n)
				}
				if got := heygenMask(t); got != want {
					t.Errorf("platform heygen credential = %q, want %q", got, want)
				}
			},
		},
		{
			method: "DELETE", path: "/admin/credentials/{name}/", status: 204,
			setup: func(t *testing.T, _ int) (string, string) {
				setHeyGen(t, "hg-platform-before-0000")
				return "/admin/credentials/heygen/", ""
			},
			effect: func(t *testing.T, _ int, through bool) {
				if gone := heygenMask(t) == ""; gone != through {
					t.Errorf("platform heygen credential deleted = %v, want %v", gone, through)
				}
			},
		},
		get("/admin/audit/"),
		get("/admin/audit/?org=acme"),
		{method: "GET", path: "/admin/audit/?org=ghost", status: 404},
		get("/admin/usage/"),
		get("/admin/usage/?org=acme&format=csv"),
		{method: "GET", path: "/admin/usage/?org=ghost", status: 404},
	}
}

// TestAdminRouteGuards calls every /admin/* route as every kind of caller:
// platform admin keys are let through, whatever their options, except that
// a limited one may not create or revoke a plain key; org keys of
// any role get 403; keys that do not authenticate get 401. A refused call
// changes nothing, and refusal never depends on the route's arguments (an
// unknown org is 403 or 401 before it is 404).
func TestAdminRouteGuards(t *testing.T) {
	e := newAdminRoutesEnv(t)
	holders := e.holders(t)
	n := 0
	for _, r := range e.routes() {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			for _, h := range holders {
				if r.heldOnly && h.limited {
					h.want, h.detail = 403, aiproxy.MsgPermissionDenied
				}
				t.Run(h.name, func(t *testing.T) {
					n++
					path, body := r.path, ""
					if r.setup != nil {
						path, body = r.setup(t, n)
					}
					status, hdr, got := e.do(r.method, base+path, h.auth, body)
					through := h.want == 0
					switch {
					case through && status != r.status:
						t.Errorf("status %d, want %d: %s", status, r.status, got)
					case !through:
						if status != h.want {
							t.Fatalf("status %d, want %d: %s", status, h.want, got)
						}
						expectBody(t, got, map[string]string{"detail": h.detail, "code": map[int]string{401: "unauthenticated", 403: "forbidden"}[h.want]})
						if (h.want == 401) != (hdr.Get("WWW-Authenticate") != "") {
							t.Errorf("WWW-Authenticate = %q on a %d", hdr.Get("WWW-Authenticate"), status)
						}
					}
					if r.effect != nil {
						r.effect(t, n, through)
					}
				})
			}
		})
	}
}

// TestPlatformAdminRouteAnswers checks what the platform admin routes
// answer a platform admin: every org's audit events or one org's, usage as
// CSV, masked platform credentials, and a created key shown once.
func TestPlatformAdminRouteAnswers(t *testing.T) {
	e := newAdminRoutesEnv(t)
	ctx := t.Context()
	auth := "Api-Key " + e.platform
	if _, _, err := e.admin.CreateKey(ctx, "acme", "a", aiproxy.RoleInvoke); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.admin.CreateKey(ctx, "other", "o", aiproxy.RoleInvoke); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.SetCredential(ctx, aiproxy.SourcePlatform, "", "heygen", aiproxy.CredentialValue{"key": "hg-platform-secret-wxyz"}); err != nil {
		t.Fatal(err)
	}

	orgsOf := func(path string) map[string]int {
		t.Helper()
		status, _, body := e.do("GET", base+path, auth, "")
		var events []AuditJSON
		if status != 200 || json.Unmarshal(body, &events) != nil {
			t.Fatalf("GET %s = %d %s", path, status, body)
		}
		seen := map[string]int{}
		for _, ev := range events {
			seen[ev.Org]++
		}
		return seen
	}
	if all := orgsOf("/admin/audit/"); all["acme"] == 0 || all["other"] == 0 || all[""] == 0 {
		t.Errorf("the platform audit log shows events of orgs %v, want acme, other and the platform", all)
	}
	if one := orgsOf("/admin/audit/?org=acme"); len(one) != 1 || one["acme"] == 0 {
		t.Errorf("?org=acme shows events of orgs %v, want acme only", one)
	}

	status, hdr, body := e.do("GET", base+"/admin/usage/?format=csv", auth, "")
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") {
		t.Errorf("usage as CSV = %d %q: %s", status, hdr.Get("Content-Type"), body)
	}

	status, _, body = e.do("GET", base+"/admin/credentials/", auth, "")
	var creds []CredentialJSON
	if status != 200 || json.Unmarshal(body, &creds) != nil || len(creds) != 1 ||
		creds[0].Source != "platform" || creds[0].Masked["key"] != "****wxyz" || strings.Contains(string(body), "secret") {
		t.Errorf("platform credentials = %d %s; want the one, masked", status, body)
	}

	// The documented body is just a name: a platform key is always admin.
	status, hdr, body = e.do("POST", base+"/admin/keys/", auth, `{"name": "ops"}`)
	var made KeyJSON
	if status != 201 || json.Unmarshal(body, &made) != nil || made.Org != "" || made.Role != "admin" ||
		!strings.HasPrefix(made.Key, "aip_"+made.ID+"_") || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("create platform key = %d %s", status, body)
	}
	if status, _, _ := e.do("GET", base+"/admin/orgs/", "Api-Key "+made.Key, ""); status != 200 {
		t.Errorf("the new platform key gets %d from /admin/orgs/", status)
	}

	// A platform key cannot revoke an org's key through the platform route.
	_, orgKey, err := e.admin.CreateKey(ctx, "acme", "b", aiproxy.RoleInvoke)
	if err != nil {
		t.Fatal(err)
	}
	if status, _, body := e.do("DELETE", base+"/admin/keys/"+orgKey.ID+"/", auth, ""); status != 404 {
		t.Errorf("revoking an org key through /admin/keys/ = %d %s, want 404", status, body)
	}
	if status, _, _ := e.do("DELETE", base+"/admin/keys/"+made.ID+"/", auth, ""); status != 200 {
		t.Fatalf("revoke platform key = %d", status)
	}
	if status, _, _ := e.do("GET", base+"/admin/orgs/", "Api-Key "+made.Key, ""); status != 401 {
		t.Errorf("a revoked platform key gets %d from /admin/orgs/, want 401", status)
	}
}

package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

const (
	apiPoolA = "hg-api-pool-secret-aaaa-0001"
	apiPoolB = "hg-api-pool-secret-bbbb-0002"
)

// poolAPI serves the pool routes alone over the env's store and admin
// operations, with a key health the test marks.
func poolAPI(t *testing.T, e *env) (string, *proxy.MemoryKeyHealth) {
	t.Helper()
	h := proxy.NewMemoryKeyHealth(nil)
	e.admin.UseKeyHealth(h)
	e.admin.SetAuditor(e.db)
	s := &server{
		cfg:  Config{Admin: e.admin, Keys: e.db, Orgs: e.db, Logger: slog.New(slog.DiscardHandler), Now: time.Now},
		log:  slog.New(slog.DiscardHandler),
		auth: &authenticator{keys: e.db, now: time.Now, touched: map[string]time.Time{}},
		mux:  http.NewServeMux(),
	}
	s.poolRoutes()
	srv := httptest.NewServer(s.middleware(s.mux))
	t.Cleanup(srv.Close)
	return srv.URL, h
}

func TestPoolRoutes(t *testing.T) {
	e := newEnv(t)
	url, health := poolAPI(t, e)
	ctx := context.Background()

	// The credential routes take a pool as they take one key.
	platform := "Api-Key " + e.platform
	poolBody := `{"value":{"keys":[{"id":"k1","key":"` + apiPoolA + `","weight":2},{"id":"k2","key":"` + apiPoolB + `"}]}}`
	status, _, body := e.do("PUT", base+"/admin/credentials/elevenlabs/", platform, poolBody)
	if status != 200 || strings.Contains(string(body), apiPoolA) || !strings.Contains(string(body), `"keys/k1/key":"****0001"`) {
		t.Fatalf("PUT a pool = %d %s", status, body)
	}
	for _, bad := range []string{`{"value":{"keys":5}}`, `{"value":{"keys":[{"id":"k1"}]}}`, `{"value":{"keys":[]}}`} {
		if status, _, body := e.do("PUT", base+"/admin/credentials/elevenlabs/", platform, bad); status != 400 {
			t.Errorf("PUT %s = %d %s, want 400", bad, status, body)
		}
	}
	e.url = url // the pool routes alone from here on

	var pool aiproxy.CredentialValue
	if err := json.Unmarshal([]byte(`{"keys":[{"id":"k1","key":"`+apiPoolA+`","weight":3,"max_concurrency":2},{"id":"k2","key":"`+apiPoolB+`"}]}`), &pool); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.SetCredential(ctx, aiproxy.SourcePlatform, "", "heygen", pool); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.SetCredential(ctx, aiproxy.SourceTenant, "acme", "heygen", pool); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.SetCredential(ctx, aiproxy.SourceTenant, "acme", "elevenlabs", aiproxy.CredentialValue{"key": apiPoolA}); err != nil {
		t.Fatal(err)
	}
	since := time.Now().UTC().Truncate(time.Second)
	ref := aiproxy.PoolRef{Source: aiproxy.SourcePlatform, Name: "heygen"}
	if _, err := health.MarkKey(ctx, ref, "k1", aiproxy.KeyStatus{State: aiproxy.KeyRemoved, Reason: "provider answered 401 internal_error", Since: since}); err != nil {
		t.Fatal(err)
	}
	if _, err := health.MarkKey(ctx, ref, "k2", aiproxy.KeyStatus{State: aiproxy.KeyResting, Reason: "provider answered 429", Since: since, Until: since.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	status, _, body = e.do("GET", base+"/admin/credentials/heygen/pool/", platform, "")
	if status != 200 {
		t.Fatalf("GET platform pool = %d %s", status, body)
	}
	for _, secret := range []string{apiPoolA, apiPoolB} {
		if strings.Contains(string(body), secret) {
			t.Fatalf("the pool shows a key: %s", body)
		}
	}
	var got PoolJSON
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	k1, k2 := got.Keys[0], got.Keys[1]
	if !got.Pooled || got.Source != "platform" || len(got.Keys) != 2 ||
		k1.ID != "k1" || k1.State != "removed" || k1.Reason != "provider answered 401 internal_error" || k1.Since == nil ||
		!k1.Since.Equal(since) || k1.RestUntil != nil || k1.Weight != 3 || k1.MaxConcurrency != 2 || k1.Masked["key"] != "****0001" ||
		k2.State != "resting" || k2.RestUntil == nil || !k2.RestUntil.Equal(since.Add(time.Hour)) {
		t.Fatalf("platform pool = %s", body)
	}

	status, _, body = e.do("POST", base+"/admin/credentials/heygen/pool/k1/restore/", platform, "")
	var restored PoolKeyJSON
	if err := json.Unmarshal(body, &restored); status != 200 || err != nil || restored.ID != "k1" || restored.State != "healthy" {
		t.Fatalf("restore = %d %s", status, body)
	}
	if st, _ := health.KeyStates(ctx, ref, []string{"k1"}); len(st) != 0 {
		t.Fatalf("k1 after the restore = %+v", st)
	}
	events, _ := e.db.AuditEvents(ctx, aiproxy.AuditFilter{})
	if len(events) == 0 || events[0].Action != aiproxy.AuditPoolKeyRestored || events[0].Target != "heygen/k1" {
		t.Fatalf("newest audit event = %+v, want the restore", events[0])
	}
	if status, _, body := e.do("POST", base+"/admin/credentials/heygen/pool/k9/restore", platform, ""); status != 404 {
		t.Fatalf("restore of an unknown key = %d %s", status, body)
	}
	if status, _, _ := e.do("GET", base+"/admin/credentials/heygen/pool/", "Api-Key "+e.acmeAdmin, ""); status != 403 {
		t.Fatalf("an org admin read the platform pool: %d", status)
	}
	if status, _, _ := e.do("POST", base+"/admin/credentials/heygen/pool/k2/restore", "Api-Key "+e.acmeAdmin, ""); status != 403 {
		t.Fatalf("an org admin restored a platform key: %d", status)
	}

	acme := "Api-Key " + e.acmeAdmin
	status, _, body = e.do("GET", base+"/orgs/acme/credentials/heygen/pool", acme, "")
	if err := json.Unmarshal(body, &got); status != 200 || err != nil || got.Org != "acme" || got.Keys[0].State != "healthy" {
		t.Fatalf("org pool = %d %s", status, body)
	}
	status, _, body = e.do("GET", base+"/orgs/acme/credentials/elevenlabs/pool", acme, "")
	if err := json.Unmarshal(body, &got); status != 200 || err != nil || got.Pooled || len(got.Keys) != 1 || got.Keys[0].ID != "" ||
		got.Keys[0].Masked["key"] != "****0001" {
		t.Fatalf("a credential of one key = %d %s", status, body)
	}
	if status, _, _ := e.do("GET", base+"/orgs/acme/credentials/heygen/pool", "Api-Key "+e.acmeInvoke, ""); status != 403 {
		t.Fatalf("an invoke key read the pool: %d", status)
	}
	if status, _, _ := e.do("GET", base+"/orgs/other/credentials/heygen/pool", acme, ""); status != 403 {
		t.Fatalf("another org's admin read the pool: %d", status)
	}
	if status, _, _ := e.do("POST", base+"/orgs/acme/credentials/heygen/pool", acme, ""); status != 405 {
		t.Fatalf("POST on the pool = %d, want 405", status)
	}
}

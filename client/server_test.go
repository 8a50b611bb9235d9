package client_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/client"
	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/budget"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/httpapi"
	"github.com/aiproxy/aiproxy/internal/idempotency"
	"github.com/aiproxy/aiproxy/internal/jobs"
	"github.com/aiproxy/aiproxy/internal/ownership"
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/sandbox"
	"github.com/aiproxy/aiproxy/internal/sqlite"
	"github.com/aiproxy/aiproxy/internal/vault"
	"github.com/aiproxy/aiproxy/internal/webhooks"
)

// server is a real aiproxy, wired like cmd/aiproxy's demo: SQLite in a temp
// dir, the built-in catalog pointed at the sandbox, an org with sandbox
// credentials and an admin key, user tokens, and spending budgets enforced
// innermost on every call.
type server struct {
	url, org, key string
	sandbox       *sandbox.Server
}

func startServer(t *testing.T) *server {
	t.Helper()
	return startServerWith(t, false)
}

// startServerWith is startServer, with aiproxy's job tracking in front of
// the proxy when withJobs is set, as serve and demo have it: status calls
// then honour Prefer: wait=N.
func startServerWith(t *testing.T, withJobs bool) *server {
	t.Helper()
	ctx := context.Background()
	sb := sandbox.New(sandbox.Config{RenderTime: time.Second})
	sbSrv := httptest.NewServer(sb)
	t.Cleanup(sbSrv.Close)
	keys := map[string]string{"heygen": "sandbox_hg_client_test", "elevenlabs": "sandbox_el_client_test"}
	sb.AddKey(sandbox.HeyGen, keys["heygen"])
	sb.AddKey(sandbox.ElevenLabs, keys["elevenlabs"])

	cat, err := catalog.Load(catalog.Options{BaseURLs: map[string]string{
		"heygen": sbSrv.URL + "/heygen", "elevenlabs": sbSrv.URL + "/elevenlabs",
	}})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "aiproxy.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	mk, err := vault.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := vault.ParseMasterKey(mk)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	adm := admin.New(db, v, cat, nil)
	if _, err := adm.CreateOrg(ctx, "demo", "Demo org"); err != nil {
		t.Fatal(err)
	}
	for name, key := range keys {
		if _, err := adm.SetCredential(ctx, aiproxy.SourceTenant, "demo", name, aiproxy.CredentialValue{"key": key}); err != nil {
			t.Fatal(err)
		}
	}
	full, _, err := adm.CreateKey(ctx, "demo", "client test", aiproxy.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	pricer, err := budget.NewPricer(budget.DefaultPrices())
	if err != nil {
		t.Fatal(err)
	}
	enf := budget.New(budget.Config{Budgets: db, Ledger: db, Pricer: pricer, Tokens: db})
	budgets := budget.NewAdmin(budget.AdminConfig{Store: db, Ledger: db, Tokens: db, Enforcer: enf})
	p := proxy.New(proxy.Config{Catalog: cat, Credentials: db, Vault: v})
	cfg := httpapi.Config{Catalog: cat, Invoker: p.WithHooks(enf), Keys: db, Orgs: db, Admin: adm,
		UserTokens: db, Tokens: admin.NewUserTokens(db, cat, db, nil), Budgets: budgets}
	if withJobs {
		// The tests' webhook receivers listen on loopback, as the demo's do.
		outbox := webhooks.NewOutbox(webhooks.OutboxConfig{Store: db, Vault: v, TickEvery: 50 * time.Millisecond, AllowPrivate: true})
		svc := jobs.New(jobs.Config{Store: db, Catalog: cat, Proxy: p, OnEvent: outbox.Wake,
			PollInterval: 100 * time.Millisecond, FreshFor: 50 * time.Millisecond, TickEvery: 50 * time.Millisecond})
		cfg.Invoker = p.WithHooks(ownership.New(db, nil), idempotency.New(idempotency.Config{Store: db}), svc, enf)
		cfg.Jobs, cfg.Webhooks = svc, outbox
		cfg.ProviderWebhooks = webhooks.NewReceiver(webhooks.ReceiverConfig{Catalog: cat, Store: db, Jobs: svc})
		runCtx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			var wg sync.WaitGroup
			wg.Go(func() { outbox.Run(runCtx) })
			svc.Run(runCtx)
			wg.Wait()
		}()
		t.Cleanup(func() { stop(); <-done })
	}
	api := httptest.NewServer(httpapi.New(cfg))
	t.Cleanup(api.Close)
	return &server{url: api.URL, org: "demo", key: full, sandbox: sb}
}

func (s *server) client(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{URL: s.url, Org: s.org, APIKey: s.key})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// quotaBody is HeyGen's remaining-quota answer, the small JSON invoke.
const quotaBody = `{"error":null,"data":{"remaining_quota":6000,"details":{"api":6000,"avatar_iv_free_credit":0,"seat":0,"plan_credit":0}}}`

// benchApp wires the server exactly as serve does, against a fake HeyGen
// that answers with a fixed small JSON body, and returns its handler, an
// invoke key and the upstream.
func benchApp(b *testing.B) (http.Handler, string) {
	b.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, quotaBody)
	}))
	b.Cleanup(up.Close)
	key, err := vault.GenerateMasterKey()
	if err != nil {
		b.Fatal(err)
	}
	getenv := func(name string) string {
		if name == "AIPROXY_MASTER_KEY" {
			return key
		}
		return ""
	}
	var f serverFlags
	s := stdio{in: strings.NewReader(""), out: io.Discard, err: io.Discard}
	fs := newFlagSet("serve", "serve", s)
	f.register(fs, getenv, b.TempDir())
	if err := parse(fs, []string{"--addr", "127.0.0.1:0", "--upstream", "heygen=" + up.URL, "--rate-limit", "key=100000000/m", "--max-inflight", "org=50000"}); err != nil {
		b.Fatal(err)
	}
	if err := f.validate(); err != nil {
		b.Fatal(err)
	}
	v, err := f.key.vault(getenv)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	a, err := assemble(ctx, f, v, s)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.ln.Close(); a.close() })
	if _, err := a.admin.CreateOrg(ctx, "acme", "Acme"); err != nil {
		b.Fatal(err)
	}
	if _, err := a.admin.SetCredential(ctx, aiproxy.SourceTenant, "acme", "heygen", aiproxy.CredentialValue{"key": "hg-bench-key-0123456789"}); err != nil {
		b.Fatal(err)
	}
	full, _, err := a.admin.CreateKey(ctx, "acme", "bench", aiproxy.RoleInvoke)
	if err != nil {
		b.Fatal(err)
	}
	return a.handler, full
}

// BenchmarkInvokeSmallJSON is one small JSON invoke through the production
// handler (auth, credential resolution, proxying, access log) to a loopback
// upstream: the CPU and allocations aiproxy spends per request, plus the
// upstream's share, which BenchmarkUpstreamOnly shows alone.
func BenchmarkInvokeSmallJSON(b *testing.B) {
	h, key := benchApp(b)
	const url = "/api/ai-proxy/orgs/acme/services/heygen/get-remaining-quota/"
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, url, strings.NewReader(`{}`))
			req.Header.Set("Authorization", "Api-Key "+key)
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}

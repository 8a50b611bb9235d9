package proxy

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/sqlite"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// benchResolver is a Proxy over a real SQLite store and vault holding a
// tenant HeyGen credential for org acme, and the HeyGen service.
func benchResolver(b *testing.B) (*Proxy, *aiproxy.Service) {
	b.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	text, err := vault.GenerateMasterKey()
	if err != nil {
		b.Fatal(err)
	}
	key, err := vault.ParseMasterKey(text)
	if err != nil {
		b.Fatal(err)
	}
	v, err := vault.New(key)
	if err != nil {
		b.Fatal(err)
	}
	cat, err := catalog.Load(catalog.Options{})
	if err != nil {
		b.Fatal(err)
	}
	adm := admin.New(db, v, cat, nil)
	if _, err := adm.CreateOrg(ctx, "acme", "Acme"); err != nil {
		b.Fatal(err)
	}
	if _, err := adm.SetCredential(ctx, aiproxy.SourceTenant, "acme", "heygen", aiproxy.CredentialValue{"key": "hg-bench-key-0123456789"}); err != nil {
		b.Fatal(err)
	}
	svc, _ := cat.Service("heygen")
	return New(Config{Catalog: cat, Credentials: db, Vault: v}), svc
}

// BenchmarkResolveCredential is credential resolution on every invoke: the
// policy, the SQLite read, the vault's AES-GCM open and the JSON decode.
func BenchmarkResolveCredential(b *testing.B) {
	p, svc := benchResolver(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := p.keys.resolve(ctx, "acme", svc, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveCredentialParallel is the same from both cores at once.
func BenchmarkResolveCredentialParallel(b *testing.B) {
	p, svc := benchResolver(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := p.keys.resolve(ctx, "acme", svc, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
}

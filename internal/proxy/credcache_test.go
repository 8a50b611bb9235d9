package proxy

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// countingReader counts the credential reads that reach the store.
type countingReader struct {
	CredentialReader
	n atomic.Int64
}

func (c *countingReader) Credential(ctx context.Context, src aiproxy.Source, org, name string) (aiproxy.Credential, error) {
	c.n.Add(1)
	return c.CredentialReader.Credential(ctx, src, org, name)
}

// credCacheFixture is a fixture whose proxy caches credentials for ttl,
// counts its store reads, and is told of changes made through f.admin as
// serve wires it.
func credCacheFixture(t *testing.T, ttl time.Duration) (*fixture, *countingReader, *aiproxy.Service) {
	t.Helper()
	svc := testService("http://127.0.0.1:1", bothPolicy, aiproxy.Endpoint{Slug: "go", RequestMode: aiproxy.RequestJSON, ResponseMode: aiproxy.ResponseJSON})
	f := newFixture(t, services{"svc": svc}, Config{})
	reads := &countingReader{CredentialReader: f.db}
	f.proxy = New(Config{Catalog: f.cat, Credentials: reads, Vault: f.vault, CredentialTTL: ttl})
	f.admin.OnCredentialChange(f.proxy.ForgetCredential)
	return f, reads, svc
}

func resolveKey(t *testing.T, p *Proxy, svc *aiproxy.Service) (string, aiproxy.Source) {
	t.Helper()
	secret, src, err := p.keys.resolve(context.Background(), testOrg, svc, "")
	if err != nil {
		t.Fatal(err)
	}
	return secret, src
}

func TestCredentialCache(t *testing.T) {
	t.Run("reuses an opened credential", func(t *testing.T) {
		f, reads, svc := credCacheFixture(t, time.Hour)
		f.setCredential(t, aiproxy.SourceTenant, "svc", tenantKey)
		for range 3 {
			if got, _ := resolveKey(t, f.proxy, svc); got != tenantKey {
				t.Fatalf("key = %q", got)
			}
		}
		if n := reads.n.Load(); n != 1 {
			t.Fatalf("store reads = %d, want 1", n)
		}
	})
	t.Run("a change through the admin service takes effect at once", func(t *testing.T) {
		f, _, svc := credCacheFixture(t, time.Hour)
		f.setCredential(t, aiproxy.SourcePlatform, "svc", platformKey)
		if got, src := resolveKey(t, f.proxy, svc); got != platformKey || src != aiproxy.SourcePlatform {
			t.Fatalf("before: %q from %s", got, src)
		}
		f.setCredential(t, aiproxy.SourceTenant, "svc", tenantKey) // the cached "no tenant key" goes
		if got, src := resolveKey(t, f.proxy, svc); got != tenantKey || src != aiproxy.SourceTenant {
			t.Fatalf("after set: %q from %s", got, src)
		}
		f.setCredential(t, aiproxy.SourceTenant, "svc", "tk-rotated")
		if got, _ := resolveKey(t, f.proxy, svc); got != "tk-rotated" {
			t.Fatalf("after rotation: %q", got)
		}
		if err := f.admin.DeleteCredential(context.Background(), aiproxy.SourceTenant, testOrg, "svc"); err != nil {
			t.Fatal(err)
		}
		if got, src := resolveKey(t, f.proxy, svc); got != platformKey || src != aiproxy.SourcePlatform {
			t.Fatalf("after delete: %q from %s", got, src)
		}
	})
	t.Run("a change by another process takes effect within the TTL", func(t *testing.T) {
		const ttl = 50 * time.Millisecond
		f, _, svc := credCacheFixture(t, ttl)
		f.setCredential(t, aiproxy.SourceTenant, "svc", tenantKey)
		resolveKey(t, f.proxy, svc)
		f.admin.OnCredentialChange(nil) // as if the CLI changed it
		f.setCredential(t, aiproxy.SourceTenant, "svc", "tk-elsewhere")
		time.Sleep(ttl)
		if got, _ := resolveKey(t, f.proxy, svc); got != "tk-elsewhere" {
			t.Fatalf("key after the TTL = %q", got)
		}
	})
	t.Run("off reads the store every time", func(t *testing.T) {
		f, reads, svc := credCacheFixture(t, 0)
		f.setCredential(t, aiproxy.SourceTenant, "svc", tenantKey)
		resolveKey(t, f.proxy, svc)
		resolveKey(t, f.proxy, svc)
		if n := reads.n.Load(); n != 2 {
			t.Fatalf("store reads = %d, want 2", n)
		}
	})
}

// TestCredentialCacheRace checks that a store read that began before a
// forget is not cached, so that it cannot bring a deleted secret back.
func TestCredentialCacheRace(t *testing.T) {
	var c credCache
	k := credKey{src: aiproxy.SourceTenant, owner: testOrg, name: "svc"}
	_, _, gen := c.get(k, "key", time.Hour)
	c.forget(k)
	c.put(k, credEntry{field: "key", secret: "stale", found: true}, gen, time.Hour)
	if _, ok, _ := c.get(k, "key", time.Hour); ok {
		t.Fatal("a read that raced a forget was cached")
	}
}

// TestCredentialCacheExpiry checks that an opened secret leaves memory
// after the TTL even if no call comes to replace it.
func TestCredentialCacheExpiry(t *testing.T) {
	var c credCache
	k := credKey{src: aiproxy.SourceTenant, owner: testOrg, name: "svc"}
	_, _, gen := c.get(k, "key", time.Hour)
	c.put(k, credEntry{field: "key", secret: "s", found: true}, gen, 10*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.RLock()
		n := len(c.m)
		c.mu.RUnlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the entry outlived its TTL")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkResolveCredentialCached is BenchmarkResolveCredential with the
// cache serve turns on: a hit costs a map read and no store or vault work.
func BenchmarkResolveCredentialCached(b *testing.B) {
	p, svc := benchResolver(b)
	p.cfg.CredentialTTL = time.Hour
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := p.keys.resolve(ctx, "acme", svc, ""); err != nil {
			b.Fatal(err)
		}
	}
}

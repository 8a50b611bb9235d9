package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/sqlite"
)

// benchKeyStore opens a real SQLite database holding one org and one invoke
// key, and returns the store and the full key.
func benchKeyStore(b *testing.B) (*sqlite.DB, string) {
	b.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	now := time.Now().UTC()
	if err := db.CreateOrg(ctx, aiproxy.Org{Key: "acme", Name: "Acme", CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	full, id, hash, err := aiproxy.NewKeySecret()
	if err != nil {
		b.Fatal(err)
	}
	k := aiproxy.APIKey{ID: id, OrgKey: "acme", Name: "bench", Role: aiproxy.RoleInvoke, SecretHash: hash, CreatedAt: now}
	if err := db.CreateKey(ctx, k); err != nil {
		b.Fatal(err)
	}
	return db, full
}

// BenchmarkAuthenticate is the auth step of every request: parse the
// Authorization header, find the key in SQLite, compare its hash.
func BenchmarkAuthenticate(b *testing.B) {
	db, full := benchKeyStore(b)
	a := newBenchAuthenticator(db)
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Authorization", "Api-Key "+full)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.authenticate(r, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticateParallel is the same with both cores asking at once.
func BenchmarkAuthenticateParallel(b *testing.B) {
	db, full := benchKeyStore(b)
	a := newBenchAuthenticator(db)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Authorization", "Api-Key "+full)
		for pb.Next() {
			if _, err := a.authenticate(r, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// newBenchAuthenticator builds the authenticator the server would.
func newBenchAuthenticator(keys KeyReader) *authenticator {
	return &authenticator{keys: keys, now: time.Now, touched: map[string]time.Time{}}
}

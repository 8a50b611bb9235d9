package httpapi

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// countingKeys is a one-key store that counts reads and can revoke.
type countingKeys struct {
	mu    sync.Mutex
	key   aiproxy.APIKey
	reads int
	// during, when set, runs inside a read, after the row was taken.
	during func()
}

func (c *countingKeys) Key(_ context.Context, id string) (aiproxy.APIKey, error) {
	c.mu.Lock()
	k, during := c.key, c.during
	c.reads++
	c.mu.Unlock()
	if id != k.ID {
		return aiproxy.APIKey{}, aiproxy.ErrNotFound
	}
	if during != nil {
		during()
	}
	return k, nil
}

func (c *countingKeys) TouchKey(context.Context, string, time.Time) error { return nil }

func (c *countingKeys) revoke(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.key.RevokedAt = at
}

func TestKeyCache(t *testing.T) {
	full, id, hash, err := aiproxy.NewKeySecret()
	if err != nil {
		t.Fatal(err)
	}
	setup := func() (*authenticator, *countingKeys, *time.Time, func() error) {
		keys := &countingKeys{key: aiproxy.APIKey{ID: id, OrgKey: "acme", Role: aiproxy.RoleInvoke, SecretHash: hash}}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		a := &authenticator{keys: keys, now: func() time.Time { return now }, touched: map[string]time.Time{}}
		auth := func() error {
			r, _ := http.NewRequest("POST", "/", nil)
			r.Header.Set("Authorization", "Api-Key "+full)
			_, err := a.authenticate(r, "")
			return err
		}
		return a, keys, &now, auth
	}
	t.Run("reuses a key within the TTL and rereads after", func(t *testing.T) {
		_, keys, now, auth := setup()
		for range 3 {
			if err := auth(); err != nil {
				t.Fatal(err)
			}
		}
		if keys.reads != 1 {
			t.Fatalf("%d store reads for three requests, want 1", keys.reads)
		}
		*now = now.Add(keyCacheTTL)
		if err := auth(); err != nil || keys.reads != 2 {
			t.Fatalf("after the TTL: err %v, %d reads, want a second read", err, keys.reads)
		}
	})
	t.Run("a wrong secret fails even when the key is cached", func(t *testing.T) {
		a, _, _, auth := setup()
		if err := auth(); err != nil {
			t.Fatal(err)
		}
		r, _ := http.NewRequest("POST", "/", nil)
		r.Header.Set("Authorization", "Api-Key "+full[:len(full)-1]+"a")
		if full[len(full)-1] == 'a' {
			r.Header.Set("Authorization", "Api-Key "+full[:len(full)-1]+"b")
		}
		if _, err := a.authenticate(r, ""); aiproxy.ErrorCode(err) != aiproxy.CodeUnauthenticated {
			t.Fatalf("wrong secret: %v", err)
		}
	})
	t.Run("forget makes a revocation immediate", func(t *testing.T) {
		a, keys, now, auth := setup()
		if err := auth(); err != nil {
			t.Fatal(err)
		}
		keys.revoke(*now)
		a.forget(id)
		if err := auth(); aiproxy.ErrorCode(err) != aiproxy.CodeUnauthenticated {
			t.Fatalf("revoked key: %v", err)
		}
	})
	t.Run("a read that raced a revocation is not cached", func(t *testing.T) {
		a, keys, now, auth := setup()
		keys.during = func() {
			keys.revoke(*now) // The store is revoked and the server forgets while the old row is in flight.
			a.forget(id)
		}
		if err := auth(); err != nil {
			t.Fatal(err) // The in-flight read still saw the live key.
		}
		keys.during = nil
		if err := auth(); aiproxy.ErrorCode(err) != aiproxy.CodeUnauthenticated {
			t.Fatalf("revoked key after a raced read: %v", err)
		}
	})
}

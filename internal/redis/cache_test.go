package redis

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/cache"
)

// TestCacheSharedAcrossReplicas: what one replica stores, another reads,
// with its time, until it expires.
func TestCacheSharedAcrossReplicas(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		a, b := e.open(Options{}).Cache(cache.Limits{}), e.open(Options{}).Cache(cache.Limits{OwnerMaxBytes: 16 + EntryOverhead})
		ctx := context.Background()
		at := time.Now().Truncate(time.Microsecond)
		key := "heygen/list-avatars|https://api.heygen.com/v2/avatars|sha256:abc"
		if err := a.Set(ctx, key, cache.Item{Value: []byte(`{"avatars":[]}`), StoredAt: at}, 500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		it, ok, err := b.Get(ctx, key)
		if err != nil || !ok || !bytes.Equal(it.Value, []byte(`{"avatars":[]}`)) || !it.StoredAt.Equal(at) {
			t.Fatalf("Get on another replica = %+v, %v, %v", it, ok, err)
		}
		if _, ok, _ := b.Get(ctx, "other"); ok {
			t.Fatal("a key never stored was found")
		}
		if err := b.Set(ctx, "big", cache.Item{Value: make([]byte, 17), StoredAt: at}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := a.Get(ctx, "big"); ok {
			t.Fatal("a value over the store's limit was kept")
		}
		e.advance(700 * time.Millisecond)
		if _, ok, _ := a.Get(ctx, key); ok {
			t.Fatal("an entry outlived its keep time")
		}
	})
}

// TestCacheOverRedis runs cache.Cache over the store: a miss fills once,
// then every replica hits.
func TestCacheOverRedis(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		fills := 0
		fill := func(context.Context) ([]byte, bool, error) { fills++; return []byte("v"), true, nil }
		a, b := cache.New(e.open(Options{}).Cache(cache.Limits{}), nil), cache.New(e.open(Options{}).Cache(cache.Limits{}), nil)
		ctx := context.Background()
		if _, st, _ := a.Get(ctx, "k", time.Minute, 0, fill, fill); st != cache.Miss {
			t.Fatalf("first Get = %s, want MISS", st)
		}
		if v, st, _ := b.Get(ctx, "k", time.Minute, 0, fill, fill); st != cache.Hit || string(v) != "v" {
			t.Fatalf("other replica's Get = %q %s, want a HIT", v, st)
		}
		if fills != 1 {
			t.Fatalf("%d fills, want 1", fills)
		}
	})
}

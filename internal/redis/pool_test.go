package redis

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

var _ proxy.KeyHealth = (*KeyHealth)(nil)

var testPool = aiproxy.PoolRef{Source: aiproxy.SourcePlatform, Name: "heygen"}

// TestKeyHealthSharedAcrossReplicas: a key one replica removes is removed
// for the other, only the first report is a change, a rest keeps the
// later end and never undoes a removal, and a restore brings it back.
func TestKeyHealthSharedAcrossReplicas(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		one, two := e.open(Options{}).KeyHealth(), e.open(Options{}).KeyHealth()
		now := time.Now().Truncate(time.Millisecond).UTC()
		removed := aiproxy.KeyStatus{State: aiproxy.KeyRemoved, Reason: "provider answered 401 invalid_api_key", Since: now}
		if changed, err := one.MarkKey(ctx, testPool, "k1", removed); err != nil || !changed {
			t.Fatalf("MarkKey = %v, %v; want a change", changed, err)
		}
		if changed, err := two.MarkKey(ctx, testPool, "k1", removed); err != nil || changed {
			t.Fatalf("the other replica's MarkKey = %v, %v; want no change", changed, err)
		}
		rest := aiproxy.KeyStatus{State: aiproxy.KeyResting, Reason: "provider answered 429", Since: now, Until: now.Add(time.Hour)}
		if changed, _ := two.MarkKey(ctx, testPool, "k1", rest); changed {
			t.Fatal("a rest replaced a removal")
		}
		states, err := two.KeyStates(ctx, testPool, []string{"k1", "k2"})
		if err != nil {
			t.Fatal(err)
		}
		if got := states["k1"]; got.State != aiproxy.KeyRemoved || got.Reason != removed.Reason || !got.Since.Equal(now) {
			t.Fatalf("k1 on the other replica = %+v, want %+v", got, removed)
		}
		if _, ok := states["k2"]; ok {
			t.Fatalf("k2 = %+v, want healthy and left out", states["k2"])
		}

		if changed, _ := one.MarkKey(ctx, testPool, "k2", rest); !changed {
			t.Fatal("a rest of a healthy key is no change")
		}
		shorter := rest
		shorter.Until = now.Add(time.Minute)
		if changed, _ := two.MarkKey(ctx, testPool, "k2", shorter); changed {
			t.Fatal("an earlier-ending rest replaced a later one")
		}
		states, _ = two.KeyStates(ctx, testPool, []string{"k2"})
		if got := states["k2"]; got.State != aiproxy.KeyResting || !got.Until.Equal(rest.Until) {
			t.Fatalf("k2 = %+v, want resting until %v", got, rest.Until)
		}

		prev, was, err := two.RestoreKey(ctx, testPool, "k1")
		if err != nil || !was || prev.State != aiproxy.KeyRemoved {
			t.Fatalf("RestoreKey = %+v, %v, %v", prev, was, err)
		}
		if _, was, _ := one.RestoreKey(ctx, testPool, "k1"); was {
			t.Fatal("a second restore found the key unhealthy")
		}
		states, _ = one.KeyStates(ctx, testPool, []string{"k1"})
		if len(states) != 0 {
			t.Fatalf("states after the restore = %+v", states)
		}
		other := aiproxy.PoolRef{Source: aiproxy.SourceTenant, OrgKey: "acme", Name: "heygen"}
		if states, _ := one.KeyStates(ctx, other, []string{"k2"}); len(states) != 0 {
			t.Fatalf("another pool's k2 = %+v, want its own state", states)
		}
	})
}

// TestKeyHealthRestEnds: a rest's state goes when it ends.
func TestKeyHealthRestEnds(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		h := e.open(Options{}).KeyHealth()
		now := time.Now()
		rest := aiproxy.KeyStatus{State: aiproxy.KeyResting, Since: now, Until: now.Add(300 * time.Millisecond)}
		if changed, err := h.MarkKey(ctx, testPool, "k1", rest); err != nil || !changed {
			t.Fatalf("MarkKey = %v, %v", changed, err)
		}
		e.advance(400 * time.Millisecond)
		states, err := h.KeyStates(ctx, testPool, []string{"k1"})
		if err != nil || len(states) != 0 {
			t.Fatalf("states after the rest = %+v, %v; want healthy", states, err)
		}
		again := aiproxy.KeyStatus{State: aiproxy.KeyResting, Since: time.Now(), Until: time.Now().Add(time.Hour)}
		if changed, _ := h.MarkKey(ctx, testPool, "k1", again); !changed {
			t.Fatal("a new rest after the last one ended is no change")
		}
	})
}

// TestKeyHealthCapAcrossReplicas: a key's cap counts the slots every
// replica holds, and KeyStates reports them.
func TestKeyHealthCapAcrossReplicas(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		one, two := e.open(Options{}).KeyHealth(), e.open(Options{}).KeyHealth()
		var releases []func()
		for i, h := range []*KeyHealth{one, two} {
			release, ok, err := h.TakeKey(ctx, testPool, "k1", 2)
			if err != nil || !ok {
				t.Fatalf("TakeKey %d = %v, %v", i, ok, err)
			}
			releases = append(releases, release)
		}
		if _, ok, err := one.TakeKey(ctx, testPool, "k1", 2); err != nil || ok {
			t.Fatalf("TakeKey over the cap = %v, %v; want refused", ok, err)
		}
		uncapped, ok, err := two.TakeKey(ctx, testPool, "k1", 0)
		if err != nil || !ok {
			t.Fatalf("TakeKey without a cap = %v, %v", ok, err)
		}
		states, _ := one.KeyStates(ctx, testPool, []string{"k1"})
		if got := states["k1"]; got.State != aiproxy.KeyHealthy || got.InFlight != 3 {
			t.Fatalf("k1 = %+v, want healthy with 3 in flight", got)
		}
		releases[0]()
		uncapped()
		release, ok, err := one.TakeKey(ctx, testPool, "k1", 2)
		if err != nil || !ok {
			t.Fatalf("TakeKey after a release = %v, %v", ok, err)
		}
		release()
		releases[1]()
		states, _ = two.KeyStates(ctx, testPool, []string{"k1"})
		if len(states) != 0 {
			t.Fatalf("states with nothing in flight = %+v", states)
		}
	})
}

// TestKeyHealthRacingReports: of replicas reporting one key together,
// exactly one sees the change.
func TestKeyHealthRacingReports(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var hs []*KeyHealth
		for range 4 {
			hs = append(hs, e.open(Options{}).KeyHealth())
		}
		var mu sync.Mutex
		changes := 0
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				st := aiproxy.KeyStatus{State: aiproxy.KeyRemoved, Since: time.Now()}
				changed, err := hs[i%4].MarkKey(context.Background(), testPool, "k9", st)
				if err != nil {
					t.Error(err)
				}
				if changed {
					mu.Lock()
					changes++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if changes != 1 {
			t.Fatalf("%d replicas saw the removal as a change, want 1", changes)
		}
	})
}

// TestKeyHealthFailureModes: with Redis gone, closed refuses with a 503
// and open reports every key healthy and lets calls take keys.
func TestKeyHealthFailureModes(t *testing.T) {
	for _, open := range []bool{false, true} {
		m := miniredis.RunT(t)
		c := New(goredis.NewClient(&goredis.Options{Addr: m.Addr(), MaxRetries: -1, DialTimeout: 100 * time.Millisecond}),
			Options{FailOpen: open, OpTimeout: 200 * time.Millisecond})
		t.Cleanup(func() { c.Close() })
		m.Close()
		h := c.KeyHealth()
		states, err := h.KeyStates(context.Background(), testPool, []string{"k1"})
		_, ok, takeErr := h.TakeKey(context.Background(), testPool, "k1", 1)
		_, markErr := h.MarkKey(context.Background(), testPool, "k1", aiproxy.KeyStatus{State: aiproxy.KeyRemoved})
		if open {
			if err != nil || len(states) != 0 || takeErr != nil || !ok {
				t.Fatalf("open: KeyStates = %v, %v; TakeKey = %v, %v", states, err, ok, takeErr)
			}
		} else if aiproxy.ErrorCode(err) != aiproxy.CodeUnavailable || aiproxy.ErrorCode(takeErr) != aiproxy.CodeUnavailable {
			t.Fatalf("closed: KeyStates = %v, TakeKey = %v; want 503s", err, takeErr)
		}
		if aiproxy.ErrorCode(markErr) != aiproxy.CodeUnavailable {
			t.Fatalf("MarkKey with Redis gone = %v, want a 503 the caller logs", markErr)
		}
	}
}

package redis

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/cache"
	"github.com/aiproxy/aiproxy/internal/concurrency"
	"github.com/aiproxy/aiproxy/internal/ratelimit"
)

// ownerKey carries the org of a test call to the cache.
type ownerKey struct{}

func ownedBy(ctx context.Context) string { s, _ := ctx.Value(ownerKey{}).(string); return s }

func asOrg(org string) context.Context {
	return context.WithValue(context.Background(), ownerKey{}, org)
}

// limitState is what the limits of orgs b and c hold: each org's bucket
// before a flood, and the slots they hold.
type limitState struct {
	lim     *Limiter
	mem     *ratelimit.Memory
	sem     *Semaphore
	release []func()
}

// bucketRate is the buckets' rate: one token per 100s, so that a bucket's
// key (which Redis expires on its own clock once the bucket would be full)
// outlives a slow run while the test's clock stands still.
const bucketRate = 0.01

// holdLimits spends tokens of b's and c's buckets (mirrored by a
// ratelimit.Memory on the same clock) and takes slots: b two of its org
// cap, b and c one each of the shared credential cap.
func holdLimits(t *testing.T, l *Limiter, s *Semaphore, now func() time.Time) *limitState {
	t.Helper()
	st := &limitState{lim: l, mem: ratelimit.NewMemory(now), sem: s}
	ctx := context.Background()
	for org, n := range map[string]int{"b": 3, "c": 1} {
		for range n {
			got, err := l.Take(ctx, "org:"+org, bucketRate, 10)
			want, _ := st.mem.Take(ctx, "org:"+org, bucketRate, 10)
			if err != nil || got != want {
				t.Fatalf("take of %s = %+v, %v; memory %+v", org, got, err, want)
			}
		}
	}
	shared := &aiproxy.Shares{}
	for _, c := range []concurrency.Claim{
		{Key: "org:b", Limit: 5, Org: "b"}, {Key: "org:b", Limit: 5, Org: "b"},
		{Key: "platform:elevenlabs", Limit: 10, Org: "b", Shares: shared},
		{Key: "platform:elevenlabs", Limit: 10, Org: "c", Shares: shared},
	} {
		r, err := s.Acquire(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		st.release = append(st.release, r)
	}
	return st
}

// check asserts that the limits are exactly as holdLimits left them: the
// next take of each bucket is the one the in-process limiter predicts,
// and the slots held are those taken.
func (st *limitState) check(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, org := range []string{"b", "c"} {
		got, err := st.lim.Take(ctx, "org:"+org, bucketRate, 10)
		want, _ := st.mem.Take(ctx, "org:"+org, bucketRate, 10)
		if err != nil || got != want {
			t.Fatalf("after the flood %s's bucket = %+v, %v; want %+v", org, got, err, want)
		}
	}
	for key, want := range map[string]int{"org:b": 2, "platform:elevenlabs": 2} {
		if n, err := st.sem.InFlight(ctx, key); err != nil || n != want {
			t.Fatalf("after the flood %s holds %d slots (%v); want %d", key, n, err, want)
		}
	}
	for _, r := range st.release {
		r()
	}
}

// flood has org a ask for n distinct lists of size bytes through the cache
// (a query per page), as a client multiplying its queries would.
func flood(t *testing.T, cc *cache.Cache, n, size int) {
	t.Helper()
	value := make([]byte, size)
	fill := func(context.Context) ([]byte, bool, error) { return value, true, nil }
	for i := range n {
		if _, _, err := cc.Get(asOrg("a"), fmt.Sprintf("elevenlabs/list-voices?page=%d", i), time.Minute, 0, fill, fill); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCacheFloodLeavesLimitsExact: org a asks for 3,000 distinct lists
// (3 KB each) through a cache that shares one Redis, and one prefix, with
// the limits (the worst setup; --cache-redis-url keeps them apart). The
// cache stays within its bounds, a's entries never push out b's, and
// every org's rate limits and slots are exactly as before.
func TestCacheFloodLeavesLimitsExact(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		c := newClock()
		limits := e.open(Options{Now: c.now})
		settle(t, c, limits)
		st := holdLimits(t, limits.Limiter(), limits.Semaphore(), c.now)
		lim := cache.Limits{MaxBytes: 1 << 20, MaxEntries: 400, OwnerMaxBytes: 256 << 10, OwnerMaxEntries: 50}
		store := e.open(Options{}).Cache(lim)
		cc := cache.New(store, nil).ChargeTo(ownedBy)
		keep := func(context.Context) ([]byte, bool, error) { return []byte("b's voices"), true, nil }
		for i := range 3 {
			cc.Get(asOrg("b"), fmt.Sprint("b-", i), time.Minute, 0, keep, keep)
		}
		flood(t, cc, 3000, 3000)
		ctx := context.Background()
		n, b, err := store.Usage(ctx, "a")
		if err != nil || n > lim.OwnerMaxEntries || b > lim.OwnerMaxBytes || n < 10 {
			t.Fatalf("a holds %d entries, %d bytes (%v); bounds %d and %d", n, b, err, lim.OwnerMaxEntries, lim.OwnerMaxBytes)
		}
		if n, b, err := store.Total(ctx); err != nil || n > lim.MaxEntries || b > lim.MaxBytes {
			t.Fatalf("the cache holds %d entries, %d bytes (%v); bounds %d and %d", n, b, err, lim.MaxEntries, lim.MaxBytes)
		}
		if keys := countKeys(t, limits, limits.Prefix()+"cache:e:*"); keys > lim.OwnerMaxEntries+3 {
			t.Fatalf("%d cache entries in Redis; a may hold %d and b holds 3", keys, lim.OwnerMaxEntries)
		}
		for i := range 3 {
			if _, status, _ := cc.Get(asOrg("b"), fmt.Sprint("b-", i), time.Minute, 0, keep, keep); status != cache.Hit {
				t.Fatalf("b's entry %d after a's flood = %s, want a HIT", i, status)
			}
		}
		st.check(t)
	})
}

// countKeys counts the keys matching a pattern.
func countKeys(t *testing.T, c *Client, pattern string) int {
	t.Helper()
	n := 0
	iter := c.rdb.Scan(context.Background(), 0, pattern, 1000).Iterator()
	for iter.Next(context.Background()) {
		n++
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// privateRedis starts a redis-server of the test's own on a Unix socket,
// with a memory cap and an eviction policy, and returns its URL. It runs
// when AIPROXY_TEST_REDIS_URL says Redis tests are wanted and redis-server
// is installed.
func privateRedis(t *testing.T, maxmemory, policy string) string {
	t.Helper()
	if os.Getenv("AIPROXY_TEST_REDIS_URL") == "" {
		t.Skip("AIPROXY_TEST_REDIS_URL is not set; skipping the private redis-server run")
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed")
	}
	dir, err := os.MkdirTemp("", "aiproxy-redis")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no",
		"--maxmemory", maxmemory, "--maxmemory-policy", policy, "--dir", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	rdb := goredis.NewClient(&goredis.Options{Network: "unix", Addr: sock})
	defer rdb.Close()
	for deadline := time.Now().Add(5 * time.Second); rdb.Ping(context.Background()).Err() != nil; {
		if time.Now().After(deadline) {
			t.Fatal("the private redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "unix://" + sock
}

// TestLimitsNeverEvicted runs the flood on a real Redis capped at 4 MB,
// limits on database 0 and the cache on database 1 of the same server
// (which share its memory). With the documented settings (noeviction, the
// cache bounded well under maxmemory) every limit stays exact. The two
// setups the issue found broken are run too, to show that the test sees
// the failure: an unbounded cache under noeviction makes the limit
// scripts fail (out of memory), and under allkeys-lru it evicts the
// buckets, so that an org's bucket is full again.
func TestLimitsNeverEvicted(t *testing.T) {
	t.Run("noeviction, bounded cache", func(t *testing.T) {
		url := privateRedis(t, "4mb", "noeviction")
		c := newClock()
		limits := openURL(t, url+"?db=0", Options{Now: c.now})
		settle(t, c, limits)
		st := holdLimits(t, limits.Limiter(), limits.Semaphore(), c.now)
		store := openURL(t, url+"?db=1", Options{}).Cache(cache.Limits{MaxBytes: 1 << 20, OwnerMaxBytes: 512 << 10})
		flood(t, cache.New(store, nil).ChargeTo(ownedBy), 3000, 3000)
		st.check(t)
	})
	t.Run("noeviction, unbounded cache fails", func(t *testing.T) {
		url := privateRedis(t, "4mb", "noeviction")
		c := newClock()
		limits := openURL(t, url+"?db=0", Options{Now: c.now})
		settle(t, c, limits)
		st := holdLimits(t, limits.Limiter(), limits.Semaphore(), c.now)
		store := openURL(t, url+"?db=1", Options{}).Cache(cache.Limits{MaxBytes: 1 << 30, OwnerMaxBytes: 1 << 30, MaxEntries: 1 << 20, OwnerMaxEntries: 1 << 20})
		flood(t, cache.New(store, nil).ChargeTo(ownedBy), 3000, 3000)
		// Memory hovers at the cap: the next few new buckets push it over.
		var err error
		for i := 0; i < 50 && err == nil; i++ {
			_, err = st.lim.Take(context.Background(), fmt.Sprint("org:new-", i), 1, 10)
		}
		if err == nil || !strings.Contains(err.Error(), "OOM") {
			t.Fatalf("new buckets on a full noeviction Redis = %v; want the OOM refusal", err)
		}
	})
	t.Run("allkeys-lru, unbounded cache evicts buckets", func(t *testing.T) {
		url := privateRedis(t, "4mb", "allkeys-lru")
		c := newClock()
		limits := openURL(t, url+"?db=0", Options{Now: c.now})
		settle(t, c, limits)
		if _, err := limits.Limiter().Take(context.Background(), "org:b", 1, 10); err != nil {
			t.Fatal(err)
		}
		store := openURL(t, url+"?db=1", Options{}).Cache(cache.Limits{MaxBytes: 1 << 30, OwnerMaxBytes: 1 << 30, MaxEntries: 1 << 20, OwnerMaxEntries: 1 << 20})
		flood(t, cache.New(store, nil).ChargeTo(ownedBy), 3000, 3000)
		if n := countKeys(t, limits, limits.Prefix()+"rl:*"); n != 0 {
			t.Skipf("the bucket survived this flood (%d left); LRU sampling is random", n)
		}
	})
}

func openURL(t *testing.T, url string, opt Options) *Client {
	t.Helper()
	c, err := Open(url, quick(opt))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

package redis

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"
)

// engine is a Redis server to test against: miniredis always, and the real
// server named by AIPROXY_TEST_REDIS_URL when it is set.
type engine struct {
	name string
	// open returns a client of the server with the test's own key prefix;
	// clients opened by one test share it, like replicas.
	open func(opt Options) *Client
	// advance lets d pass for the server's key expiry.
	advance func(d time.Duration)
	// flush makes the server lose every key of the test, as a restart
	// without persistence does: miniredis is emptied, and on the real
	// server (which others share) the test's prefix is dropped.
	flush func(t *testing.T)
}

// forEachEngine runs a test against every available server.
func forEachEngine(t *testing.T, test func(t *testing.T, e engine)) {
	t.Run("miniredis", func(t *testing.T) {
		m := miniredis.RunT(t)
		test(t, engine{
			name: "miniredis",
			open: func(opt Options) *Client {
				c := New(goredis.NewClient(&goredis.Options{Addr: m.Addr()}), quick(opt))
				t.Cleanup(func() { c.Close() })
				return c
			},
			advance: m.FastForward,
			flush:   func(*testing.T) { m.FlushAll() },
		})
	})
	t.Run("redis", func(t *testing.T) {
		url := os.Getenv("AIPROXY_TEST_REDIS_URL")
		if url == "" {
			t.Skip("AIPROXY_TEST_REDIS_URL is not set; skipping the real Redis run")
		}
		prefix := "aiproxy_test_" + token() + ":"
		t.Cleanup(func() { dropPrefix(t, url, prefix) })
		test(t, engine{
			name: "redis",
			open: func(opt Options) *Client {
				opt.Prefix = prefix
				c, err := Open(url, quick(opt))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				return c
			},
			advance: time.Sleep,
			flush:   func(t *testing.T) { dropPrefix(t, url, prefix) },
		})
	})
}

// quick makes a test client check its slots every 20ms unless the test
// says otherwise, so that the hold after a first start (3 checks) is short.
func quick(opt Options) Options {
	if opt.Check == 0 {
		opt.Check = 20 * time.Millisecond
	}
	return opt
}

// dropPrefix deletes every key a test left under its prefix.
func dropPrefix(t *testing.T, url, prefix string) {
	c, err := Open(url, Options{Prefix: prefix})
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	if err := c.DropPrefix(context.Background()); err != nil {
		t.Error(err)
	}
}

// clock is a settable time for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newClock() *clock { return &clock{t: time.Unix(1700000000, 0)} }

func TestRedact(t *testing.T) {
	tests := map[string]string{
		"redis://:s3cret@host:6379/0":     "redis://****@host:6379/0",
		"rediss://user:pw@h/1":            "rediss://****@h/1",
		"redis://127.0.0.1:6379/0":        "redis://127.0.0.1:6379/0",
		"not a url with password@example": "****",
	}
	for in, want := range tests {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	if _, err := Open("redis://:s3cret@host:notaport/x", Options{}); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open with a bad URL: %v; want an error without the password", err)
	}
}

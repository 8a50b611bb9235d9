package redis

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/concurrency"
	"github.com/aiproxy/aiproxy/internal/ratelimit"
)

// relay forwards TCP connections to a server until hang is called; then
// it still accepts connections and reads what clients send, but forwards
// nothing and answers nothing, as a hung Redis does.
type relay struct {
	ln     net.Listener
	target string
	hung   atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, target: target}
	r.wg.Go(r.accept)
	t.Cleanup(func() {
		ln.Close()
		r.closeAll()
		r.wg.Wait()
	})
	return r
}

func (r *relay) addr() string { return r.ln.Addr().String() }

func (r *relay) track(c net.Conn) {
	r.mu.Lock()
	r.conns = append(r.conns, c)
	r.mu.Unlock()
}

func (r *relay) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

func (r *relay) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.track(c)
		if r.hung.Load() {
			r.wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
			continue
		}
		up, err := net.Dial("tcp", r.target)
		if err != nil {
			c.Close()
			continue
		}
		r.track(up)
		r.wg.Go(func() {
			_, _ = io.Copy(up, c)
			_, _ = io.Copy(io.Discard, c) // after a hang, swallow the rest
		})
		r.wg.Go(func() { _, _ = io.Copy(c, up) })
	}
}

// hang stops answering: the server side of every connection is cut, the
// client side stays open and silent.
func (r *relay) hang() {
	r.hung.Store(true)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		if c.RemoteAddr().String() == r.target {
			c.Close()
		}
	}
}

// wantUnavailable checks that err is the closed failure mode's 503.
func wantUnavailable(t *testing.T, what string, err error, took, bound time.Duration) {
	t.Helper()
	var ae *aiproxy.Error
	if !errors.As(err, &ae) || ae.Code != aiproxy.CodeUnavailable || ae.RetryAfter < 1 {
		t.Fatalf("%s with Redis hung = %v; want 503 unavailable with Retry-After", what, err)
	}
	if took > bound {
		t.Fatalf("%s took %v with Redis hung; want at most %v", what, took, bound)
	}
}

// TestHungRedisIsUnavailable: a Redis that accepts connections and never
// answers makes capped and rate-limited calls fail with 503 unavailable
// within the queue timeout plus one operation's timeout, never with a
// 429 that blames calls in flight, whether the call found the cap free
// or was already waiting for a slot.
func TestHungRedisIsUnavailable(t *testing.T) {
	m := miniredis.RunT(t)
	r := newRelay(t, m.Addr())
	c, err := Open("redis://"+r.addr()+"/0", quick(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	const queue = 2 * time.Second
	caps := &concurrency.Policy{Rules: []concurrency.Rule{{Scope: concurrency.ScopeCredential, Service: "elevenlabs", Max: 1}},
		Sem: c.Semaphore(), QueueTimeout: queue}
	limits := &ratelimit.Policy{Rules: []ratelimit.Rule{{Scope: ratelimit.ScopeOrg, Rate: 1, Burst: 100}}, Limiter: c.Limiter()}
	ctx := context.Background()
	release, err := caps.Acquire(ctx, "acme", "elevenlabs", aiproxy.SourcePlatform)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	waiting := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := caps.Acquire(ctx, "beta", "elevenlabs", aiproxy.SourcePlatform)
		waiting <- err
	}()
	time.Sleep(300 * time.Millisecond) // beta is waiting for the slot
	r.hang()
	werr := <-waiting
	took := time.Since(start)
	wantUnavailable(t, "a call waiting for a slot", werr, took, queue+1500*time.Millisecond)
	t.Logf("a call waiting for a slot: 503 after %v (hung after 300ms): %v", took, werr)

	if r, err := caps.Acquire(ctx, "gamma", "elevenlabs", aiproxy.SourceTenant); err != nil {
		t.Fatalf("a call no cap applies to: %v", err)
	} else {
		r()
	}
	orgCap := &concurrency.Policy{Rules: []concurrency.Rule{{Scope: concurrency.ScopeOrg, Max: 5}}, Sem: c.Semaphore(), QueueTimeout: queue}
	start = time.Now()
	_, err = orgCap.Acquire(ctx, "gamma", "elevenlabs", aiproxy.SourceTenant)
	took = time.Since(start)
	wantUnavailable(t, "a capped call", err, took, queue+1500*time.Millisecond)
	t.Logf("a capped call: 503 after %v", took)

	start = time.Now()
	_, err = limits.Allow(ctx, "acme", "k1", "elevenlabs", "tts")
	took = time.Since(start)
	wantUnavailable(t, "a rate-limited call", err, took, 1500*time.Millisecond)
	t.Logf("a rate-limited call: 503 after %v", took)
}

package proxy_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/breaker"
	"github.com/aiproxy/aiproxy/internal/cache"
	"github.com/aiproxy/aiproxy/internal/concurrency"
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/quota"
	"github.com/aiproxy/aiproxy/internal/ratelimit"
	"github.com/aiproxy/aiproxy/internal/sandbox"
	"github.com/aiproxy/aiproxy/internal/usage"
)

type discard struct{}

func (discard) AppendUsage(context.Context, []aiproxy.UsageRecord) error { return nil }

// allGuardrails turns every guardrail on, with limits that never refuse,
// so that the benchmark measures their cost on the path of a call.
func allGuardrails(b *testing.B) proxy.Config {
	store := quota.NewMemory()
	_ = store.PutQuota(context.Background(), aiproxy.Quota{OrgKey: "acme", Metric: aiproxy.MetricRequests,
		Period: aiproxy.PeriodMonth, Limit: 1 << 40})
	rec := usage.New(discard{}, usage.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	go rec.Run(ctx)
	b.Cleanup(cancel)
	return proxy.Config{
		Access:      offFor{},
		RateLimit:   &ratelimit.Policy{Rules: []ratelimit.Rule{{Scope: ratelimit.ScopeOrg, Rate: 1e9, Burst: 1 << 30}, {Scope: ratelimit.ScopeKey, Rate: 1e9, Burst: 1 << 30}}, Limiter: ratelimit.NewMemory(nil)},
		Concurrency: &concurrency.Policy{Rules: []concurrency.Rule{{Scope: concurrency.ScopeOrg, Max: 1024}}, Sem: concurrency.NewMemory()},
		Quotas:      quota.New(store, nil, time.Hour),
		Breaker:     breaker.New(5, time.Minute, nil),
		Cache:       cache.New(cache.NewMemory(0, nil), nil),
		Meter:       rec,
		Retry:       proxy.RetryPolicy{Attempts: 3},
	}
}

// BenchmarkInvoke measures a whole uncached invoke call (list-voices against
// the in-process sandbox) with every guardrail off, then on.
func BenchmarkInvoke(b *testing.B) {
	e := newEnv(b, sandbox.Config{})
	for _, tc := range []struct {
		name string
		cfg  func(*testing.B) proxy.Config
	}{
		{"guardrails=off", func(*testing.B) proxy.Config { return proxy.Config{} }},
		{"guardrails=on", allGuardrails},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := e.proxy(tc.cfg(b))
			b.ReportAllocs()
			for b.Loop() {
				if res := invoke(p, "acme", "heygen", "list-voices", nil); res.err != nil {
					b.Fatal(res.err)
				}
			}
			e.sb.ClearRequests()
		})
	}
}

// BenchmarkCachedListAvatars measures list-avatars served from the cache
// while the sandbox takes two seconds to answer it, and reports the median.
func BenchmarkCachedListAvatars(b *testing.B) {
	e := newEnv(b, sandbox.Config{})
	e.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Path: "/v2/avatars", Delay: 2 * time.Second})
	p := e.proxy(allGuardrails(b))
	if res := invoke(p, "acme", "heygen", "list-avatars", nil); res.header.Get(proxy.CacheHeader) != "MISS" {
		b.Fatalf("first call = %v", res.header)
	}
	var took []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		res := invoke(p, "acme", "heygen", "list-avatars", nil)
		took = append(took, time.Since(start))
		if res.header.Get(proxy.CacheHeader) != "HIT" {
			b.Fatalf("cache = %q", res.header.Get(proxy.CacheHeader))
		}
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
	e.sb.ClearRequests()
}

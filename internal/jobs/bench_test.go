package jobs

import (
	"context"
	"sync"
	"testing"
	"time"
)

// BenchmarkStatusPolling measures provider status calls per client status
// call: every iteration is one simulated second in which 100 clients poll
// one rendering video once, concurrently, while the tracker runs too. The
// target is at most one provider call per simulated second.
func BenchmarkStatusPolling(b *testing.B) {
	const clients = 100
	h := newHarness(b)
	id := h.generate("acme", "SANDBOX_STUCK rendering for ever")
	h.clock.Advance(30 * time.Second)
	before := h.statusCalls()
	seconds := 0
	for b.Loop() {
		h.clock.Advance(time.Second)
		seconds++
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				if resp := h.status("acme", id); resp.status != 200 {
					b.Errorf("status = %d %s", resp.status, resp.body)
				}
			})
		}
		h.jobs.TrackOnce(context.Background())
		wg.Wait()
	}
	provider := float64(h.statusCalls() - before)
	b.ReportMetric(provider/float64(seconds*clients), "provider-calls/client-call")
	b.ReportMetric(provider/float64(seconds), "provider-calls/s")
	if provider > float64(seconds) {
		b.Fatalf("%v provider calls in %d simulated seconds: more than one a second", provider, seconds)
	}
}

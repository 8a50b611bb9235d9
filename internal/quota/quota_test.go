package quota

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// TestFiftyRacingReservationsNeverOverspend races 50 calls of 400
// characters at a 5000-character daily quota while a quarter of the calls
// fail and give their share back: the counter never passes the limit.
// (storetest checks the exact count for every engine.)
func TestFiftyRacingReservationsNeverOverspend(t *testing.T) {
	store := NewMemory()
	ctx := context.Background()
	_ = store.PutQuota(ctx, aiproxy.Quota{OrgKey: "acme", Service: "elevenlabs", Metric: aiproxy.MetricCharacters, Period: aiproxy.PeriodDay, Limit: 5000})
	m := New(store, nil, 0)
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 50 {
		wg.Go(func() {
			<-start
			settle, err := m.Reserve(ctx, "acme", "elevenlabs", aiproxy.Demand{aiproxy.MetricRequests: 1, aiproxy.MetricCharacters: 400})
			var ae *aiproxy.Error
			switch {
			case err == nil:
				ok.Add(1)
				settle(ctx, i%4 != 0) // every fourth call fails upstream
			case errors.As(err, &ae) && ae.Code == aiproxy.CodeQuotaExceeded && ae.RetryAfter > 0:
				refused.Add(1)
			default:
				t.Errorf("Reserve: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() < 12 || ok.Load()+refused.Load() != 50 {
		t.Fatalf("%d reserved, %d refused", ok.Load(), refused.Load())
	}
	list, _ := store.Quotas(ctx, "acme", time.Now())
	if used := list[0].Used; used > 5000 || used%400 != 0 {
		t.Fatalf("used %d characters of 5000", used)
	}
}

func TestNoQuotaNoStoreWrite(t *testing.T) {
	store := NewMemory()
	m := New(store, nil, time.Hour)
	settle, err := m.Reserve(context.Background(), "acme", "heygen", aiproxy.Demand{aiproxy.MetricRequests: 1})
	if err != nil {
		t.Fatal(err)
	}
	settle(context.Background(), true)
	if len(store.counters) != 0 {
		t.Fatalf("counters written for an org without quotas: %v", store.counters)
	}
	_ = store.PutQuota(context.Background(), aiproxy.Quota{OrgKey: "acme", Metric: aiproxy.MetricRequests, Period: aiproxy.PeriodMonth, Limit: 1})
	m.Invalidate("acme")
	if _, err := m.Reserve(context.Background(), "acme", "heygen", aiproxy.Demand{aiproxy.MetricRequests: 1}); err != nil {
		t.Fatal(err)
	}
	_, err = m.Reserve(context.Background(), "acme", "heygen", aiproxy.Demand{aiproxy.MetricRequests: 1})
	if aiproxy.ErrorCode(err) != aiproxy.CodeQuotaExceeded {
		t.Fatalf("second Reserve = %v, want quota_exceeded", err)
	}
	var ae *aiproxy.Error
	errors.As(err, &ae)
	if ae.Message != "Quota exceeded: requests per month for all services (limit 1)." {
		t.Fatalf("message = %q", ae.Message)
	}
}

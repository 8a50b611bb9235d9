package usage

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

type store struct {
	mu      sync.Mutex
	batches [][]aiproxy.UsageRecord
	block   chan struct{}
}

func (s *store) AppendUsage(_ context.Context, recs []aiproxy.UsageRecord) error {
	if s.block != nil {
		<-s.block
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, append([]aiproxy.UsageRecord(nil), recs...))
	return nil
}

func (s *store) total() (n, batches int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.batches {
		n += len(b)
	}
	return n, len(s.batches)
}

func TestBatchesAndFlushesOnStop(t *testing.T) {
	st := &store{}
	r := New(st, Config{Batch: 10, Every: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	var wg sync.WaitGroup
	for i := range 25 {
		wg.Go(func() { r.Record(aiproxy.UsageRecord{OrgKey: "acme", Units: int64(i)}) })
	}
	wg.Wait()
	r.Flush(context.Background())
	if n, batches := st.total(); n != 25 || batches < 3 {
		t.Fatalf("after flush: %d records in %d batches, want 25 in at least 3", n, batches)
	}
	r.Record(aiproxy.UsageRecord{OrgKey: "acme"})
	cancel()
	<-done
	if n, _ := st.total(); n != 26 {
		t.Fatalf("after stop: %d records, want 26", n)
	}
}

func TestRecordNeverBlocks(t *testing.T) {
	st := &store{block: make(chan struct{})}
	r := New(st, Config{Queue: 4, Batch: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	start := time.Now()
	for range 100 {
		r.Record(aiproxy.UsageRecord{})
	}
	if time.Since(start) > time.Second || r.Dropped() == 0 {
		t.Fatalf("100 records with a stuck store took %v and dropped %d", time.Since(start), r.Dropped())
	}
	close(st.block)
	cancel()
	<-done
}

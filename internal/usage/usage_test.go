package usage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/diskfile"
)

// store is an Appender that keeps what it is given, and fails, blocks or
// hangs when a test says so.
type store struct {
	mu      sync.Mutex
	batches [][]aiproxy.UsageRecord
	block   chan struct{}
	// down makes every write fail as an unavailable database does; hang
	// makes it wait for its context instead.
	down, hang bool
	calls      int
}

var errDown = fmt.Errorf("%w: connection refused", aiproxy.ErrUnavailable)

func (s *store) AppendUsage(ctx context.Context, recs []aiproxy.UsageRecord) error {
	if s.block != nil {
		<-s.block
	}
	s.mu.Lock()
	s.calls++
	down, hang := s.down, s.hang
	s.mu.Unlock()
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	if down {
		return errDown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, append([]aiproxy.UsageRecord(nil), recs...))
	return nil
}

func (s *store) set(down, hang bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down, s.hang = down, hang
}

func (s *store) total() (n, batches int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.batches {
		n += len(b)
	}
	return n, len(s.batches)
}

// counts returns how many times each record (by Units) was written.
func (s *store) counts() map[int64]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := map[int64]int{}
	for _, b := range s.batches {
		for _, r := range b {
			c[r.Units]++
		}
	}
	return c
}

// run starts r and returns the function that stops it and waits.
func run(t *testing.T, r *Recorder) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return 20s after its context ended")
		}
	}
	t.Cleanup(stop)
	return stop
}

// record queues records numbered from..to-1 (in Units).
func record(r *Recorder, from, to int) {
	for i := from; i < to; i++ {
		r.Record(aiproxy.UsageRecord{OrgKey: "acme", Service: "heygen", Action: "generate-video", Status: 200, Units: int64(i)})
	}
}

// flush waits for Flush at most d.
func flush(t *testing.T, r *Recorder, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	r.Flush(ctx)
}

// expectExactlyOnce checks that records 0..n-1 were each written once.
func expectExactlyOnce(t *testing.T, st *store, n int) {
	t.Helper()
	c := st.counts()
	for i := range n {
		if c[int64(i)] != 1 {
			t.Fatalf("record %d written %d times (%d distinct records written, want %d)", i, c[int64(i)], len(c), n)
		}
	}
	if len(c) != n {
		t.Fatalf("%d distinct records written, want %d", len(c), n)
	}
}

func TestBatchesAndFlushesOnStop(t *testing.T) {
	st := &store{}
	r := New(st, Config{Batch: 10, Every: time.Hour})
	stop := run(t, r)
	var wg sync.WaitGroup
	for i := range 25 {
		wg.Go(func() { r.Record(aiproxy.UsageRecord{OrgKey: "acme", Units: int64(i)}) })
	}
	wg.Wait()
	flush(t, r, 5*time.Second)
	if n, batches := st.total(); n != 25 || batches < 3 {
		t.Fatalf("after flush: %d records in %d batches, want 25 in at least 3", n, batches)
	}
	r.Record(aiproxy.UsageRecord{OrgKey: "acme"})
	stop()
	if n, _ := st.total(); n != 26 {
		t.Fatalf("after stop: %d records, want 26", n)
	}
	if r.Pending() != 0 || r.Dropped() != 0 {
		t.Fatalf("pending %d, dropped %d", r.Pending(), r.Dropped())
	}
}

// TestRecordNeverBlocks checks that a store that does not answer slows no
// call down, and that the records wait in memory rather than being
// dropped.
func TestRecordNeverBlocks(t *testing.T) {
	st := &store{block: make(chan struct{})}
	r := New(st, Config{Queue: 50, Batch: 1})
	stop := run(t, r)
	var spent time.Duration
	for i := 0; i < 1000; i += 50 {
		start := time.Now()
		record(r, i, i+50)
		spent += time.Since(start)
		// The loop empties the queue although the store does not answer.
		waitFor(t, 5*time.Second, "an empty queue", func() bool { return len(r.queue) == 0 })
	}
	if spent > time.Second {
		t.Fatalf("1000 records with a stuck store took %v", spent)
	}
	if r.Dropped() != 0 || r.Pending() != 1000 {
		t.Fatalf("with a stuck store: %d dropped, %d pending, want 0 and 1000", r.Dropped(), r.Pending())
	}
	close(st.block)
	flush(t, r, 10*time.Second)
	stop()
	expectExactlyOnce(t, st, 1000)
}

// TestRetriesFailedBatches: batches the store refused are written again
// with backoff, each record exactly once, and Pending says how many wait.
func TestRetriesFailedBatches(t *testing.T) {
	st := &store{down: true}
	r := New(st, Config{Batch: 50, Every: 10 * time.Millisecond, RetryMin: 5 * time.Millisecond, RetryMax: 40 * time.Millisecond})
	stop := run(t, r)
	record(r, 0, 300)
	waitFor(t, 5*time.Second, "three failed writes", func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.calls >= 3
	})
	if p := r.Pending(); p != 300 {
		t.Fatalf("while the store is down: %d pending, want 300", p)
	}
	st.set(false, false)
	flush(t, r, 10*time.Second)
	stop()
	expectExactlyOnce(t, st, 300)
	if r.Pending() != 0 || r.Dropped() != 0 {
		t.Fatalf("after the store came back: pending %d, dropped %d", r.Pending(), r.Dropped())
	}
}

// TestSpoolsPastMemoryAndReplaysAfterRestart: while the store is down,
// records past MaxPending go to the spool, the rest is spooled when Run
// stops, and the next Run writes the spool once; a third Run writes
// nothing again.
func TestSpoolsPastMemoryAndReplaysAfterRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "usage")
	st := &store{down: true}
	cfg := Config{Batch: 64, MaxPending: 100, SpoolDir: dir, Every: 10 * time.Millisecond,
		RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, StopTimeout: 100 * time.Millisecond}
	r := New(st, cfg)
	stop := run(t, r)
	record(r, 0, 1000)
	waitFor(t, 5*time.Second, "records past memory spooled", func() bool { return r.Spooled() >= 900 })
	if r.Pending() != 1000 || r.Dropped() != 0 {
		t.Fatalf("pending %d, dropped %d, want 1000 and 0", r.Pending(), r.Dropped())
	}
	stop()
	if r.Spooled() != 1000 {
		t.Fatalf("after stopping with the store down: %d spooled, want 1000", r.Spooled())
	}

	st.set(false, false)
	again := New(st, cfg)
	stop = run(t, again)
	flush(t, again, 10*time.Second)
	stop()
	expectExactlyOnce(t, st, 1000)
	if files, _ := os.ReadDir(dir); len(files) != 0 || again.Pending() != 0 || again.Spooled() != 0 {
		t.Fatalf("after the replay: %d files, %d pending, %d spooled", len(files), again.Pending(), again.Spooled())
	}

	third := New(st, cfg)
	stop = run(t, third)
	flush(t, third, 5*time.Second)
	stop()
	expectExactlyOnce(t, st, 1000)
}

// TestDropsAreCounted: with the store down and no room left in memory or
// on disk, records are dropped, and every drop is counted.
func TestDropsAreCounted(t *testing.T) {
	blocked := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocked, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, dir := range map[string]string{"no spool": "", "spool unwritable": filepath.Join(blocked, "usage")} {
		t.Run(name, func(t *testing.T) {
			st := &store{down: true}
			r := New(st, Config{Batch: 10, MaxPending: 50, SpoolDir: dir, Every: 10 * time.Millisecond,
				RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, StopTimeout: 50 * time.Millisecond})
			stop := run(t, r)
			record(r, 0, 200)
			waitFor(t, 5*time.Second, "drops past memory", func() bool { return r.Dropped() == 150 })
			if r.Pending() != 50 {
				t.Fatalf("pending %d, want 50", r.Pending())
			}
			stop()
			if r.Dropped() != 200 || r.Pending() != 0 {
				t.Fatalf("after stopping: dropped %d, pending %d, want 200 and 0", r.Dropped(), r.Pending())
			}
		})
	}
}

// TestStopIsBounded: a store that hangs does not hold Run past
// StopTimeout (and a second), and the records it held are spooled.
func TestStopIsBounded(t *testing.T) {
	dir := t.TempDir()
	st := &store{hang: true}
	r := New(st, Config{Batch: 10, SpoolDir: dir, Every: 10 * time.Millisecond, StopTimeout: 200 * time.Millisecond})
	stop := run(t, r)
	record(r, 0, 95)
	waitFor(t, 5*time.Second, "a write under way", func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.calls >= 1
	})
	start := time.Now()
	stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("stopping with a hung store took %v", d)
	}
	if r.Spooled() != 95 || r.Pending() != 95 {
		t.Fatalf("spooled %d, pending %d, want 95 and 95", r.Spooled(), r.Pending())
	}
	st.set(false, false)
	again := New(st, Config{SpoolDir: dir})
	stop = run(t, again)
	flush(t, again, 5*time.Second)
	stop()
	expectExactlyOnce(t, st, 95)
}

// TestSpoolFileIsWhole checks the spool's file format: one JSON record a
// line, every field kept, and no temporary file left.
func TestSpoolFileIsWhole(t *testing.T) {
	dir := t.TempDir()
	s := &spool{dir: dir}
	at := time.Date(2026, 5, 1, 9, 0, 0, 123e6, time.UTC)
	want := aiproxy.UsageRecord{At: at, OrgKey: "acme", KeyID: "k1", UserID: "user-7", Service: "elevenlabs", Action: "tts", Status: 429,
		ErrorCode: aiproxy.CodeRateLimited, UpstreamStatus: 200, LatencyMS: 12, BytesOut: 345,
		Unit: aiproxy.MetricCharacters, Units: 67, Cache: "MISS", Source: aiproxy.SourcePlatform, CostMicros: 6700, SavedMicros: 6700,
		RequestID: "req-1", ErrorDetail: "Rate limit exceeded."}
	// A field the record leaves zero would read back equal even if the
	// spool dropped it.
	for v, i := reflect.ValueOf(want), 0; i < v.NumField(); i++ {
		if v.Field(i).IsZero() {
			t.Fatalf("the test record leaves %s zero: set it, and keep it in spoolRecord", v.Type().Field(i).Name)
		}
	}
	f, err := s.put([]aiproxy.UsageRecord{want, want})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, diskfile.TempPrefix+"x"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	files, errs := s.list()
	if len(errs) != 0 || len(files) != 1 || files[0] != f || f.n != 2 {
		t.Fatalf("list = %v %v, want [%v]", files, errs, f)
	}
	got, err := s.read(f.name)
	if err != nil || len(got) != 2 || got[1] != want {
		t.Fatalf("read = %+v, %v; want %+v twice", got, err, want)
	}
	if _, err := os.Stat(filepath.Join(dir, diskfile.TempPrefix+"x")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a temporary file was left: %v", err)
	}
}

// TestSpoolReadsFilesWithoutCost: a file spooled before records carried a
// cost reads back with cost 0, and a cost is written under its own name.
func TestSpoolReadsFilesWithoutCost(t *testing.T) {
	dir := t.TempDir()
	s := &spool{dir: dir}
	old := `{"at":"2026-05-01T09:00:00Z","org":"acme","service":"elevenlabs","action":"tts","status":200,"latency_ms":3,"bytes_out":9,"unit":"characters","units":5}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, spoolPrefix+"old"+spoolExt), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := s.read(spoolPrefix + "old" + spoolExt)
	if err != nil || len(got) != 1 || got[0].Units != 5 || got[0].CostMicros != 0 {
		t.Fatalf("read = %+v, %v; want one record of 5 characters and no cost", got, err)
	}
	f, err := s.put([]aiproxy.UsageRecord{{At: got[0].At, OrgKey: "acme", CostMicros: 500}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, f.name))
	if err != nil || !strings.Contains(string(data), `"cost_micros":500`) {
		t.Fatalf("spooled %s, %v; want cost_micros 500", data, err)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

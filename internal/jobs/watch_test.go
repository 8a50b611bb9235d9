package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// TestLongPollsShareAWatch checks that many long polls on one job share one
// watch, all wake on the change, and the watch ends with the last of them.
func TestLongPollsShareAWatch(t *testing.T) {
	h := newHarness(t)
	id := h.generate("acme", "Hello")
	j := h.job(id)
	const n = 50
	var wg sync.WaitGroup
	states := make(chan aiproxy.JobState, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := h.jobs.WaitJob(context.Background(), "acme", j.ID, "", 10*time.Second)
			if err != nil {
				t.Error(err)
			}
			states <- got.State
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.watchers(j.ID) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d waiters joined", h.watchers(j.ID), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if w := h.watches(); w != 1 {
		t.Fatalf("%d watches for one job", w)
	}
	h.track(1, 30*time.Second) // pending → processing
	wg.Wait()
	close(states)
	for s := range states {
		if s != aiproxy.JobProcessing {
			t.Fatalf("a waiter woke with state %s", s)
		}
	}
	if w := h.watches(); w != 0 {
		t.Fatalf("%d watches left after the last waiter", w)
	}
}

// watches counts the jobs being watched.
func (h *harness) watches() int {
	ws := &h.jobs.hub.watches
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return len(ws.m)
}

// watchers counts the waiters on a job of acme.
func (h *harness) watchers(id string) int {
	ws := &h.jobs.hub.watches
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if w := ws.m[watchKey{"acme", id}]; w != nil {
		return w.waiters
	}
	return 0
}

// TestWaitJobJSON checks that the shared encoding is the job's JSON as the
// HTTP API writes it, and that errors come back the same as WaitJob's.
func TestWaitJobJSON(t *testing.T) {
	h := newHarness(t)
	id := h.generate("acme", "Hello <&>")
	j := h.job(id)
	got, err := h.jobs.WaitJobJSON(context.Background(), "acme", j.ID, "", time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	job, err := h.jobs.WaitJob(context.Background(), "acme", j.ID, "", time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ToJobJSON(job)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("WaitJobJSON = %s\nwant %s", got, want.Bytes())
	}
	if _, err := h.jobs.WaitJobJSON(context.Background(), "beta", j.ID, "", time.Millisecond); aiproxy.ErrorCode(err) != aiproxy.CodeNotFound {
		t.Fatalf("beta waits on acme's job: %v", err)
	}
}

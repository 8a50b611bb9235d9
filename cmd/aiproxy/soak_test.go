package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSoak drives a demo server over loopback with a steady mix of calls
// (uncached and cached lists, provider failures, refused input)
// for AIPROXY_SOAK (a duration, e.g. 2m; unset skips), sampling goroutines
// and live heap after GC. It fails when either grows past the warm-up's
// level by more than a bounded margin, which a leak of a goroutine or a
// buffer per request would soon do.
func TestSoak(t *testing.T) {
	dur, err := time.ParseDuration(os.Getenv("AIPROXY_SOAK"))
	if err != nil || dur <= 0 {
		t.Skip("set AIPROXY_SOAK=2m to run the soak test")
	}
	d := startDemo(t, "--log-level", "error")
	d.fault(map[string]any{"provider": "elevenlabs", "path": "/v1/models", "status": 503, "count": 0})
	var calls, failures atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	mix := []struct{ service, action, env string }{
		{"elevenlabs", "list-voices", `{}`},
		{"heygen", "list-avatars", `{}`},
		{"elevenlabs", "get-subscription", `{}`},
		{"elevenlabs", "list-models", `{}`},
		{"elevenlabs", "tts", `{"path_params":{"voice_id":"../x"}}`},
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; ctx.Err() == nil; i++ {
				m := mix[i%len(mix)]
				req, _ := http.NewRequestWithContext(ctx, "POST",
					fmt.Sprintf("%s/api/ai-proxy/orgs/%s/services/%s/%s/", d.url, d.org, m.service, m.action), stringsReader(m.env))
				req.Header.Set("Authorization", "Api-Key "+d.key)
				resp, err := client.Do(req)
				calls.Add(1)
				if err != nil {
					failures.Add(1)
					continue
				}
				_, _ = ioDiscard(resp)
			}
		})
	}
	type sample struct {
		at         time.Duration
		goroutines int
		heapMB     float64
		calls      int64
	}
	var samples []sample
	start := time.Now()
	every := max(dur/12, time.Second)
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
		// The in-process sandbox logs every request it gets; forget them, so
		// that only aiproxy's memory is measured.
		if req, err := http.NewRequest("DELETE", d.sandbox+"/_sandbox/requests", nil); err == nil {
			if resp, err := client.Do(req); err == nil {
				_, _ = ioDiscard(resp)
			}
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		samples = append(samples, sample{time.Since(start).Round(time.Second), runtime.NumGoroutine(), float64(ms.HeapInuse) / (1 << 20), calls.Load()})
	}
	wg.Wait()
	client.CloseIdleConnections()
	for _, s := range samples {
		t.Logf("t=%-5v goroutines=%-4d heap_inuse=%6.1f MiB calls=%d", s.at, s.goroutines, s.heapMB, s.calls)
	}
	if len(samples) < 4 || calls.Load() == 0 {
		t.Fatalf("too few samples (%d) or calls (%d)", len(samples), calls.Load())
	}
	warm, last := samples[len(samples)/4], samples[len(samples)-1]
	if last.goroutines > warm.goroutines+25 {
		t.Errorf("goroutines grew from %d to %d", warm.goroutines, last.goroutines)
	}
	if last.heapMB > warm.heapMB*1.5+16 {
		t.Errorf("heap grew from %.1f to %.1f MiB", warm.heapMB, last.heapMB)
	}
	t.Logf("%d calls in %v (%.0f/s), %d transport failures", calls.Load(), dur, float64(calls.Load())/dur.Seconds(), failures.Load())
}

func stringsReader(s string) *stringReader { return &stringReader{s: s} }

// stringReader is a minimal io.Reader over a string (strings.Reader would
// do; this keeps the request body's length unknown to the client, so the
// soak sends chunked bodies too).
type stringReader struct{ s string }

func (r *stringReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	n := copy(p, r.s)
	r.s = r.s[n:]
	return n, nil
}

func ioDiscard(resp *http.Response) (int64, error) {
	defer resp.Body.Close()
	return io.Copy(io.Discard, resp.Body)
}

package client_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/client"
)

// preferRecorder notes the Prefer header of every video-status call and
// whether the server applied it.
type preferRecorder struct {
	mu              sync.Mutex
	asked, answered []string
}

func (p *preferRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if strings.HasSuffix(r.URL.Path, "/video-status/") {
		p.mu.Lock()
		p.asked = append(p.asked, r.Header.Get("Prefer"))
		if resp != nil {
			p.answered = append(p.answered, resp.Header.Get("Preference-Applied"))
		}
		p.mu.Unlock()
	}
	return resp, err
}

func (s *server) recordingClient(t *testing.T) (*client.Client, *preferRecorder) {
	t.Helper()
	rec := &preferRecorder{}
	c, err := client.New(client.Config{URL: s.url, Org: s.org, APIKey: s.key, HTTPClient: &http.Client{Transport: rec}})
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

// TestWaitForVideoLongPolls waits through a server with job tracking: the
// status calls ask to wait on the server, the server says it did, and the
// client does not sleep its (here absurdly long) polling interval.
func TestWaitForVideoLongPolls(t *testing.T) {
	s := startServerWith(t, true)
	c, rec := s.recordingClient(t)
	hg := c.HeyGen()
	ctx := context.Background()
	id, err := hg.GenerateVideo(ctx, client.AvatarVideo("Abigail_expressive_2024112501", "f38a635bee7a4d1f9b0a654a31d050d2", "Hello"))
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	start := time.Now()
	st, err := hg.WaitForVideo(ctx, id, client.WaitOptions{Interval: time.Hour, LongPoll: 10 * time.Second, Timeout: 30 * time.Second,
		OnProgress: func(p client.Progress) { seen = append(seen, p.Status) }})
	if err != nil || st.Status != "completed" || st.VideoURL == "" {
		t.Fatalf("wait = %+v, %v", st, err)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("wait took %s", took)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.asked) == 0 || rec.asked[0] != "wait=10" || rec.answered[0] != "wait=10" {
		t.Fatalf("Prefer sent %q, applied %q", rec.asked, rec.answered)
	}
	if len(seen) == 0 || seen[len(seen)-1] != "completed" {
		t.Errorf("progress = %q", seen)
	}
}

// TestWaitForVideoFallsBack waits through a server without job tracking:
// Prefer is sent, not applied, and the wait polls at its interval.
// (By default LongPoll is the Interval; under a second it is off.)
func TestWaitForVideoFallsBack(t *testing.T) {
	s := startServer(t)
	c, rec := s.recordingClient(t)
	hg := c.HeyGen()
	ctx := context.Background()
	id, err := hg.GenerateVideo(ctx, client.AvatarVideo("Abigail_expressive_2024112501", "f38a635bee7a4d1f9b0a654a31d050d2", "Hello"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := hg.WaitForVideo(ctx, id, client.WaitOptions{Interval: 100 * time.Millisecond, LongPoll: 5 * time.Second, Timeout: 20 * time.Second})
	if err != nil || st.Status != "completed" {
		t.Fatalf("wait = %+v, %v", st, err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.asked) < 2 || rec.asked[0] != "wait=5" || rec.answered[0] != "" {
		t.Fatalf("Prefer sent %q, applied %q", rec.asked, rec.answered)
	}
}

// TestWaitForVideoLongPollEnds checks timeout and cancellation while a
// status call is held on the server.
func TestWaitForVideoLongPollEnds(t *testing.T) {
	s := startServerWith(t, true)
	c := s.client(t)
	hg := c.HeyGen()
	ctx := context.Background()
	stuck, err := hg.GenerateVideo(ctx, client.AvatarVideo("Abigail_expressive_2024112501", "f38a635bee7a4d1f9b0a654a31d050d2", "SANDBOX_STUCK"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("timeout", func(t *testing.T) {
		start := time.Now()
		_, err := hg.WaitForVideo(ctx, stuck, client.WaitOptions{Timeout: 1500 * time.Millisecond, LongPoll: 30 * time.Second})
		if !errors.Is(err, client.ErrWaitTimeout) || time.Since(start) > 5*time.Second {
			t.Fatalf("err = %v after %s, want ErrWaitTimeout", err, time.Since(start))
		}
	})
	t.Run("canceled", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
		defer cancel()
		_, err := hg.WaitForVideo(cctx, stuck, client.WaitOptions{LongPoll: 30 * time.Second})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
	})
}

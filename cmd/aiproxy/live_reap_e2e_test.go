package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// A session started at the provider itself (an SDK not pointed at aiproxy)
// is not reaped as orphaned: the reaper asks the provider first, notes the
// session started, and its maximum length still ends it. One the provider
// shows never started is stopped.
func TestLiveSessionStartedElsewhere(t *testing.T) {
	d := startDemo(t, "--live-start-grace", "500ms", "--live-max-session", "4s", "--live-reap-every", "200ms")
	status, id, token, body := d.mintSession(d.key, nil)
	if status != 200 {
		t.Fatalf("mint = %d %s", status, body)
	}
	_, idle, _, _ := d.mintSession(d.key, nil)
	req, _ := http.NewRequest("POST", d.sandbox+"/liveavatar/v1/sessions/start", strings.NewReader(""))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("start at the provider: %v %v", resp, err)
	}
	resp.Body.Close()
	// Past the start grace the unstarted one is reaped; the running one is noted started.
	liveWaitFor(t, "the unstarted session reaped", func() bool { return d.liveSession(idle)["state"] == "stopped" })
	liveWaitFor(t, "the running session noted started", func() bool { return d.liveSession(id)["state"] == "started" })
	if rec := d.liveSession(idle); rec["end_reason"] != "ZOMBIE_SESSION_REAP" {
		t.Fatalf("unstarted session = %v", rec)
	}
	time.Sleep(time.Second)
	if rec := d.liveSession(id); rec["state"] != "started" {
		t.Fatalf("a session running at the provider was stopped as orphaned: %v", rec)
	}
	liveWaitFor(t, "the running session ended at its length", func() bool { return d.liveSession(id)["state"] == "stopped" })
	if rec := d.liveSession(id); rec["end_reason"] != "MAX_DURATION_REACHED" {
		t.Fatalf("running session = %v", rec)
	}
}

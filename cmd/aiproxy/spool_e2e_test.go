package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestJobStartSpooledWhileDatabaseLocked runs the demo with its SQLite
// file locked by another process for longer than the busy timeout, and
// starts a render: the client gets its 200 with the video id (the start
// waits in the data directory's spool), the metrics say a start is
// pending, and once the lock is gone the job is recorded and tracked to
// its end, once.
func TestJobStartSpooledWhileDatabaseLocked(t *testing.T) {
	d := startDemo(t)
	// The lock waits for a write the server may be making (its background
	// work writes too), then holds the database.
	other, err := sql.Open("sqlite", filepath.Join(d.dir, "aiproxy.db")+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.SetMaxOpenConns(1)
	ctx := context.Background()
	if _, err := other.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	locked := true
	unlock := func() {
		if locked {
			locked = false
			if _, err := other.ExecContext(ctx, `ROLLBACK`); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer unlock()

	start := time.Now()
	env, _ := json.Marshal(map[string]any{"body": map[string]any{
		"test": true,
		"video_inputs": []any{map[string]any{
			"character": map[string]any{"type": "avatar", "avatar_id": "Abigail_expressive_2024112501", "avatar_style": "normal"},
			"voice":     map[string]any{"type": "text", "input_text": "spooled", "voice_id": "f38a635bee7a4d1f9b0a654a31d050d2"},
		}},
	}})
	status, _, body := d.do("POST", "/api/ai-proxy/orgs/"+d.org+"/services/heygen/generate-video/", d.key,
		bytes.NewReader(env), http.Header{"Content-Type": {"application/json"}})
	var out struct {
		Data struct {
			VideoID string `json:"video_id"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &out); status != 200 || out.Data.VideoID == "" {
		t.Fatalf("generate-video while the database is locked = %d %s", status, body)
	}
	t.Logf("answered after %v", time.Since(start).Round(time.Millisecond))
	files, _ := filepath.Glob(filepath.Join(d.dir, "spool", "jobs", "*.json"))
	if len(files) != 1 {
		t.Fatalf("%d files in the spool, want 1", len(files))
	}
	_, _, metrics := d.do("GET", "/metrics", "", nil, http.Header{"Authorization": {"Bearer " + d.metricsToken}})
	if !strings.Contains(string(metrics), `aiproxy_job_starts_pending{held="spool"} 1`) ||
		!strings.Contains(string(metrics), "aiproxy_usage_records_pending") {
		t.Errorf("the metrics do not show the spooled start and the usage backlog:\n%s", grepLines(string(metrics), "pending"))
	}

	unlock()
	unlocked := time.Now()
	d.waitVideo(out.Data.VideoID)
	// The spool is replayed at least every 5 s while the database is away,
	// so the job is listed within that of the lock's end (and a second
	// more for the tracker's tick).
	n := 0
	var list struct {
		Jobs []struct {
			ProviderJobID string `json:"provider_job_id"`
			State         string `json:"state"`
		} `json:"jobs"`
	}
	for deadline := unlocked.Add(8 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		d.getJSON("/api/ai-proxy/orgs/"+d.org+"/jobs/", d.key, 200, &list)
		n = 0
		for _, j := range list.Jobs {
			if j.ProviderJobID == out.Data.VideoID {
				n++
			}
		}
		if n != 0 || time.Now().After(deadline) {
			break
		}
	}
	if n != 1 {
		t.Fatalf("the jobs list has %d jobs for %s 8 s after the lock ended, want 1: %+v", n, out.Data.VideoID, list.Jobs)
	}
	if files, _ := filepath.Glob(filepath.Join(d.dir, "spool", "jobs", "*.json")); len(files) != 0 {
		t.Fatalf("%d files left in the spool", len(files))
	}
}

func grepLines(s, sub string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

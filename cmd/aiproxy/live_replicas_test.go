package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/postgres/pgtest"
)

// TestLiveSessionsReapedOnThreeReplicas runs three `aiproxy serve`
// replicas of the built binary on one Postgres schema with one sandbox:
// sessions minted and started through different replicas, each past its
// length, are stopped by the reapers of all three exactly once. It needs
// AIPROXY_TEST_POSTGRES_URL and AIPROXY_TEST_REDIS_URL, and skips without
// them.
func TestLiveSessionsReapedOnThreeReplicas(t *testing.T) {
	redisURL := os.Getenv("AIPROXY_TEST_REDIS_URL")
	if redisURL == "" || os.Getenv(pgtest.EnvVar) == "" {
		t.Skip("set AIPROXY_TEST_POSTGRES_URL and AIPROXY_TEST_REDIS_URL to run the multi-replica live-session test")
	}
	if testing.Short() {
		t.Skip("builds the binary and runs three replicas; not in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	c := &cluster{ctx: ctx, dir: dir, bin: filepath.Join(dir, "aiproxy"), keys: map[string]string{}, lines: map[*exec.Cmd]chan string{}}
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", c.bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	prefix := "aiproxy_live_" + randomKey("p") + ":"
	t.Cleanup(func() { dropRedisPrefix(redisURL, prefix) })
	laKey := randomKey("la")
	c.env = append(os.Environ(), "AIPROXY_DATABASE_URL="+pgtest.URL(t), "AIPROXY_MASTER_KEY="+strings.Repeat("cd", 32),
		"AIPROXY_REDIS_URL="+redisURL, "AIPROXY_REDIS_PREFIX="+prefix, "AIPROXY_SANDBOX_LIVEAVATAR_KEY="+laKey)
	sb := c.start(t, "sandbox", "--addr", "127.0.0.1:0")
	c.sandbox = strings.TrimSuffix(c.waitVar(t, sb, "LIVEAVATAR_BASE_URL"), "/liveavatar")
	c.cli(t, "", "migrate")
	c.cli(t, "", "org", "create", "acme")
	key := strings.TrimSpace(c.cli(t, "", "key", "create", "--org", "acme"))
	c.cli(t, laKey, "credential", "set", "--platform", "liveavatar")
	var urls []string
	for range 3 {
		p := c.start(t, "serve", "--addr", "127.0.0.1:0", "--upstream", "liveavatar="+c.sandbox+"/liveavatar",
			"--live-max-session", "2s", "--live-reap-every", "100ms", "--shutdown-timeout", "2s", "--log-level", "warn")
		urls = append(urls, c.waitVar(t, p, "AIPROXY_URL"))
	}

	const sessions = 6
	ids := map[string]bool{}
	for i := range sessions {
		// Minted through one replica, started through the next.
		env, _ := json.Marshal(map[string]any{"body": mintBody})
		status, body := liveDo(t, "POST", urls[i%3]+"/api/ai-proxy/orgs/acme/services/liveavatar/create-session-token/", "Api-Key "+key, env)
		var minted struct {
			Data struct {
				SessionID    string `json:"session_id"`
				SessionToken string `json:"session_token"`
			} `json:"data"`
		}
		if status != 200 || json.Unmarshal(body, &minted) != nil || minted.Data.SessionToken == "" {
			t.Fatalf("mint = %d %s", status, body)
		}
		status, body = liveDo(t, "POST", urls[(i+1)%3]+"/api/ai-proxy/orgs/acme/native/liveavatar/v1/sessions/start",
			"Bearer "+minted.Data.SessionToken, nil)
		if status != 201 {
			t.Fatalf("start = %d %s", status, body)
		}
		ids[minted.Data.SessionID] = true
	}
	for id := range ids {
		liveWaitFor(t, "session "+id+" reaped", func() bool {
			status, body := liveDo(t, "GET", urls[2]+"/api/ai-proxy/orgs/acme/live-sessions/"+id+"/", "Api-Key "+key, nil)
			var rec map[string]any
			return status == 200 && json.Unmarshal(body, &rec) == nil && rec["state"] == "stopped" && rec["reconciled_at"] != nil
		})
		status, body := liveDo(t, "GET", urls[0]+"/api/ai-proxy/orgs/acme/live-sessions/"+id+"/", "Api-Key "+key, nil)
		if status != 200 || !bytes.Contains(body, []byte(`"stopped_by":"reaper"`)) || !bytes.Contains(body, []byte(`"end_reason":"MAX_DURATION_REACHED"`)) {
			t.Errorf("session %s = %d %s", id, status, body)
		}
	}
	stops := map[string]int{}
	for _, r := range sandboxLog(t, c.sandbox) {
		if r.Provider == "liveavatar" && r.Path == "/v1/sessions/stop" {
			var b struct {
				SessionID string `json:"session_id"`
			}
			_ = json.Unmarshal([]byte(r.Body), &b)
			stops[b.SessionID]++
		}
	}
	for id := range ids {
		if stops[id] != 1 {
			t.Errorf("session %s was stopped %d times at the provider, want once", id, stops[id])
		}
	}
	if len(stops) != sessions {
		t.Errorf("stops = %v", stops)
	}
}

// liveDo sends one request and returns the status and body.
func liveDo(t *testing.T, method, url, auth string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// sandboxEntry is one request in the sandbox's log.
type sandboxEntry struct {
	Provider string `json:"provider"`
	Method   string `json:"method"`
	Path     string `json:"path"`
	Body     string `json:"body"`
}

func sandboxLog(t *testing.T, base string) []sandboxEntry {
	t.Helper()
	resp, err := http.Get(base + "/_sandbox/requests")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []sandboxEntry
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(fmt.Errorf("sandbox log: %w", err))
	}
	return out
}

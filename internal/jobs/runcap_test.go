package jobs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// withCaps sets running-job caps.
func withCaps(caps ...aiproxy.JobCap) harnessOption {
	return withConfig(func(c *Config) { c.RunningJobCaps = caps })
}

// wantCapped asserts that a generate is refused by a running-job cap
// without reaching the provider.
func wantCapped(t *testing.T, h *harness, org, who string) {
	t.Helper()
	calls := h.generateCalls()
	resp := h.invoke(org, "generate-video", map[string]any{"body": generateBody("one too many")})
	m := resp.json(t)
	if resp.status != 429 || m["code"] != "rate_limited" || !strings.Contains(m["detail"].(string), who) {
		t.Fatalf("start over the cap = %d %s", resp.status, resp.body)
	}
	if h.generateCalls() != calls {
		t.Fatal("a start over the cap reached the provider")
	}
}

func TestRunningJobCapHoldsUnderRacingStarts(t *testing.T) {
	const n, limit = 12, 3
	h := newHarness(t, withCaps(aiproxy.JobCap{Scope: aiproxy.JobCapOrg, Service: "heygen", Max: limit}))
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range n {
		wg.Go(func() {
			resp := h.invoke("acme", "generate-video", map[string]any{"body": generateBody("race")})
			mu.Lock()
			codes[resp.status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[200] != limit || codes[429] != n-limit {
		t.Fatalf("outcomes = %v; want %d started and %d refused", codes, limit, n-limit)
	}
	if got := h.generateCalls(); got != limit {
		t.Fatalf("provider saw %d starts, want %d", got, limit)
	}
	// Another org has its own cap.
	h.generate("beta", "other org")
}

func TestRunningJobCapRefusal(t *testing.T) {
	h := newHarness(t, withCaps(aiproxy.JobCap{Scope: aiproxy.JobCapOrg, Max: 1}))
	h.generate("acme", "first")
	r := newRecorder()
	req := invokeRequest(t, "acme", "generate-video", map[string]any{"body": generateBody("second")})
	_, err := h.invoker().Invoke(r, req, "acme", "heygen", "generate-video")
	var ae *aiproxy.Error
	if !errors.As(err, &ae) || ae.Code != aiproxy.CodeRateLimited || ae.RetryAfter != 5 ||
		ae.Message != "Too many running heygen jobs for this org (at most 1); retry when one has finished." {
		t.Fatalf("refusal = %#v", err)
	}
}

func TestRunningJobCapFreedByCompletionFailureAndDeadline(t *testing.T) {
	h := newHarness(t, withCaps(aiproxy.JobCap{Scope: aiproxy.JobCapCredential, Service: "heygen", Max: 1}),
		withConfig(func(c *Config) { c.Deadline = 10 * time.Minute }))
	// Completion: the render takes 100s.
	h.generate("acme", "completes")
	wantCapped(t, h, "beta", "the shared platform credential")
	h.track(25, 5*time.Second)
	// Failure reported by the provider.
	bad := h.generate("beta", "SANDBOX_FAIL please")
	wantCapped(t, h, "acme", "the shared platform credential")
	h.track(25, 5*time.Second)
	if j := h.job(bad); j.State != aiproxy.JobFailed {
		t.Fatalf("failed render = %s", j.State)
	}
	// Failure by aiproxy's deadline.
	stuck := h.generate("acme", "SANDBOX_STUCK forever")
	wantCapped(t, h, "acme", "the shared platform credential")
	h.track(12, time.Minute)
	if j := h.job(stuck); j.State != aiproxy.JobFailed {
		t.Fatalf("stuck render = %s", j.State)
	}
	h.generate("beta", "room again")
	// A tenant key is not the platform credential.
	h.setTenantKey("acme", acmeKey)
	h.generate("acme", "own key")
}

// TestRunningJobCapSharedFairly: acme and beta share the platform HeyGen
// key's cap of 6 running renders (aiproxy.Shares): acme alone starts its
// share, 3 (the newcomer's 3 stay free), and is refused the 4th; beta
// then starts its share, 2, at once, although acme's renders run on.
func TestRunningJobCapSharedFairly(t *testing.T) {
	h := newHarness(t, withCaps(aiproxy.JobCap{Scope: aiproxy.JobCapCredential, Service: "heygen", Max: 6}))
	for i := range 3 {
		h.generate("acme", fmt.Sprint("acme render ", i))
	}
	wantCapped(t, h, "acme", "the shared platform credential")
	for i := range 2 {
		h.generate("beta", fmt.Sprint("beta render ", i))
	}
	wantCapped(t, h, "beta", "the shared platform credential")
	if got := h.generateCalls(); got != 5 {
		t.Fatalf("provider saw %d starts, want 5", got)
	}
}

func TestRunningJobCapSurvivesRestart(t *testing.T) {
	h := newHarness(t, withCaps(aiproxy.JobCap{Scope: aiproxy.JobCapOrg, Max: 1}))
	h.generate("acme", "before restart")
	h.restart()
	wantCapped(t, h, "acme", "this org")
}

func TestFailedStartFreesItsSlot(t *testing.T) {
	h := newHarness(t, withCaps(aiproxy.JobCap{Scope: aiproxy.JobCapOrg, Max: 1}))
	h.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Path: "/v2/video/generate", Status: 503, Count: 1})
	if resp := h.invoke("acme", "generate-video", map[string]any{"body": generateBody("refused")}); resp.status == 200 {
		t.Fatalf("a start the provider refused = %d %s", resp.status, resp.body)
	}
	if h.generateCalls() != 1 {
		t.Fatalf("provider saw %d starts, want 1", h.generateCalls())
	}
	h.generate("acme", "the slot is free")
}

// invokeRequest is the request harness.invoke sends.
func invokeRequest(t *testing.T, org, action string, env any) *http.Request {
	t.Helper()
	data, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/api/ai-proxy/orgs/"+org+"/services/heygen/"+action+"/", bytes.NewReader(data))
	r.Header.Set("Content-Type", "application/json")
	return r
}

package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

func TestStartRecordsJob(t *testing.T) {
	h := newHarness(t)
	h.setTenantKey("acme", acmeKey)
	id := h.generate("acme", "Hello", "Idempotency-Key", "k-1")
	j := h.job(id)
	if j.OrgKey != "acme" || j.Action != "generate-video" || j.StatusAction != "video-status" ||
		j.Source != aiproxy.SourceTenant || j.CredentialOrg != "acme" || j.CredentialName != "heygen" ||
		j.State != aiproxy.JobPending || j.IdempotencyKey != "k-1" || !j.DeadlineAt.Equal(h.clock.Now().Add(time.Hour)) {
		t.Fatalf("job = %+v", j)
	}
	id2 := h.generate("beta", "Hello")
	if j2 := h.job(id2); j2.Source != aiproxy.SourcePlatform || j2.CredentialOrg != "" {
		t.Fatalf("beta's job = %+v, want the platform credential", j2)
	}
	evs, _ := h.db.JobEvents(context.Background(), "acme", 0, 10)
	if len(evs) != 1 || evs[0].Type != aiproxy.EventJobCreated || evs[0].JobID != j.ID {
		t.Fatalf("acme's events = %+v", evs)
	}
}

func TestStartFailureRecordsNoJob(t *testing.T) {
	h := newHarness(t)
	body := generateBody("Hello")
	body["video_inputs"].([]any)[0].(map[string]any)["character"].(map[string]any)["avatar_id"] = "nobody"
	resp := h.invoke("acme", "generate-video", map[string]any{"body": body})
	if resp.status != 400 {
		t.Fatalf("bad generate = %d %s", resp.status, resp.body)
	}
	if jobs, _ := h.db.Jobs(context.Background(), aiproxy.JobFilter{OrgKey: "acme"}); len(jobs) != 0 {
		t.Fatalf("jobs = %+v", jobs)
	}
}

func TestStatusOwnership(t *testing.T) {
	h := newHarness(t)
	id := h.generate("acme", "Hello") // platform key, shared with beta
	t.Run("other org is 404 even on a shared platform key", func(t *testing.T) {
		before := h.statusCalls()
		resp := h.status("beta", id)
		if resp.status != 404 || resp.json(t)["code"] != "not_found" ||
			!strings.Contains(resp.json(t)["detail"].(string), "not found") {
			t.Fatalf("beta's status call = %d %s", resp.status, resp.body)
		}
		if h.statusCalls() != before {
			t.Fatal("a refused status call reached the provider")
		}
	})
	t.Run("owner reads it", func(t *testing.T) {
		if resp := h.status("acme", id); resp.status != 200 || !bytes.Contains(resp.body, []byte(id)) {
			t.Fatalf("acme's status call = %d %s", resp.status, resp.body)
		}
	})
	t.Run("status calls keep the job's credential", func(t *testing.T) {
		h.setTenantKey("acme", acmeKey) // acme's policy would now pick its own key
		h.clock.Advance(2 * time.Second)
		h.sb.ClearRequests()
		if resp := h.status("acme", id); resp.status != 200 {
			t.Fatalf("status = %d %s", resp.status, resp.body)
		}
		reqs := h.sb.Requests()
		if len(reqs) != 1 || reqs[0].Header.Get("X-Api-Key") != platformKey {
			t.Fatalf("status read used %v, want the platform key that started the job", reqs)
		}
	})
	t.Run("unknown id without a tenant key is 404", func(t *testing.T) {
		if resp := h.status("beta", "0123456789abcdef0123456789abcdef"); resp.status != 404 || resp.json(t)["code"] != "not_found" {
			t.Fatalf("unknown id = %d %s", resp.status, resp.body)
		}
	})
	t.Run("unknown id with a tenant key goes to the provider on that key", func(t *testing.T) {
		h.setTenantKey("beta", betaKey)
		direct := h.sandboxGenerate(betaKey) // made outside aiproxy
		h.sb.ClearRequests()
		resp := h.status("beta", direct)
		if resp.status != 200 || !bytes.Contains(resp.body, []byte(direct)) {
			t.Fatalf("status of a video made outside aiproxy = %d %s", resp.status, resp.body)
		}
		if reqs := h.sb.Requests(); len(reqs) != 1 || reqs[0].Header.Get("X-Api-Key") != betaKey {
			t.Fatalf("it used %v, want beta's own key", reqs)
		}
		if _, err := h.db.JobByProviderID(context.Background(), "heygen", direct); err == nil {
			t.Fatal("an unknown id was adopted as a job")
		}
	})
}

// sandboxGenerate starts a render directly at the sandbox with a key,
// outside aiproxy.
func (h *harness) sandboxGenerate(key string) string {
	h.t.Helper()
	data, _ := json.Marshal(generateBody("made elsewhere"))
	req, _ := http.NewRequest(http.MethodPost, h.sbURL+"/heygen/v2/video/generate", bytes.NewReader(data))
	req.Header.Set("X-Api-Key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			VideoID string `json:"video_id"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Data.VideoID == "" {
		h.t.Fatalf("direct generate: %v", err)
	}
	return out.Data.VideoID
}

func TestCollapsedPolling(t *testing.T) {
	h := newHarness(t)
	id := h.generate("acme", "Hello")
	h.clock.Advance(30 * time.Second) // processing
	before := h.statusCalls()
	var wg sync.WaitGroup
	bodies := make([][]byte, 100)
	for i := range 100 {
		wg.Go(func() {
			resp := h.status("acme", id)
			if resp.status != 200 {
				t.Errorf("status = %d %s", resp.status, resp.body)
			}
			bodies[i] = resp.body
		})
	}
	wg.Wait()
	if n := h.statusCalls() - before; n != 1 {
		t.Fatalf("100 concurrent status calls made %d provider calls, want 1", n)
	}
	for _, b := range bodies {
		if !bytes.Equal(b, bodies[0]) || !bytes.Contains(b, []byte(`"status":"processing"`)) {
			t.Fatalf("answers differ or are wrong: %s vs %s", b, bodies[0])
		}
	}
	h.clock.Advance(500 * time.Millisecond)
	h.status("acme", id)
	if n := h.statusCalls() - before; n != 1 {
		t.Fatalf("a call within FreshFor reached the provider (%d calls)", n)
	}
	h.clock.Advance(time.Second)
	h.status("acme", id)
	if n := h.statusCalls() - before; n != 2 {
		t.Fatalf("a stale status was not read again (%d calls)", n)
	}
}

func TestTerminalServedFromStoreAndURLsRefreshed(t *testing.T) {
	h := newHarness(t)
	id := h.generate("acme", "Hello")
	h.clock.Advance(101 * time.Second)
	first := h.status("acme", id)
	if !bytes.Contains(first.body, []byte(`"status":"completed"`)) {
		t.Fatalf("status = %s", first.body)
	}
	// The answer is the provider's body verbatim: the contract's shape.
	providerBody := h.lastStatusBody()
	if !bytes.Equal(first.body, providerBody) {
		t.Fatalf("answer differs from the provider's body:\n%s\n%s", first.body, providerBody)
	}
	j := h.job(id)
	if j.State != aiproxy.JobCompleted || j.ResultURLs["video_url"] == "" || !j.URLsExpireAt.Equal(h.clock.Now().Add(7*24*time.Hour)) {
		t.Fatalf("job = %+v", j)
	}
	before := h.statusCalls()
	for range 5 {
		h.clock.Advance(24 * time.Hour)
		if resp := h.status("acme", id); !bytes.Equal(resp.body, first.body) {
			t.Fatal("a completed job's stored answer changed")
		}
	}
	if h.statusCalls() != before {
		t.Fatal("a completed job with valid URLs reached the provider")
	}
	h.clock.Advance(24*time.Hour + time.Minute) // less than a day of URL life left
	again := h.status("acme", id)
	if h.statusCalls() != before+1 || bytes.Equal(again.body, first.body) {
		t.Fatalf("URLs about to lapse were not refreshed (calls %d)", h.statusCalls()-before)
	}
	u, _ := url.Parse(h.job(id).ResultURLs["video_url"])
	if exp := u.Query().Get("Expires"); exp == "" || exp <= strings.Split(strings.Split(j.ResultURLs["video_url"], "Expires=")[1], "&")[0] {
		t.Fatalf("refreshed URL %s does not expire later", u)
	}
}

// lastStatusBody is the sandbox's current answer for the last status read,
// fetched the same way aiproxy does, for comparison.
func (h *harness) lastStatusBody() []byte {
	h.t.Helper()
	j, err := h.db.Jobs(context.Background(), aiproxy.JobFilter{OrgKey: "acme", Limit: 1})
	if err != nil || len(j) == 0 {
		h.t.Fatal(err)
	}
	return j[0].StatusBody
}

func TestLongPollStatus(t *testing.T) {
	h := newHarness(t)
	id := h.generate("acme", "Hello")
	j := h.job(id)
	done := make(chan aiproxy.Job, 1)
	go func() {
		got, err := h.jobs.WaitJob(context.Background(), "acme", j.ID, "", 10*time.Second)
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	time.Sleep(20 * time.Millisecond)
	h.track(1, 30*time.Second) // pending → processing
	select {
	case got := <-done:
		if got.State != aiproxy.JobProcessing {
			t.Fatalf("woke with state %s", got.State)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("long poll did not wake on a state change")
	}
	if _, err := h.jobs.WaitJob(context.Background(), "beta", j.ID, "", time.Millisecond); aiproxy.ErrorCode(err) != aiproxy.CodeNotFound {
		t.Fatalf("beta waits on acme's job: %v", err)
	}
	start := time.Now()
	got, _ := h.jobs.WaitJob(context.Background(), "acme", j.ID, "", 50*time.Millisecond)
	if got.State != aiproxy.JobProcessing || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("an unchanged job returned early: %s after %s", got.State, time.Since(start))
	}
}

func TestNativeSurfaceKeepsOwnershipAndTracking(t *testing.T) {
	h := newHarness(t)
	data, _ := json.Marshal(generateBody("native"))
	r := httptest.NewRequest(http.MethodPost, "/v2/video/generate", bytes.NewReader(data))
	w := httptest.NewRecorder()
	if _, err := h.invoker().InvokeNative(w, r, "acme", "heygen", "/v2/video/generate"); err != nil || w.Code != 200 {
		t.Fatalf("native generate = %d %v %s", w.Code, err, w.Body)
	}
	id, _ := aiproxy.LookupJSON(mustDoc(t, w.Body.Bytes()), "data.video_id")
	if j := h.job(id.(string)); j.OrgKey != "acme" {
		t.Fatalf("native job = %+v", j)
	}
	r = httptest.NewRequest(http.MethodGet, "/v1/video_status.get?video_id="+id.(string), nil)
	w = httptest.NewRecorder()
	if _, err := h.invoker().InvokeNative(w, r, "beta", "heygen", "/v1/video_status.get"); aiproxy.ErrorCode(err) != aiproxy.CodeNotFound {
		t.Fatalf("beta's native status call = %v (%d)", err, w.Code)
	}
	r = httptest.NewRequest(http.MethodGet, "/v2/avatars", nil)
	w = httptest.NewRecorder()
	if _, err := h.invoker().InvokeNative(w, r, "acme", "heygen", "/v2/avatars"); err != nil || w.Code != 200 {
		t.Fatalf("other native calls pass through: %d %v", w.Code, err)
	}
}

func mustDoc(t *testing.T, b []byte) any {
	t.Helper()
	doc, ok := aiproxy.DecodeJSON(b)
	if !ok {
		t.Fatalf("not JSON: %s", b)
	}
	return doc
}

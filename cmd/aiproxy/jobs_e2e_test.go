package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/jobs"
	"github.com/aiproxy/aiproxy/internal/webhooks"
)

// hookSink is an org's webhook endpoint in the e2e tests.
type hookSink struct {
	mu     sync.Mutex
	header []http.Header
	body   [][]byte
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.header = append(h.header, r.Header.Clone())
	h.body = append(h.body, b)
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookSink) wait(t *testing.T, n int) ([]http.Header, [][]byte) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		if len(h.body) >= n {
			defer h.mu.Unlock()
			return h.header, h.body
		}
		h.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the webhook endpoint got fewer than %d deliveries", n)
	return nil, nil
}

func (d *demo) generateVideo(text string, header http.Header) (string, []byte) {
	d.t.Helper()
	env, _ := json.Marshal(map[string]any{"body": map[string]any{
		"test": true, "callback_id": "e2e-ref",
		"video_inputs": []any{map[string]any{
			"character": map[string]any{"type": "avatar", "avatar_id": "Abigail_expressive_2024112501", "avatar_style": "normal"},
			"voice":     map[string]any{"type": "text", "input_text": text, "voice_id": "f38a635bee7a4d1f9b0a654a31d050d2"},
		}},
		"dimension": map[string]any{"width": 1280, "height": 720},
	}})
	if header == nil {
		header = http.Header{}
	}
	header.Set("Content-Type", "application/json")
	status, _, body := d.do("POST", "/api/ai-proxy/orgs/"+d.org+"/services/heygen/generate-video/", d.key, bytes.NewReader(env), header)
	if status != 200 {
		d.t.Fatalf("generate-video = %d %s", status, body)
	}
	var out struct {
		Data struct {
			VideoID string `json:"video_id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &out)
	return out.Data.VideoID, body
}

func TestDemoJobsLifecycle(t *testing.T) {
	d := startDemo(t)
	sink := &hookSink{}
	hooks := httptest.NewServer(sink)
	t.Cleanup(hooks.Close)
	base := "/api/ai-proxy/orgs/" + d.org

	// An org registers a webhook endpoint; its secret is shown once.
	status, _, body := d.do("POST", base+"/webhooks/", d.key, strings.NewReader(`{"url":"`+hooks.URL+`/aiproxy"}`), nil)
	var ep struct {
		ID     string   `json:"id"`
		Secret string   `json:"secret"`
		Events []string `json:"events"`
	}
	if status != 201 || json.Unmarshal(body, &ep) != nil || !strings.HasPrefix(ep.Secret, "whsec_") {
		t.Fatalf("create webhook = %d %s", status, body)
	}

	// The SSE stream sees the job's events as they happen.
	events := d.openEvents(t, base+"/jobs/events", d.key)

	id, _ := d.generateVideo("Hello from the jobs test.", nil)
	var list struct {
		Jobs []jobs.JobJSON `json:"jobs"`
	}
	d.getJSON(base+"/jobs/?service=heygen", d.key, 200, &list)
	if len(list.Jobs) != 1 || list.Jobs[0].ProviderJobID != id || list.Jobs[0].CallbackID != "e2e-ref" ||
		list.Jobs[0].Credential.Source != "tenant" {
		t.Fatalf("jobs = %+v", list.Jobs)
	}
	jobID := list.Jobs[0].ID

	// Long poll until the job is final; no client polls video-status.
	var j jobs.JobJSON
	for range 20 {
		d.getJSON(base+"/jobs/"+jobID+"?wait=10", d.key, 200, &j)
		if j.State == "completed" || j.State == "failed" {
			break
		}
	}
	if j.State != "completed" || j.ResultURLs["video_url"] == "" {
		t.Fatalf("job = %+v", j)
	}

	// The outbound webhook arrives signed, with the event id.
	hdrs, bodies := sink.wait(t, 1)
	if err := webhooks.Verify(ep.Secret, hdrs[0], bodies[0], time.Now(), time.Minute); err != nil {
		t.Fatalf("webhook signature: %v", err)
	}
	var ev jobs.EventJSON
	if json.Unmarshal(bodies[0], &ev) != nil || ev.Type != "job.completed" || ev.Job.ID != jobID || ev.ID != hdrs[0].Get(webhooks.HeaderEventID) {
		t.Fatalf("webhook body %s", bodies[0])
	}
	var log struct {
		Deliveries []struct {
			EventID string `json:"event_id"`
			State   string `json:"state"`
		} `json:"deliveries"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		d.getJSON(base+"/webhook-deliveries/", d.key, 200, &log)
		if len(log.Deliveries) == 1 && log.Deliveries[0].State == "delivered" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(log.Deliveries) != 1 || log.Deliveries[0].EventID != ev.ID || log.Deliveries[0].State != "delivered" {
		t.Fatalf("delivery log = %+v", log.Deliveries)
	}

	// job.updated appears only if a read saw the render in progress.
	got := events.next(t, 2)
	for got[len(got)-1] == "job.updated" {
		got = append(got, events.next(t, 1)...)
	}
	if got[0] != "job.created" || got[len(got)-1] != "job.completed" {
		t.Fatalf("event stream = %v", got)
	}

	// video-status keeps the contract's shape, served from the store.
	var st struct {
		Code int            `json:"code"`
		Data map[string]any `json:"data"`
	}
	d.invokeJSON("heygen", "video-status", map[string]any{"query": map[string]any{"video_id": id}}, &st)
	if st.Code != 100 || st.Data["status"] != "completed" || st.Data["callback_id"] != "e2e-ref" {
		t.Fatalf("video-status = %+v", st)
	}

	// The CLI reads the same records.
	if out := d.cli("", "jobs", "list", "--org", d.org); !strings.Contains(out, jobID) || !strings.Contains(out, "completed") {
		t.Fatalf("aiproxy jobs list:\n%s", out)
	}
	if out := d.cli("", "webhook", "deliveries", "--org", d.org, "--json"); !strings.Contains(out, ev.ID) {
		t.Fatalf("aiproxy webhook deliveries:\n%s", out)
	}
}

func TestDemoJobsCrossOrg(t *testing.T) {
	d := startDemo(t)
	id, _ := d.generateVideo("Mine.", nil)
	d.cli("", "org", "create", "other")
	otherKey := d.cli("", "key", "create", "--org", "other", "--name", "ci", "--role", "admin")
	other := "/api/ai-proxy/orgs/other"

	status, _, body := d.invoke("other", otherKey, "heygen", "video-status", map[string]any{"query": map[string]any{"video_id": id}})
	if status != 404 || !strings.Contains(string(body), `"code":"not_found"`) || !strings.Contains(string(body), `"detail"`) {
		t.Fatalf("other org's status call = %d %s", status, body)
	}
	var list struct {
		Jobs []jobs.JobJSON `json:"jobs"`
	}
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/jobs/", d.key, 200, &list)
	d.getJSON(other+"/jobs/"+list.Jobs[0].ID, otherKey, 404, nil)
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/jobs/", otherKey, 403, nil)
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/jobs/events", otherKey, 403, nil)
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/webhook-deliveries/", otherKey, 403, nil)
	var mine struct {
		Jobs []jobs.JobJSON `json:"jobs"`
	}
	d.getJSON(other+"/jobs/", otherKey, 200, &mine)
	if len(mine.Jobs) != 0 {
		t.Fatalf("other org lists %+v", mine.Jobs)
	}
	events := d.openEvents(t, other+"/jobs/events?after=0", otherKey)
	if got := events.drain(300 * time.Millisecond); len(got) != 0 {
		t.Fatalf("other org's stream shows %v", got)
	}
}

func TestDemoIdempotentGenerate(t *testing.T) {
	d := startDemo(t)
	h := http.Header{"Idempotency-Key": {"e2e-once"}}
	id1, b1 := d.generateVideo("Once.", h.Clone())
	id2, b2 := d.generateVideo("Once.", h.Clone())
	if id1 != id2 || !bytes.Equal(b1, b2) {
		t.Fatalf("same key gave %s and %s", id1, id2)
	}
	status, _, body := d.do("POST", "/api/ai-proxy/orgs/"+d.org+"/services/heygen/generate-video/", d.key,
		strings.NewReader(`{"body":{"test":true}}`), http.Header{"Idempotency-Key": {"e2e-once"}, "Content-Type": {"application/json"}})
	if status != 409 || !strings.Contains(string(body), `"code":"conflict"`) {
		t.Fatalf("same key, other body = %d %s", status, body)
	}
}

// eventStream reads a Server-Sent Events stream in the background.
type eventStream struct {
	mu    sync.Mutex
	types []string
	read  int
}

func (d *demo) openEvents(t *testing.T, path, key string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", d.url+path, nil)
	req.Header.Set("Authorization", "Api-Key "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	es := &eventStream{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if typ, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				es.mu.Lock()
				es.types = append(es.types, typ)
				es.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	return es
}

// next waits for n more events and returns their types.
func (es *eventStream) next(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		es.mu.Lock()
		if len(es.types)-es.read >= n {
			out := es.types[es.read : es.read+n]
			es.read += n
			es.mu.Unlock()
			return out
		}
		es.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("fewer than %d events arrived", n)
	return nil
}

// drain waits a while and returns whatever arrived.
func (es *eventStream) drain(wait time.Duration) []string {
	time.Sleep(wait)
	es.mu.Lock()
	defer es.mu.Unlock()
	return es.types[es.read:]
}

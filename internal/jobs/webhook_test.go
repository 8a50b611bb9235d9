package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/webhooks"
)

// withWebhooksIn configures aiproxy's public URL and HeyGen's secret.
func withWebhooksIn(h *harness) {
	h.cfg.PublicBaseURL = "http://placeholder" // replaced once the receiver listens
	h.cfg.ProviderSecrets = map[string]string{"heygen": providerSecret}
}

func newWebhookHarness(t *testing.T, opts ...harnessOption) *harness {
	h := newHarness(t, append([]harnessOption{withWebhooksIn}, opts...)...)
	h.jobs.cfg.PublicBaseURL = h.hooks.URL
	h.cfg.PublicBaseURL = h.hooks.URL
	return h
}

func TestCallbackURLAddedKeepingCallbackID(t *testing.T) {
	h := newWebhookHarness(t)
	body := generateBody("Hello")
	body["callback_id"] = "client-ref-7"
	resp := h.invoke("acme", "generate-video", map[string]any{"body": body})
	if resp.status != 200 {
		t.Fatalf("generate = %d %s", resp.status, resp.body)
	}
	var sent map[string]any
	reqs := h.sb.Requests()
	_ = json.Unmarshal(reqs[len(reqs)-1].Body, &sent)
	if sent["callback_url"] != h.hooks.URL+"/api/ai-proxy/webhooks/heygen/" || sent["callback_id"] != "client-ref-7" {
		t.Fatalf("sent callback_url %v, callback_id %v", sent["callback_url"], sent["callback_id"])
	}
	id, _ := aiproxy.LookupJSON(resp.json(t), "data.video_id")
	if j := h.job(id.(string)); j.CallbackID != "client-ref-7" {
		t.Fatalf("job callback id = %q", j.CallbackID)
	}

	// A client's own callback_url is kept: the provider takes one.
	body["callback_url"] = "https://client.example/hook"
	h.invoke("acme", "generate-video", map[string]any{"body": body})
	reqs = h.sb.Requests()
	_ = json.Unmarshal(reqs[len(reqs)-1].Body, &sent)
	if sent["callback_url"] != "https://client.example/hook" {
		t.Fatalf("client's callback_url replaced by %v", sent["callback_url"])
	}
}

func TestWebhooksInLostAndDuplicated(t *testing.T) {
	h := newWebhookHarness(t)
	ids := []string{h.generate("acme", "one"), h.generate("acme", "SANDBOX_FAIL two"), h.generate("beta", "three")}
	h.clock.Advance(101 * time.Second)
	h.sb.DropWebhooks(1)      // the first job's webhook is lost
	h.sb.DuplicateWebhooks(1) // the second's arrives twice
	before := h.statusCalls()
	h.sb.DeliverWebhooks(context.Background())
	sent := h.sb.Webhooks()
	if len(sent) != 4 || !sent[0].Lost || sent[1].Status != 200 || sent[2].Status != 200 || sent[3].Status != 200 {
		t.Fatalf("webhooks = %+v", sent)
	}
	if got := h.statusCalls() - before; got != 2 {
		t.Fatalf("webhooks caused %d status reads, want 2 (one per delivered event; the duplicate ignored)", got)
	}
	if h.job(ids[0]).State.Terminal() {
		t.Fatal("a lost webhook updated the job")
	}
	if j := h.job(ids[1]); j.State != aiproxy.JobFailed {
		t.Fatalf("job after its fail webhook = %s", j.State)
	}
	if j := h.job(ids[2]); j.State != aiproxy.JobCompleted {
		t.Fatalf("job after its success webhook = %s", j.State)
	}
	// Polling is the fallback for the lost one.
	h.jobs.TrackOnce(context.Background())
	if j := h.job(ids[0]); j.State != aiproxy.JobCompleted {
		t.Fatalf("the tracker did not finish the job whose webhook was lost: %s", j.State)
	}
}

func TestWebhooksInRefuseBadSignatures(t *testing.T) {
	h := newWebhookHarness(t)
	id := h.generate("acme", "one")
	h.clock.Advance(101 * time.Second)
	body := []byte(`{"event_type":"avatar_video.success","event_data":{"video_id":"` + id + `"}}`)
	cases := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"unsigned", http.Header{}, 401},
		{"wrong secret", http.Header{"Signature": {hexMAC("nope", body)}}, 401},
		{"stale timestamp", http.Header{"Heygen-Signature": {hexMAC(providerSecret, body)},
			"Heygen-Timestamp": {"1000"}}, 401},
		{"good", http.Header{"Heygen-Signature": {hexMAC(providerSecret, body)}}, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, h.hooks.URL+"/api/ai-proxy/webhooks/heygen/", bytes.NewReader(body))
			req.Header = tc.header
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	if h.job(id).State != aiproxy.JobCompleted {
		t.Fatal("the signed webhook did not update the job")
	}
	if err := h.receiver.ReceiveWebhook(context.Background(), "elevenlabs", nil, body); aiproxy.ErrorCode(err) != aiproxy.CodeNotFound {
		t.Fatalf("a service without a receiver: %v", err)
	}
}

// receiver is an org's webhook endpoint that fails its first answers.
type receiver struct {
	mu       sync.Mutex
	failures int
	got      []http.Header
	bodies   [][]byte
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, req.Header.Clone())
	r.bodies = append(r.bodies, b)
	if r.failures > 0 {
		r.failures--
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func TestWebhooksOutRetriedAcrossRestarts(t *testing.T) {
	h := newHarness(t, withOutbox(func(c *webhooks.OutboxConfig) { c.Backoff = 10 * time.Second }))
	recv := &receiver{failures: 2}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	ep, secret, err := h.outbox.CreateWebhook(ctx, "acme", srv.URL+"/hooks", nil)
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("CreateWebhook = %+v, %q, %v", ep, secret, err)
	}
	id := h.generate("acme", "Hello")
	h.generate("beta", "not for acme's endpoint")
	h.track(21, 5*time.Second)
	if h.job(id).State != aiproxy.JobCompleted {
		t.Fatal("job did not complete")
	}
	if n := h.outbox.DeliverOnce(ctx); n != 1 { // first attempt: 503
		t.Fatalf("deliveries attempted = %d, want acme's one job.completed", n)
	}
	h.restart()
	h.clock.Advance(5 * time.Second)
	if n := h.outbox.DeliverOnce(ctx); n != 0 {
		t.Fatal("a delivery was retried before its backoff")
	}
	h.clock.Advance(5 * time.Second)
	h.outbox.DeliverOnce(ctx) // second attempt: 503, next in 20s
	h.restart()
	h.clock.Advance(20 * time.Second)
	h.outbox.DeliverOnce(ctx) // third: delivered
	if len(recv.got) != 3 {
		t.Fatalf("attempts = %d, want 3", len(recv.got))
	}
	eventID := recv.got[0].Get(webhooks.HeaderEventID)
	for i, hd := range recv.got {
		if hd.Get(webhooks.HeaderEventID) != eventID || hd.Get(webhooks.HeaderEventType) != aiproxy.EventJobCompleted {
			t.Fatalf("attempt %d has event %s %s, want a stable %s", i, hd.Get(webhooks.HeaderEventID), hd.Get(webhooks.HeaderEventType), eventID)
		}
		if err := webhooks.Verify(secret, hd, recv.bodies[i], h.clock.Now(), time.Hour); err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	var ev EventJSON
	if err := json.Unmarshal(recv.bodies[2], &ev); err != nil || ev.ID != eventID || ev.Job.ProviderJobID != id ||
		ev.Job.State != "completed" || ev.Job.ResultURLs["video_url"] == "" || ev.Org != "acme" {
		t.Fatalf("event body %s (%v)", recv.bodies[2], err)
	}
	log, _ := h.outbox.Deliveries(ctx, aiproxy.DeliveryFilter{OrgKey: "acme"})
	if len(log) != 1 || log[0].State != aiproxy.DeliveryDelivered || log[0].Attempts != 3 || log[0].EventID != eventID {
		t.Fatalf("delivery log = %+v", log)
	}
	if other, _ := h.outbox.Deliveries(ctx, aiproxy.DeliveryFilter{OrgKey: "beta"}); len(other) != 0 {
		t.Fatalf("beta reads acme's delivery log: %+v", other)
	}
	if webhooks.Verify(secret, recv.got[0], append(recv.bodies[0], ' '), h.clock.Now(), time.Hour) == nil {
		t.Fatal("a changed body verified")
	}
}

func TestWebhooksOutGiveUp(t *testing.T) {
	h := newHarness(t, withOutbox(func(c *webhooks.OutboxConfig) { c.MaxAttempts = 3; c.Backoff = time.Second }))
	recv := &receiver{failures: 100}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	if _, _, err := h.outbox.CreateWebhook(ctx, "acme", srv.URL, []string{aiproxy.EventJobCreated}); err != nil {
		t.Fatal(err)
	}
	h.generate("acme", "Hello")
	for range 10 {
		h.outbox.DeliverOnce(ctx)
		h.clock.Advance(time.Minute)
	}
	log, _ := h.outbox.Deliveries(ctx, aiproxy.DeliveryFilter{OrgKey: "acme"})
	if len(recv.got) != 3 || len(log) != 1 || log[0].State != aiproxy.DeliveryFailed || log[0].LastStatus != 503 ||
		!strings.Contains(log[0].LastError, "503") {
		t.Fatalf("attempts %d, log %+v", len(recv.got), log)
	}
}

func TestWebhookEndpointsBelongToTheirOrg(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ep, _, err := h.outbox.CreateWebhook(ctx, "acme", "https://hooks.example/a", []string{"job.failed"})
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := h.outbox.Webhooks(ctx, "beta"); len(list) != 0 {
		t.Fatalf("beta lists %+v", list)
	}
	if err := h.outbox.DeleteWebhook(ctx, "beta", ep.ID); aiproxy.ErrorCode(err) != aiproxy.CodeNotFound {
		t.Fatalf("beta deletes acme's endpoint: %v", err)
	}
	for _, bad := range []struct {
		url    string
		events []string
	}{{"ftp://x", nil}, {"/relative", nil}, {"https://u:p@x", nil}, {"https://x", []string{"job.exploded"}}} {
		if _, _, err := h.outbox.CreateWebhook(ctx, "acme", bad.url, bad.events); aiproxy.ErrorCode(err) != aiproxy.CodeInvalid {
			t.Errorf("CreateWebhook(%q, %v) = %v, want invalid", bad.url, bad.events, err)
		}
	}
	if err := h.outbox.DeleteWebhook(ctx, "acme", ep.ID); err != nil {
		t.Fatal(err)
	}
}

// TestWebhooksInRefuseFutureTimestamps checks the same through the
// receiver: a signed webhook dated ahead is a 401 and reads nothing.
func TestWebhooksInRefuseFutureTimestamps(t *testing.T) {
	h := newWebhookHarness(t)
	id := h.generate("acme", "one")
	body := []byte(`{"event_type":"avatar_video.success","event_data":{"video_id":"` + id + `"}}`)
	before := h.statusCalls()
	for _, ahead := range []time.Duration{time.Hour, -time.Hour} {
		hd := http.Header{"Heygen-Signature": {hexMAC(providerSecret, body)},
			"Heygen-Timestamp": {unix(h.clock.Now().Add(ahead))}}
		if got := postProviderWebhook(t, h, hd, body); got != 401 {
			t.Errorf("a webhook dated %v from now = %d, want 401", ahead, got)
		}
	}
	if n := h.statusCalls() - before; n != 0 {
		t.Fatalf("refused webhooks caused %d status reads", n)
	}
}

// TestProviderWebhookReplayedWithFreshEventID checks that a captured
// provider webhook sent again is ignored however its unsigned headers
// change: a fresh event id, none, a fresh timestamp.
func TestProviderWebhookReplayedWithFreshEventID(t *testing.T) {
	h := newWebhookHarness(t)
	id := h.generate("acme", "one") // still rendering: every new webhook makes a status read
	body := []byte(`{"event_type":"avatar_video.success","event_data":{"video_id":"` + id + `"}}`)
	signed := func(eventID string) http.Header {
		hd := http.Header{"Heygen-Signature": {hexMAC(providerSecret, body)}, "Heygen-Timestamp": {unix(h.clock.Now())}}
		if eventID != "" {
			hd.Set("Heygen-Event-Id", eventID)
		}
		return hd
	}
	before := h.statusCalls()
	if got := postProviderWebhook(t, h, signed("evt-1"), body); got != 200 {
		t.Fatalf("first webhook = %d", got)
	}
	if n := h.statusCalls() - before; n != 1 {
		t.Fatalf("the first webhook made %d status reads, want 1", n)
	}
	h.clock.Advance(30 * time.Second)
	for _, eventID := range []string{"evt-1", "evt-2", "", strings.Repeat("x", 300)} {
		if got := postProviderWebhook(t, h, signed(eventID), body); got != 200 {
			t.Fatalf("replay with event id %.10q = %d, want 200 (acknowledged)", eventID, got)
		}
	}
	if n := h.statusCalls() - before; n != 1 {
		t.Fatalf("replays made %d more status reads, want none", n-1)
	}
	// Another signed event about the same job is new, and so is an event
	// id already seen with one body but sent with another.
	other := []byte(`{"event_type":"avatar_video.fail","event_data":{"video_id":"` + id + `"}}`)
	hd := http.Header{"Heygen-Signature": {hexMAC(providerSecret, other)}, "Heygen-Event-Id": {"evt-3"}}
	if got := postProviderWebhook(t, h, hd, other); got != 200 || h.statusCalls()-before != 2 {
		t.Fatalf("another event = %d, %d status reads in all, want 2", got, h.statusCalls()-before)
	}
}

// postProviderWebhook posts a provider webhook to aiproxy's receiver and
// returns the answer's status.
func postProviderWebhook(t *testing.T, h *harness, hd http.Header, body []byte) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.hooks.URL+"/api/ai-proxy/webhooks/heygen/", bytes.NewReader(body))
	req.Header = hd
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// unix is a time as a provider's timestamp header writes it.
func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

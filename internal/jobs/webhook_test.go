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
	id, _ := lookup(resp.json(t), "data.video_id")
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
	if err := h.jobs.ReceiveWebhook(context.Background(), "elevenlabs", nil, body); aiproxy.ErrorCode(err) != aiproxy.CodeNotFound {
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
	h := newHarness(t, withConfig(func(c *Config) { c.DeliveryBackoff = 10 * time.Second }))
	recv := &receiver{failures: 2}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	ep, secret, err := h.jobs.CreateWebhook(ctx, "acme", srv.URL+"/hooks", nil)
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("CreateWebhook = %+v, %q, %v", ep, secret, err)
	}
	id := h.generate("acme", "Hello")
	h.generate("beta", "not for acme's endpoint")
	h.track(21, 5*time.Second)
	if h.job(id).State != aiproxy.JobCompleted {
		t.Fatal("job did not complete")
	}
	if n := h.jobs.DeliverOnce(ctx); n != 1 { // first attempt: 503
		t.Fatalf("deliveries attempted = %d, want acme's one job.completed", n)
	}
	h.restart()
	h.clock.Advance(5 * time.Second)
	if n := h.jobs.DeliverOnce(ctx); n != 0 {
		t.Fatal("a delivery was retried before its backoff")
	}
	h.clock.Advance(5 * time.Second)
	h.jobs.DeliverOnce(ctx) // second attempt: 503, next in 20s
	h.restart()
	h.clock.Advance(20 * time.Second)
	h.jobs.DeliverOnce(ctx) // third: delivered
	if len(recv.got) != 3 {
		t.Fatalf("attempts = %d, want 3", len(recv.got))
	}
	eventID := recv.got[0].Get(HeaderEventID)
	for i, hd := range recv.got {
		if hd.Get(HeaderEventID) != eventID || hd.Get(HeaderEventType) != aiproxy.EventJobCompleted {
			t.Fatalf("attempt %d has event %s %s, want a stable %s", i, hd.Get(HeaderEventID), hd.Get(HeaderEventType), eventID)
		}
		if err := Verify(secret, hd, recv.bodies[i], h.clock.Now(), time.Hour); err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	var ev EventJSON
	if err := json.Unmarshal(recv.bodies[2], &ev); err != nil || ev.ID != eventID || ev.Job.ProviderJobID != id ||
		ev.Job.State != "completed" || ev.Job.ResultURLs["video_url"] == "" || ev.Org != "acme" {
		t.Fatalf("event body %s (%v)", recv.bodies[2], err)
	}
	log, _ := h.jobs.Deliveries(ctx, aiproxy.DeliveryFilter{OrgKey: "acme"})
	if len(log) != 1 || log[0].State != aiproxy.DeliveryDelivered || log[0].Attempts != 3 || log[0].EventID != eventID {
		t.Fatalf("delivery log = %+v", log)
	}
	if other, _ := h.jobs.Deliveries(ctx, aiproxy.DeliveryFilter{OrgKey: "beta"}); len(other) != 0 {
		t.Fatalf("beta reads acme's delivery log: %+v", other)
	}
	if Verify(secret, recv.got[0], append(recv.bodies[0], ' '), h.clock.Now(), time.Hour) == nil {
		t.Fatal("a changed body verified")
	}
}

func TestWebhooksOutGiveUp(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) { c.MaxDeliveryAttempts = 3; c.DeliveryBackoff = time.Second }))
	recv := &receiver{failures: 100}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	if _, _, err := h.jobs.CreateWebhook(ctx, "acme", srv.URL, []string{aiproxy.EventJobCreated}); err != nil {
		t.Fatal(err)
	}
	h.generate("acme", "Hello")
	for range 10 {
		h.jobs.DeliverOnce(ctx)
		h.clock.Advance(time.Minute)
	}
	log, _ := h.jobs.Deliveries(ctx, aiproxy.DeliveryFilter{OrgKey: "acme"})
	if len(recv.got) != 3 || len(log) != 1 || log[0].State != aiproxy.DeliveryFailed || log[0].LastStatus != 503 ||
		!strings.Contains(log[0].LastError, "503") {
		t.Fatalf("attempts %d, log %+v", len(recv.got), log)
	}
}

func TestWebhookEndpointsBelongToTheirOrg(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ep, _, err := h.jobs.CreateWebhook(ctx, "acme", "https://hooks.example/a", []string{"job.failed"})
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := h.jobs.Webhooks(ctx, "beta"); len(list) != 0 {
		t.Fatalf("beta lists %+v", list)
	}
	if err := h.jobs.DeleteWebhook(ctx, "beta", ep.ID); aiproxy.ErrorCode(err) != aiproxy.CodeNotFound {
		t.Fatalf("beta deletes acme's endpoint: %v", err)
	}
	for _, bad := range []struct {
		url    string
		events []string
	}{{"ftp://x", nil}, {"/relative", nil}, {"https://u:p@x", nil}, {"https://x", []string{"job.exploded"}}} {
		if _, _, err := h.jobs.CreateWebhook(ctx, "acme", bad.url, bad.events); aiproxy.ErrorCode(err) != aiproxy.CodeInvalid {
			t.Errorf("CreateWebhook(%q, %v) = %v, want invalid", bad.url, bad.events, err)
		}
	}
	if err := h.jobs.DeleteWebhook(ctx, "acme", ep.ID); err != nil {
		t.Fatal(err)
	}
}

// heygenWebhookSpec is the catalog's HeyGen job webhook block.
func heygenWebhookSpec(t *testing.T, h *harness) *aiproxy.JobWebhookSpec {
	t.Helper()
	svc, ok := h.cat.Service("heygen")
	if !ok || svc.JobWebhook == nil || svc.JobWebhook.TimestampHeader == "" {
		t.Fatal("the catalog's heygen service has no timestamped job webhook")
	}
	return svc.JobWebhook
}

// TestProviderWebhookTimestampWindow checks that a provider webhook's
// timestamp is refused as far ahead of aiproxy's clock as behind it.
func TestProviderWebhookTimestampWindow(t *testing.T) {
	h := newHarness(t)
	spec := heygenWebhookSpec(t, h)
	now := h.clock.Now()
	body := []byte(`{"event_type":"avatar_video.success","event_data":{"video_id":"v1"}}`)
	for _, tc := range []struct {
		name string
		ts   string
		ok   bool
	}{
		{"now", unix(now), true},
		{"4 minutes old", unix(now.Add(-4 * time.Minute)), true},
		{"4 minutes ahead", unix(now.Add(4 * time.Minute)), true},
		{"exactly 5 minutes old", unix(now.Add(-webhookSkew)), true},
		{"exactly 5 minutes ahead", unix(now.Add(webhookSkew)), true},
		{"6 minutes old", unix(now.Add(-6 * time.Minute)), false},
		{"6 minutes ahead", unix(now.Add(6 * time.Minute)), false},
		{"a day ahead", unix(now.Add(24 * time.Hour)), false},
		{"far future", "9223372036854775807", false},
		{"far past", "-9223372036854775808", false},
		{"not a number", "soon", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hd := http.Header{"Heygen-Signature": {hexMAC(providerSecret, body)}, spec.TimestampHeader: {tc.ts}}
			if err := verifyProvider(spec, providerSecret, hd, body, now); (err == nil) != tc.ok {
				t.Fatalf("verifyProvider(timestamp %s) = %v, want ok %v", tc.ts, err, tc.ok)
			}
		})
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

// TestVerifyTimestampWindow checks the receivers' helper both ways.
func TestVerifyTimestampWindow(t *testing.T) {
	const secret = "whsec_test"
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	body := []byte(`{"id":"evt_1"}`)
	signed := func(ts time.Time) http.Header {
		return http.Header{HeaderTimestamp: {unix(ts)}, HeaderSignature: {Sign(secret, ts, body)}}
	}
	for _, tc := range []struct {
		name      string
		ts        time.Time
		tolerance time.Duration
		ok        bool
	}{
		{"now", now, time.Minute, true},
		{"inside, old", now.Add(-59 * time.Second), time.Minute, true},
		{"inside, ahead", now.Add(59 * time.Second), time.Minute, true},
		{"edge, old", now.Add(-time.Minute), time.Minute, true},
		{"edge, ahead", now.Add(time.Minute), time.Minute, true},
		{"outside, old", now.Add(-61 * time.Second), time.Minute, false},
		{"outside, ahead", now.Add(61 * time.Second), time.Minute, false},
		{"a year ahead", now.AddDate(1, 0, 0), time.Hour, false},
		{"default tolerance, 4m ahead", now.Add(4 * time.Minute), 0, true},
		{"default tolerance, 6m ahead", now.Add(6 * time.Minute), 0, false},
		{"default tolerance, 6m old", now.Add(-6 * time.Minute), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Verify(secret, signed(tc.ts), body, now, tc.tolerance); (err == nil) != tc.ok {
				t.Fatalf("Verify = %v, want ok %v", err, tc.ok)
			}
		})
	}
	// A timestamp changed after signing fails on the signature, not the clock.
	hd := signed(now)
	hd.Set(HeaderTimestamp, unix(now.Add(time.Second)))
	if err := Verify(secret, hd, body, now, time.Minute); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("re-dated webhook: %v", err)
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

// TestWebhookSeenKeys pins what a provider webhook is remembered by.
func TestWebhookSeenKeys(t *testing.T) {
	spec := &aiproxy.JobWebhookSpec{EventIDHeader: "Heygen-Event-Id"}
	body := []byte(`{"event_type":"avatar_video.success","event_data":{"video_id":"v1"}}`)
	withID := webhookSeenKeys(spec, http.Header{"Heygen-Event-Id": {"evt-1"}}, body, "v1", "avatar_video.success")
	fresh := webhookSeenKeys(spec, http.Header{"Heygen-Event-Id": {"evt-2"}}, body, "v1", "avatar_video.success")
	none := webhookSeenKeys(spec, http.Header{}, body, "v1", "avatar_video.success")
	if len(withID) != 2 || withID[1] != "id:evt-1" || withID[0] != fresh[0] || withID[0] != none[0] || len(none) != 1 {
		t.Fatalf("keys %q / %q / %q: want one content key shared by every copy, and the event id", withID, fresh, none)
	}
	// A header event id cannot pose as another webhook's content key.
	posing := webhookSeenKeys(spec, http.Header{"Heygen-Event-Id": {withID[0]}}, []byte(`{}`), "", "")
	if posing[1] == withID[0] {
		t.Fatalf("an event id header %q collides with a content key", posing[1])
	}
	for _, other := range [][]string{
		webhookSeenKeys(spec, nil, append(body, ' '), "v1", "avatar_video.success"),
		webhookSeenKeys(spec, nil, body, "v2", "avatar_video.success"),
		webhookSeenKeys(spec, nil, body, "v1", "avatar_video.fail"),
	} {
		if other[0] == none[0] {
			t.Fatalf("different content shares the key %s", other[0])
		}
	}
	long := webhookSeenKeys(spec, http.Header{"Heygen-Event-Id": {strings.Repeat("e", 5000)}}, body, "v1", "x")
	if len(long[1]) > maxEventIDKey+10 {
		t.Fatalf("a long event id is kept whole (%d bytes)", len(long[1]))
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

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

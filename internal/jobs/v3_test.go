package jobs

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// v3Body is a POST /v3/videos body speaking text.
func v3Body(text string) map[string]any {
	return map[string]any{"type": "avatar", "avatar_id": "Abigail_expressive_2024112501", "script": text,
		"voice_id": "f38a635bee7a4d1f9b0a654a31d050d2", "callback_id": "v3-ref"}
}

// v3Keys returns the Idempotency-Key of every POST /v3/videos the sandbox got.
func (h *harness) v3Keys() []string {
	var keys []string
	for _, r := range h.sb.Requests() {
		if r.Method == "POST" && r.Path == "/v3/videos" {
			keys = append(keys, r.Header.Get("Idempotency-Key"))
		}
	}
	return keys
}

func TestV3JobTracked(t *testing.T) {
	h := newHarness(t)
	resp := h.invoke("acme", "v3-create-video", map[string]any{"body": v3Body("Hello v3")})
	id, _ := aiproxy.LookupJSON(resp.json(t), "data.video_id")
	if resp.status != 200 || id == nil {
		t.Fatalf("v3-create-video = %d %s", resp.status, resp.body)
	}
	j := h.job(id.(string))
	if j.StatusAction != "v3-get-video" || j.CallbackID != "v3-ref" || j.State != aiproxy.JobPending {
		t.Fatalf("job = %+v", j)
	}
	h.track(1, 101*time.Second)
	j = h.job(id.(string))
	if j.State != aiproxy.JobCompleted || j.ResultURLs["video_url"] == "" || j.ProviderStatus != "completed" {
		t.Fatalf("after tracking: %+v", j)
	}
	// Another org's read is refused without a provider call.
	before := h.providerCalls("GET", "/v3/videos/"+id.(string))
	r := h.invoke("beta", "v3-get-video", map[string]any{"path_params": map[string]any{"video_id": id}})
	if r.status != 404 || h.providerCalls("GET", "/v3/videos/"+id.(string)) != before {
		t.Fatalf("beta's read = %d %s", r.status, r.body)
	}
}

func TestV3FailedJobReadsFailureMessage(t *testing.T) {
	h := newHarness(t)
	resp := h.invoke("acme", "v3-create-video", map[string]any{"body": v3Body("SANDBOX_FAIL")})
	id, _ := aiproxy.LookupJSON(resp.json(t), "data.video_id")
	h.track(1, 101*time.Second)
	if j := h.job(id.(string)); j.State != aiproxy.JobFailed || j.Error != "Avatar rendering timed out" {
		t.Fatalf("job = %+v", j)
	}
}

func TestV3IdempotencyKeyForwarded(t *testing.T) {
	h := newHarness(t)
	env := map[string]any{"body": v3Body("Once")}
	first := h.invoke("acme", "v3-create-video", env, "Idempotency-Key", "order-7")
	again := h.invoke("acme", "v3-create-video", env, "Idempotency-Key", "order-7")
	if first.status != 200 || string(first.body) != string(again.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("answers %d %s / %s", first.status, first.body, again.body)
	}
	h.invoke("beta", "v3-create-video", env, "Idempotency-Key", "order-7")
	keys := h.v3Keys()
	if len(keys) != 2 || !strings.HasPrefix(keys[0], "aiproxy:") || keys[0] == keys[1] || strings.Contains(keys[0], "order-7") {
		t.Fatalf("keys HeyGen got = %q; want one scoped key per org", keys)
	}
	// v2 generate does not forward the key: HeyGen's v2 API has none.
	h.invoke("acme", "generate-video", map[string]any{"body": generateBody("v2")}, "Idempotency-Key", "order-8")
	for _, r := range h.sb.Requests() {
		if r.Path == "/v2/video/generate" && r.Header.Get("Idempotency-Key") != "" {
			t.Fatalf("v2 generate got Idempotency-Key %q", r.Header.Get("Idempotency-Key"))
		}
	}
}

func TestV3ConflictReleasesKey(t *testing.T) {
	h := newHarness(t)
	h.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Method: "POST", Path: "/v3/videos", Status: 409, Count: 1})
	env := map[string]any{"body": v3Body("Busy")}
	r := h.invoke("acme", "v3-create-video", env, "Idempotency-Key", "busy")
	if r.status != 409 || !strings.Contains(string(r.body), "request_in_progress") {
		t.Fatalf("first = %d %s", r.status, r.body)
	}
	r = h.invoke("acme", "v3-create-video", env, "Idempotency-Key", "busy")
	if r.status != 200 || r.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry after 409 = %d %s", r.status, r.body)
	}
}

func TestV3WebhookFinishesJob(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) {
		c.ProviderSecrets = map[string]string{"heygen": providerSecret}
	}))
	h.jobs.cfg.PublicBaseURL = h.hooks.URL
	resp := h.invoke("acme", "v3-create-video", map[string]any{"body": v3Body("Call me")})
	id, _ := aiproxy.LookupJSON(resp.json(t), "data.video_id")
	h.clock.Advance(101 * time.Second)
	if n := h.sb.DeliverWebhooks(context.Background()); n != 1 {
		t.Fatalf("sandbox sent %d webhooks", n)
	}
	if j := h.job(id.(string)); j.State != aiproxy.JobCompleted {
		t.Fatalf("job after the v3 webhook = %+v", j)
	}
}

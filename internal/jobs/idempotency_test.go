package jobs

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/sandbox"
)

func TestIdempotentGenerate(t *testing.T) {
	h := newHarness(t)
	env := map[string]any{"body": generateBody("Hello")}
	first := h.invoke("acme", "generate-video", env, "Idempotency-Key", "order-42")
	again := h.invoke("acme", "generate-video", env, "Idempotency-Key", "order-42")
	if first.status != 200 || again.status != 200 || !bytes.Equal(first.body, again.body) {
		t.Fatalf("answers %d %s / %d %s", first.status, first.body, again.status, again.body)
	}
	if again.header.Get("Idempotent-Replayed") != "true" || h.generateCalls() != 1 {
		t.Fatalf("replayed header %q, generate calls %d", again.header.Get("Idempotent-Replayed"), h.generateCalls())
	}
	t.Run("key order and spacing do not matter", func(t *testing.T) {
		r := httpRequest(h, "acme", `{ "body" : `+string(mustJSON(generateBody("Hello")))+` }`, "order-42")
		if r.status != 200 || !bytes.Equal(r.body, first.body) || h.generateCalls() != 1 {
			t.Fatalf("reformatted request = %d %s (%d calls)", r.status, r.body, h.generateCalls())
		}
	})
	t.Run("another body is a conflict", func(t *testing.T) {
		r := h.invoke("acme", "generate-video", map[string]any{"body": generateBody("Bye")}, "Idempotency-Key", "order-42")
		if r.status != 409 || r.json(t)["code"] != "conflict" || h.generateCalls() != 1 {
			t.Fatalf("other body = %d %s", r.status, r.body)
		}
	})
	t.Run("keys are per org", func(t *testing.T) {
		r := h.invoke("beta", "generate-video", env, "Idempotency-Key", "order-42")
		if r.status != 200 || bytes.Equal(r.body, first.body) || h.generateCalls() != 2 {
			t.Fatalf("beta's request with acme's key = %d %s", r.status, r.body)
		}
	})
	t.Run("after 24h the key is new", func(t *testing.T) {
		h.clock.Advance(24*time.Hour + time.Second)
		r := h.invoke("acme", "generate-video", env, "Idempotency-Key", "order-42")
		if r.status != 200 || bytes.Equal(r.body, first.body) || h.generateCalls() != 3 {
			t.Fatalf("expired key = %d %s", r.status, r.body)
		}
	})
	t.Run("bad key", func(t *testing.T) {
		if r := h.invoke("acme", "generate-video", env, "Idempotency-Key", "tab\there"); r.status != 400 {
			t.Fatalf("bad key = %d", r.status)
		}
	})
}

func TestIdempotentConcurrentDuplicates(t *testing.T) {
	h := newHarness(t)
	// A slow provider keeps the first request in flight while the others arrive.
	h.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Path: "/v2/video/generate", Delay: 200 * time.Millisecond, Count: 1})
	env := map[string]any{"body": generateBody("Hello")}
	answers := make([]response, 20)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() { answers[i] = h.invoke("acme", "generate-video", env, "Idempotency-Key", "dup") })
	}
	wg.Wait()
	for _, a := range answers {
		if a.status != 200 || !bytes.Equal(a.body, answers[0].body) {
			t.Fatalf("answers differ: %d %s vs %s", a.status, a.body, answers[0].body)
		}
	}
	jobs, _ := h.db.Jobs(context.Background(), aiproxy.JobFilter{OrgKey: "acme"})
	if h.generateCalls() != 1 || len(jobs) != 1 {
		t.Fatalf("20 concurrent duplicates made %d provider calls and %d jobs, want 1 and 1", h.generateCalls(), len(jobs))
	}
}

func TestIdempotentCrashBeforeReply(t *testing.T) {
	h := newHarness(t)
	env := map[string]any{"body": generateBody("Hello")}
	h.jobs.crash = func(point string) {
		if point == "before-reply" {
			panic(http.ErrAbortHandler) // the process dies with the answer recorded but unsent
		}
	}
	func() {
		defer func() { recover() }()
		h.invoke("acme", "generate-video", env, "Idempotency-Key", "crashy")
		t.Fatal("no crash")
	}()
	h.restart()
	r := h.invoke("acme", "generate-video", env, "Idempotency-Key", "crashy")
	if r.status != 200 || r.header.Get("Idempotent-Replayed") != "true" || h.generateCalls() != 1 {
		t.Fatalf("retry after the crash = %d %s, generate calls %d", r.status, r.body, h.generateCalls())
	}
	id, _ := lookup(r.json(t), "data.video_id")
	if j := h.job(id.(string)); j.IdempotencyKey != "crashy" {
		t.Fatalf("job = %+v", j)
	}
}

func TestIdempotentCrashBeforeRecord(t *testing.T) {
	h := newHarness(t)
	env := map[string]any{"body": generateBody("Hello")}
	h.jobs.crash = func(point string) {
		if point == "after-provider" {
			panic(http.ErrAbortHandler) // the process dies before it records the answer
		}
	}
	func() {
		defer func() { recover() }()
		h.invoke("acme", "generate-video", env, "Idempotency-Key", "lost")
	}()
	h.restart()
	// While the first request's claim holds, a retry waits for it; once the
	// claim lapses the outcome is unknown, and no second render is started.
	h.clock.Advance(5 * time.Minute)
	r := h.invoke("acme", "generate-video", env, "Idempotency-Key", "lost")
	if r.status != 409 || h.generateCalls() != 1 {
		t.Fatalf("retry after a crash before recording = %d %s, generate calls %d", r.status, r.body, h.generateCalls())
	}
}

func TestIdempotencyReleasedOnProviderFailure(t *testing.T) {
	h := newHarness(t)
	h.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Path: "/v2/video/generate", Status: 500, Count: 1})
	env := map[string]any{"body": generateBody("Hello")}
	if r := h.invoke("acme", "generate-video", env, "Idempotency-Key", "retry-me"); r.status != 502 {
		t.Fatalf("first = %d %s", r.status, r.body)
	}
	if r := h.invoke("acme", "generate-video", env, "Idempotency-Key", "retry-me"); r.status != 200 || r.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry after a provider failure = %d %s", r.status, r.body)
	}
	// A 4xx is an answer: it is replayed. (The body passes aiproxy's own
	// request_schema, so that the provider is the one refusing it.)
	bad := map[string]any{"body": map[string]any{"video_inputs": []any{map[string]any{
		"character": map[string]any{"type": "avatar", "avatar_id": "no-such-avatar", "avatar_style": "normal"},
		"voice":     map[string]any{"type": "silence"},
	}}}}
	first := h.invoke("acme", "generate-video", bad, "Idempotency-Key", "bad")
	second := h.invoke("acme", "generate-video", bad, "Idempotency-Key", "bad")
	if first.status != 400 || second.status != 400 || second.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("4xx: %d / %d %v", first.status, second.status, second.header)
	}
}

func mustJSON(v any) []byte {
	b, err := jsonMarshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// httpRequest invokes generate-video with a raw envelope text.
func httpRequest(h *harness, org, envelope, key string) response {
	h.t.Helper()
	r, _ := http.NewRequest(http.MethodPost, "/", bytes.NewReader([]byte(envelope)))
	r.Header.Set("Idempotency-Key", key)
	w := newRecorder()
	if _, err := h.jobs.Invoke(w, r, org, "heygen", "generate-video"); err != nil {
		return response{status: statusOf(err)}
	}
	return response{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

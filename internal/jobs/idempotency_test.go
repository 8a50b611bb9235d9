package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
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
	h.outer = crashHooks{} // the process dies with the answer recorded but unsent
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
	id, _ := aiproxy.LookupJSON(r.json(t), "data.video_id")
	if j := h.job(id.(string)); j.IdempotencyKey != "crashy" {
		t.Fatalf("job = %+v", j)
	}
}

func TestIdempotentCrashBeforeRecord(t *testing.T) {
	h := newHarness(t)
	env := map[string]any{"body": generateBody("Hello")}
	h.inner = crashHooks{} // the process dies before it records the answer
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
	if _, err := h.invoker().Invoke(w, r, org, "heygen", "generate-video"); err != nil {
		return response{status: statusOf(err)}
	}
	return response{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// TestIdempotencyKeyReusedWithAnotherTemplate checks that a key reused with
// another path parameter is a conflict, on the invoke and native routes.
func TestIdempotencyKeyReusedWithAnotherTemplate(t *testing.T) {
	const tplA, tplB = "22a48da453ef4c014a6a60d827a02f0b", "0123456789abcdef0123456789abcdef"
	h := newHarness(t)
	envFor := func(tpl string) map[string]any {
		return map[string]any{"path_params": map[string]any{"template_id": tpl},
			"body": map[string]any{"variables": map[string]any{}, "test": true}}
	}
	templateCalls := func() int { return h.providerCalls("POST", "/v2/template/"+tplA+"/generate") }
	first := h.invoke("acme", "generate-template-video", envFor(tplA), "Idempotency-Key", "tpl-key")
	if first.status != 200 || templateCalls() != 1 {
		t.Fatalf("first = %d %s", first.status, first.body)
	}
	if again := h.invoke("acme", "generate-template-video", envFor(tplA), "Idempotency-Key", "tpl-key"); again.status != 200 ||
		again.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.body, first.body) {
		t.Fatalf("same request = %d %s", again.status, again.body)
	}
	other := h.invoke("acme", "generate-template-video", envFor(tplB), "Idempotency-Key", "tpl-key")
	if other.status != 409 || other.json(t)["code"] != "conflict" {
		t.Fatalf("the key with another template_id = %d %s, want 409 conflict", other.status, other.body)
	}

	// The native route: the template id is in the path.
	native := func(tpl string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/v2/template/"+tpl+"/generate", strings.NewReader(`{"variables":{},"test":true}`))
		r.Header.Set("Idempotency-Key", "native-key")
		w := httptest.NewRecorder()
		if _, err := h.invoker().InvokeNative(w, r, "acme", "heygen", "/v2/template/"+tpl+"/generate"); err != nil {
			w.Code = statusOf(err)
		}
		return w
	}
	if w := native(tplA); w.Code != 200 || templateCalls() != 2 {
		t.Fatalf("native first = %d %s", w.Code, w.Body)
	}
	if w := native(tplB); w.Code != 409 {
		t.Fatalf("native, the key with another template = %d %s, want 409", w.Code, w.Body)
	}
	if n := h.providerCalls("POST", "/v2/template/"+tplB+"/generate"); n != 0 {
		t.Fatalf("the conflicting requests reached the provider %d times", n)
	}
}

// TestIdempotencyKeyAcrossTestOnlyAndLiveKeys checks that a key first used
// by a test-only key (whose call the proxy puts in test mode) is not
// replayed to a live key sending the same envelope: the provider would
// get another request.
func TestIdempotencyKeyAcrossTestOnlyAndLiveKeys(t *testing.T) {
	h := newHarness(t)
	body := generateBody("Hello")
	delete(body, "test")
	env := map[string]any{"body": body}
	as := func(testOnly bool) response {
		data, _ := json.Marshal(env)
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(data))
		r.Header.Set("Idempotency-Key", "mode-key")
		pr := aiproxy.Principal{KeyID: "key", OrgKey: "acme", Role: aiproxy.RoleInvoke, TestOnly: testOnly}
		r = r.WithContext(aiproxy.WithPrincipal(r.Context(), pr))
		w := httptest.NewRecorder()
		if _, err := h.invoker().Invoke(w, r, "acme", "heygen", "generate-video"); err != nil {
			return response{status: statusOf(err)}
		}
		return response{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
	}
	if r := as(true); r.status != 200 {
		t.Fatalf("test-only key = %d %s", r.status, r.body)
	}
	if r := as(true); r.status != 200 || r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("test-only key again = %d %v", r.status, r.header)
	}
	if r := as(false); r.status != 409 {
		t.Fatalf("live key with the test-only key's Idempotency-Key = %d %s, want 409", r.status, r.body)
	}
	if h.generateCalls() != 1 {
		t.Fatalf("generate calls = %d, want 1", h.generateCalls())
	}
}

package proxy_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/breaker"
	"github.com/aiproxy/aiproxy/internal/cache"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/concurrency"
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/quota"
	"github.com/aiproxy/aiproxy/internal/ratelimit"
	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// The guardrail tests run the real proxy against the sandbox, with every
// org holding its own provider key.

// plainVault "opens" credentials stored in the clear, for tests.
type plainVault struct{}

func (plainVault) Open(sealed, _ []byte) ([]byte, error) { return sealed, nil }

// creds holds tenant credentials by org and name.
type creds map[string]string

func (c creds) Credential(_ context.Context, src aiproxy.Source, org, name string) (aiproxy.Credential, error) {
	key, ok := c[org+"/"+name]
	if !ok || src != aiproxy.SourceTenant {
		return aiproxy.Credential{}, aiproxy.ErrNotFound
	}
	v, _ := json.Marshal(map[string]string{"key": key})
	return aiproxy.Credential{Source: src, OrgKey: org, Name: name, Sealed: v}, nil
}

// env is a sandbox and a catalog pointed at it.
type env struct {
	sb    *sandbox.Server
	cat   *catalog.Catalog
	creds creds
}

var orgs = []string{"acme", "beta", "gamma"}

func newEnv(t testing.TB, cfg sandbox.Config) *env {
	t.Helper()
	e := &env{creds: creds{}}
	for _, org := range orgs {
		e.creds[org+"/heygen"] = "hg-key-of-" + org + "-0123456789"
		e.creds[org+"/elevenlabs"] = "el-key-of-" + org + "-0123456789"
		cfg.HeyGenKeys = append(cfg.HeyGenKeys, e.creds[org+"/heygen"])
		cfg.ElevenLabsKeys = append(cfg.ElevenLabsKeys, e.creds[org+"/elevenlabs"])
	}
	e.sb = sandbox.New(cfg)
	srv := httptest.NewServer(e.sb)
	t.Cleanup(srv.Close)
	cat, err := catalog.Load(catalog.Options{BaseURLs: map[string]string{"heygen": srv.URL + "/heygen", "elevenlabs": srv.URL + "/elevenlabs"}})
	if err != nil {
		t.Fatal(err)
	}
	e.cat = cat
	return e
}

func (e *env) proxy(cfg proxy.Config) *proxy.Proxy {
	cfg.Catalog, cfg.Credentials, cfg.Vault = e.cat, e.creds, plainVault{}
	return proxy.New(cfg)
}

// requests counts the sandbox requests to a path.
func (e *env) requests(method, path string) int {
	n := 0
	for _, r := range e.sb.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// result is one invoke call's answer.
type result struct {
	status int
	header http.Header
	body   string
	err    error
}

func invokeAs(p *proxy.Proxy, pr aiproxy.Principal, org, service, action string, envelope any) result {
	if envelope == nil {
		envelope = map[string]any{}
	}
	data, _ := json.Marshal(envelope)
	r := httptest.NewRequest(http.MethodPost, "/invoke", strings.NewReader(string(data)))
	r = r.WithContext(aiproxy.WithPrincipal(r.Context(), pr))
	w := httptest.NewRecorder()
	_, err := p.Invoke(w, r, org, service, action)
	return result{status: w.Code, header: w.Header(), body: w.Body.String(), err: err}
}

func invoke(p *proxy.Proxy, org, service, action string, envelope any) result {
	return invokeAs(p, aiproxy.Principal{KeyID: "key-" + org, OrgKey: org, Role: aiproxy.RoleInvoke}, org, service, action, envelope)
}

func wantCode(t *testing.T, what string, res result, code aiproxy.Code) *aiproxy.Error {
	t.Helper()
	var ae *aiproxy.Error
	if !errors.As(res.err, &ae) || ae.Code != code {
		t.Fatalf("%s: error %v (status %d %s), want %s", what, res.err, res.status, res.body, code)
	}
	return ae
}

func wantOK(t *testing.T, what string, res result) {
	t.Helper()
	if res.err != nil || res.status != 200 {
		t.Fatalf("%s: %d %v %.200s", what, res.status, res.err, res.body)
	}
}

var generateBody = map[string]any{"body": map[string]any{
	"video_inputs": []any{map[string]any{
		"character": map[string]any{"type": "avatar", "avatar_id": "Abigail_expressive_2024112501", "avatar_style": "normal"},
		"voice":     map[string]any{"type": "text", "input_text": "Hello.", "voice_id": "f38a635bee7a4d1f9b0a654a31d050d2"},
	}},
	"dimension": map[string]any{"width": 1280, "height": 720},
}}

func withTest(test any) map[string]any {
	b := map[string]any{}
	for k, v := range generateBody["body"].(map[string]any) {
		b[k] = v
	}
	if test != nil {
		b["test"] = test
	}
	return map[string]any{"body": b}
}

func TestRetries(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	p := e.proxy(proxy.Config{Retry: proxy.RetryPolicy{Attempts: 4, BaseDelay: time.Millisecond}})
	t.Run("list call survives provider faults", func(t *testing.T) {
		e.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Path: "/v2/voices", Status: 503, Count: 1})
		e.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Path: "/v2/voices", Reset: true, Count: 1})
		e.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Path: "/v2/voices", OK200Error: true, Count: 1})
		wantOK(t, "list-voices", invoke(p, "acme", "heygen", "list-voices", nil))
		if n := e.requests("GET", "/v2/voices"); n < 4 {
			t.Fatalf("sandbox saw %d list-voices requests, want at least 4 (3 faults, then success)", n)
		}
	})
	t.Run("generate is never repeated", func(t *testing.T) {
		e.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Path: "/v2/video/generate", Status: 503, Count: 1})
		res := invoke(p, "acme", "heygen", "generate-video", withTest(true))
		wantCode(t, "generate-video", res, aiproxy.CodeUpstreamFailed)
		if n := e.requests("POST", "/v2/video/generate"); n != 1 {
			t.Fatalf("generate-video reached the sandbox %d times, want exactly 1", n)
		}
	})
	t.Run("long Retry-After goes to the client", func(t *testing.T) {
		e.sb.ClearRequests()
		e.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Path: "/v2/voices", Status: 429, Count: 1,
			Header: http.Header{"Retry-After": {"7"}}})
		res := invoke(p, "acme", "heygen", "list-voices", nil)
		if res.status != 429 || res.header.Get("Retry-After") != "7" || e.requests("GET", "/v2/voices") != 1 {
			t.Fatalf("429 = %d %q after %d requests", res.status, res.header.Get("Retry-After"), e.requests("GET", "/v2/voices"))
		}
	})
	t.Run("200 with an error body is recognised", func(t *testing.T) {
		e.sb.ClearRequests()
		e.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Path: "/v2/voices", OK200Error: true})
		defer e.sb.ClearFaults()
		res := invoke(p, "acme", "heygen", "list-voices", nil)
		if res.status != 200 || !strings.Contains(res.body, "internal_error") || e.requests("GET", "/v2/voices") != 4 {
			t.Fatalf("persisting 200-with-error = %d %.100s after %d tries; want it retried 4 times, then passed on", res.status, res.body, e.requests("GET", "/v2/voices"))
		}
	})
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestBreakerOpensAndRecovers(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	c := &clock{t: time.Now()}
	p := e.proxy(proxy.Config{Breaker: breaker.New(2, time.Minute, c.now)})
	e.sb.InjectFault(sandbox.Fault{Provider: sandbox.ElevenLabs, Path: "/v1/voices", Status: 503})
	for range 2 {
		wantCode(t, "failing call", invoke(p, "acme", "elevenlabs", "list-voices", nil), aiproxy.CodeUpstreamFailed)
	}
	before := e.requests("GET", "/v1/voices")
	ae := wantCode(t, "open breaker", invoke(p, "acme", "elevenlabs", "list-voices", nil), aiproxy.CodeUpstreamFailed)
	if !errors.Is(ae, breaker.ErrOpen) || ae.RetryAfter != 60 || e.requests("GET", "/v1/voices") != before {
		t.Fatalf("open breaker: %v, Retry-After %d, requests %d → %d", ae, ae.RetryAfter, before, e.requests("GET", "/v1/voices"))
	}
	wantOK(t, "another org's credential", invoke(p, "beta", "elevenlabs", "list-models", nil))
	e.sb.ClearFaults()
	c.add(time.Minute)
	wantOK(t, "probe after cooldown", invoke(p, "acme", "elevenlabs", "list-voices", nil))
	wantOK(t, "closed again", invoke(p, "acme", "elevenlabs", "list-voices", nil))
}

func TestCacheNeverCrossesTenants(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	p := e.proxy(proxy.Config{Cache: cache.New(cache.NewMemory(0, nil), nil)})
	first := invoke(p, "acme", "heygen", "list-avatars", nil)
	wantOK(t, "acme miss", first)
	if got := first.header.Get(proxy.CacheHeader); got != "MISS" {
		t.Fatalf("first call cache = %q, want MISS", got)
	}
	if got := invoke(p, "acme", "heygen", "list-avatars", nil); got.header.Get(proxy.CacheHeader) != "HIT" || got.body != first.body {
		t.Fatalf("second call cache = %q", got.header.Get(proxy.CacheHeader))
	}
	if got := invoke(p, "beta", "heygen", "list-avatars", nil); got.header.Get(proxy.CacheHeader) != "MISS" {
		t.Fatalf("another tenant's first call = %q, want MISS", got.header.Get(proxy.CacheHeader))
	}
	keys := map[string]int{}
	for _, r := range e.sb.Requests() {
		keys[r.Header.Get("X-Api-Key")]++
	}
	if len(keys) != 2 || keys[e.creds["acme/heygen"]] != 1 || keys[e.creds["beta/heygen"]] != 1 {
		t.Fatalf("provider calls by key = %v, want one per tenant", keys)
	}

	t.Run("concurrent misses make one provider call", func(t *testing.T) {
		e.sb.ClearRequests()
		e.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Path: "/v2/avatars", Delay: 200 * time.Millisecond, Count: 1})
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() { wantOK(t, "gamma", invoke(p, "gamma", "heygen", "list-avatars", nil)) })
		}
		wg.Wait()
		if n := e.requests("GET", "/v2/avatars"); n != 1 {
			t.Fatalf("20 concurrent misses made %d provider calls, want 1", n)
		}
	})
	t.Run("errors are not cached", func(t *testing.T) {
		e.sb.InjectFault(sandbox.Fault{Provider: sandbox.ElevenLabs, Path: "/v1/models", Status: 500, Count: 1})
		wantCode(t, "500", invoke(p, "acme", "elevenlabs", "list-models", nil), aiproxy.CodeUpstreamFailed)
		wantOK(t, "after 500", invoke(p, "acme", "elevenlabs", "list-models", nil))
	})
}

func TestTestOnlyKeys(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	p := e.proxy(proxy.Config{})
	pr := aiproxy.Principal{KeyID: "dev", OrgKey: "acme", Role: aiproxy.RoleInvoke, TestOnly: true}
	wantCode(t, "test:false", invokeAs(p, pr, "acme", "heygen", "generate-video", withTest(false)), aiproxy.CodeInvalid)
	wantCode(t, "v3 without test mode", invokeAs(p, pr, "acme", "heygen", "v3-create-video", map[string]any{"body": map[string]any{}}), aiproxy.CodeForbidden)
	if n := e.requests("POST", "/v2/video/generate"); n != 0 {
		t.Fatalf("refused calls reached the provider %d times", n)
	}
	wantOK(t, "forced test mode", invokeAs(p, pr, "acme", "heygen", "generate-video", withTest(nil)))
	reqs := e.sb.Requests()
	var sent map[string]any
	_ = json.Unmarshal(reqs[len(reqs)-1].Body, &sent)
	if sent["test"] != true {
		t.Fatalf("upstream body test = %v, want true", sent["test"])
	}
	wantOK(t, "list with a test key", invokeAs(p, pr, "acme", "heygen", "list-voices", nil))
}

// meter collects usage records.
type meter struct {
	mu   sync.Mutex
	recs []aiproxy.UsageRecord
}

func (m *meter) Record(r aiproxy.UsageRecord) { m.mu.Lock(); m.recs = append(m.recs, r); m.mu.Unlock() }

func TestQuotaNeverOverspendsAndMeters(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	store := quota.NewMemory()
	_ = store.PutQuota(context.Background(), aiproxy.Quota{OrgKey: "acme", Service: "elevenlabs",
		Metric: aiproxy.MetricCharacters, Period: aiproxy.PeriodDay, Limit: 17 * 5})
	m := &meter{}
	p := e.proxy(proxy.Config{Quotas: quota.New(store, nil, 0), Meter: m})
	tts := map[string]any{"path_params": map[string]any{"voice_id": "21m00Tcm4TlvDq8ikWAM"}, "body": map[string]any{"text": "hello"}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	for range 50 {
		wg.Go(func() {
			res := invoke(p, "acme", "elevenlabs", "tts", tts)
			mu.Lock()
			defer mu.Unlock()
			codes[string(aiproxy.ErrorCode(res.err))+"/"+http.StatusText(res.status)]++
		})
	}
	wg.Wait()
	if codes["internal/OK"] != 17 || codes["quota_exceeded/OK"] != 33 {
		t.Fatalf("outcomes = %v; want 17 spoken and 33 refused", codes)
	}
	if n := e.requests("POST", "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM"); n != 17 {
		t.Fatalf("provider saw %d TTS calls, want 17", n)
	}
	var chars, refused int64
	for _, r := range m.recs {
		chars += r.Units
		if r.ErrorCode == aiproxy.CodeQuotaExceeded {
			refused++
		}
		if r.KeyID != "key-acme" || r.Service != "elevenlabs" || r.Action != "tts" {
			t.Fatalf("record = %+v", r)
		}
	}
	if len(m.recs) != 50 || chars != 85 || refused != 33 {
		t.Fatalf("%d records, %d characters, %d refused; want 50, 85, 33", len(m.recs), chars, refused)
	}
}

func TestRateLimitAndConcurrency(t *testing.T) {
	e := newEnv(t, sandbox.Config{MaxConcurrentTTS: 2, TTSLatency: 20 * time.Millisecond})
	p := e.proxy(proxy.Config{
		RateLimit:   &ratelimit.Policy{Rules: []ratelimit.Rule{{Scope: ratelimit.ScopeKey, Service: "heygen", Rate: 0.001, Burst: 3}}, Limiter: ratelimit.NewMemory(nil)},
		Concurrency: &concurrency.Policy{Rules: []concurrency.Rule{{Scope: concurrency.ScopeOrg, Service: "elevenlabs", Max: 2}}, Sem: concurrency.NewMemory(), QueueTimeout: 5 * time.Second},
	})
	for i := range 3 {
		res := invoke(p, "acme", "heygen", "list-voices", nil)
		wantOK(t, "within the limit", res)
		if res.header.Get("X-RateLimit-Limit") != "3" || res.header.Get("X-RateLimit-Remaining") != string(rune('2'-i)) {
			t.Fatalf("rate headers = %v", res.header)
		}
	}
	res := invoke(p, "acme", "heygen", "list-voices", nil)
	if ae := wantCode(t, "over the limit", res, aiproxy.CodeRateLimited); ae.RetryAfter < 1 || res.header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("refusal: Retry-After %d, headers %v", ae.RetryAfter, res.header)
	}
	tts := map[string]any{"path_params": map[string]any{"voice_id": "21m00Tcm4TlvDq8ikWAM"}, "body": map[string]any{"text": "hi"}}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { wantOK(t, "queued TTS", invoke(p, "acme", "elevenlabs", "tts", tts)) })
	}
	wg.Wait()
}

func TestDisabledEndpointIsNotFound(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	p := e.proxy(proxy.Config{Access: offFor{"acme": {Service: "heygen", Endpoint: "generate-video"}}})
	ae := wantCode(t, "disabled", invoke(p, "acme", "heygen", "generate-video", withTest(true)), aiproxy.CodeNotFound)
	if ae.Message != "External proxy service 'heygen/generate-video' not found or disabled." {
		t.Fatalf("message = %q", ae.Message)
	}
	wantOK(t, "other endpoint", invoke(p, "acme", "heygen", "list-voices", nil))
	wantOK(t, "other org", invoke(p, "beta", "heygen", "generate-video", withTest(true)))
}

type offFor map[string]aiproxy.AccessRule

func (o offFor) Disabled(_ context.Context, org, service, endpoint string) (bool, error) {
	r, ok := o[org]
	return ok && aiproxy.Disables([]aiproxy.AccessRule{r}, service, endpoint), nil
}

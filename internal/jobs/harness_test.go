package jobs

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/idempotency"
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/sandbox"
	"github.com/aiproxy/aiproxy/internal/sqlite"
	"github.com/aiproxy/aiproxy/internal/vault"
	"github.com/aiproxy/aiproxy/internal/webhooks"
)

// The keys the sandbox accepts: the platform's, shared by every org, and one
// tenant key per org.
const (
	platformKey = "hg-platform-key"
	acmeKey     = "hg-acme-key"
	betaKey     = "hg-beta-key"
	// providerSecret signs the sandbox's callback_url webhooks.
	providerSecret = "hg-webhook-secret"
)

// clock is a settable clock shared by the sandbox and aiproxy.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// harness is aiproxy's jobs in front of a sandbox HeyGen with a fake clock,
// on a SQLite file that a test may reopen to simulate a restart.
type harness struct {
	t      testing.TB
	clock  *clock
	sb     *sandbox.Server
	sbURL  string
	dbPath string
	db     *sqlite.DB
	vault  *vault.Vault
	cat    *catalog.Catalog
	proxy  *proxy.Proxy
	jobs   *Service
	cfg    Config
	// keys, outbox and receiver are the hooks and services that run with
	// jobs in serve: Idempotency-Key, webhooks out and in.
	keys      *idempotency.Keys
	outbox    *webhooks.Outbox
	outboxCfg webhooks.OutboxConfig
	receiver  *webhooks.Receiver
	// hooks is aiproxy's public base URL: it routes provider webhooks to
	// the current Service.
	hooks *httptest.Server
	// meter, when set, receives the proxy's usage records.
	meter proxy.Meter
	// outer and inner, when set, run around the job hooks and inside
	// them, as a test's crash points.
	outer, inner proxy.Hooks
}

// invoker is the proxy with the job hooks, as serve wires it.
func (h *harness) invoker() *proxy.Proxy {
	hs := []proxy.Hooks{h.keys, h.jobs}
	if h.outer != nil {
		hs = append([]proxy.Hooks{h.outer}, hs...)
	}
	if h.inner != nil {
		hs = append(hs, h.inner)
	}
	return h.proxy.WithHooks(hs...)
}

// crashHooks simulate the process dying when a hook's After runs: around
// the job hooks after the job was recorded, inside them before.
type crashHooks struct{}

func (crashHooks) Hook(*aiproxy.Endpoint) proxy.Hook { return crashHooks{} }

func (crashHooks) Before(context.Context, *proxy.Call) (*proxy.Answer, error) { return nil, nil }

func (crashHooks) After(context.Context, *proxy.Call, *proxy.Answer, error) (*proxy.Answer, error) {
	panic(http.ErrAbortHandler)
}

type harnessOption func(*harness)

// withConfig changes the jobs configuration before the Service is made.
func withConfig(f func(*Config)) harnessOption { return func(h *harness) { f(&h.cfg) } }

// withOutbox changes the webhook outbox's configuration before it is made.
func withOutbox(f func(*webhooks.OutboxConfig)) harnessOption {
	return func(h *harness) { f(&h.outboxCfg) }
}

func newHarness(t testing.TB, opts ...harnessOption) *harness {
	t.Helper()
	h := &harness{t: t, clock: &clock{now: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}}
	h.sb = sandbox.New(sandbox.Config{
		HeyGenKeys: []string{platformKey, acmeKey, betaKey}, RenderTime: 100 * time.Second,
		Now: h.clock.Now, WebhookSecret: providerSecret,
	})
	srv := httptest.NewServer(h.sb)
	t.Cleanup(srv.Close)
	h.sbURL = srv.URL
	h.hooks = httptest.NewServer(http.HandlerFunc(h.receive))
	t.Cleanup(h.hooks.Close)

	key, err := vault.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := vault.ParseMasterKey(key)
	if h.vault, err = vault.New(raw); err != nil {
		t.Fatal(err)
	}
	if h.cat, err = catalog.Load(catalog.Options{BaseURLs: map[string]string{"heygen": srv.URL + "/heygen"}}); err != nil {
		t.Fatal(err)
	}
	h.dbPath = filepath.Join(t.TempDir(), "aiproxy.db")
	h.cfg = Config{Now: h.clock.Now, PollInterval: 5 * time.Second, Deadline: time.Hour}
	h.outboxCfg = webhooks.OutboxConfig{Now: h.clock.Now,
		AllowPrivate: true} // the tests' receivers are on loopback
	for _, o := range opts {
		o(h)
	}
	h.open()
	ad := admin.New(h.db, h.vault, h.cat, h.clock.Now)
	ctx := context.Background()
	for _, org := range []string{"acme", "beta"} {
		if _, err := ad.CreateOrg(ctx, org, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ad.SetCredential(ctx, aiproxy.SourcePlatform, "", "heygen", aiproxy.CredentialValue{"key": platformKey}); err != nil {
		t.Fatal(err)
	}
	return h
}

// open opens the database and a fresh Service on it: a new process.
func (h *harness) open() {
	h.t.Helper()
	db, err := sqlite.Open(context.Background(), h.dbPath)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { db.Close() })
	h.db = db
	h.proxy = proxy.New(proxy.Config{Catalog: h.cat, Credentials: db, Vault: h.vault, Meter: h.meter})
	ocfg := h.outboxCfg
	ocfg.Store, ocfg.Vault = db, h.vault
	h.outbox = webhooks.NewOutbox(ocfg)
	cfg := h.cfg
	cfg.Store, cfg.Catalog, cfg.Proxy, cfg.OnEvent = db, h.cat, h.proxy, h.outbox.Wake
	h.jobs = New(cfg)
	h.keys = idempotency.New(idempotency.Config{Store: db, Now: h.clock.Now})
	h.receiver = webhooks.NewReceiver(webhooks.ReceiverConfig{Catalog: h.cat, Store: db, Jobs: h.jobs,
		Secrets: cfg.ProviderSecrets, Now: h.clock.Now})
}

// restart simulates a crash and restart: the old Service is dropped and a
// new one opens the same database file.
func (h *harness) restart() {
	h.t.Helper()
	h.outer, h.inner = nil, nil // a test's crash points were the old process's
	h.db.Close()
	h.open()
}

// setTenantKey gives an org its own HeyGen credential.
func (h *harness) setTenantKey(org, key string) {
	h.t.Helper()
	ad := admin.New(h.db, h.vault, h.cat, h.clock.Now)
	if _, err := ad.SetCredential(context.Background(), aiproxy.SourceTenant, org, "heygen", aiproxy.CredentialValue{"key": key}); err != nil {
		h.t.Fatal(err)
	}
}

// receive is aiproxy's provider webhook route.
func (h *harness) receive(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	service := strings.Trim(strings.TrimPrefix(r.URL.Path, "/api/ai-proxy/webhooks/"), "/")
	if err := h.receiver.ReceiveWebhook(r.Context(), service, r.Header, body); err != nil {
		w.WriteHeader(statusOf(err))
		return
	}
	w.WriteHeader(http.StatusOK)
}

func statusOf(err error) int {
	switch aiproxy.ErrorCode(err) {
	case aiproxy.CodeNotFound:
		return 404
	case aiproxy.CodeUnauthenticated:
		return 401
	case aiproxy.CodeConflict:
		return 409
	case aiproxy.CodeInvalid:
		return 400
	case aiproxy.CodeUpstreamFailed:
		return 502
	case aiproxy.CodeRateLimited:
		return 429
	}
	return 500
}

// response is a recorded invoke answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer %d is not JSON: %s", r.status, r.body)
	}
	return m
}

// invoke calls the jobs invoker as httpapi would, rendering an error like
// the contract: {"detail": ..., "code": ...}.
func (h *harness) invoke(org, action string, env any, header ...string) response {
	h.t.Helper()
	data, _ := json.Marshal(env)
	r := httptest.NewRequest(http.MethodPost, "/api/ai-proxy/orgs/"+org+"/services/heygen/"+action+"/", bytes.NewReader(data))
	r.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	_, err := h.invoker().Invoke(w, r, org, "heygen", action)
	if err != nil {
		var e *aiproxy.Error
		msg := "Internal server error."
		if errors.As(err, &e) {
			msg = e.Message
		}
		b, _ := json.Marshal(map[string]string{"detail": msg, "code": string(aiproxy.ErrorCode(err))})
		return response{status: statusOf(err), body: b}
	}
	return response{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// generateBody is a valid generate-video body speaking text.
func generateBody(text string) map[string]any {
	return map[string]any{
		"test": true,
		"video_inputs": []any{map[string]any{
			"character": map[string]any{"type": "avatar", "avatar_id": "Abigail_expressive_2024112501", "avatar_style": "normal"},
			"voice":     map[string]any{"type": "text", "input_text": text, "voice_id": "f38a635bee7a4d1f9b0a654a31d050d2"},
		}},
		"dimension": map[string]any{"width": 1280, "height": 720},
	}
}

// generate starts a render for an org and returns the provider's video id.
func (h *harness) generate(org, text string, header ...string) string {
	h.t.Helper()
	resp := h.invoke(org, "generate-video", map[string]any{"body": generateBody(text)}, header...)
	if resp.status != 200 {
		h.t.Fatalf("generate-video = %d: %s", resp.status, resp.body)
	}
	id, _ := aiproxy.LookupJSON(resp.json(h.t), "data.video_id")
	s, _ := id.(string)
	if s == "" {
		h.t.Fatalf("no video_id in %s", resp.body)
	}
	return s
}

// status calls video-status for a video id.
func (h *harness) status(org, videoID string, header ...string) response {
	h.t.Helper()
	return h.invoke(org, "video-status", map[string]any{"query": map[string]any{"video_id": videoID}}, header...)
}

// job returns the stored job of a video.
func (h *harness) job(videoID string) aiproxy.Job {
	h.t.Helper()
	j, err := h.db.JobByProviderID(context.Background(), "heygen", videoID)
	if err != nil {
		h.t.Fatalf("job of %s: %v", videoID, err)
	}
	return j
}

// providerCalls counts the sandbox requests with a method and path.
func (h *harness) providerCalls(method, path string) int {
	n := 0
	for _, r := range h.sb.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

func (h *harness) statusCalls() int   { return h.providerCalls("GET", "/v1/video_status.get") }
func (h *harness) generateCalls() int { return h.providerCalls("POST", "/v2/video/generate") }

// track runs tracking passes, advancing the clock by step before each.
func (h *harness) track(passes int, step time.Duration) {
	for range passes {
		h.clock.Advance(step)
		h.jobs.TrackOnce(context.Background())
	}
}

func hexMAC(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

package livesession

import (
	"bytes"
	"context"
	"encoding/json"
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
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/sandbox"
	"github.com/aiproxy/aiproxy/internal/sqlite"
	"github.com/aiproxy/aiproxy/internal/vault"
)

const (
	tenantKey   = "la-tenant-key-0123456789abcdef"
	platformKey = "la-platform-key-0123456789abcdef"
	avatar      = "5d6fb07c-9ea8-41c2-9f65-40bc8e9dab05"
	heygenKey   = "hg-tenant-key-0123456789abcdef"
)

// clock is a settable clock shared by the sandbox, the hook and the
// reaper.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// harness is an in-process proxy with the sessions' hook on a real SQLite
// store, sending to the sandbox's LiveAvatar.
type harness struct {
	t        *testing.T
	clock    *clock
	sb       *sandbox.Server
	db       *sqlite.DB
	cat      *catalog.Catalog
	proxy    *proxy.Proxy
	invoker  *proxy.Proxy
	sessions *Sessions
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Now().UTC().Truncate(time.Millisecond)}
	sb := sandbox.New(sandbox.Config{LiveAvatarKeys: []string{tenantKey, platformKey}, HeyGenKeys: []string{heygenKey}, Now: clk.now})
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	cat, err := catalog.Load(catalog.Options{BaseURLs: map[string]string{"liveavatar": srv.URL + "/liveavatar", "heygen": srv.URL + "/heygen"}})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "aiproxy.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	v, err := vault.New(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	adm := admin.New(db, v, cat, nil)
	for _, org := range []string{"acme", "other"} {
		if _, err := adm.CreateOrg(ctx, org, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := adm.SetCredential(ctx, aiproxy.SourceTenant, "acme", "liveavatar", aiproxy.CredentialValue{"key": tenantKey}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.SetCredential(ctx, aiproxy.SourcePlatform, "", "liveavatar", aiproxy.CredentialValue{"key": platformKey}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.SetCredential(ctx, aiproxy.SourceTenant, "acme", "heygen", aiproxy.CredentialValue{"key": heygenKey}); err != nil {
		t.Fatal(err)
	}
	p := proxy.New(proxy.Config{Catalog: cat, Credentials: db, Vault: v})
	cfg.Store, cfg.Now = db, clk.now
	if cfg.Quotas == nil {
		cfg.Quotas = db
	}
	s := New(cfg)
	return &harness{t: t, clock: clk, sb: sb, db: db, cat: cat, proxy: p, invoker: p.WithHooks(s), sessions: s}
}

// call invokes a LiveAvatar action as a principal, with a Bearer when
// bearer is set, and returns the status and body (or the error's code).
func (h *harness) call(pr aiproxy.Principal, org, action, bearer string, body any) (int, []byte, aiproxy.Code) {
	h.t.Helper()
	env, _ := json.Marshal(map[string]any{"body": body})
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(env))
	r.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	r = r.WithContext(aiproxy.WithPrincipal(context.Background(), pr))
	w := httptest.NewRecorder()
	_, err := h.invoker.Invoke(w, r, org, "liveavatar", action)
	if err != nil {
		return 0, nil, aiproxy.ErrorCode(err)
	}
	return w.Code, w.Body.Bytes(), ""
}

// mint mints a session for acme as pr and returns its id and token.
func (h *harness) mint(pr aiproxy.Principal, body map[string]any) (string, string) {
	h.t.Helper()
	status, out, code := h.call(pr, "acme", ActionMint, "", body)
	var env struct {
		Data struct {
			SessionID    string `json:"session_id"`
			SessionToken string `json:"session_token"`
		} `json:"data"`
	}
	if status != 200 || json.Unmarshal(out, &env) != nil || env.Data.SessionToken == "" {
		h.t.Fatalf("mint = %d %s %s", status, code, out)
	}
	return env.Data.SessionID, env.Data.SessionToken
}

// calls counts the sandbox's LiveAvatar requests to a path.
func (h *harness) calls(path string) int {
	n := 0
	for _, r := range h.sb.Requests() {
		if r.Provider == sandbox.LiveAvatar && r.Path == path {
			n++
		}
	}
	return n
}

func (h *harness) session(id string) aiproxy.LiveSession {
	h.t.Helper()
	s, err := h.db.LiveSession(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// livePrincipal is the principal a session token authenticates as.
func (h *harness) livePrincipal(token string) aiproxy.Principal {
	h.t.Helper()
	p, ok, err := h.sessions.VerifyLiveSession(context.Background(), "liveavatar", token)
	if !ok || err != nil {
		h.t.Fatalf("VerifyLiveSession = %v, %v", ok, err)
	}
	return p
}

var (
	orgKey = aiproxy.Principal{Kind: aiproxy.KindKey, KeyID: "k1", OrgKey: "acme", Role: aiproxy.RoleInvoke}
	alice  = aiproxy.Principal{Kind: aiproxy.KindUserToken, KeyID: "k1", OrgKey: "acme", Role: aiproxy.RoleInvoke, User: "alice"}
	bob    = aiproxy.Principal{Kind: aiproxy.KindUserToken, KeyID: "k1", OrgKey: "acme", Role: aiproxy.RoleInvoke, User: "bob"}
)

func fullBody(extra map[string]any) map[string]any {
	b := map[string]any{"mode": "FULL", "avatar_id": avatar, "avatar_persona": map[string]any{"language": "en"}}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func TestSessionLife(t *testing.T) {
	h := newHarness(t, Config{MaxSession: 10 * time.Minute})
	id, token := h.mint(alice, fullBody(map[string]any{"max_session_duration": 7200}))
	s := h.session(id)
	if s.State != aiproxy.LiveSessionCreated || s.OrgKey != "acme" || s.User != "alice" || s.MaxDuration != 10*time.Minute ||
		s.ReservedMinutes != 10 || s.Source != aiproxy.SourceTenant || s.Mode != "FULL" || !bytes.Equal(s.TokenHash, aiproxy.HashSessionToken(token)) {
		t.Fatalf("recorded %+v", s)
	}
	// The provider was asked for the clamped length.
	var asked struct {
		MaxSessionDuration int `json:"max_session_duration"`
	}
	for _, r := range h.sb.Requests() {
		if r.Path == "/v1/sessions/token" {
			_ = json.Unmarshal(r.Body, &asked)
		}
	}
	if asked.MaxSessionDuration != 600 {
		t.Fatalf("the provider was asked for %d s, want 600", asked.MaxSessionDuration)
	}
	live := h.livePrincipal(token)
	if live.OrgKey != "acme" || live.User != "alice" || live.LiveSession != id || !live.Member() ||
		live.CanUseAction("liveavatar", ActionMint) || !live.CanUseAction("liveavatar", ActionStart) {
		t.Fatalf("session principal %+v", live)
	}
	if status, out, code := h.call(live, "acme", ActionStart, token, nil); status != 201 {
		t.Fatalf("start = %d %s %s", status, code, out)
	}
	h.clock.add(time.Minute)
	if status, out, code := h.call(live, "acme", ActionKeepAlive, token, map[string]any{}); status != 200 {
		t.Fatalf("keep-alive = %d %s %s", status, code, out)
	}
	s = h.session(id)
	if s.State != aiproxy.LiveSessionStarted || s.StartedAt.IsZero() || !s.LastKeepAlive.After(s.StartedAt) {
		t.Fatalf("after start and keep-alive %+v", s)
	}
	// A session token stops only its own session, whatever the body says.
	if status, out, code := h.call(live, "acme", ActionStop, token, map[string]any{"session_id": "someone-else"}); status != 200 {
		t.Fatalf("stop = %d %s %s", status, code, out)
	}
	var stopped struct {
		SessionID string `json:"session_id"`
	}
	for _, r := range h.sb.Requests() {
		if r.Path == "/v1/sessions/stop" {
			_ = json.Unmarshal(r.Body, &stopped)
			if r.Header.Get("X-Api-Key") != "" || r.Header.Get("Authorization") != "Bearer "+token {
				t.Errorf("stop went upstream with X-API-KEY %q, Authorization %q", r.Header.Get("X-Api-Key"), r.Header.Get("Authorization"))
			}
		}
	}
	if stopped.SessionID != id {
		t.Fatalf("stop sent session_id %q, want %q", stopped.SessionID, id)
	}
	s = h.session(id)
	if s.State != aiproxy.LiveSessionStopped || s.StoppedBy != "client" || s.EndReason != aiproxy.EndUserClosed {
		t.Fatalf("after stop %+v", s)
	}
	if _, _, err := h.sessions.VerifyLiveSession(context.Background(), "liveavatar", token); aiproxy.ErrorCode(err) != aiproxy.CodeUnauthenticated {
		t.Fatalf("a stopped session's token: %v", err)
	}
}

func TestSessionsRefused(t *testing.T) {
	h := newHarness(t, Config{Caps: aiproxy.LiveSessionCaps{PerOrg: 2}})
	id, token := h.mint(alice, fullBody(nil))
	tests := []struct {
		name   string
		pr     aiproxy.Principal
		org    string
		action string
		bearer string
		body   any
		want   aiproxy.Code
	}{
		{"another user stops it", bob, "acme", ActionStop, "", map[string]any{"session_id": id}, aiproxy.CodeNotFound},
		{"another user keeps it alive", bob, "acme", ActionKeepAlive, "", map[string]any{"session_id": id}, aiproxy.CodeNotFound},
		{"another org's key stops it", aiproxy.Principal{Kind: aiproxy.KindKey, OrgKey: "other", Role: aiproxy.RoleInvoke},
			"other", ActionStop, "", map[string]any{"session_id": id}, aiproxy.CodeNotFound},
		{"an unknown session on the platform credential", aiproxy.Principal{Kind: aiproxy.KindKey, OrgKey: "other", Role: aiproxy.RoleInvoke},
			"other", ActionStop, "", map[string]any{"session_id": "not-minted-here"}, aiproxy.CodeNotFound},
		{"a key starts without a session token", orgKey, "acme", ActionStart, tenantKey, nil, aiproxy.CodeForbidden},
		{"a session token mints", h.livePrincipal(token), "acme", ActionMint, token, fullBody(nil), aiproxy.CodeForbidden},
		{"a session token lists sessions", h.livePrincipal(token), "acme", "list-sessions", token, nil, aiproxy.CodeForbidden},
		{"a body that is no object", orgKey, "acme", ActionMint, "", []any{1}, aiproxy.CodeInvalid},
		{"a test-only key mints a paid session", aiproxy.Principal{Kind: aiproxy.KindKey, OrgKey: "acme", Role: aiproxy.RoleInvoke, TestOnly: true},
			"acme", ActionMint, "", fullBody(map[string]any{"is_sandbox": false}), aiproxy.CodeInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.sb.Requests())
			status, out, code := h.call(tc.pr, tc.org, tc.action, tc.bearer, tc.body)
			if code != tc.want {
				t.Fatalf("= %d %s %s, want %s", status, code, out, tc.want)
			}
			if n := len(h.sb.Requests()); n != before {
				t.Fatalf("%d calls reached the provider", n-before)
			}
		})
	}
	if s := h.session(id); s.State != aiproxy.LiveSessionCreated {
		t.Fatalf("the session changed: %+v", s)
	}
	// The org's cap: one more fits, the next is refused before the provider.
	h.mint(alice, fullBody(nil))
	before := h.calls("/v1/sessions/token")
	if status, out, code := h.call(alice, "acme", ActionMint, "", fullBody(nil)); code != aiproxy.CodeRateLimited {
		t.Fatalf("a mint over the cap = %d %s %s", status, code, out)
	}
	if h.calls("/v1/sessions/token") != before {
		t.Fatal("a mint over the cap reached the provider")
	}
}

func TestMinutesQuota(t *testing.T) {
	h := newHarness(t, Config{MaxSession: 30 * time.Minute})
	ctx := context.Background()
	if err := h.db.PutQuota(ctx, aiproxy.Quota{OrgKey: "acme", Service: "liveavatar", Metric: aiproxy.MetricLiveMinutes,
		Period: aiproxy.PeriodDay, Limit: 40}); err != nil {
		t.Fatal(err)
	}
	id, token := h.mint(orgKey, fullBody(nil))
	before := h.calls("/v1/sessions/token")
	if status, out, code := h.call(orgKey, "acme", ActionMint, "", fullBody(nil)); code != aiproxy.CodeQuotaExceeded {
		t.Fatalf("a mint past the minutes quota = %d %s %s", status, code, out)
	}
	if h.calls("/v1/sessions/token") != before {
		t.Fatal("a mint past the quota reached the provider")
	}
	// A sandbox session holds no minutes, and a test-only key's session is
	// always one.
	h.mint(orgKey, fullBody(map[string]any{"is_sandbox": true, "avatar_id": "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"}))
	testOnly := aiproxy.Principal{Kind: aiproxy.KindKey, OrgKey: "acme", Role: aiproxy.RoleInvoke, TestOnly: true}
	sandboxID, _ := h.mint(testOnly, fullBody(map[string]any{"avatar_id": "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"}))
	if s := h.session(sandboxID); !s.Sandbox || s.ReservedMinutes != 0 {
		t.Fatalf("a test-only key's session: %+v", s)
	}
	// The session runs 90 s and is stopped; the reaper settles the quota
	// to its 2 started minutes.
	if status, out, code := h.call(h.livePrincipal(token), "acme", ActionStart, token, nil); status != 201 {
		t.Fatalf("start = %d %s %s", status, code, out)
	}
	h.clock.add(90 * time.Second)
	if status, out, code := h.call(orgKey, "acme", ActionStop, "", map[string]any{"session_id": id}); status != 200 {
		t.Fatalf("stop = %d %s %s", status, code, out)
	}
	h.clock.add(time.Minute)
	r := NewReaper(ReaperConfig{Store: h.db, Fetcher: h.proxy, Catalog: h.cat, Quotas: h.db, Now: h.clock.now})
	if _, err := r.Reap(ctx); err != nil {
		t.Fatal(err)
	}
	s := h.session(id)
	if s.ReconciledAt.IsZero() || s.DurationSeconds < 90 || s.DurationSeconds > 91 {
		t.Fatalf("reconciled %+v", s)
	}
	uses, err := h.db.Quotas(ctx, "acme", h.clock.now())
	if err != nil || len(uses) != 1 || uses[0].Used != 2 {
		t.Fatalf("quota use = %+v, %v, want 2 minutes", uses, err)
	}
}

func TestReaperStopsOnce(t *testing.T) {
	h := newHarness(t, Config{MaxSession: 2 * time.Minute})
	ctx := context.Background()
	long, longToken := h.mint(orgKey, fullBody(nil))
	never, _ := h.mint(orgKey, fullBody(nil))
	second, secondToken := h.mint(orgKey, fullBody(nil))
	for _, tok := range []string{longToken, secondToken} {
		if status, out, code := h.call(h.livePrincipal(tok), "acme", ActionStart, tok, nil); status != 201 {
			t.Fatalf("start = %d %s %s", status, code, out)
		}
	}
	h.clock.add(90 * time.Second)
	h.mint(orgKey, fullBody(nil)) // minted just now: not due
	h.clock.add(40 * time.Second) // long and second are past their 2 minutes, never past its grace
	meter := &meterSpy{}
	reapers := make([]*Reaper, 3)
	for i := range reapers {
		reapers[i] = NewReaper(ReaperConfig{Store: h.db, Fetcher: h.proxy, Catalog: h.cat, Quotas: h.db, Meter: meter,
			Now: h.clock.now, Due: aiproxy.LiveSessionDue{StartGrace: time.Minute, Idle: 10 * time.Minute}})
	}
	var wg sync.WaitGroup
	for _, r := range reapers {
		wg.Go(func() {
			if _, err := r.Reap(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	stops := map[string]int{}
	for _, r := range h.sb.Requests() {
		if r.Path == "/v1/sessions/stop" {
			var b struct {
				SessionID string `json:"session_id"`
				Reason    string `json:"reason"`
			}
			_ = json.Unmarshal(r.Body, &b)
			stops[b.SessionID+" "+b.Reason]++
			if r.Header.Get("X-Api-Key") != tenantKey || r.Header.Get("Authorization") != "" {
				t.Errorf("the reaper stopped with X-API-KEY %q, Authorization %q", r.Header.Get("X-Api-Key"), r.Header.Get("Authorization"))
			}
		}
	}
	want := map[string]int{long + " MAX_DURATION_REACHED": 1, never + " ZOMBIE_SESSION_REAP": 1, second + " MAX_DURATION_REACHED": 1}
	if len(stops) != len(want) {
		t.Fatalf("stops = %v, want %v", stops, want)
	}
	for k, n := range want {
		if stops[k] != n {
			t.Errorf("stops[%s] = %d, want %d (all: %v)", k, stops[k], n, stops)
		}
	}
	for _, id := range []string{long, never} {
		if s := h.session(id); s.State != aiproxy.LiveSessionStopped || s.StoppedBy != "reaper" || s.ReconciledAt.IsZero() {
			t.Errorf("%s after the reap: %+v", id, s)
		}
	}
	if n := meter.count(); n != 3 {
		t.Errorf("%d usage records, want 3", n)
	}
}

// meterSpy counts usage records.
type meterSpy struct {
	mu   sync.Mutex
	recs []aiproxy.UsageRecord
}

func (m *meterSpy) Record(r aiproxy.UsageRecord) {
	m.mu.Lock()
	m.recs = append(m.recs, r)
	m.mu.Unlock()
}

func (m *meterSpy) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.recs {
		if r.Unit != aiproxy.MetricLiveMinutes || r.Action != UsageAction || !strings.HasPrefix(r.Service, "liveavatar") {
			return -1
		}
	}
	return len(m.recs)
}

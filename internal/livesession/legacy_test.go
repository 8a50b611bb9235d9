package livesession

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// callHeyGen invokes a legacy streaming action of acme's HeyGen as a
// principal, with a Bearer when bearer is set.
func (h *harness) callHeyGen(pr aiproxy.Principal, action, bearer string, body any) (int, []byte, aiproxy.Code) {
	h.t.Helper()
	env, _ := json.Marshal(map[string]any{"body": body})
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(env))
	r.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	r = r.WithContext(aiproxy.WithPrincipal(context.Background(), pr))
	w := httptest.NewRecorder()
	if _, err := h.invoker.Invoke(w, r, "acme", "heygen", action); err != nil {
		return 0, nil, aiproxy.ErrorCode(err)
	}
	return w.Code, w.Body.Bytes(), ""
}

// heygenCalls counts the sandbox's HeyGen requests to a path.
func (h *harness) heygenCalls(path string) int {
	n := 0
	for _, r := range h.sb.Requests() {
		if r.Provider == sandbox.HeyGen && r.Path == path {
			n++
		}
	}
	return n
}

// legacyToken mints a legacy streaming token for acme as pr.
func (h *harness) legacyToken(pr aiproxy.Principal) string {
	h.t.Helper()
	status, out, code := h.callHeyGen(pr, LegacyMint, "", map[string]any{})
	var env struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	if status != 200 || json.Unmarshal(out, &env) != nil || env.Data.Token == "" {
		h.t.Fatalf("create_token = %d %s %s", status, code, out)
	}
	return env.Data.Token
}

func TestLegacyStreamingLife(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, Config{MaxSession: 10 * time.Minute})
	token := h.legacyToken(alice)
	row, err := h.db.LiveSessionByToken(ctx, aiproxy.HashSessionToken(token))
	if err != nil || !Unbound(row.ID) || row.Service != "heygen" || row.State != aiproxy.LiveSessionCreated || row.User != "alice" ||
		row.Mode != LegacyMode || row.MaxDuration != 10*time.Minute || row.ReservedMinutes != 10 || row.Source != aiproxy.SourceTenant {
		t.Fatalf("token row = %+v, %v", row, err)
	}
	if _, ok, _ := h.sessions.VerifyLiveSession(ctx, "liveavatar", token); ok {
		t.Fatal("a HeyGen token is taken on LiveAvatar's route")
	}
	pr, ok, err := h.sessions.VerifyLiveSession(ctx, "heygen", token)
	if !ok || err != nil || pr.LiveSession != row.ID || pr.User != "alice" {
		t.Fatalf("VerifyLiveSession = %+v, %v, %v", pr, ok, err)
	}

	// No session yet: its calls are refused before the provider.
	if _, _, code := h.callHeyGen(pr, LegacyStart, token, map[string]any{}); code != aiproxy.CodeConflict {
		t.Fatalf("start before streaming.new = %q", code)
	}
	status, out, code := h.callHeyGen(pr, LegacyNew, token, map[string]any{})
	var made struct {
		Data struct {
			SessionID string `json:"session_id"`
		} `json:"data"`
	}
	if status != 200 || json.Unmarshal(out, &made) != nil || made.Data.SessionID == "" {
		t.Fatalf("streaming.new = %d %s %s", status, code, out)
	}
	id := made.Data.SessionID
	if s := h.session(id); !bytes.Equal(s.TokenHash, aiproxy.HashSessionToken(token)) || s.State != aiproxy.LiveSessionCreated {
		t.Fatalf("bound %+v", s)
	}
	// A second streaming.new is refused before the provider: verified
	// before the bind (a race) or after it.
	before := h.heygenCalls("/v1/streaming.new")
	if _, _, code := h.callHeyGen(pr, LegacyNew, token, map[string]any{}); code != aiproxy.CodeConflict {
		t.Fatalf("second streaming.new, verified before the bind = %q", code)
	}
	pr, _, _ = h.sessions.VerifyLiveSession(ctx, "heygen", token)
	if pr.LiveSession != id {
		t.Fatalf("the token acts as %q, want %q", pr.LiveSession, id)
	}
	if _, _, code := h.callHeyGen(pr, LegacyNew, token, map[string]any{}); code != aiproxy.CodeConflict {
		t.Fatalf("second streaming.new = %q", code)
	}
	if h.heygenCalls("/v1/streaming.new") != before {
		t.Fatal("the refused streaming.new reached the provider")
	}
	// The body's session_id is the token's own session, whatever it says.
	if status, out, code := h.callHeyGen(pr, LegacyStart, token, map[string]any{"session_id": "not-mine"}); status != 200 {
		t.Fatalf("start = %d %s %s", status, code, out)
	}
	h.clock.add(time.Minute)
	if status, out, code := h.callHeyGen(pr, LegacyTask, token, map[string]any{"text": "Hello."}); status != 200 {
		t.Fatalf("task = %d %s %s", status, code, out)
	}
	s := h.session(id)
	if s.State != aiproxy.LiveSessionStarted || s.StartedAt.IsZero() || !s.LastKeepAlive.After(s.StartedAt) {
		t.Fatalf("after start and task %+v", s)
	}
	// bob, a member, may not act on alice's session.
	if _, _, code := h.callHeyGen(bob, LegacyStop, "", map[string]any{"session_id": id}); code != aiproxy.CodeNotFound {
		t.Fatalf("bob's stop = %q", code)
	}
	if h.heygenCalls("/v1/streaming.stop") != 0 {
		t.Fatal("bob's stop reached the provider")
	}

	// Past its length, the reaper stops it with streaming.stop and
	// reconciles from aiproxy's own times.
	h.clock.add(10 * time.Minute)
	r := NewReaper(ReaperConfig{Store: h.db, Fetcher: h.proxy, Catalog: h.cat, Quotas: h.db, Now: h.clock.now})
	if n, err := r.Reap(ctx); err != nil || n != 1 {
		t.Fatalf("Reap = %d, %v", n, err)
	}
	s = h.session(id)
	if s.State != aiproxy.LiveSessionStopped || s.StoppedBy != "reaper" || s.EndReason != aiproxy.EndMaxDuration ||
		s.ReconciledAt.IsZero() || s.DurationSeconds != 660 {
		t.Fatalf("reaped %+v", s)
	}
	var stop map[string]any
	for _, r := range h.sb.Requests() {
		if r.Provider == sandbox.HeyGen && r.Path == "/v1/streaming.stop" {
			_ = json.Unmarshal(r.Body, &stop)
		}
	}
	if len(stop) != 1 || stop["session_id"] != id {
		t.Fatalf("the provider's stop got %v", stop)
	}
	if _, _, err := h.sessions.VerifyLiveSession(ctx, "heygen", token); aiproxy.ErrorCode(err) != aiproxy.CodeUnauthenticated {
		t.Fatalf("token of a stopped session: %v", err)
	}
}

func TestLegacyTokenUnusedIsReapedWithoutTheProvider(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, Config{Caps: aiproxy.LiveSessionCaps{PerOrg: 1}})
	token := h.legacyToken(orgKey)
	if _, _, code := h.callHeyGen(orgKey, LegacyMint, "", map[string]any{}); code != aiproxy.CodeRateLimited {
		t.Fatalf("mint over the cap = %q", code)
	}
	h.clock.add(DefaultStartGrace + time.Second)
	r := NewReaper(ReaperConfig{Store: h.db, Fetcher: h.proxy, Catalog: h.cat, Quotas: h.db, Now: h.clock.now})
	if n, err := r.Reap(ctx); err != nil || n != 1 {
		t.Fatalf("Reap = %d, %v", n, err)
	}
	if h.heygenCalls("/v1/streaming.stop") != 0 {
		t.Fatal("an unused token's reap reached the provider")
	}
	if _, _, err := h.sessions.VerifyLiveSession(ctx, "heygen", token); aiproxy.ErrorCode(err) != aiproxy.CodeUnauthenticated {
		t.Fatalf("reaped token: %v", err)
	}
	// The cap has room again, and a test-only key mints nothing.
	h.legacyToken(orgKey)
	testOnly := orgKey
	testOnly.TestOnly = true
	if _, _, code := h.callHeyGen(testOnly, LegacyMint, "", map[string]any{}); code != aiproxy.CodeForbidden {
		t.Fatalf("test-only mint = %q", code)
	}
}

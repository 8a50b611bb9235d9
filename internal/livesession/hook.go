package livesession

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// Store is what the hook and the verifier need of storage.
type Store interface {
	ClaimLiveSession(ctx context.Context, s aiproxy.LiveSession, caps aiproxy.LiveSessionCaps, now time.Time) (aiproxy.LiveSessionCapScope, error)
	RecordLiveSession(ctx context.Context, claimID string, s aiproxy.LiveSession) error
	ReleaseLiveSession(ctx context.Context, claimID string) error
	LiveSession(ctx context.Context, id string) (aiproxy.LiveSession, error)
	LiveSessionByToken(ctx context.Context, hash []byte) (aiproxy.LiveSession, error)
	MarkLiveSessionStarted(ctx context.Context, id string, at time.Time) error
	MarkLiveSessionAlive(ctx context.Context, id string, at time.Time) error
	BindLiveSession(ctx context.Context, tokenID, sessionID string) error
	StopLiveSession(ctx context.Context, id string, at time.Time, reason, by string) (bool, error)
}

// Quotas holds an org's live minutes and gives them back.
type Quotas interface {
	ReserveQuota(ctx context.Context, org, service string, d aiproxy.Demand, at time.Time) error
	ReleaseQuota(ctx context.Context, org, service string, d aiproxy.Demand, at time.Time) error
}

// DefaultMaxSession is the longest a session may run when Config says
// nothing.
const DefaultMaxSession = 30 * time.Minute

// DefaultService is the service whose sessions are tracked.
const DefaultService = "liveavatar"

// The endpoints of the service, by catalog slug, that the hook claims.
const (
	ActionMint      = "create-session-token"
	ActionStart     = "start-session"
	ActionKeepAlive = "keep-alive"
	ActionStop      = "stop-session"
	ActionClose     = "close-session"
	ActionGet       = "get-session"
)

// claimTTL bounds a claim whose holder died before the mint's answer.
const claimTTL = 2 * time.Minute

// Config configures the sessions' hook. Store is required.
type Config struct {
	Store Store
	// Quotas holds live minutes for each session; nil holds none.
	Quotas Quotas
	// Service is the LiveAvatar service's slug; "" means DefaultService.
	Service string
	// LegacyService is the slug of the service with HeyGen's legacy
	// streaming endpoints; "" means DefaultLegacyService.
	LegacyService string
	// MaxSession is the longest a session may run; a mint that asks for
	// more, or says nothing, is clamped to it. 0 means DefaultMaxSession.
	MaxSession time.Duration
	// Caps caps concurrent sessions per org and per credential.
	Caps aiproxy.LiveSessionCaps
	// Log receives what could not be recorded; nil discards.
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Sessions gives the service's session endpoints their hook and verifies
// the session tokens aiproxy minted. Wire it inside ownership:
//
//	invoker := p.WithHooks(owners, sessions, keys, jobs, …)
type Sessions struct {
	cfg      Config
	log      *slog.Logger
	flavours map[string]flavour // by service slug
	claims   sync.Map           // *proxy.Call → aiproxy.LiveSession, a mint's claim
	used     sync.Map           // *proxy.Call → string, the session a use acts on
	binding  sync.Map           // a legacy token's row id → struct{}, while its streaming.new runs
}

var _ proxy.Hooks = (*Sessions)(nil)

// New returns the sessions' hook.
func New(cfg Config) *Sessions {
	if cfg.Service == "" {
		cfg.Service = DefaultService
	}
	if cfg.LegacyService == "" {
		cfg.LegacyService = DefaultLegacyService
	}
	if cfg.MaxSession <= 0 {
		cfg.MaxSession = DefaultMaxSession
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sessions{cfg: cfg, log: log, flavours: flavours(cfg.Service, cfg.LegacyService)}
}

// flavours are the tracked services' session endpoints.
func flavours(service, legacy string) map[string]flavour {
	return map[string]flavour{service: liveAvatarFlavour(service), legacy: legacyFlavour(legacy)}
}

// Service returns the slug of the LiveAvatar service whose sessions are
// tracked.
func (s *Sessions) Service() string { return s.cfg.Service }

// Hook gives the hook of a session endpoint, nil for any other. The hooks
// act only on calls of their own service.
func (s *Sessions) Hook(ep *aiproxy.Endpoint) proxy.Hook {
	for _, fl := range s.flavours {
		switch {
		case ep.Slug == fl.mint:
			return mintHook{s: s, fl: fl}
		case ep.Slug == fl.bind:
			return bindHook{s: s, fl: fl}
		case fl.isUse(ep.Slug):
			return useHook{s: s, fl: fl, action: ep.Slug}
		}
	}
	return nil
}

// mintHook caps, clamps and records the sessions a mint makes.
type mintHook struct {
	s  *Sessions
	fl flavour
}

// Before refuses a mint over a cap or the live-minutes quota, clamps its
// max_session_duration, and holds room for it.
func (h mintHook) Before(ctx context.Context, c *proxy.Call) (*proxy.Answer, error) {
	s := h.s
	if c.Service.Slug != h.fl.service {
		return nil, nil
	}
	pr, _ := c.Principal()
	if pr.Kind == aiproxy.KindLiveSession {
		return nil, aiproxy.Errorf(aiproxy.CodeForbidden, "A session token may not mint sessions.")
	}
	body, err := objectBody(c.Envelope.Body)
	if err != nil {
		return nil, err
	}
	if h.fl.legacy {
		return h.legacyBefore(ctx, c, pr)
	}
	if pr.TestOnly {
		// A test-only key spends no credits: its sessions are sandbox ones.
		if v, ok := body["is_sandbox"]; ok && string(bytes.TrimSpace(v)) != "true" {
			return nil, aiproxy.Errorf(aiproxy.CodeInvalid, "This API key is test-only: body field \"is_sandbox\" must be true.")
		}
		body["is_sandbox"] = json.RawMessage("true")
	}
	length := s.clamp(body)
	body["max_session_duration"] = json.RawMessage(jsonInt(int64(length / time.Second)))
	out, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	c.SetBody(out)
	src, err := c.Resolve(ctx)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	claim := aiproxy.LiveSession{ID: aiproxy.NewID("lsc_"), Service: h.fl.service, OrgKey: c.Org, User: pr.User,
		KeyID: pr.KeyID, Source: src, Mode: stringField(body, "mode", "FULL"), Sandbox: string(body["is_sandbox"]) == "true",
		MaxDuration: length, State: aiproxy.LiveSessionClaimed, CreatedAt: now, ExpiresAt: now.Add(claimTTL)}
	if !claim.Sandbox {
		claim.ReservedMinutes = minutes(length)
	}
	return nil, h.claim(ctx, c, claim, now)
}

// legacyBefore claims room for a legacy streaming token: HeyGen's
// create_token takes no length and has no sandbox, so the session may run
// MaxSession (the reaper stops it then) and a test-only key mints none.
func (h mintHook) legacyBefore(ctx context.Context, c *proxy.Call, pr aiproxy.Principal) (*proxy.Answer, error) {
	s := h.s
	if pr.TestOnly {
		return nil, aiproxy.Errorf(aiproxy.CodeForbidden, "This API key is test-only: HeyGen's legacy streaming has no sandbox sessions.")
	}
	src, err := c.Resolve(ctx)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	claim := aiproxy.LiveSession{ID: aiproxy.NewID("lsc_"), Service: h.fl.service, OrgKey: c.Org, User: pr.User,
		KeyID: pr.KeyID, Source: src, Mode: LegacyMode, MaxDuration: s.cfg.MaxSession,
		ReservedMinutes: minutes(s.cfg.MaxSession), State: aiproxy.LiveSessionClaimed, CreatedAt: now, ExpiresAt: now.Add(claimTTL)}
	return nil, h.claim(ctx, c, claim, now)
}

// claim holds room under the caps and the live-minutes quota for a mint.
func (h mintHook) claim(ctx context.Context, c *proxy.Call, claim aiproxy.LiveSession, now time.Time) error {
	s := h.s
	full, err := s.cfg.Store.ClaimLiveSession(ctx, claim, s.cfg.Caps, now)
	if err != nil {
		return err
	}
	if full != aiproxy.LiveCapNone {
		return s.capReached(full)
	}
	if err := s.reserve(ctx, claim, now); err != nil {
		s.release(claim)
		return err
	}
	c.Detach() // once the provider may mint, aiproxy must learn the session
	s.claims.Store(c, claim)
	c.Defer(func() { s.claims.Delete(c) })
	return nil
}

// After records the session the provider minted before the client gets
// its token, or frees the claim and the minutes when none was minted.
func (h mintHook) After(ctx context.Context, c *proxy.Call, a *proxy.Answer, err error) (*proxy.Answer, error) {
	s := h.s
	v, held := s.claims.LoadAndDelete(c)
	if !held {
		return a, err
	}
	claim := v.(aiproxy.LiveSession)
	var minted struct {
		SessionID    string `json:"session_id"`
		SessionToken string `json:"session_token"`
		Token        string `json:"token"` // legacy: a token, its session still to come
	}
	if err == nil && a != nil {
		_ = readData(a, &minted, h.fl.okCode)
	}
	if h.fl.legacy {
		minted.SessionID, minted.SessionToken = aiproxy.NewID(unboundPrefix), minted.Token
	}
	if minted.SessionID == "" || minted.SessionToken == "" {
		s.release(claim)
		s.giveBack(claim, claim.ReservedMinutes)
		return a, err
	}
	sess := claim
	sess.ID, sess.TokenHash, sess.State = minted.SessionID, aiproxy.HashSessionToken(minted.SessionToken), aiproxy.LiveSessionCreated
	sess.ExpiresAt = time.Time{}
	if rerr := s.cfg.Store.RecordLiveSession(ctx, claim.ID, sess); rerr != nil {
		// The client never gets a token aiproxy cannot track: without it the
		// session is never started and bills nothing.
		s.log.Error("live session minted but not recorded", "service", sess.Service, "session_id", sess.ID, "err", rerr)
		a.Close()
		s.release(claim)
		s.giveBack(claim, claim.ReservedMinutes)
		return nil, aiproxy.Errorf(aiproxy.CodeUnavailable, "The session could not be recorded; retry shortly.")
	}
	return a, nil
}

// useHook keeps a start, keep-alive or stop to the caller's own session
// and records it.
type useHook struct {
	s      *Sessions
	fl     flavour
	action string
}

// Before finds the session the call acts on: a session token's own (the
// body's session_id set to it), or the body's session_id for a key. A
// session of another org, or for a member of another user, is the
// contract's 404 with no provider call; on the platform's shared
// credential so is a session aiproxy never minted.
func (h useHook) Before(ctx context.Context, c *proxy.Call) (*proxy.Answer, error) {
	s := h.s
	if c.Service.Slug != h.fl.service {
		return nil, nil
	}
	pr, _ := c.Principal()
	live := pr.Kind == aiproxy.KindLiveSession
	id := ""
	if live {
		id = pr.LiveSession
		if Unbound(id) {
			return nil, aiproxy.Errorf(aiproxy.CodeConflict, "This token has no session yet: create it with streaming.new first.")
		}
		if h.fl.bodyID(h.action) {
			body, err := objectBody(c.Envelope.Body)
			if err != nil {
				return nil, err
			}
			body["session_id"] = json.RawMessage(jsonString(id))
			out, err := json.Marshal(body)
			if err != nil {
				return nil, err
			}
			c.SetBody(out)
		}
	} else if h.fl.bodyID(h.action) {
		body, err := objectBody(c.Envelope.Body)
		if err != nil {
			return nil, err
		}
		id = stringField(body, "session_id", "")
	}
	if id == "" {
		return nil, nil // a key's start or close: refused before the provider (client_bearer)
	}
	sess, err := s.cfg.Store.LiveSession(ctx, id)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return nil, s.unknown(ctx, c, pr, id)
	}
	if err != nil {
		return nil, err
	}
	if sess.OrgKey != c.Org || (pr.Member() && !live && sess.User != pr.User) || sess.Service != c.Service.Slug {
		return nil, errNotFound(c.Service.Slug, id)
	}
	if h.action == h.fl.start && sess.State == aiproxy.LiveSessionStopped {
		return nil, aiproxy.Errorf(aiproxy.CodeConflict, "Live session '%s' has stopped (%s).", id, sess.EndReason)
	}
	c.Pin(sess.Source)
	s.used.Store(c, sess.ID)
	c.Defer(func() { s.used.Delete(c) })
	return nil, nil
}

// unknown decides on a session aiproxy has no record of: an org key on its
// own credential may act on its own account's sessions; anyone else is
// told it does not exist.
func (s *Sessions) unknown(ctx context.Context, c *proxy.Call, pr aiproxy.Principal, id string) error {
	if pr.Member() {
		return errNotFound(c.Service.Slug, id)
	}
	src, err := c.Resolve(ctx)
	if err != nil {
		return err
	}
	if src == aiproxy.SourcePlatform {
		return errNotFound(c.Service.Slug, id)
	}
	return nil
}

// After records what the provider did: a start, a keep-alive or a stop.
func (h useHook) After(ctx context.Context, c *proxy.Call, a *proxy.Answer, err error) (*proxy.Answer, error) {
	s := h.s
	v, ok := s.used.LoadAndDelete(c)
	if !ok || err != nil || a == nil || a.Status < 200 || a.Status > 299 || !succeeded(a, h.fl.okCode) {
		return a, err
	}
	id, now := v.(string), s.cfg.Now()
	var rerr error
	switch h.action {
	case h.fl.start:
		rerr = s.cfg.Store.MarkLiveSessionStarted(ctx, id, now)
	case h.fl.stop, h.fl.close:
		reason := aiproxy.EndUserClosed
		if body, berr := objectBody(c.Envelope.Body); berr == nil {
			reason = stringField(body, "reason", reason)
		}
		_, rerr = s.cfg.Store.StopLiveSession(ctx, id, now, reason, "client")
	default: // a keep-alive, or a legacy task, interrupt or listening call
		rerr = s.cfg.Store.MarkLiveSessionAlive(ctx, id, now)
	}
	if rerr != nil && !errors.Is(rerr, aiproxy.ErrNotFound) {
		s.log.Error("record live session "+h.action, "session_id", id, "err", rerr)
	}
	return a, nil
}

// bindHook lets a legacy token create its one session through aiproxy,
// and binds the token's row to the session it created.
type bindHook struct {
	s  *Sessions
	fl flavour
}

// Before refuses a token whose session exists (409, before the provider):
// through aiproxy a token creates one session, that aiproxy tracks. A key
// or user token is left to the client_bearer refusal.
func (h bindHook) Before(ctx context.Context, c *proxy.Call) (*proxy.Answer, error) {
	s := h.s
	pr, _ := c.Principal()
	if c.Service.Slug != h.fl.service || pr.Kind != aiproxy.KindLiveSession {
		return nil, nil
	}
	id := pr.LiveSession
	if !Unbound(id) {
		return nil, aiproxy.Errorf(aiproxy.CodeConflict,
			"This token has already created live session '%s'; through aiproxy a token creates one session.", id)
	}
	if _, busy := s.binding.LoadOrStore(id, struct{}{}); busy {
		return nil, aiproxy.Errorf(aiproxy.CodeConflict, "This token is already creating its session.")
	}
	c.Defer(func() { s.binding.Delete(id) })
	sess, err := s.cfg.Store.LiveSession(ctx, id)
	if errors.Is(err, aiproxy.ErrNotFound) { // bound since the token was verified
		return nil, aiproxy.Errorf(aiproxy.CodeConflict, "This token has already created its session; through aiproxy a token creates one session.")
	}
	if err != nil {
		return nil, err
	}
	c.Pin(sess.Source)
	c.Detach() // once the provider may create the session, aiproxy must learn it
	s.used.Store(c, id)
	c.Defer(func() { s.used.Delete(c) })
	return nil, nil
}

// After binds the token's row to the session the provider created. A
// session that cannot be bound (another replica's streaming.new with the
// same token won) is not handed to the client.
func (h bindHook) After(ctx context.Context, c *proxy.Call, a *proxy.Answer, err error) (*proxy.Answer, error) {
	s := h.s
	v, ok := s.used.LoadAndDelete(c)
	if !ok || err != nil || a == nil {
		return a, err
	}
	var made struct {
		SessionID string `json:"session_id"`
	}
	if readData(a, &made, h.fl.okCode) != nil || made.SessionID == "" {
		return a, nil
	}
	if berr := s.cfg.Store.BindLiveSession(ctx, v.(string), made.SessionID); berr != nil {
		s.log.Error("legacy live session created but not bound", "service", h.fl.service, "session_id", made.SessionID, "err", berr)
		a.Close()
		if errors.Is(berr, aiproxy.ErrNotFound) {
			return nil, aiproxy.Errorf(aiproxy.CodeConflict, "This token has already created its session; through aiproxy a token creates one session.")
		}
		return nil, aiproxy.Errorf(aiproxy.CodeUnavailable, "The session could not be recorded; retry shortly.")
	}
	return a, nil
}

// clamp returns the session length a mint asks for, within MaxSession.
func (s *Sessions) clamp(body map[string]json.RawMessage) time.Duration {
	var secs float64
	if err := json.Unmarshal(body["max_session_duration"], &secs); err != nil || secs < 1 || secs >= s.cfg.MaxSession.Seconds() {
		return s.cfg.MaxSession
	}
	return time.Duration(secs) * time.Second
}

// reserve holds a session's minutes on the org's live-minutes quota.
func (s *Sessions) reserve(ctx context.Context, claim aiproxy.LiveSession, now time.Time) error {
	if s.cfg.Quotas == nil || claim.ReservedMinutes == 0 {
		return nil
	}
	err := s.cfg.Quotas.ReserveQuota(ctx, claim.OrgKey, claim.Service,
		aiproxy.Demand{aiproxy.MetricLiveMinutes: claim.ReservedMinutes}, now)
	var qe *aiproxy.QuotaExceededError
	if errors.As(err, &qe) {
		return aiproxy.ErrQuotaExceeded(qe, now)
	}
	return err
}

// giveBack returns n of a session's reserved minutes, off the request.
func (s *Sessions) giveBack(sess aiproxy.LiveSession, n int64) {
	if s.cfg.Quotas == nil || n <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.cfg.Quotas.ReleaseQuota(ctx, sess.OrgKey, sess.Service, aiproxy.Demand{aiproxy.MetricLiveMinutes: n}, sess.CreatedAt); err != nil {
		s.log.Error("release live minutes", "org", sess.OrgKey, "session_id", sess.ID, "err", err)
	}
}

// release removes a claim that minted nothing; it stops counting when it
// expires anyway.
func (s *Sessions) release(claim aiproxy.LiveSession) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.cfg.Store.ReleaseLiveSession(ctx, claim.ID); err != nil {
		s.log.Error("release live session claim", "org", claim.OrgKey, "err", err)
	}
}

// capReached is the refusal of a mint over a cap.
func (s *Sessions) capReached(scope aiproxy.LiveSessionCapScope) *aiproxy.Error {
	who, n := "this org", s.cfg.Caps.PerOrg
	if scope == aiproxy.LiveCapCredential {
		who, n = "this credential", s.cfg.Caps.PerCredential
	}
	e := aiproxy.Errorf(aiproxy.CodeRateLimited,
		"Too many live %s sessions for %s (at most %d at once); retry when one has stopped.", s.cfg.Service, who, n)
	e.RetryAfter = 10
	return e
}

func errNotFound(service, id string) *aiproxy.Error {
	return aiproxy.ErrObjectNotFound("Live session", service, id)
}

// minutes is a length in started minutes.
func minutes(d time.Duration) int64 { return int64(math.Ceil(d.Minutes())) }

// objectBody reads a JSON object body; no body is an empty object.
func objectBody(raw json.RawMessage) (map[string]json.RawMessage, error) {
	body := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(raw)) == 0 {
		return body, nil
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid request envelope: body must be a JSON object.")
	}
	if body == nil {
		body = map[string]json.RawMessage{}
	}
	return body, nil
}

// stringField returns a body's string field, or def.
func stringField(body map[string]json.RawMessage, name, def string) string {
	var v string
	if json.Unmarshal(body[name], &v) != nil || v == "" {
		return def
	}
	return v
}

func jsonString(s string) []byte { b, _ := json.Marshal(s); return b }

func jsonInt(n int64) []byte { b, _ := json.Marshal(n); return b }

// maxAnswer bounds the provider answers read whole.
const maxAnswer = 1 << 20

// readData decodes the "data" of a provider's envelope whose code, if
// any, is ok.
func readData(a *proxy.Answer, v any, ok string) error {
	if a.Status < 200 || a.Status > 299 {
		return io.ErrUnexpectedEOF
	}
	b, err := a.Bytes(maxAnswer)
	if err != nil {
		return err
	}
	return decodeData(b, v, ok)
}

// decodeData decodes the "data" of an envelope whose code says success
// (ok, or none at all).
func decodeData(b []byte, v any, ok string) error {
	var env struct {
		Code *json.Number    `json:"code"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return err
	}
	if env.Code != nil && env.Code.String() != ok {
		return errors.New("provider error code " + env.Code.String())
	}
	return json.Unmarshal(env.Data, v)
}

// succeeded reports whether a 2xx answer's envelope says success (ok, or
// no code).
func succeeded(a *proxy.Answer, ok string) bool {
	b, err := a.Bytes(maxAnswer)
	if err != nil {
		return false
	}
	var env struct {
		Code *json.Number `json:"code"`
	}
	if json.Unmarshal(b, &env) != nil {
		return len(bytes.TrimSpace(b)) == 0
	}
	return env.Code == nil || env.Code.String() == ok
}

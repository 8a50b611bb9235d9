package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// LiveAvatar sessions: minting, start, stop, keep-alive, the lazily evaluated lifecycle and
// its credits, and the session lists.

// sandboxAvatarID is the only avatar an is_sandbox session may use.
const sandboxAvatarID = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"

// laEndReasons are the reasons a session can end with, as stop's reason accepts them.
var laEndReasons = []string{
	"UNKNOWN", "USER_DISCONNECTED", "SERVER_ERROR", "IDLE_TIMEOUT", "NO_CREDITS", "USER_CLOSED",
	"AVATAR_DELETED", "MAX_DURATION_REACHED", "ZOMBIE_SESSION_REAP", "AGENT_HANG_UP",
}

// laSession is one LiveAvatar session; Server.mu guards it.
type laSession struct {
	id, key, avatarID string
	mode              string // FULL or LITE
	sandbox           bool
	maxDur            time.Duration
	created           time.Time
	started, ended    time.Time // zero until then
	lastAlive         time.Time // start or last keep-alive
	nextCharge        time.Time // the next minute boundary to charge
	endReason         string
	credits           int
	transcript        []laLine
	done              chan struct{} // closed when the session ends
}

// laLine is one transcript entry.
type laLine struct {
	Role     string  `json:"role"`
	Text     string  `json:"transcript"`
	Absolute string  `json:"absolute_timestamp"`
	Relative float64 `json:"relative_timestamp"`
}

// liveAvatarState is LiveAvatar's sessions and contexts; Server.mu guards it.
type liveAvatarState struct {
	secret   []byte // signs session tokens
	sessions map[string]*laSession
	order    []*laSession // oldest first
	contexts map[string][]*laContext
}

// newLiveAvatarState returns an empty state whose token secret follows from seed.
func newLiveAvatarState(seed int64) liveAvatarState {
	sum := sha256.Sum256(fmt.Appendf(nil, "liveavatar-sandbox-%d", seed))
	return liveAvatarState{secret: sum[:], sessions: map[string]*laSession{}, contexts: map[string][]*laContext{}}
}

// running reports whether ss has started and not ended.
func (ss *laSession) running() bool { return !ss.started.IsZero() && ss.ended.IsZero() }

// rate is the credits ss costs a minute.
func (ss *laSession) rate() int {
	switch {
	case ss.sandbox:
		return 0
	case ss.mode == "FULL":
		return 2
	}
	return 1
}

// newUUID returns a random version-4 UUID from the server's seeded generator.
func (s *Server) newUUID() string {
	h := []byte(s.newID(lowerHex, 32))
	h[12] = '4'
	h[16] = "89ab"[strings.IndexByte(lowerHex, h[16])%4]
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

// laTokenTTL is how long a session token is valid beyond its session's maximum duration.
const laTokenTTL = time.Hour

// laMintToken returns a JWT-shaped session token for ss.
func (s *Server) laMintToken(ss *laSession) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	payload, _ := json.Marshal(map[string]any{
		"session_id": ss.id, "iat": ss.created.Unix(), "exp": ss.created.Add(laTokenTTL + ss.maxDur).Unix(),
	})
	signed := head + "." + enc.EncodeToString(payload)
	return signed + "." + enc.EncodeToString(s.laSign(signed))
}

// laSign is the token signature of signed.
func (s *Server) laSign(signed string) []byte {
	m := hmac.New(sha256.New, s.la.secret)
	m.Write([]byte(signed))
	return m.Sum(nil)
}

// laVerifyToken checks a session token's signature and expiry and returns its session's id
// and key.
func (s *Server) laVerifyToken(token string) (id, key string, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", "", false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, s.laSign(parts[0]+"."+parts[1])) {
		return "", "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		SessionID string `json:"session_id"`
		Exp       int64  `json:"exp"`
	}
	if err != nil || json.Unmarshal(raw, &claims) != nil || s.now().Unix() >= claims.Exp {
		return "", "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.la.sessions[claims.SessionID]
	if ss == nil {
		return "", "", false
	}
	return ss.id, ss.key, true
}

// laWalletLocked is what key may spend in all: its own credits if set, else every key's.
// s.mu must be held.
func (s *Server) laWalletLocked(key string) int {
	if u := s.perKey[keyRef{LiveAvatar, key}]; u != nil && u.creditLimit != nil {
		return *u.creditLimit
	}
	if s.cfg.LiveAvatarCredits > 0 {
		return s.cfg.LiveAvatarCredits
	}
	return 100
}

// laUsedLocked is the credits key's sessions have consumed. s.mu must be held.
func (s *Server) laUsedLocked(key string) int {
	used := 0
	for _, ss := range s.la.order {
		if ss.key == key {
			used += ss.credits
		}
	}
	return used
}

// LiveAvatarCredits returns the credits key has left at LiveAvatar, after charging its
// sessions up to now.
func (s *Server) LiveAvatarCredits(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.laSettleLocked(key)
	return s.laWalletLocked(key) - s.laUsedLocked(key)
}

// laConfigDuration returns d, or def when d is not positive.
func laConfigDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// laIdleTimeout, laMaxDuration and laSandboxDuration are the lifecycle's limits.
func (s *Server) laIdleTimeout() time.Duration {
	return laConfigDuration(s.cfg.LiveAvatarIdleTimeout, 5*time.Minute)
}

func (s *Server) laMaxDuration() time.Duration {
	return laConfigDuration(s.cfg.LiveAvatarMaxDuration, 20*time.Minute)
}

func (s *Server) laSandboxDuration() time.Duration {
	return laConfigDuration(s.cfg.LiveAvatarSandboxDuration, time.Minute)
}

// nextEvent returns the time of ss's next lifecycle event and the end reason it brings, ""
// for a minute to charge. An end at the same instant as a charge comes first.
func (s *Server) laNextEvent(ss *laSession) (time.Time, string) {
	at, reason := ss.lastAlive.Add(s.laIdleTimeout()), "IDLE_TIMEOUT"
	if limit := ss.started.Add(ss.maxDur); !limit.After(at) {
		at, reason = limit, "MAX_DURATION_REACHED"
	}
	if ss.rate() > 0 && ss.nextCharge.Before(at) {
		return ss.nextCharge, ""
	}
	return at, reason
}

// laSettleLocked plays key's running sessions forward to now, in time order across them
// (they share one wallet): it charges started minutes and ends sessions that timed out, hit
// their maximum or ran out of credits. s.mu must be held.
func (s *Server) laSettleLocked(key string) {
	now := s.now()
	for {
		var next *laSession
		var at time.Time
		var reason string
		for _, ss := range s.la.order {
			if ss.key != key || !ss.running() {
				continue
			}
			t, r := s.laNextEvent(ss)
			if t.After(now) || (next != nil && !t.Before(at)) {
				continue
			}
			next, at, reason = ss, t, r
		}
		switch {
		case next == nil:
			return
		case reason != "":
			laEndLocked(next, at, reason)
		case s.laWalletLocked(key)-s.laUsedLocked(key) < next.rate():
			laEndLocked(next, at, "NO_CREDITS")
		default:
			next.credits += next.rate()
			next.nextCharge = next.nextCharge.Add(time.Minute)
		}
	}
}

// laEndLocked ends ss at at for reason. Server.mu must be held.
func laEndLocked(ss *laSession, at time.Time, reason string) {
	if !ss.ended.IsZero() {
		return
	}
	if !ss.started.IsZero() && at.Before(ss.started) {
		at = ss.started
	}
	ss.ended, ss.endReason = at, reason
	close(ss.done)
}

// laSessionLocked returns key's session id, settled to now; nil when there is none or it
// belongs to another key. s.mu must be held.
func (s *Server) laSessionLocked(key, id string) *laSession {
	ss := s.la.sessions[id]
	if ss == nil || ss.key != key {
		return nil
	}
	s.laSettleLocked(key)
	return ss
}

// laSessionNotFound is the 404 for a session that does not exist for the caller.
func laSessionNotFound() *apiError {
	return laError(http.StatusNotFound, laCodeNotFound, "Session not found")
}

// laStart answers POST /v1/sessions/start.
func (s *Server) laStart(w http.ResponseWriter, c *call) error {
	id, err := s.laAuthorizeBearer(c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	ss := s.laSessionLocked(c.key, id)
	failed := ""
	switch {
	case ss == nil:
		s.mu.Unlock()
		return laSessionNotFound()
	case !ss.ended.IsZero():
		failed = "Session already ended"
	case !ss.started.IsZero():
		failed = "Session already started"
	case s.laWalletLocked(c.key)-s.laUsedLocked(c.key) < ss.rate():
		failed = "Insufficient credits"
	default:
		now := s.now()
		ss.started, ss.lastAlive, ss.nextCharge = now, now, now.Add(time.Minute)
		ss.credits = ss.rate() // the escrowed first minute
		s.usageLocked(LiveAvatar, c.key).stats.JobStarts++
	}
	mode, maxDur := ss.mode, ss.maxDur
	s.mu.Unlock()
	if failed != "" {
		writeJSON(w, http.StatusOK, map[string]any{"code": laCodeFailed, "data": nil, "message": failed})
		return nil
	}
	data := map[string]any{
		"session_id":           id,
		"livekit_url":          "wss://liveavatar-sandbox.livekit.invalid",
		"livekit_client_token": s.laFakeLiveKitToken(id, "client"),
		"livekit_agent_token":  nil,
		"max_session_duration": int(maxDur / time.Second),
		"ws_url":               nil,
	}
	if mode == "LITE" {
		data["livekit_agent_token"] = s.laFakeLiveKitToken(id, "agent")
		data["ws_url"] = laSocketURL(c.r, id, strings.TrimPrefix(c.r.Header.Get("Authorization"), "Bearer "))
	}
	return laData(w, http.StatusCreated, data)
}

// laFakeLiveKitToken returns a JWT-shaped LiveKit token that no LiveKit server accepts.
func (s *Server) laFakeLiveKitToken(sessionID, identity string) string {
	enc := base64.RawURLEncoding
	payload, _ := json.Marshal(map[string]any{"sub": identity, "video": map[string]any{"room": sessionID, "roomJoin": true}})
	signed := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(payload)
	return signed + "." + enc.EncodeToString(s.laSign(signed))
}

// laSocketURL is the LITE socket URL for session id, on the host the client called.
func laSocketURL(r *http.Request, id, token string) string {
	scheme := "ws"
	if r.TLS != nil {
		scheme = "wss"
	}
	return fmt.Sprintf("%s://%s/%s/v1/ws/lite/%s?session_token=%s", scheme, r.Host, LiveAvatar, id, token)
}

// laSessionRef is the body of stop and keep-alive.
type laSessionRef struct {
	SessionID *string `json:"session_id"`
	Reason    *string `json:"reason"`
}

// laTarget authorizes a stop or keep-alive and returns the session it is about: the token's,
// or with the API key the body's session_id, which is then required.
func (s *Server) laTarget(c *call) (laSessionRef, string, error) {
	tokenSession, err := s.laAuthorizeEither(c)
	if err != nil {
		return laSessionRef{}, "", err
	}
	var ref laSessionRef
	if err := decodeLABody(c, &ref, true); err != nil {
		return ref, "", err
	}
	if ref.SessionID == nil || *ref.SessionID == "" {
		if tokenSession == "" {
			return ref, "", laError(http.StatusBadRequest, laCodeFailed, "session_id is required with an API key")
		}
		return ref, tokenSession, nil
	}
	if tokenSession != "" && *ref.SessionID != tokenSession {
		return ref, "", laSessionNotFound()
	}
	return ref, *ref.SessionID, nil
}

// laStop answers POST /v1/sessions/stop.
func (s *Server) laStop(w http.ResponseWriter, c *call) error {
	ref, id, err := s.laTarget(c)
	if err != nil {
		return err
	}
	reason := "USER_CLOSED"
	if ref.Reason != nil {
		if !slices.Contains(laEndReasons, *ref.Reason) {
			return unprocessable(fieldError{Loc: []any{"body", "reason"}, Type: "enum", Input: *ref.Reason,
				Msg: "Input should be " + strings.Join(laEndReasons, ", ")})
		}
		reason = *ref.Reason
	}
	return s.laEnd(w, c.key, id, reason)
}

// laDelete answers DELETE /v1/sessions, the official demo's stop.
func (s *Server) laDelete(w http.ResponseWriter, c *call) error {
	id, err := s.laAuthorizeBearer(c)
	if err != nil {
		return err
	}
	return s.laEnd(w, c.key, id, "USER_CLOSED")
}

// laEnd ends key's session id for reason; a session that has ended already is left as is.
func (s *Server) laEnd(w http.ResponseWriter, key, id, reason string) error {
	s.mu.Lock()
	ss := s.laSessionLocked(key, id)
	if ss != nil {
		laEndLocked(ss, s.now(), reason)
	}
	s.mu.Unlock()
	if ss == nil {
		return laSessionNotFound()
	}
	return laData(w, http.StatusOK, nil)
}

// laKeepAlive answers POST /v1/sessions/keep-alive.
func (s *Server) laKeepAlive(w http.ResponseWriter, c *call) error {
	_, id, err := s.laTarget(c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	ss := s.laSessionLocked(c.key, id)
	running := ss != nil && ss.running()
	if running {
		ss.lastAlive = s.now()
	}
	s.mu.Unlock()
	switch {
	case ss == nil:
		return laSessionNotFound()
	case !running:
		writeJSON(w, http.StatusOK, map[string]any{"code": laCodeFailed, "data": nil, "message": "Session is not active"})
		return nil
	}
	return laData(w, http.StatusOK, nil)
}

// laSessionJSON is a session as the lists and GET /v1/sessions/{id} show it.
type laSessionJSON struct {
	ID              string  `json:"id"`
	AvatarID        string  `json:"avatar_id"`
	Duration        int     `json:"duration"`
	Source          string  `json:"source"`
	Mode            string  `json:"mode"`
	IsSandbox       bool    `json:"is_sandbox"`
	CreditsConsumed int     `json:"credits_consumed"`
	CreatedAt       string  `json:"created_at"`
	StartedAt       *string `json:"started_at"`
	EndedAt         *string `json:"ended_at"`
	Status          string  `json:"status"`
	EndReason       *string `json:"end_reason"`
}

// laSessionItemLocked renders ss at now. s.mu must be held.
func (s *Server) laSessionItemLocked(ss *laSession) laSessionJSON {
	stamp := func(t time.Time) *string {
		if t.IsZero() {
			return nil
		}
		v := t.UTC().Format(time.RFC3339)
		return &v
	}
	out := laSessionJSON{
		ID: ss.id, AvatarID: ss.avatarID, Source: "API", Mode: ss.mode, IsSandbox: ss.sandbox,
		CreditsConsumed: ss.credits, CreatedAt: ss.created.UTC().Format(time.RFC3339),
		StartedAt: stamp(ss.started), EndedAt: stamp(ss.ended), Status: "CREATED",
	}
	if !ss.started.IsZero() {
		out.Status = "ACTIVE"
		end := s.now()
		if !ss.ended.IsZero() {
			end = ss.ended
		}
		out.Duration = int(end.Sub(ss.started) / time.Second)
	}
	if !ss.ended.IsZero() {
		out.Status = "ENDED"
		out.EndReason = &ss.endReason
	}
	return out
}

// laListSessions answers GET /v1/sessions?type=active|historic.
func (s *Server) laListSessions(w http.ResponseWriter, c *call) error {
	kind := c.r.URL.Query().Get("type")
	if kind == "" {
		kind = "active"
	}
	if kind != "active" && kind != "historic" {
		return unprocessable(fieldError{Loc: []any{"query", "type"}, Type: "enum", Input: kind,
			Msg: "Input should be 'active' or 'historic'"})
	}
	page, size, err := laPage(c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.laSettleLocked(c.key)
	var items []laSessionJSON
	for _, ss := range slices.Backward(s.la.order) {
		if ss.key != c.key || (kind == "active" && !ss.running()) || (kind == "historic" && ss.ended.IsZero()) {
			continue
		}
		items = append(items, s.laSessionItemLocked(ss))
	}
	s.mu.Unlock()
	return laPaged(w, c, items, page, size)
}

// laGetSession answers GET /v1/sessions/{session_id}.
func (s *Server) laGetSession(w http.ResponseWriter, c *call) error {
	s.mu.Lock()
	ss := s.laSessionLocked(c.key, c.params["session_id"])
	var item laSessionJSON
	if ss != nil {
		item = s.laSessionItemLocked(ss)
	}
	s.mu.Unlock()
	if ss == nil {
		return laSessionNotFound()
	}
	return laData(w, http.StatusOK, item)
}

// laTranscript answers GET /v1/sessions/{session_id}/transcript.
func (s *Server) laTranscript(w http.ResponseWriter, c *call) error {
	s.mu.Lock()
	ss := s.laSessionLocked(c.key, c.params["session_id"])
	var lines []laLine
	active := false
	if ss != nil {
		lines, active = slices.Clone(ss.transcript), ss.running()
	}
	s.mu.Unlock()
	if ss == nil {
		return laSessionNotFound()
	}
	if lines == nil {
		lines = []laLine{}
	}
	return laData(w, http.StatusOK, map[string]any{"session_active": active, "transcript_data": lines})
}

// EndLiveAvatarSession ends a LiveAvatar session now with reason (for example
// "AVATAR_DELETED" or "SERVER_ERROR"), as the provider may end one on its own. It reports
// false when there is no such session or it has ended already.
func (s *Server) EndLiveAvatarSession(id, reason string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.la.sessions[id]
	if ss == nil {
		return false
	}
	s.laSettleLocked(ss.key)
	if !ss.ended.IsZero() {
		return false
	}
	laEndLocked(ss, s.now(), reason)
	return true
}

// controlEndLiveAvatar answers POST /_sandbox/liveavatar/end {"session_id","reason"}: 204,
// or 404 when the session does not exist or has ended.
func (s *Server) controlEndLiveAvatar(w http.ResponseWriter, r *http.Request) {
	var body struct {
		SessionID string `json:"session_id"`
		Reason    string `json:"reason"`
	}
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body)
	if err == nil && !slices.Contains(laEndReasons, body.Reason) {
		err = errors.New("want {\"session_id\":\"...\",\"reason\":\"SERVER_ERROR\"|...}")
	}
	switch {
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	case !s.EndLiveAvatarSession(body.SessionID, body.Reason):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no running or unstarted session " + body.SessionID})
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

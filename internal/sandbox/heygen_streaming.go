package sandbox

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// HeyGen's legacy streaming API (Interactive Avatar): POST /v1/streaming.* in the v1
// envelope, with a browser token from streaming.create_token. Sessions end lazily when a
// request looks at them after their idle timeout or duration limit.

// Legacy streaming limits and error codes (the package doc lists them).
const (
	hgsTokenTTL        = time.Hour
	hgsDurationLimit   = 600 * time.Second
	hgsDefaultIdle     = 120
	hgsCodeNotFound    = 10005
	hgsCodeStarted     = 10004
	hgsCodeNotStarted  = 10006
	hgsCodeBadRequest  = 40001
	hgsMinIdle         = 30
	hgsMaxIdle         = 3600
	hgsMillisPerLetter = 60
)

// hgStream is one legacy streaming session; Server.mu guards it.
type hgStream struct {
	id, key    string
	status     string // new, connected or closed
	created    time.Time
	lastActive time.Time
	idle       time.Duration
}

// streamingState is HeyGen's legacy streaming sessions and tokens; Server.mu guards it.
type streamingState struct {
	sessions map[string]*hgStream
	order    []*hgStream
	tokens   map[string]hgsToken
}

// hgsToken is a browser token: the key it stands for and when it expires.
type hgsToken struct {
	key string
	exp time.Time
}

// newStreamingState returns an empty state.
func newStreamingState() streamingState {
	return streamingState{sessions: map[string]*hgStream{}, tokens: map[string]hgsToken{}}
}

// heygenStreamingRoutes wires the legacy streaming routes into sv. They check their own
// credentials: the API key or a streaming token as Bearer.
func (s *Server) heygenStreamingRoutes(sv *service) {
	sv.handle(http.MethodPost, "/v1/streaming.create_token", s.hgsCreateToken)
	sv.handlePublic(http.MethodPost, "/v1/streaming.new", s.hgsNew)
	sv.handlePublic(http.MethodGet, "/v1/streaming.list", s.hgsList)
	sv.handlePublic(http.MethodPost, "/v1/streaming.start", s.hgsCall(s.hgsStart))
	sv.handlePublic(http.MethodPost, "/v1/streaming.task", s.hgsCall(s.hgsTask))
	sv.handlePublic(http.MethodPost, "/v1/streaming.stop", s.hgsCall(s.hgsStop))
	for _, name := range []string{"interrupt", "keep_alive", "start_listening", "stop_listening"} {
		sv.handlePublic(http.MethodPost, "/v1/streaming."+name, s.hgsCall(s.hgsTouch))
	}
}

// hgsAuthorize accepts X-Api-Key, or else a streaming token as Bearer, and sets c.key.
func (s *Server) hgsAuthorize(c *call) error {
	if c.r.Header.Get("X-Api-Key") != "" {
		return s.heygenAuthorize(c)
	}
	token, ok := strings.CutPrefix(c.r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	t, known := s.hgs.tokens[strings.TrimSpace(token)]
	s.mu.Unlock()
	if !ok || !known || !s.now().Before(t.exp) || !s.keyAccepted(HeyGen, t.key) {
		return heygenStatusBody(c.path, http.StatusUnauthorized)
	}
	c.key = t.key
	return s.admitKey(HeyGen, c)
}

// hgsCreateToken answers POST /v1/streaming.create_token.
func (s *Server) hgsCreateToken(w http.ResponseWriter, c *call) error {
	token := s.newID(alnum, 48)
	s.mu.Lock()
	s.hgs.tokens[token] = hgsToken{key: c.key, exp: s.now().Add(hgsTokenTTL)}
	s.mu.Unlock()
	return hgsData(w, map[string]string{"token": token})
}

// hgsData writes the v1 success envelope the streaming API answers with.
func hgsData(w http.ResponseWriter, data any) error {
	writeJSON(w, http.StatusOK, map[string]any{"code": 100, "data": data, "message": "Success"})
	return nil
}

// hgsNewBody is what the sandbox reads of streaming.new's body.
type hgsNewBody struct {
	AvatarName          string `json:"avatar_name"`
	ActivityIdleTimeout *int   `json:"activity_idle_timeout"`
}

// hgsNew answers POST /v1/streaming.new.
func (s *Server) hgsNew(w http.ResponseWriter, c *call) error {
	if err := s.hgsAuthorize(c); err != nil {
		return err
	}
	var b hgsNewBody
	if len(strings.TrimSpace(string(c.body))) > 0 && json.Unmarshal(c.body, &b) != nil {
		return v1Error(http.StatusBadRequest, hgsCodeBadRequest, "Invalid JSON body")
	}
	idle := hgsDefaultIdle
	if b.ActivityIdleTimeout != nil {
		idle = *b.ActivityIdleTimeout
		if idle < hgsMinIdle || idle > hgsMaxIdle {
			return v1Error(http.StatusBadRequest, hgsCodeBadRequest, "activity_idle_timeout must be between 30 and 3600")
		}
	}
	now := s.now()
	st := &hgStream{id: s.newUUID(), key: c.key, status: "new", created: now, lastActive: now,
		idle: time.Duration(idle) * time.Second}
	s.mu.Lock()
	s.hgs.sessions[st.id] = st
	s.hgs.order = append(s.hgs.order, st)
	s.mu.Unlock()
	return hgsData(w, map[string]any{
		"session_id":             st.id,
		"access_token":           s.laFakeLiveKitToken(st.id, "client"),
		"url":                    "wss://heygen-sandbox.livekit.invalid",
		"is_paid":                true,
		"session_duration_limit": int(hgsDurationLimit / time.Second),
	})
}

// hgsSettleLocked closes st if it has been idle too long or reached its duration limit.
// s.mu must be held.
func (s *Server) hgsSettleLocked(st *hgStream) {
	now := s.now()
	if st.status != "closed" && (!now.Before(st.lastActive.Add(st.idle)) || !now.Before(st.created.Add(hgsDurationLimit))) {
		st.status = "closed"
	}
}

// hgsSessionBody is the body of the calls about one session.
type hgsSessionBody struct {
	SessionID string `json:"session_id"`
	Text      string `json:"text"`
	TaskMode  string `json:"task_mode"`
	TaskType  string `json:"task_type"`
}

// hgsCall wraps a call about one running session: it authorizes, reads the body, finds the
// caller's session and marks it active, then runs h with Server.mu held.
func (s *Server) hgsCall(h func(w http.ResponseWriter, st *hgStream, b hgsSessionBody) error) handler {
	return func(w http.ResponseWriter, c *call) error {
		if err := s.hgsAuthorize(c); err != nil {
			return err
		}
		var b hgsSessionBody
		if json.Unmarshal(c.body, &b) != nil || b.SessionID == "" {
			return v1Error(http.StatusBadRequest, hgsCodeBadRequest, "session_id is required")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		st := s.hgs.sessions[b.SessionID]
		if st != nil {
			s.hgsSettleLocked(st)
		}
		if st == nil || st.key != c.key || st.status == "closed" {
			return v1Error(http.StatusBadRequest, hgsCodeNotFound, "Session not found")
		}
		st.lastActive = s.now()
		return h(w, st, b)
	}
}

// hgsStart answers POST /v1/streaming.start.
func (s *Server) hgsStart(w http.ResponseWriter, st *hgStream, _ hgsSessionBody) error {
	if st.status != "new" {
		return v1Error(http.StatusBadRequest, hgsCodeStarted, "Session is already started")
	}
	st.status = "connected"
	return hgsData(w, nil)
}

// hgsTask answers POST /v1/streaming.task: the avatar speaks text, about 60 ms a letter.
func (s *Server) hgsTask(w http.ResponseWriter, st *hgStream, b hgsSessionBody) error {
	if st.status != "connected" {
		return v1Error(http.StatusBadRequest, hgsCodeNotStarted, "Session is not started")
	}
	if strings.TrimSpace(b.Text) == "" {
		return v1Error(http.StatusBadRequest, hgsCodeBadRequest, "text is required")
	}
	return hgsData(w, map[string]any{
		"duration_ms": utf8.RuneCountInString(b.Text) * hgsMillisPerLetter,
		"task_id":     s.newUUID(),
	})
}

// hgsStop answers POST /v1/streaming.stop.
func (s *Server) hgsStop(w http.ResponseWriter, st *hgStream, _ hgsSessionBody) error {
	st.status = "closed"
	return hgsData(w, nil)
}

// hgsTouch answers interrupt, keep_alive, start_listening and stop_listening, which only
// count as activity here.
func (s *Server) hgsTouch(w http.ResponseWriter, _ *hgStream, _ hgsSessionBody) error {
	return hgsData(w, nil)
}

// hgsItem is one session of GET /v1/streaming.list.
type hgsItem struct {
	SessionID string `json:"session_id"`
	Status    string `json:"status"`
	CreatedAt int64  `json:"created_at"`
}

// hgsList answers GET /v1/streaming.list with the caller's running sessions, newest first.
func (s *Server) hgsList(w http.ResponseWriter, c *call) error {
	if err := s.hgsAuthorize(c); err != nil {
		return err
	}
	s.mu.Lock()
	items := []hgsItem{}
	for _, st := range slices.Backward(s.hgs.order) {
		if st.key != c.key {
			continue
		}
		s.hgsSettleLocked(st)
		if st.status != "closed" {
			items = append(items, hgsItem{SessionID: st.id, Status: st.status, CreatedAt: st.created.Unix()})
		}
	}
	s.mu.Unlock()
	return hgsData(w, map[string]any{"sessions": items})
}

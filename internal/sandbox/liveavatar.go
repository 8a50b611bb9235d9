package sandbox

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LiveAvatar's envelope codes. Success is 1000, the only code the official web SDK accepts;
// the others are the sandbox's choices where the reference is silent (see the package doc).
const (
	laCodeOK           = 1000
	laCodeFailed       = 4000
	laCodeUnauthorized = 4010
	laCodeNotFound     = 4040
)

// liveAvatarService wires LiveAvatar's routes. Routes marked public check their own
// credentials, because some take the session token instead of the API key.
func (s *Server) liveAvatarService() *service {
	sv := &service{
		provider:   LiveAvatar,
		authorize:  s.laAuthorizeKey,
		notFound:   func(string) *apiError { return detailStatus(http.StatusNotFound) },
		notAllowed: func(string) *apiError { return detailStatus(http.StatusMethodNotAllowed) },
		decorate:   func(h http.Header) { h.Set("Server", "uvicorn") },
	}
	sv.handle(http.MethodPost, "/v1/sessions/token", s.laToken)
	sv.handlePublic(http.MethodPost, "/v1/sessions/start", s.laStart)
	sv.handlePublic(http.MethodPost, "/v1/sessions/stop", s.laStop)
	sv.handlePublic(http.MethodDelete, "/v1/sessions", s.laDelete)
	sv.handlePublic(http.MethodPost, "/v1/sessions/keep-alive", s.laKeepAlive)
	sv.handle(http.MethodGet, "/v1/sessions", s.laListSessions)
	sv.handle(http.MethodGet, "/v1/sessions/{session_id}", s.laGetSession)
	sv.handle(http.MethodGet, "/v1/sessions/{session_id}/transcript", s.laTranscript)
	sv.handlePublic(http.MethodGet, "/v1/ws/lite/{session_id}", s.laLiteSocket)
	s.liveAvatarCatalogRoutes(sv) // liveavatar_catalog.go
	return sv
}

// detailStatus is FastAPI's {"detail":"<status text>"} answer.
func detailStatus(status int) *apiError {
	return jsonError(status, map[string]string{"detail": http.StatusText(status)})
}

// laError is LiveAvatar's error envelope.
func laError(status, code int, message string) *apiError {
	return jsonError(status, map[string]any{"code": code, "data": nil, "message": message})
}

// laData writes LiveAvatar's success envelope with status.
func laData(w http.ResponseWriter, status int, data any) error {
	writeJSON(w, status, map[string]any{"code": laCodeOK, "data": data, "message": "Success"})
	return nil
}

// laStatusBody is LiveAvatar's body for status, for faults without a body.
func laStatusBody(status int) *apiError {
	switch status {
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return detailStatus(status)
	case http.StatusUnauthorized:
		return laError(status, laCodeUnauthorized, "Invalid API key")
	}
	return laError(status, status*10, http.StatusText(status))
}

// laUnauthorized is the 401 for a missing or bad credential.
func laUnauthorized(message string) *apiError {
	return laError(http.StatusUnauthorized, laCodeUnauthorized, message)
}

// laAuthorizeKey accepts a known X-API-KEY and takes one of the key's slots.
func (s *Server) laAuthorizeKey(c *call) error {
	key := c.r.Header.Get("X-Api-Key")
	if key == "" {
		return laUnauthorized("Missing API key")
	}
	if !s.keyAccepted(LiveAvatar, key) {
		return laUnauthorized("Invalid API key")
	}
	c.key = key
	return s.admitKey(LiveAvatar, c)
}

// laAuthorizeBearer accepts "Authorization: Bearer <session_token>" and returns the id of
// the session the token was minted for; the session's key becomes c.key.
func (s *Server) laAuthorizeBearer(c *call) (string, error) {
	auth := c.r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		return "", laUnauthorized("Missing session token")
	}
	id, key, ok := s.laVerifyToken(strings.TrimSpace(token))
	if !ok || !s.keyAccepted(LiveAvatar, key) {
		return "", laUnauthorized("Invalid or expired session token")
	}
	c.key = key
	return id, s.admitKey(LiveAvatar, c)
}

// laAuthorizeEither accepts the API key when X-API-KEY is present, else the session token.
// It returns the token's session id, or "" for the key.
func (s *Server) laAuthorizeEither(c *call) (string, error) {
	if c.r.Header.Get("X-Api-Key") != "" {
		return "", s.laAuthorizeKey(c)
	}
	return s.laAuthorizeBearer(c)
}

// fieldError is one entry of FastAPI's 422 detail list.
type fieldError struct {
	Loc   []any  `json:"loc"`
	Msg   string `json:"msg"`
	Type  string `json:"type"`
	Input any    `json:"input"`
}

// unprocessable is FastAPI's 422 answer listing errs.
func unprocessable(errs ...fieldError) *apiError {
	return jsonError(http.StatusUnprocessableEntity, map[string]any{"detail": errs})
}

// missingField is the 422 entry for a required field that is absent.
func missingField(input any, loc ...any) fieldError {
	return fieldError{Loc: append([]any{"body"}, loc...), Msg: "Field required", Type: "missing", Input: input}
}

// decodeLABody decodes c's JSON body into v, answering 422 as FastAPI does for JSON that is
// malformed or of the wrong type. An empty body decodes as {} when optional is set.
func decodeLABody(c *call, v any, optional bool) error {
	body := strings.TrimSpace(string(c.body))
	if body == "" {
		if optional {
			return nil
		}
		return unprocessable(missingField(nil))
	}
	err := json.Unmarshal([]byte(body), v)
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		loc := []any{"body"}
		for _, part := range strings.Split(te.Field, ".") {
			if part != "" {
				loc = append(loc, part)
			}
		}
		return unprocessable(fieldError{Loc: loc, Msg: "Input should be a valid " + te.Type.Kind().String(),
			Type: te.Type.Kind().String() + "_type", Input: te.Value})
	case errors.As(err, &se):
		return unprocessable(fieldError{Loc: []any{"body", se.Offset}, Msg: "JSON decode error",
			Type: "json_invalid", Input: map[string]any{}})
	}
	return unprocessable(fieldError{Loc: []any{"body"}, Msg: err.Error(), Type: "json_invalid", Input: body})
}

// laPage reads page and page_size (≤100, default 20), answering 422 for bad values.
func laPage(c *call) (page, size int, err error) {
	q := c.r.URL.Query()
	page, size = 1, 20
	for _, p := range []struct {
		name     string
		dst      *int
		min, max int
	}{{"page", &page, 1, 1 << 30}, {"page_size", &size, 1, 100}} {
		raw := q.Get(p.name)
		if raw == "" {
			continue
		}
		n, perr := strconv.Atoi(raw)
		switch {
		case perr != nil:
			return 0, 0, unprocessable(fieldError{Loc: []any{"query", p.name}, Type: "int_parsing",
				Msg: "Input should be a valid integer, unable to parse string as an integer", Input: raw})
		case n < p.min:
			return 0, 0, unprocessable(fieldError{Loc: []any{"query", p.name}, Type: "greater_than_equal",
				Msg: "Input should be greater than or equal to " + strconv.Itoa(p.min), Input: raw})
		case n > p.max:
			return 0, 0, unprocessable(fieldError{Loc: []any{"query", p.name}, Type: "less_than_equal",
				Msg: "Input should be less than or equal to " + strconv.Itoa(p.max), Input: raw})
		}
		*p.dst = n
	}
	return page, size, nil
}

// laPaged writes one page of items as data{count,next,previous,results}, with absolute
// next and previous URLs in the style of Django REST framework.
func laPaged[T any](w http.ResponseWriter, c *call, items []T, page, size int) error {
	start := min((page-1)*size, len(items))
	end := min(start+size, len(items))
	link := func(p int) any {
		u := url.URL{Scheme: "http", Host: c.r.Host, Path: "/" + string(LiveAvatar) + c.path}
		if c.r.TLS != nil {
			u.Scheme = "https"
		}
		q := c.r.URL.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("page_size", strconv.Itoa(size))
		u.RawQuery = q.Encode()
		return u.String()
	}
	var next, prev any
	if end < len(items) {
		next = link(page + 1)
	}
	if page > 1 {
		prev = link(page - 1)
	}
	results := items[start:end]
	if results == nil {
		results = []T{}
	}
	return laData(w, http.StatusOK, map[string]any{"count": len(items), "next": next, "previous": prev, "results": results})
}

// laTokenBody is the body of POST /v1/sessions/token, both modes in one.
type laTokenBody struct {
	Mode          *string `json:"mode"`
	AvatarID      *string `json:"avatar_id"`
	AvatarPersona *struct {
		VoiceID   *string `json:"voice_id"`
		ContextID *string `json:"context_id"`
		Language  *string `json:"language"`
	} `json:"avatar_persona"`
	IsSandbox     bool `json:"is_sandbox"`
	VideoSettings *struct {
		Quality  *string `json:"quality"`
		Encoding *string `json:"encoding"`
	} `json:"video_settings"`
	MaxSessionDuration *int    `json:"max_session_duration"`
	InteractivityType  *string `json:"interactivity_type"`
}

// isUUID reports whether v is a UUID in its canonical text form.
func isUUID(v string) bool {
	if len(v) != 36 {
		return false
	}
	for i, r := range v {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if r != '-' {
				return false
			}
		case !strings.ContainsRune("0123456789abcdefABCDEF", r):
			return false
		}
	}
	return true
}

// uuidError is the 422 entry for a field that is not a UUID.
func uuidError(v string, loc ...any) fieldError {
	return fieldError{Loc: append([]any{"body"}, loc...), Type: "uuid_parsing", Input: v,
		Msg: "Input should be a valid UUID, invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-]"}
}

// enumError is the 422 entry for a value outside want.
func enumError(v string, want []string, loc ...any) fieldError {
	return fieldError{Loc: append([]any{"body"}, loc...), Type: "enum", Input: v,
		Msg: "Input should be '" + strings.Join(want, "', '") + "'"}
}

// validate checks b against the schema, returning the 422 entries; mode is normalized
// (CUSTOM becomes LITE).
func (b *laTokenBody) validate() []fieldError {
	var errs []fieldError
	switch {
	case b.Mode == nil:
		errs = append(errs, fieldError{Loc: []any{"body"}, Type: "union_tag_not_found", Input: map[string]any{},
			Msg: "Unable to extract tag using discriminator 'mode'"})
		return errs
	case *b.Mode == "CUSTOM":
		*b.Mode = "LITE"
	case *b.Mode != "FULL" && *b.Mode != "LITE":
		errs = append(errs, fieldError{Loc: []any{"body"}, Type: "union_tag_invalid", Input: *b.Mode,
			Msg: "Input tag '" + *b.Mode + "' found using 'mode' does not match any of the expected tags: 'FULL', 'LITE'"})
		return errs
	}
	mode := *b.Mode
	switch {
	case b.AvatarID == nil:
		errs = append(errs, missingField(nil, mode, "avatar_id"))
	case !isUUID(*b.AvatarID):
		errs = append(errs, uuidError(*b.AvatarID, mode, "avatar_id"))
	}
	if p := b.AvatarPersona; mode == "FULL" && p == nil {
		errs = append(errs, missingField(nil, mode, "avatar_persona"))
	} else if p != nil {
		for name, v := range map[string]*string{"voice_id": p.VoiceID, "context_id": p.ContextID} {
			if v != nil && *v != "" && !isUUID(*v) {
				errs = append(errs, uuidError(*v, mode, "avatar_persona", name))
			}
		}
		if p.Language == nil && mode == "FULL" {
			errs = append(errs, missingField(nil, mode, "avatar_persona", "language"))
		}
	}
	if v := b.VideoSettings; v != nil {
		if want := []string{"very_high", "high", "medium", "low"}; v.Quality != nil && !slices.Contains(want, *v.Quality) {
			errs = append(errs, enumError(*v.Quality, want, mode, "video_settings", "quality"))
		}
		if want := []string{"VP8", "H264"}; v.Encoding != nil && !slices.Contains(want, *v.Encoding) {
			errs = append(errs, enumError(*v.Encoding, want, mode, "video_settings", "encoding"))
		}
	}
	if want := []string{"CONVERSATIONAL", "PUSH_TO_TALK"}; b.InteractivityType != nil && !slices.Contains(want, *b.InteractivityType) {
		errs = append(errs, enumError(*b.InteractivityType, want, mode, "interactivity_type"))
	}
	if d := b.MaxSessionDuration; d != nil && *d <= 0 {
		errs = append(errs, fieldError{Loc: []any{"body", mode, "max_session_duration"}, Type: "greater_than",
			Msg: "Input should be greater than 0", Input: *d})
	}
	return errs
}

// laToken answers POST /v1/sessions/token: it checks the body and the catalog references and
// mints a session and its token.
func (s *Server) laToken(w http.ResponseWriter, c *call) error {
	var b laTokenBody
	if err := decodeLABody(c, &b, false); err != nil {
		return err
	}
	if errs := b.validate(); len(errs) > 0 {
		return unprocessable(errs...)
	}
	if err := s.laCheckReferences(c.key, &b); err != nil {
		return err
	}
	maxDur := s.laMaxDuration()
	if d := b.MaxSessionDuration; d != nil {
		maxDur = min(maxDur, time.Duration(*d)*time.Second)
	}
	if b.IsSandbox {
		maxDur = min(maxDur, s.laSandboxDuration())
	}
	ss := &laSession{
		id: s.newUUID(), key: c.key, avatarID: strings.ToLower(*b.AvatarID), mode: *b.Mode,
		sandbox: b.IsSandbox, maxDur: maxDur, created: s.now(), done: make(chan struct{}),
	}
	token := s.laMintToken(ss)
	s.mu.Lock()
	s.la.sessions[ss.id] = ss
	s.la.order = append(s.la.order, ss)
	s.mu.Unlock()
	return laData(w, http.StatusOK, map[string]any{"session_id": ss.id, "session_token": token})
}

// laCheckReferences checks that the avatar, voice and context a token body names exist for
// key, and that a sandbox session uses the sandbox avatar.
func (s *Server) laCheckReferences(key string, b *laTokenBody) error {
	avatarID := strings.ToLower(*b.AvatarID)
	if b.IsSandbox && avatarID != sandboxAvatarID {
		return laError(http.StatusBadRequest, laCodeFailed, "Sandbox mode only supports avatar "+sandboxAvatarID)
	}
	if !s.laAvatarExists(avatarID) {
		return laError(http.StatusNotFound, laCodeNotFound, "Avatar not found")
	}
	p := b.AvatarPersona
	if p == nil {
		return nil
	}
	if p.VoiceID != nil && *p.VoiceID != "" && !s.laVoiceExists(strings.ToLower(*p.VoiceID)) {
		return laError(http.StatusNotFound, laCodeNotFound, "Voice not found")
	}
	if p.ContextID != nil && *p.ContextID != "" && !s.laContextExists(key, strings.ToLower(*p.ContextID)) {
		return laError(http.StatusNotFound, laCodeNotFound, "Context not found")
	}
	return nil
}

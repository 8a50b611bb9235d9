package sandbox

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// HeyGen's v3 API, after shared/reference/heygen-v3.md: every answer is {"data": …}, lists add
// has_more and next_token beside data and page with limit and token, and errors are
// {"error":{"code","message","param","doc_url"}} with a lowercase code. This file holds the
// routes, the envelopes and HeyGen's own Idempotency-Key replay; heygen_v3_video.go the videos
// and templates; heygen_v3_catalog.go voices, avatars, assets, the user and webhook endpoints.

// heygenV3Routes adds the v3 routes. They are added before the media routes, so that the
// v3-only subtitle file is matched before the generic video media route.
func (s *Server) heygenV3Routes(sv *service) {
	sv.handle(http.MethodPost, "/v3/videos", s.v3Idempotent(s.v3CreateVideo))
	sv.handle(http.MethodGet, "/v3/videos", s.v3ListVideos)
	sv.handle(http.MethodGet, "/v3/videos/{video_id}", s.v3GetVideo)
	sv.handle(http.MethodDelete, "/v3/videos/{video_id}", s.v3DeleteVideo)
	sv.handle(http.MethodGet, "/v3/templates", s.v3ListTemplates)
	sv.handle(http.MethodGet, "/v3/templates/{template_id}", s.v3GetTemplate)
	sv.handle(http.MethodPost, "/v3/templates/{template_id}", s.v3Idempotent(s.v3GenerateTemplate))
	sv.handle(http.MethodGet, "/v3/voices", s.v3ListVoices)
	sv.handle(http.MethodGet, "/v3/avatars", s.v3ListAvatarGroups)
	sv.handle(http.MethodGet, "/v3/avatars/looks", s.v3ListLooks)
	sv.handle(http.MethodGet, "/v3/avatars/{group_id}", s.v3GetAvatarGroup)
	sv.handle(http.MethodPost, "/v3/assets", s.v3Idempotent(s.v3UploadAsset))
	sv.handle(http.MethodGet, "/v3/assets", s.v3ListAssets)
	sv.handle(http.MethodGet, "/v3/assets/{asset_id}", s.v3GetAsset)
	sv.handle(http.MethodDelete, "/v3/assets/{asset_id}", s.v3DeleteAsset)
	sv.handle(http.MethodGet, "/v3/users/me", s.v3CurrentUser)
	sv.handle(http.MethodPost, "/v3/webhooks/endpoints", s.v3AddEndpoint)
	sv.handle(http.MethodGet, "/v3/webhooks/endpoints", s.v3ListEndpoints)
	sv.handle(http.MethodDelete, "/v3/webhooks/endpoints/{endpoint_id}", s.v3DeleteEndpoint)
	sv.handlePublic(http.MethodGet, "/media/video/{id}/subtitle.srt", s.v3SubtitleMedia)
}

// isV3 reports whether path belongs to HeyGen's v3 surface, which has its own error envelope.
func isV3(path string) bool { return strings.HasPrefix(path, "/v3/") }

// v3DocURL is the error page anchor HeyGen links each code to: the code with "_" as "-".
func v3DocURL(code string) string {
	return "https://developers.heygen.com/docs/error-codes#" + strings.ReplaceAll(code, "_", "-")
}

// v3Error is HeyGen's v3 error envelope. param is only sent for validation errors; live
// bodies leave it out rather than send null.
func v3Error(status int, code, message, param string) *apiError {
	e := map[string]string{"code": code, "message": message, "doc_url": v3DocURL(code)}
	if param != "" {
		e["param"] = param
	}
	return jsonError(status, map[string]any{"error": e})
}

// v3Invalid is the v3 validation error for one parameter.
func v3Invalid(param, message string) *apiError {
	return v3Error(http.StatusBadRequest, "invalid_parameter", message, param)
}

// v3StatusBody is the v3 body for a bare status: the simulator's 401, 404 and 405, and
// injected faults. A 429 fault should carry its own Retry-After header.
func v3StatusBody(status int) *apiError {
	codes := map[int][2]string{
		400: {"invalid_parameter", "Invalid parameter"},
		401: {"unauthorized", "Unauthorized"},
		402: {"insufficient_credit", "Insufficient credit to complete this request."},
		403: {"forbidden", "Forbidden"},
		404: {"not_found", "Not found"},
		409: {"request_in_progress", "A request with this Idempotency-Key is still in progress."},
		413: {"payload_too_large", "Payload too large"},
		429: {"rate_limit_exceeded", "Too many requests. Please retry later."},
		500: {"internal_error", "Internal server error"},
		503: {"service_unavailable", "Service unavailable"},
	}
	c, ok := codes[status]
	if !ok {
		c = [2]string{snakeCase(http.StatusText(status)), http.StatusText(status)}
	}
	return v3Error(status, c[0], c[1], "")
}

// v3Data writes a v3 single-resource answer.
func v3Data(w http.ResponseWriter, data any) error {
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
	return nil
}

// v3Page is one page of a v3 list: the items, and the cursor beside them.
type v3Page struct {
	start, end, total int
}

// v3Paginate reads limit (lo–hi, default def) and token from the query and returns the page
// of total items they select. Tokens are opaque to clients; here they encode an offset.
func v3Paginate(c *call, total, def, hi int) (v3Page, error) {
	q := c.r.URL.Query()
	limit := def
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > hi {
			return v3Page{}, v3Invalid("limit", "limit must be an integer between 1 and "+strconv.Itoa(hi))
		}
		limit = n
	}
	start := 0
	if t := q.Get("token"); t != "" {
		raw, err := base64.RawURLEncoding.DecodeString(t)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(raw), "off:"))
		if err != nil || err2 != nil || !bytes.HasPrefix(raw, []byte("off:")) || n < 0 {
			return v3Page{}, v3Invalid("token", "Invalid pagination token")
		}
		start = n
	}
	start = min(start, total)
	return v3Page{start: start, end: min(total, start+limit), total: total}, nil
}

// v3List writes a page of a v3 list.
func v3List[T any](w http.ResponseWriter, items []T, p v3Page) error {
	var next *string
	if p.end < p.total {
		t := base64.RawURLEncoding.EncodeToString([]byte("off:" + strconv.Itoa(p.end)))
		next = &t
	}
	page := items[p.start:p.end]
	if page == nil {
		page = []T{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": page, "has_more": next != nil, "next_token": next})
	return nil
}

// v3IdemTTL is how long HeyGen replays an Idempotency-Key's first answer.
const v3IdemTTL = 24 * time.Hour

// v3IdemKeyPattern is the documented Idempotency-Key syntax.
var v3IdemKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_\-:.]{1,255}$`)

// v3State is the v3 simulator's own state; Server.mu guards it.
type v3State struct {
	// idem holds Idempotency-Keys by API key, method, path and key: in flight (no answer
	// yet) or answered.
	idem map[string]*v3IdemEntry
}

// v3IdemEntry is one Idempotency-Key's request: in flight until answer is set.
type v3IdemEntry struct {
	at     time.Time
	answer *apiError // the first successful answer, replayed byte for byte
}

// v3Idempotent wraps a POST handler with HeyGen's Idempotency-Key: a repeat within 24 hours
// (per API key, endpoint and path, whatever its body) replays the first answer, and one that
// arrives while the first is in flight gets 409 request_in_progress. An answer that is an
// error frees the key [INF: HeyGen does not say whether errors are replayed].
func (s *Server) v3Idempotent(h handler) handler {
	return func(w http.ResponseWriter, c *call) error {
		key := c.r.Header.Get("Idempotency-Key")
		if key == "" {
			return h(w, c)
		}
		if !v3IdemKeyPattern.MatchString(key) {
			return v3Invalid("Idempotency-Key", "Idempotency-Key must be 1 to 255 letters, digits or _-:.")
		}
		slot := c.key + "\x00" + c.r.Method + "\x00" + c.path + "\x00" + key
		if replay, err := s.v3ClaimIdem(slot); replay != nil || err != nil {
			if err != nil {
				return err
			}
			writeRaw(w, replay)
			return nil
		}
		rec := &recorder{header: http.Header{}}
		err := h(rec, c)
		s.v3FinishIdem(slot, err == nil && rec.status < 300, rec)
		if err != nil {
			return err
		}
		writeRaw(w, rec.apiError())
		return nil
	}
}

// v3ClaimIdem takes slot for a new request, or returns the answer to replay, or the 409 of
// a request still in flight.
func (s *Server) v3ClaimIdem(slot string) (*apiError, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hg.v3.idem == nil {
		s.hg.v3.idem = map[string]*v3IdemEntry{}
	}
	e, ok := s.hg.v3.idem[slot]
	switch {
	case ok && now.Sub(e.at) < v3IdemTTL && e.answer == nil:
		return nil, v3StatusBody(http.StatusConflict)
	case ok && now.Sub(e.at) < v3IdemTTL:
		return e.answer, nil
	}
	s.hg.v3.idem[slot] = &v3IdemEntry{at: now}
	return nil, nil
}

// v3FinishIdem stores a successful answer for replay, or frees the slot.
func (s *Server) v3FinishIdem(slot string, ok bool, rec *recorder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok {
		delete(s.hg.v3.idem, slot)
		return
	}
	s.hg.v3.idem[slot].answer = rec.apiError()
}

// recorder keeps a handler's answer so that it can be stored and replayed.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}

// apiError returns the recorded answer as a complete response.
func (r *recorder) apiError() *apiError {
	h := r.header.Clone()
	ct := h.Get("Content-Type")
	h.Del("Content-Type")
	h.Del("Content-Length")
	return &apiError{status: r.status, contentType: ct, header: h, body: bytes.Clone(r.body.Bytes())}
}

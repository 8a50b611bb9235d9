package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// heygenState is HeyGen's mutable state; Server.mu guards it.
type heygenState struct {
	videos       map[string]*hgVideo
	translations map[string]*hgTranslation // heygen_translate.go
	order        []string                  // video and translation ids, oldest first
	assets       map[string]*hgAsset       // heygen_asset.go
	assetOrder   []string                  // asset ids, oldest first
	photos       map[string]*hgPhotoAvatar // heygen_photo.go
	endpoints    []hgEndpoint
	testUsed     map[string]dayCount // per key: test renders on one UTC day
	quotaUsed    map[string]int      // per key: quota seconds spent
	v3           v3State             // heygen_v3.go
}

// dayCount counts events on one day.
type dayCount struct {
	day string
	n   int
}

// newHeyGenState returns empty HeyGen state.
func newHeyGenState() heygenState {
	return heygenState{
		videos: map[string]*hgVideo{}, translations: map[string]*hgTranslation{}, assets: map[string]*hgAsset{},
		photos:   map[string]*hgPhotoAvatar{},
		testUsed: map[string]dayCount{}, quotaUsed: map[string]int{},
	}
}

// outcome is how a render ends.
type outcome int

// The ways a render can end; see the package doc for the markers that select them.
const (
	outcomeCompleted outcome = iota
	outcomeFailed
	outcomeModeration
	outcomeStuck
)

// hgVideo is one submitted render.
type hgVideo struct {
	id, key    string
	created    time.Time
	req        renderRequest
	outcome    outcome
	durationMs int
}

// hgQuotaSeconds is the starting API quota of every key: 100 credits of 60 seconds.
const hgQuotaSeconds = 100 * 60

// outcomeFor picks the outcome that the markers in script ask for.
func outcomeFor(script string) outcome {
	switch {
	case strings.Contains(script, "SANDBOX_FAIL_MODERATION"):
		return outcomeModeration
	case strings.Contains(script, "SANDBOX_FAIL"):
		return outcomeFailed
	case strings.Contains(script, "SANDBOX_STUCK"):
		return outcomeStuck
	}
	return outcomeCompleted
}

// startRender applies the caps, queues the render and answers with its id.
func (s *Server) startRender(w http.ResponseWriter, c *call, req renderRequest) error {
	now := s.now()
	req.base = baseURL(c.r, HeyGen)
	v := &hgVideo{
		id: s.newID(lowerHex, 32), key: c.key, created: now, req: req,
		outcome: outcomeFor(req.script), durationMs: int(math.Round(req.duration * 1000)),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkRenderCapsLocked(c.key, req.test, now); err != nil {
		return err
	}
	cost := 30 * int(math.Ceil(req.duration/30)) // Billed in 30 s steps.
	if !req.test && s.hgHasCreditsLocked(c.key) && s.hgQuotaLocked(c.key)-s.hg.quotaUsed[c.key] < cost {
		return v2Error(http.StatusPaymentRequired, "insufficient_credit", "Insufficient credit")
	}
	if req.test {
		day := now.UTC().Format(time.DateOnly)
		used := s.hg.testUsed[c.key]
		if used.day != day {
			used = dayCount{day: day}
		}
		used.n++
		s.hg.testUsed[c.key] = used
	} else {
		s.hg.quotaUsed[c.key] += cost
	}
	s.hg.videos[v.id] = v
	s.hg.order = append(s.hg.order, v.id)
	s.countStartLocked(c.key)
	return v2Data(w, map[string]string{"video_id": v.id})
}

// checkRenderCapsLocked enforces TestDailyCap and MaxConcurrentRenders for key.
func (s *Server) checkRenderCapsLocked(key string, test bool, now time.Time) error {
	if capN := s.cfg.TestDailyCap; test && capN > 0 {
		used := s.hg.testUsed[key]
		if used.day == now.UTC().Format(time.DateOnly) && used.n >= capN {
			return trialLimitError(capN)
		}
	}
	capN := s.cfg.MaxConcurrentRenders
	if capN <= 0 {
		return nil
	}
	inFlight, soonest := 0, time.Duration(math.MaxInt64)
	for _, v := range s.hg.videos {
		if v.key != key {
			continue
		}
		if st := s.statusAt(v, now); st == "pending" || st == "processing" {
			inFlight++
			soonest = min(soonest, v.created.Add(s.cfg.RenderTime).Sub(now))
		}
	}
	if inFlight < capN {
		return nil
	}
	retry := max(1, int(math.Ceil(soonest.Seconds())))
	return v2Error(http.StatusTooManyRequests, "rate_limit_exceeded",
		"You have reached the limit of "+strconv.Itoa(capN)+" concurrent video renders. Please retry later.").
		withHeader("Retry-After", strconv.Itoa(retry))
}

// statusAt is v's status at now: pending for the first 20% of RenderTime, then processing,
// then its outcome.
func (s *Server) statusAt(v *hgVideo, now time.Time) string {
	elapsed := now.Sub(v.created)
	switch {
	case elapsed < s.cfg.RenderTime/5:
		return "pending"
	case elapsed < s.cfg.RenderTime || v.outcome == outcomeStuck:
		return "processing"
	case v.outcome == outcomeCompleted:
		return "completed"
	default:
		return "failed"
	}
}

// renderFailure is the error object of a failed render.
func renderFailure(o outcome) map[string]any {
	if o == outcomeModeration {
		return map[string]any{"code": 400105, "message": "Blocked words detected",
			"detail": "Your script contains words that violate our content moderation policy"}
	}
	return map[string]any{"code": 40119, "message": "Video is too long",
		"detail": "Video is too long (> 3600.0s). Please upgrade your plan to generate longer videos"}
}

// lookupVideo finds the video named by the video_id query parameter, answering the v1 way.
func (s *Server) lookupVideo(c *call) (hgVideo, error) {
	id := c.r.URL.Query().Get("video_id")
	if id == "" {
		return hgVideo{}, v1Error(http.StatusBadRequest, 40001, "Missing required parameter: video_id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.hg.videos[id]
	if !ok || v.key != c.key {
		return hgVideo{}, v1Error(http.StatusNotFound, 40031, "Invalid video id: video not found")
	}
	return *v, nil
}

// hgVideoStatus answers GET /v1/video_status.get.
func (s *Server) hgVideoStatus(w http.ResponseWriter, c *call) error {
	v, err := s.lookupVideo(c)
	if err != nil {
		return err
	}
	now := s.now()
	status := s.statusAt(&v, now)
	data := map[string]any{
		"id": v.id, "status": status, "callback_id": v.req.callbackID, "created_at": v.created.Unix(),
		"video_url": nil, "video_url_caption": nil, "thumbnail_url": nil, "gif_url": nil,
		"caption_url": nil, "duration": nil, "error": nil,
	}
	switch status {
	case "completed":
		s.addMediaURLs(data, c.r, v, now)
	case "failed":
		data["error"] = renderFailure(v.outcome)
	}
	writeJSON(w, http.StatusOK, map[string]any{"code": 100, "data": data, "message": "Success"})
	return nil
}

// addMediaURLs fills a completed video's signed links, valid for 7 days from now.
func (s *Server) addMediaURLs(data map[string]any, r *http.Request, v hgVideo, now time.Time) {
	base := baseURL(r, HeyGen) + "/media/video/" + v.id
	expires := now.Add(7 * 24 * time.Hour).Unix()
	data["video_url"] = signURL(base+"/video.mp4", expires)
	data["thumbnail_url"] = signURL(base+"/thumb.jpeg", expires)
	data["gif_url"] = signURL(base+"/preview.gif", expires)
	data["duration"] = float64(v.durationMs) / 1000
	if v.req.caption {
		data["video_url_caption"] = signURL(base+"/caption_video.mp4", expires)
		data["caption_url"] = signURL(base+"/caption.ass", expires)
	}
}

// signURL adds CloudFront-style Expires, Signature and Key-Pair-Id parameters to u.
func signURL(u string, expires int64) string {
	exp := strconv.FormatInt(expires, 10)
	sum := sha256.Sum256([]byte(u + "|" + exp))
	return u + "?Expires=" + exp + "&Signature=" + hex.EncodeToString(sum[:16]) + "&Key-Pair-Id=K38HBHX5LX3X2H"
}

// videoListItem is one entry of GET /v1/video.list.
type videoListItem struct {
	VideoID   string `json:"video_id"`
	Status    string `json:"status"`
	CreatedAt int64  `json:"created_at"`
	Type      string `json:"type"`
}

// hgVideoList answers GET /v1/video.list, newest first, paged by limit and token.
func (s *Server) hgVideoList(w http.ResponseWriter, c *call) error {
	q := c.r.URL.Query()
	limit, err := queryInt(q.Get("limit"), 100)
	if err != nil || limit < 0 || limit > 100 {
		return v1Error(http.StatusBadRequest, 40012, "Invalid query parameter: limit must be between 0 and 100")
	}
	if limit == 0 {
		limit = 100
	}
	start, err := queryInt(q.Get("token"), 0)
	if err != nil || start < 0 {
		return v1Error(http.StatusBadRequest, 40012, "Invalid query parameter: token")
	}
	items := s.videoItems(c.key)
	end := min(len(items), start+limit)
	var token *string
	if end < len(items) {
		t := strconv.Itoa(end)
		token = &t
	}
	page := []videoListItem{}
	if start < len(items) {
		page = items[start:end]
	}
	writeJSON(w, http.StatusOK, map[string]any{"code": 100, "data": map[string]any{"token": token, "videos": page}, "message": nil})
	return nil
}

// videoItems lists key's videos newest first, with list-style statuses.
func (s *Server) videoItems(key string) []videoListItem {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []videoListItem
	for _, id := range slices.Backward(s.hg.order) {
		if t, ok := s.hg.translations[id]; ok && t.key == key {
			items = append(items, videoListItem{VideoID: t.id, Status: translationListStatus(s.translationStatusAt(t, now)),
				CreatedAt: t.created.Unix(), Type: "TRANSLATED"})
			continue
		}
		v, ok := s.hg.videos[id]
		if !ok || v.key != key {
			continue
		}
		st := s.statusAt(v, now)
		if st == "pending" {
			st = "processing" // The list knows no "pending".
		}
		items = append(items, videoListItem{VideoID: v.id, Status: st, CreatedAt: v.created.Unix(), Type: "GENERATED"})
	}
	return items
}

// queryInt parses an optional integer query parameter.
func queryInt(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	return strconv.Atoi(s)
}

// hgVideoDelete answers DELETE /v1/video.delete; type=video_translate deletes a translation.
func (s *Server) hgVideoDelete(w http.ResponseWriter, c *call) error {
	switch typ := c.r.URL.Query().Get("type"); {
	case isTranslateType(typ):
		id := c.r.URL.Query().Get("video_id")
		if id == "" {
			return v1Error(http.StatusBadRequest, 40001, "Missing required parameter: video_id")
		}
		if !s.deleteTranslation(c.key, id) {
			return v1Error(http.StatusNotFound, 40031, "Invalid video id: video not found")
		}
		return v1Data(w, nil)
	case typ != "" && typ != "heygen_video":
		return v1Error(http.StatusBadRequest, 40012, "Invalid query parameter: type must be heygen_video or video_translate")
	}
	v, err := s.lookupVideo(c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.hg.videos, v.id)
	s.hg.order = slices.DeleteFunc(s.hg.order, func(id string) bool { return id == v.id })
	s.mu.Unlock()
	return v1Data(w, nil)
}

// hgRemainingQuota answers GET /v2/user/remaining_quota; non-test renders spend quota.
func (s *Server) hgRemainingQuota(w http.ResponseWriter, c *call) error {
	s.mu.Lock()
	left := max(0, s.hgQuotaLocked(c.key)-s.hg.quotaUsed[c.key])
	s.mu.Unlock()
	return v2Data(w, map[string]any{
		"remaining_quota": left,
		"details":         map[string]int{"api": left, "streaming_avatar": 0, "streaming_avatar_instance_quota": 0, "seat": 0},
	})
}

package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// v3Render is what a render created through /v3 keeps beside the shared renderRequest.
type v3Render struct {
	outputFormat string // mp4 or webm
	captioned    bool   // caption.style set: captions burned into captioned_video_url
	subtitles    bool   // caption set: a sidecar SRT in subtitle_url
}

// v3URLLife is how long the sandbox signs v3 result links for [INF: HeyGen says only "a
// limited expiry window"; the catalog's url_ttl_seconds for v3-get-video is a day].
const v3URLLife = 24 * time.Hour

// v3CreateBody is the part of POST /v3/videos the sandbox reads. The body is a union on type;
// fields of every variant are listed, and unknown fields are accepted, since HeyGen's schemas
// do not forbid them.
type v3CreateBody struct {
	Type          string            `json:"type"`
	AvatarID      json.RawMessage   `json:"avatar_id"` // a look id; an array for cinematic_avatar
	Script        *string           `json:"script"`
	VoiceID       string            `json:"voice_id"`
	AudioURL      string            `json:"audio_url"`
	AudioAssetID  string            `json:"audio_asset_id"`
	Image         *v3AssetInput     `json:"image"`
	Prompt        *string           `json:"prompt"`
	Duration      *float64          `json:"duration"`
	Scenes        []json.RawMessage `json:"scenes"`
	Title         string            `json:"title"`
	Resolution    string            `json:"resolution"`
	AspectRatio   string            `json:"aspect_ratio"`
	OutputFormat  string            `json:"output_format"`
	Background    json.RawMessage   `json:"background"`
	Caption       *v3Caption        `json:"caption"`
	CallbackURL   string            `json:"callback_url"`
	CallbackID    *string           `json:"callback_id"`
	VoiceSettings *struct {
		Speed *float64 `json:"speed"`
		Pitch *float64 `json:"pitch"`
	} `json:"voice_settings"`
}

// v3AssetInput is HeyGen's AssetInput union: url, asset_id or base64.
type v3AssetInput struct {
	Type    string `json:"type"`
	URL     string `json:"url"`
	AssetID string `json:"asset_id"`
	Data    string `json:"data"`
}

// v3Caption is the caption option: a sidecar SRT, and burned-in captions with a style.
type v3Caption struct {
	FileFormat string  `json:"file_format"`
	Style      *string `json:"style"`
}

// v3DecodeBody decodes a JSON body, answering malformed or mistyped JSON the v3 way.
func v3DecodeBody(body []byte, v any) error {
	err := json.Unmarshal(body, v)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return v3Invalid(typeErr.Field, typeErr.Field+" must be of type "+typeErr.Type.Kind().String())
	default:
		return v3Invalid("body", "Request body is not valid JSON")
	}
}

// v3CreateVideo answers POST /v3/videos: 200 {"data":{"video_id","status":"waiting",
// "output_format"}}.
func (s *Server) v3CreateVideo(w http.ResponseWriter, c *call) error {
	var b v3CreateBody
	if err := v3DecodeBody(c.body, &b); err != nil {
		return err
	}
	script, err := s.v3Validate(c.key, &b)
	if err != nil {
		return err
	}
	r := &v3Render{outputFormat: b.OutputFormat, subtitles: b.Caption != nil, captioned: b.Caption != nil && b.Caption.Style != nil}
	if r.outputFormat == "" {
		r.outputFormat = "mp4"
	}
	req := renderRequest{title: b.Title, callbackID: b.CallbackID, callbackURL: b.CallbackURL, caption: r.captioned,
		script: script, duration: speechSeconds(script), v3: r}
	if b.Type == "cinematic_avatar" {
		req.duration = 10
		if b.Duration != nil {
			req.duration = *b.Duration
		}
	}
	v, err := s.v3StartRender(c, req)
	if err != nil {
		return err
	}
	return v3Data(w, map[string]any{"video_id": v.id, "status": "waiting", "output_format": r.outputFormat})
}

// v3Validate checks a create body by its type and returns the text the video speaks.
func (s *Server) v3Validate(key string, b *v3CreateBody) (string, error) {
	if err := v3CheckCommon(b); err != nil {
		return "", err
	}
	switch b.Type {
	case "avatar":
		id, err := v3LookID(b.AvatarID)
		if err != nil {
			return "", err
		}
		if !s.lookKnown(key, id) {
			return "", v3Error(http.StatusNotFound, "avatar_not_found", "Avatar "+id+" not found", "")
		}
		return s.v3CheckSpeech(key, b, s.defaultVoice(id))
	case "image":
		if err := s.v3CheckAsset(key, "image", b.Image); err != nil {
			return "", err
		}
		return s.v3CheckSpeech(key, b, "")
	case "cinematic_avatar":
		return s.v3CheckCinematic(key, b)
	case "studio":
		if len(b.Scenes) == 0 || len(b.Scenes) > 50 {
			return "", v3Invalid("scenes", "scenes must hold 1 to 50 scenes")
		}
		var script strings.Builder
		for _, sc := range b.Scenes {
			script.WriteString(sceneText(sc) + "\n")
		}
		return script.String(), nil
	case "":
		return "", v3Invalid("type", "type is required")
	}
	return "", v3Invalid("type", "type must be one of avatar, image, cinematic_avatar, studio")
}

// v3CheckCommon checks the options every variant shares.
func v3CheckCommon(b *v3CreateBody) error {
	enums := []struct {
		param, value string
		allowed      []string
	}{
		{"resolution", b.Resolution, []string{"4k", "1080p", "720p"}},
		{"aspect_ratio", b.AspectRatio, []string{"16:9", "9:16", "4:5", "5:4", "1:1", "auto"}},
		{"output_format", b.OutputFormat, []string{"mp4", "webm"}},
	}
	for _, e := range enums {
		if e.value != "" && !slices.Contains(e.allowed, e.value) {
			return v3Invalid(e.param, e.param+" must be one of "+strings.Join(e.allowed, ", "))
		}
	}
	if b.OutputFormat == "webm" && len(b.Background) > 0 && string(b.Background) != "null" {
		return v3Invalid("background", "background cannot be used with output_format webm")
	}
	return nil
}

// v3LookID reads a single avatar_id.
func v3LookID(raw json.RawMessage) (string, error) {
	var id string
	if len(raw) == 0 || json.Unmarshal(raw, &id) != nil || id == "" {
		return "", v3Invalid("avatar_id", "avatar_id is required")
	}
	return id, nil
}

// defaultVoice returns a look's default voice, if it has one.
func (s *Server) defaultVoice(lookID string) string {
	for _, a := range s.heygen.avatars {
		if a.ID == lookID && a.DefaultVoiceID != nil {
			return *a.DefaultVoiceID
		}
	}
	return ""
}

// v3CheckSpeech checks script, voice and audio: script and audio are exclusive, and a script
// needs a voice unless the avatar has a default one.
func (s *Server) v3CheckSpeech(key string, b *v3CreateBody, defaultVoice string) (string, error) {
	audio := b.AudioURL != "" || b.AudioAssetID != ""
	switch {
	case b.Script != nil && audio:
		return "", v3Invalid("script", "script cannot be combined with audio_url or audio_asset_id")
	case audio:
		if b.AudioAssetID != "" && !s.hasAsset(key, b.AudioAssetID) {
			return "", v3Error(http.StatusNotFound, "asset_not_found", "Asset "+b.AudioAssetID+" not found", "")
		}
		return "", nil
	case b.Script == nil:
		return "", nil
	case strings.TrimSpace(*b.Script) == "":
		return "", v3Invalid("script", "script must not be empty")
	case utf8.RuneCountInString(*b.Script) > maxInputText:
		return "", v3Invalid("script", "script must be at most 5000 characters")
	}
	voice := b.VoiceID
	if voice == "" {
		voice = defaultVoice
	}
	switch {
	case voice == "":
		return "", v3Invalid("voice_id", "voice_id is required with script for this avatar")
	case !s.heygen.voiceByID[voice]:
		return "", v3Error(http.StatusNotFound, "voice_not_found", "Voice "+voice+" not found", "")
	}
	if vs := b.VoiceSettings; vs != nil {
		if vs.Speed != nil && (*vs.Speed < 0.5 || *vs.Speed > 1.5) {
			return "", v3Invalid("voice_settings.speed", "speed must be between 0.5 and 1.5")
		}
		if vs.Pitch != nil && (*vs.Pitch < -50 || *vs.Pitch > 50) {
			return "", v3Invalid("voice_settings.pitch", "pitch must be between -50 and 50")
		}
	}
	return *b.Script, nil
}

// v3CheckAsset checks an AssetInput.
func (s *Server) v3CheckAsset(key, param string, a *v3AssetInput) error {
	switch {
	case a == nil:
		return v3Invalid(param, param+" is required")
	case a.Type == "url" && a.URL == "", a.Type == "asset_id" && a.AssetID == "", a.Type == "base64" && a.Data == "":
		return v3Invalid(param, param+" of type "+a.Type+" is missing its value")
	case a.Type == "asset_id" && !s.hasAsset(key, a.AssetID):
		return v3Error(http.StatusNotFound, "asset_not_found", "Asset "+a.AssetID+" not found", "")
	case a.Type != "url" && a.Type != "asset_id" && a.Type != "base64":
		return v3Invalid(param+".type", "type must be one of url, asset_id, base64")
	}
	return nil
}

// v3CheckCinematic checks a cinematic_avatar body: a prompt and one to three looks.
func (s *Server) v3CheckCinematic(key string, b *v3CreateBody) (string, error) {
	var looks []string
	if json.Unmarshal(b.AvatarID, &looks) != nil || len(looks) < 1 || len(looks) > 3 {
		return "", v3Invalid("avatar_id", "avatar_id must be an array of 1 to 3 look ids")
	}
	for _, id := range looks {
		if !s.lookKnown(key, id) {
			return "", v3Error(http.StatusNotFound, "avatar_not_found", "Avatar "+id+" not found", "")
		}
	}
	switch {
	case b.Prompt == nil || *b.Prompt == "":
		return "", v3Invalid("prompt", "prompt is required")
	case utf8.RuneCountInString(*b.Prompt) > 10000:
		return "", v3Invalid("prompt", "prompt must be at most 10000 characters")
	case b.Duration != nil && (*b.Duration < 4 || *b.Duration > 15 || *b.Duration != math.Trunc(*b.Duration)):
		return "", v3Invalid("duration", "duration must be an integer between 4 and 15")
	}
	return *b.Prompt, nil
}

// sceneText returns the script of a studio scene, wherever the scene keeps it.
func sceneText(raw json.RawMessage) string {
	var sc struct {
		Script *string `json:"script"`
		Input  *struct {
			Script *string `json:"script"`
		} `json:"input"`
	}
	_ = json.Unmarshal(raw, &sc)
	switch {
	case sc.Script != nil:
		return *sc.Script
	case sc.Input != nil && sc.Input.Script != nil:
		return *sc.Input.Script
	}
	return ""
}

// v3StartRender applies the concurrency cap and the credit balance, and queues the render.
func (s *Server) v3StartRender(c *call, req renderRequest) (*hgVideo, error) {
	now := s.now()
	req.base = baseURL(c.r, HeyGen)
	v := &hgVideo{id: s.newID(lowerHex, 32), key: c.key, created: now, req: req,
		outcome: outcomeFor(req.script), durationMs: int(math.Round(req.duration * 1000))}
	cost := 30 * int(math.Ceil(req.duration/30)) // Billed in 30 s steps, as v2 renders are.
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkRenderCapsLocked(c.key, false, now); err != nil {
		return nil, v3Concurrency(err)
	}
	if left := s.hgQuotaLocked(c.key) - s.hg.quotaUsed[c.key]; left < cost {
		return nil, v3Error(http.StatusPaymentRequired, "insufficient_credit",
			fmt.Sprintf("Your account has %g credits but this video requires %g credits.", float64(left)/60, float64(cost)/60), "")
	}
	s.hg.quotaUsed[c.key] += cost
	s.hg.videos[v.id] = v
	s.hg.order = append(s.hg.order, v.id)
	s.countStartLocked(c.key)
	return v, nil
}

// v3Concurrency turns the shared render cap's 429 into v3's, keeping its Retry-After.
func v3Concurrency(err error) error {
	var ae *apiError
	if !errors.As(err, &ae) || ae.status != http.StatusTooManyRequests {
		return err
	}
	return v3Error(http.StatusTooManyRequests, "rate_limit_exceeded",
		"You have reached your concurrent video limit. Please retry later.", "").
		withHeader("Retry-After", ae.header.Get("Retry-After"))
}

// v3Video finds a video of the caller's account, answering 404 video_not_found otherwise.
func (s *Server) v3Video(c *call) (hgVideo, error) {
	id := c.params["video_id"]
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.hg.videos[id]
	if !ok || v.key != c.key {
		return hgVideo{}, v3Error(http.StatusNotFound, "video_not_found", "Video "+id+" not found", "")
	}
	return *v, nil
}

// v3GetVideo answers GET /v3/videos/{video_id} with the VideoDetail.
func (s *Server) v3GetVideo(w http.ResponseWriter, c *call) error {
	v, err := s.v3Video(c)
	if err != nil {
		return err
	}
	return v3Data(w, s.v3Detail(c.r, &v, s.now()))
}

// v3Detail is a video's VideoDetail at now. Renders made through v1/v2 show too: it is one
// account.
func (s *Server) v3Detail(r *http.Request, v *hgVideo, now time.Time) map[string]any {
	status := s.statusAt(v, now)
	var title any
	if v.req.title != "" {
		title = v.req.title
	}
	d := map[string]any{
		"id": v.id, "title": title, "status": status, "created_at": v.created.Unix(), "completed_at": nil,
		"video_url": nil, "captioned_video_url": nil, "subtitle_url": nil, "thumbnail_url": nil, "gif_url": nil,
		"duration": nil, "folder_id": nil, "output_language": nil, "failure_code": nil, "failure_message": nil,
		"video_page_url": "https://app.heygen.com/videos/" + v.id,
	}
	switch status {
	case "completed":
		base := baseURL(r, HeyGen) + "/media/video/" + v.id
		exp := now.Add(v3URLLife).Unix()
		d["completed_at"] = v.created.Add(s.cfg.RenderTime).Unix()
		d["video_url"] = signURL(base+"/video.mp4", exp)
		d["thumbnail_url"] = signURL(base+"/thumb.jpeg", exp)
		d["gif_url"] = signURL(base+"/preview.gif", exp)
		d["duration"] = float64(v.durationMs) / 1000
		if r3 := v.req.v3; r3 != nil && r3.subtitles {
			d["subtitle_url"] = signURL(base+"/subtitle.srt", exp)
		}
		if r3 := v.req.v3; r3 != nil && r3.captioned {
			d["captioned_video_url"] = signURL(base+"/caption_video.mp4", exp)
		}
	case "failed":
		d["failure_code"], d["failure_message"] = v3Failure(v.outcome)
	}
	return d
}

// v3Failure is a failed render's failure_code and failure_message. The get-video docs'
// example is rendering_failed; the moderation code is the error-codes page's
// content_policy_violation [3P].
func v3Failure(o outcome) (string, string) {
	if o == outcomeModeration {
		return "content_policy_violation", "Your script contains words that violate our content moderation policy"
	}
	return "rendering_failed", "Avatar rendering timed out"
}

// v3ListVideos answers GET /v3/videos, newest first, optionally filtered by title.
func (s *Server) v3ListVideos(w http.ResponseWriter, c *call) error {
	now := s.now()
	title := c.r.URL.Query().Get("title")
	s.mu.Lock()
	var vids []hgVideo
	for _, id := range slices.Backward(s.hg.order) {
		if v, ok := s.hg.videos[id]; ok && v.key == c.key && strings.Contains(v.req.title, title) {
			vids = append(vids, *v)
		}
	}
	s.mu.Unlock()
	p, err := v3Paginate(c, len(vids), 10, 100)
	if err != nil {
		return err
	}
	items := make([]map[string]any, len(vids))
	for i := p.start; i < p.end; i++ {
		items[i] = s.v3Detail(c.r, &vids[i], now)
	}
	return v3List(w, items, p)
}

// v3DeleteVideo answers DELETE /v3/videos/{video_id}; a second delete is 404.
func (s *Server) v3DeleteVideo(w http.ResponseWriter, c *call) error {
	v, err := s.v3Video(c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.hg.videos, v.id)
	s.hg.order = slices.DeleteFunc(s.hg.order, func(id string) bool { return id == v.id })
	s.mu.Unlock()
	return v3Data(w, map[string]any{"id": v.id, "deleted": true})
}

// v3SubtitleMedia serves a completed v3 render's sidecar SRT while its link is unexpired.
func (s *Server) v3SubtitleMedia(w http.ResponseWriter, c *call) error {
	exp, err := strconv.ParseInt(c.r.URL.Query().Get("Expires"), 10, 64)
	now := s.now()
	if err != nil || now.Unix() > exp {
		return cdnError(http.StatusForbidden, "AccessDenied", "Request has expired")
	}
	s.mu.Lock()
	v, ok := s.hg.videos[c.params["id"]]
	ready := ok && v.req.v3 != nil && v.req.v3.subtitles && s.statusAt(v, now) == "completed"
	var script string
	var secs float64
	if ready {
		script, secs = v.req.script, float64(v.durationMs)/1000
	}
	s.mu.Unlock()
	if !ready {
		return cdnError(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	}
	return serveBytes(w, c.r, "application/x-subrip", subtitleSRT(script, secs))
}

// subtitleSRT renders script as SubRip cues spread over the video.
func subtitleSRT(script string, seconds float64) []byte {
	var b strings.Builder
	lines := strings.FieldsFunc(script, func(r rune) bool { return r == '\n' })
	for i, line := range lines {
		start := seconds * float64(i) / float64(len(lines))
		end := seconds * float64(i+1) / float64(len(lines))
		fmt.Fprintf(&b, "%d\n%s --> %s\n%s\n\n", i+1, srtTime(start), srtTime(end), line)
	}
	return []byte(b.String())
}

// srtTime formats seconds as HH:MM:SS,mmm.
func srtTime(sec float64) string {
	ms := int(sec * 1000)
	return fmt.Sprintf("%02d:%02d:%02d,%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}

// v3WebhookBody is the payload announcing a finished v3 render: avatar_video.success with
// url, or avatar_video.fail with msg and, as v3 adds [3P guess], failure_code and
// failure_message.
func v3WebhookBody(v *hgVideo, status string, now time.Time) (string, []byte) {
	data := map[string]any{"video_id": v.id, "callback_id": v.req.callbackID}
	eventType := "avatar_video.success"
	if status == "completed" {
		media := v.req.base + "/media/video/" + v.id
		exp := now.Add(v3URLLife).Unix()
		data["url"] = signURL(media+"/video.mp4", exp)
		data["gif_download_url"] = signURL(media+"/preview.gif", exp)
		data["video_page_url"] = "https://app.heygen.com/videos/" + v.id
		data["video_share_page_url"] = nil
		data["folder_id"] = ""
	} else {
		eventType = "avatar_video.fail"
		code, msg := v3Failure(v.outcome)
		data["msg"], data["failure_code"], data["failure_message"] = msg, code, msg
	}
	b, _ := marshalJSON(map[string]any{"event_type": eventType, "event_data": data})
	return eventType, b
}

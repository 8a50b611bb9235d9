package sandbox

import (
	"net/http"
	"strconv"
	"strings"
)

// heygenService wires HeyGen's routes.
func (s *Server) heygenService() *service {
	sv := &service{
		provider:   HeyGen,
		authorize:  s.heygenAuthorize,
		notFound:   func(p string) *apiError { return heygenStatusBody(p, http.StatusNotFound) },
		notAllowed: func(p string) *apiError { return heygenStatusBody(p, http.StatusMethodNotAllowed) },
		decorate: func(h http.Header) {
			h.Set("Server", "gunicorn")
			h.Set("Access-Control-Allow-Origin", "*")
		},
	}
	sv.handle(http.MethodGet, "/v2/avatars", s.hgListAvatars)
	sv.handle(http.MethodGet, "/v2/voices", s.hgListVoices)
	sv.handle(http.MethodGet, "/v2/templates", s.hgListTemplates)
	sv.handle(http.MethodGet, "/v2/template/{template_id}", s.hgGetTemplate)
	sv.handle(http.MethodPost, "/v2/template/{template_id}/generate", s.hgGenerateFromTemplate)
	sv.handle(http.MethodPost, "/v2/video/generate", s.hgGenerate)
	sv.handle(http.MethodGet, "/v1/video_status.get", s.hgVideoStatus)
	sv.handle(http.MethodGet, "/v1/video.list", s.hgVideoList)
	sv.handle(http.MethodDelete, "/v1/video.delete", s.hgVideoDelete)
	sv.handle(http.MethodGet, "/v2/user/remaining_quota", s.hgRemainingQuota)
	sv.handle(http.MethodPost, "/v1/asset", s.hgUploadAsset)
	sv.handle(http.MethodGet, "/v1/asset/list", s.hgListAssets) // before /v1/asset/{asset_id}
	sv.handle(http.MethodGet, "/v1/asset/{asset_id}", s.hgGetAsset)
	sv.handle(http.MethodPost, "/v2/video_translate", s.hgTranslate)
	sv.handle(http.MethodGet, "/v2/video_translate/target_languages", s.hgTargetLanguages)
	sv.handle(http.MethodGet, "/v2/video_translate/{video_translate_id}", s.hgTranslationStatus)
	sv.handle(http.MethodPost, "/v2/photo_avatar", s.hgCreatePhotoAvatar)
	sv.handle(http.MethodPost, "/v2/photo_avatar/avatar_group/create", s.hgCreatePhotoAvatar)
	sv.handle(http.MethodGet, "/v2/photo_avatar/{photo_avatar_id}", s.hgPhotoAvatarStatus)
	sv.handle(http.MethodPost, "/v2/video/talking_photo", s.hgGenerateTalkingPhoto)
	sv.handle(http.MethodGet, "/v1/talking_photo.list", s.hgListTalkingPhotos)
	sv.handle(http.MethodGet, "/v2/avatar/{avatar_id}/details", s.hgAvatarDetails)
	sv.handle(http.MethodGet, "/v2/avatar_group.list", s.hgListAvatarGroups)
	sv.handle(http.MethodGet, "/v2/avatar_group/{group_id}/avatars", s.hgGroupAvatars)
	sv.handle(http.MethodGet, "/v1/webhook/webhook.list", s.hgWebhookEvents)
	sv.handle(http.MethodPost, "/v1/webhook/endpoint.add", s.hgAddEndpoint)
	sv.handle(http.MethodGet, "/v1/webhook/endpoint.list", s.hgListEndpoints)
	sv.handle(http.MethodPatch, "/v1/webhook/endpoint.update", s.hgUpdateEndpoint)
	sv.handle(http.MethodDelete, "/v1/webhook/endpoint.delete", s.hgDeleteEndpoint)
	// Legacy streaming (heygen_streaming.go).
	s.heygenStreamingRoutes(sv)
	s.heygenV3Routes(sv) // heygen_v3.go; before the media routes, which it refines
	s.heygenMediaRoutes(sv)
	return sv
}

// heygenAuthorize accepts a known X-Api-Key (any header-name case, as net/http canonicalizes).
func (s *Server) heygenAuthorize(c *call) error {
	key := c.r.Header.Get("X-Api-Key")
	if !s.keyAccepted(HeyGen, key) {
		return heygenStatusBody(c.path, http.StatusUnauthorized)
	}
	c.key = key
	return s.admitKey(HeyGen, c) // keys.go
}

// isV1 reports whether path belongs to HeyGen's v1 surface, which has its own error envelope.
func isV1(path string) bool { return strings.HasPrefix(path, "/v1/") }

// v2Error is HeyGen's v2 error envelope.
func v2Error(status int, code, message string) *apiError {
	return jsonError(status, map[string]any{"data": nil, "error": map[string]string{"code": code, "message": message}})
}

// v1Error is HeyGen's v1 error envelope.
func v1Error(status, code int, message string) *apiError {
	return jsonError(status, map[string]any{"code": code, "message": message})
}

// v2Data writes a v2 success envelope.
func v2Data(w http.ResponseWriter, data any) error {
	writeJSON(w, http.StatusOK, map[string]any{"error": nil, "data": data})
	return nil
}

// v1Data writes a v1 success envelope in the style of the asset and webhook endpoints.
func v1Data(w http.ResponseWriter, data any) error {
	writeJSON(w, http.StatusOK, map[string]any{"code": 100, "data": data, "msg": nil, "message": nil})
	return nil
}

// invalidParam is the v2 validation error, phrased like HeyGen's "<field> is invalid: <why>".
func invalidParam(field, why string) *apiError {
	return v2Error(http.StatusBadRequest, "invalid_parameter", field+" is invalid: "+why)
}

// heygenStatusBody returns HeyGen's body for status on path: v1 paths get the v1 envelope,
// the rest the v2 one. 401 is HeyGen's observed "Unauthorized" pair; 429 on generate paths is
// trial_video_limit_exceeded, elsewhere rate_limit_exceeded.
func heygenStatusBody(path string, status int) *apiError {
	if isV3(path) {
		return v3StatusBody(status)
	}
	if isV1(path) {
		codes := map[int]int{400: 40001, 401: 400112, 403: 400562, 429: 400664}
		msgs := map[int]string{401: "Unauthorized", 404: "Not Found", 500: "Internal Server Error"}
		code, ok := codes[status]
		if !ok {
			code = status
		}
		msg, ok := msgs[status]
		if !ok {
			msg = http.StatusText(status)
		}
		return v1Error(status, code, msg)
	}
	switch status {
	case http.StatusUnauthorized:
		return v2Error(status, "internal_error", "Unauthorized")
	case http.StatusBadRequest:
		return v2Error(status, "invalid_parameter", "Invalid parameter")
	case http.StatusPaymentRequired:
		return v2Error(status, "insufficient_credit", "Insufficient credit")
	case http.StatusTooManyRequests:
		if strings.HasSuffix(path, "/generate") {
			return trialLimitError(5)
		}
		return v2Error(status, "rate_limit_exceeded", "Rate limit exceeded. Please retry later.")
	case http.StatusInternalServerError:
		return v2Error(status, "internal_error", "Internal server error")
	}
	return v2Error(status, snakeCase(http.StatusText(status)), http.StatusText(status))
}

// trialLimitError is HeyGen's answer to the test-mode daily cap.
func trialLimitError(limit int) *apiError {
	return v2Error(http.StatusTooManyRequests, "trial_video_limit_exceeded",
		"It seems you've reached your daily api trial limit "+strconv.Itoa(limit)+".")
}

// heygenOK200Error is the quirk of an error body delivered with HTTP 200.
func heygenOK200Error(path string) *apiError {
	e := v2Error(http.StatusOK, "internal_error", "Internal server error, please retry")
	if isV1(path) {
		e = jsonError(http.StatusOK, map[string]any{"code": 400175, "data": nil, "message": "Internal server error, please retry"})
	}
	return e
}

// snakeCase turns "Method Not Allowed" into "method_not_allowed".
func snakeCase(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), " ", "_")
}

// avatarJSON is one avatar of GET /v2/avatars.
type avatarJSON struct {
	AvatarID        string   `json:"avatar_id"`
	AvatarName      string   `json:"avatar_name"`
	Gender          string   `json:"gender"`
	PreviewImageURL string   `json:"preview_image_url"`
	PreviewVideoURL string   `json:"preview_video_url"`
	Premium         bool     `json:"premium"`
	Type            *string  `json:"type"`
	Tags            []string `json:"tags"`
	DefaultVoiceID  *string  `json:"default_voice_id"`
}

// talkingPhotoJSON is one talking photo of GET /v2/avatars.
type talkingPhotoJSON struct {
	TalkingPhotoID   string `json:"talking_photo_id"`
	TalkingPhotoName string `json:"talking_photo_name"`
	PreviewImageURL  string `json:"preview_image_url"`
}

// hgVoiceJSON is one voice of GET /v2/voices.
type hgVoiceJSON struct {
	VoiceID                  string `json:"voice_id"`
	Language                 string `json:"language"`
	Gender                   string `json:"gender"`
	Name                     string `json:"name"`
	PreviewAudio             string `json:"preview_audio"`
	SupportPause             bool   `json:"support_pause"`
	EmotionSupport           bool   `json:"emotion_support"`
	SupportInteractiveAvatar bool   `json:"support_interactive_avatar"`
	SupportLocale            bool   `json:"support_locale"`
}

// templateJSON is one template of GET /v2/templates.
type templateJSON struct {
	TemplateID        string  `json:"template_id"`
	Name              string  `json:"name"`
	ThumbnailImageURL *string `json:"thumbnail_image_url"`
	AspectRatio       string  `json:"aspect_ratio"`
}

// hgListAvatars answers GET /v2/avatars with the whole catalog.
func (s *Server) hgListAvatars(w http.ResponseWriter, c *call) error {
	base := baseURL(c.r, HeyGen)
	avatars := make([]avatarJSON, len(s.heygen.avatars))
	for i, a := range s.heygen.avatars {
		avatars[i] = avatarJSON{
			AvatarID: a.ID, AvatarName: a.Name, Gender: a.Gender,
			PreviewImageURL: base + "/media/avatar/" + a.ID + "/preview.png",
			PreviewVideoURL: base + "/media/avatar/" + a.ID + "/preview_video_target.mp4",
			Premium:         a.Premium, Type: a.Type, Tags: a.Tags, DefaultVoiceID: a.DefaultVoiceID,
		}
	}
	photos := make([]talkingPhotoJSON, len(s.heygen.photos))
	for i, p := range s.heygen.photos {
		photos[i] = talkingPhotoJSON{
			TalkingPhotoID: p.ID, TalkingPhotoName: p.Name,
			PreviewImageURL: base + "/media/talking_photo/" + p.ID + "/preview.png",
		}
	}
	for _, p := range s.keyPhotos(c.key) { // The key's own, once trained (heygen_photo.go).
		photos = append(photos, talkingPhotoJSON{TalkingPhotoID: p.id, TalkingPhotoName: p.name, PreviewImageURL: s.photoImageURL(c.r, &p)})
	}
	return v2Data(w, map[string]any{"avatars": avatars, "talking_photos": photos})
}

// hgListVoices answers GET /v2/voices.
func (s *Server) hgListVoices(w http.ResponseWriter, c *call) error {
	base := baseURL(c.r, HeyGen)
	voices := make([]hgVoiceJSON, len(s.heygen.voices))
	for i, v := range s.heygen.voices {
		voices[i] = hgVoiceJSON{
			VoiceID: v.ID, Language: v.Language, Gender: v.Gender, Name: v.Name,
			PreviewAudio: base + "/media/voice/" + v.ID + "/preview.mp3",
			SupportPause: v.SupportPause, EmotionSupport: v.Emotion,
			SupportInteractiveAvatar: v.Interactive, SupportLocale: v.Locale,
		}
	}
	return v2Data(w, map[string]any{"voices": voices})
}

// hgListTemplates answers GET /v2/templates.
func (s *Server) hgListTemplates(w http.ResponseWriter, c *call) error {
	base := baseURL(c.r, HeyGen)
	out := make([]templateJSON, len(s.heygen.templates))
	for i, t := range s.heygen.templates {
		out[i] = templateJSON{TemplateID: t.ID, Name: t.Name, AspectRatio: t.AspectRatio}
		if t.HasThumbnail {
			u := base + "/media/template/" + t.ID + "/thumbnail.jpeg"
			out[i].ThumbnailImageURL = &u
		}
	}
	return v2Data(w, map[string]any{"templates": out})
}

// hgGetTemplate answers GET /v2/template/{template_id} with the template's variables.
func (s *Server) hgGetTemplate(w http.ResponseWriter, c *call) error {
	t, ok := s.heygen.template(c.params["template_id"])
	if !ok {
		return templateNotFound(c.params["template_id"])
	}
	vars := map[string]any{}
	for _, v := range t.Variables {
		vars[v.Name] = map[string]any{"name": v.Name, "type": v.Type, "properties": v.Properties}
	}
	return v2Data(w, map[string]any{"variables": vars})
}

// templateNotFound is the 404 for an unknown template id.
func templateNotFound(id string) *apiError {
	return v2Error(http.StatusNotFound, "template_not_found", "Template "+id+" not found")
}

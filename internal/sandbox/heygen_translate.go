package sandbox

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// HeyGen video translation (POST /v2/video_translate, GET /v2/video_translate/{id}), after
// docs.heygen.com's Video Translate pages: a translation is pending for the first 20% of
// Config.RenderTime, then running, then success or failed, with the same markers as renders
// (SANDBOX_FAIL or SANDBOX_FAIL_MODERATION in the title or video_url fails it, SANDBOX_STUCK
// keeps it running). Translations show in GET /v1/video.list as TRANSLATED videos, are
// deleted with DELETE /v1/video.delete?type=video_translate, and are announced with
// video_translate.success or video_translate.fail webhooks.

// hgTranslation is one translation job.
type hgTranslation struct {
	id, key, title, videoURL, language string
	callbackID                         *string
	callbackURL, base                  string
	created                            time.Time
	outcome                            outcome
}

// hgTranslateLanguages are the output languages the sandbox translates into (GET
// /v2/video_translate/target_languages).
func hgTranslateLanguages() []string {
	return []string{"English", "English - American Accent", "English - British Accent", "Spanish", "Spanish (Spain)",
		"French", "German", "Italian", "Portuguese", "Portuguese (Brazil)", "Japanese", "Korean",
		"Chinese (Simplified)", "Hindi", "Arabic", "Dutch", "Polish", "Turkish", "Russian", "Swedish",
		"Indonesian", "Vietnamese"}
}

// translateBody is the part of POST /v2/video_translate the sandbox reads.
type translateBody struct {
	VideoURL           string  `json:"video_url"`
	OutputLanguage     string  `json:"output_language"`
	Title              string  `json:"title"`
	TranslateAudioOnly bool    `json:"translate_audio_only"`
	SpeakerNum         *int    `json:"speaker_num"`
	CallbackID         *string `json:"callback_id"`
	CallbackURL        string  `json:"callback_url"`
}

// hgTargetLanguages answers GET /v2/video_translate/target_languages.
func (s *Server) hgTargetLanguages(w http.ResponseWriter, _ *call) error {
	return v2Data(w, map[string]any{"languages": hgTranslateLanguages()})
}

// validateTranslate checks a translate body the v2 way.
func validateTranslate(b *translateBody) error {
	switch u, err := url.Parse(b.VideoURL); {
	case b.VideoURL == "":
		return invalidParam("video_url", "field required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return invalidParam("video_url", "invalid or missing URL scheme")
	case b.OutputLanguage == "":
		return invalidParam("output_language", "field required")
	case !slices.Contains(hgTranslateLanguages(), b.OutputLanguage):
		return invalidParam("output_language", "unsupported language "+b.OutputLanguage+"; see /v2/video_translate/target_languages")
	case b.SpeakerNum != nil && (*b.SpeakerNum < 1 || *b.SpeakerNum > 10):
		return invalidParam("speaker_num", "ensure this value is between 1 and 10")
	}
	return nil
}

// hgTranslate answers POST /v2/video_translate with the new translation's id.
func (s *Server) hgTranslate(w http.ResponseWriter, c *call) error {
	var b translateBody
	if err := decodeHeyGenBody(c.body, &b); err != nil {
		return err
	}
	if err := validateTranslate(&b); err != nil {
		return err
	}
	t := &hgTranslation{id: s.newID(lowerHex, 32), key: c.key, title: b.Title, videoURL: b.VideoURL,
		language: b.OutputLanguage, callbackID: b.CallbackID, callbackURL: b.CallbackURL,
		base: baseURL(c.r, HeyGen), created: s.now(), outcome: outcomeFor(b.Title + " " + b.VideoURL)}
	s.mu.Lock()
	s.hg.translations[t.id] = t
	s.hg.order = append(s.hg.order, t.id)
	s.mu.Unlock()
	return v2Data(w, map[string]string{"video_translate_id": t.id})
}

// translationStatusAt is t's status at now: pending, running, success or failed.
func (s *Server) translationStatusAt(t *hgTranslation, now time.Time) string {
	elapsed := now.Sub(t.created)
	switch {
	case elapsed < s.cfg.RenderTime/5:
		return "pending"
	case elapsed < s.cfg.RenderTime || t.outcome == outcomeStuck:
		return "running"
	case t.outcome == outcomeCompleted:
		return "success"
	}
	return "failed"
}

// translationFailure is the message of a failed translation.
func translationFailure(o outcome) string {
	if o == outcomeModeration {
		return "Your video contains content that violates our content moderation policy"
	}
	return "Video translation failed: no speech could be detected in the source video"
}

// translationURL is a finished translation's signed link, valid for 7 days from now.
func translationURL(base, id string, now time.Time) string {
	return signURL(base+"/media/translation/"+id+"/video.mp4", now.Add(7*24*time.Hour).Unix())
}

// hgTranslationStatus answers GET /v2/video_translate/{video_translate_id}; another key's
// translation is 404 video_translate_not_found [INF: the code].
func (s *Server) hgTranslationStatus(w http.ResponseWriter, c *call) error {
	id := c.params["video_translate_id"]
	s.mu.Lock()
	t, ok := s.hg.translations[id]
	var tc hgTranslation
	if ok && t.key == c.key {
		tc = *t
	}
	s.mu.Unlock()
	if !ok || tc.key != c.key {
		return v2Error(http.StatusNotFound, "video_translate_not_found", "Video translate "+id+" not found")
	}
	now := s.now()
	status := s.translationStatusAt(&tc, now)
	data := map[string]any{"video_translate_id": tc.id, "title": tc.title, "status": status, "url": nil,
		"message": nil, "callback_id": tc.callbackID, "output_language": tc.language}
	switch status {
	case "success":
		data["url"] = translationURL(baseURL(c.r, HeyGen), tc.id, now)
	case "failed":
		data["message"] = translationFailure(tc.outcome)
	}
	return v2Data(w, data)
}

// translationListStatus is a translation's status as GET /v1/video.list words it.
func translationListStatus(st string) string {
	switch st {
	case "success":
		return "completed"
	case "failed":
		return "failed"
	}
	return "processing"
}

// deleteTranslation removes key's translation id; it reports whether there was one.
func (s *Server) deleteTranslation(key, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.hg.translations[id]
	if !ok || t.key != key {
		return false
	}
	delete(s.hg.translations, id)
	s.hg.order = slices.DeleteFunc(s.hg.order, func(o string) bool { return o == id })
	return true
}

// hgTranslationMedia serves a finished translation's video while its signed link is
// unexpired.
func (s *Server) hgTranslationMedia(w http.ResponseWriter, c *call) error {
	if !s.linkValid(c) {
		return cdnError(http.StatusForbidden, "AccessDenied", "Request has expired")
	}
	s.mu.Lock()
	t, ok := s.hg.translations[c.params["id"]]
	done := ok && s.translationStatusAt(t, s.now()) == "success"
	s.mu.Unlock()
	if !done || c.params["file"] != "video.mp4" {
		return cdnError(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	}
	return serveBytes(w, c.r, "video/mp4", videoMP4)
}

// linkValid reports whether a media request carries an Expires that has not passed.
func (s *Server) linkValid(c *call) bool {
	exp, err := queryInt(c.r.URL.Query().Get("Expires"), -1)
	return err == nil && exp >= 0 && s.now().Unix() <= int64(exp)
}

// translationWebhookBody is the payload announcing a finished translation.
func translationWebhookBody(t *hgTranslation, status string, now time.Time) (string, []byte) {
	data := map[string]any{"video_translate_id": t.id, "callback_id": t.callbackID, "output_language": t.language}
	eventType := "video_translate.success"
	if status == "success" {
		data["url"] = translationURL(t.base, t.id, now)
	} else {
		eventType = "video_translate.fail"
		data["message"] = translationFailure(t.outcome)
	}
	b, _ := marshalJSON(map[string]any{"event_type": eventType, "event_data": data})
	return eventType, b
}

// isTranslateType reports whether a video.delete type names translations.
func isTranslateType(typ string) bool { return strings.EqualFold(typ, "video_translate") }

package sandbox

import (
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// ElevenLabs dubbing (POST /v1/dubbing, GET/DELETE /v1/dubbing/{dubbing_id}, and the dubbed
// file): a project is "dubbing" for Config.RenderTime, then "dubbed", or "failed" when its
// name or source_url holds SANDBOX_FAIL; SANDBOX_STUCK keeps it dubbing. Bodies follow the
// official OpenAPI (DoDubbingResponseModel, DubbingMetadataResponse and the audio route's
// 404 and 425 examples).

// elDubbing is one dubbing project.
type elDubbing struct {
	id, name, sourceLang, targetLang string
	contentType                      string  // video/mp4 or audio/mpeg
	seconds                          float64 // the source's length
	created                          time.Time
	outcome                          outcome
}

// elDubbingStatus is d's status at now.
func (s *Server) elDubbingStatus(d *elDubbing, now time.Time) string {
	switch {
	case d.outcome == outcomeStuck || now.Sub(d.created) < s.cfg.RenderTime:
		return "dubbing"
	case d.outcome == outcomeCompleted:
		return "dubbed"
	}
	return "failed"
}

// dubbingForm is a validated create-dubbing form.
type dubbingForm struct {
	file                         *formFile
	sourceURL, name, src, target string
}

// readDubbingForm validates POST /v1/dubbing: target_lang is required (422), and exactly one
// of file and source_url (400 invalid_parameters [INF]).
func readDubbingForm(c *call) (dubbingForm, error) {
	f := parseForm(c)
	var items []validationItem
	var df dubbingForm
	df.target, _ = f.value("target_lang")
	if df.target == "" {
		items = append(items, missingItem("body", "target_lang"))
	}
	f.formInt("num_speakers", 0, &items)
	for _, b := range []string{"watermark", "highest_resolution", "drop_background_audio", "dubbing_studio", "disable_voice_cloning"} {
		f.formBool(b, false, &items)
	}
	if len(items) > 0 {
		return df, validationError(items)
	}
	if file, ok := f.file("file"); ok {
		df.file = &file
	}
	df.sourceURL, _ = f.value("source_url")
	df.name, _ = f.value("name")
	if df.src, _ = f.value("source_lang"); df.src == "" {
		df.src = "auto"
	}
	switch u, err := url.Parse(df.sourceURL); {
	case df.file == nil && df.sourceURL == "", df.file != nil && df.sourceURL != "":
		return df, detailError(http.StatusBadRequest, "invalid_parameters", "Provide either file or source_url, not both and not neither.")
	case df.sourceURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == ""):
		return df, detailError(http.StatusBadRequest, "invalid_parameters", "source_url must be an http or https URL.")
	}
	return df, nil
}

// elCreateDubbing answers POST /v1/dubbing with the new project's id and the time it will
// take.
func (s *Server) elCreateDubbing(w http.ResponseWriter, c *call) error {
	df, err := readDubbingForm(c)
	if err != nil {
		return err
	}
	d := &elDubbing{id: s.newID(alnum, 20), name: df.name, sourceLang: df.src, targetLang: df.target,
		contentType: "audio/mpeg", seconds: 10, created: s.now(), outcome: outcomeFor(df.name + " " + df.sourceURL)}
	switch {
	case df.file != nil:
		d.contentType, d.seconds = sourceMedia(df.file.contentType, df.file.data)
		if d.name == "" {
			d.name = df.file.filename
		}
	case strings.EqualFold(path.Ext(df.sourceURL), ".mp4"), strings.EqualFold(path.Ext(df.sourceURL), ".webm"):
		d.contentType = "video/mp4"
	}
	if d.name == "" {
		d.name = "Untitled dub"
	}
	s.mu.Lock()
	s.elAccountLocked(c.key).dubbings[d.id] = d
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"dubbing_id": d.id, "expected_duration_sec": s.cfg.RenderTime.Seconds()})
	return nil
}

// sourceMedia classifies an uploaded source as video or audio and measures it: MP3 by its
// frames, anything else as 10 seconds [INF].
func sourceMedia(contentType string, data []byte) (string, float64) {
	if strings.HasPrefix(contentType, "video/") {
		return "video/mp4", 10
	}
	if info, err := parseMP3(data); err == nil {
		return "audio/mpeg", info.seconds()
	}
	return "audio/mpeg", 10
}

// dubbing finds one of the caller's projects.
func (s *Server) dubbing(c *call) (elDubbing, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.elAccountLocked(c.key).dubbings[c.params["dubbing_id"]]
	if !ok {
		return elDubbing{}, false
	}
	return *d, true
}

// dubbingNotFound is the 404 for a project the caller does not have [INF: the reference
// does not show this body].
func dubbingNotFound(id string) *apiError {
	return detailError(http.StatusNotFound, "dubbing_not_found", "There is no dubbing with the id "+id+".")
}

// elGetDubbing answers GET /v1/dubbing/{dubbing_id} with DubbingMetadataResponse.
func (s *Server) elGetDubbing(w http.ResponseWriter, c *call) error {
	d, ok := s.dubbing(c)
	if !ok {
		return dubbingNotFound(c.params["dubbing_id"])
	}
	status := s.elDubbingStatus(&d, s.now())
	var failure any
	if status == "failed" {
		failure = "Dubbing failed: no speech could be detected in the source."
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"dubbing_id": d.id, "name": d.name, "status": status, "target_languages": []string{d.targetLang},
		"editable": false, "created_at": d.created.UTC().Format("2006-01-02T15:04:05.000000"),
		"media_metadata": map[string]any{"content_type": d.contentType, "duration": d.seconds}, "error": failure,
	})
	return nil
}

// audioRouteError is the body the dubbed-file route documents for its 404 and 425.
func audioRouteError(status int, code, message string) *apiError {
	return jsonError(status, map[string]string{"error": code, "message": message})
}

// elDubbedAudio answers GET /v1/dubbing/{dubbing_id}/audio/{language_code} with the dubbed
// file: 425 dubbing_not_dubbed while it is dubbing, 404 dubbing_not_found for a language it
// was not dubbed into (or a failed dub).
func (s *Server) elDubbedAudio(w http.ResponseWriter, c *call) error {
	lang := c.params["language_code"]
	d, ok := s.dubbing(c)
	if !ok {
		return audioRouteError(http.StatusNotFound, "dubbing_not_found", "There is no dubbing with the id "+c.params["dubbing_id"]+".")
	}
	status := s.elDubbingStatus(&d, s.now())
	switch {
	case lang != d.targetLang || status == "failed":
		return audioRouteError(http.StatusNotFound, "dubbing_not_found", "There is no dubbing for language "+lang+".")
	case status == "dubbing":
		return audioRouteError(http.StatusTooEarly, "dubbing_not_dubbed", "Dubbing has not finished yet.")
	case d.contentType == "video/mp4":
		return serveBytes(w, c.r, "video/mp4", videoMP4)
	}
	return serveBytes(w, c.r, "audio/mpeg", soundAudio(d.name+" "+lang, d.seconds, mp3Default()))
}

// elDeleteDubbing answers DELETE /v1/dubbing/{dubbing_id}.
func (s *Server) elDeleteDubbing(w http.ResponseWriter, c *call) error {
	id := c.params["dubbing_id"]
	s.mu.Lock()
	defer s.mu.Unlock()
	ds := s.elAccountLocked(c.key).dubbings
	if _, ok := ds[id]; !ok {
		return dubbingNotFound(id)
	}
	delete(ds, id)
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

package sandbox

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// heygenMediaRoutes adds the public media routes that stand in for HeyGen's file CDNs.
func (s *Server) heygenMediaRoutes(sv *service) {
	sv.handlePublic(http.MethodGet, "/media/video/{id}/{file}", s.hgVideoMedia)
	sv.handlePublic(http.MethodGet, "/media/asset/{id}/{file}", s.hgAssetMedia)
	sv.handlePublic(http.MethodGet, "/media/translation/{id}/{file}", s.hgTranslationMedia)
	sv.handlePublic(http.MethodGet, "/media/{kind}/{id}/{file}", s.hgCatalogMedia)
}

// cdnError is the XML a CloudFront/S3 front answers with.
func cdnError(status int, code, message string) *apiError {
	body := `<?xml version="1.0" encoding="UTF-8"?>` + "\n<Error><Code>" + code + "</Code><Message>" + message + "</Message></Error>"
	return &apiError{status: status, contentType: "application/xml", body: []byte(body)}
}

// serveBytes serves b with Range support.
func serveBytes(w http.ResponseWriter, r *http.Request, contentType string, b []byte) error {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "max-age=86400")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
	return nil
}

// hgVideoMedia serves a completed render's files while their signed link is unexpired.
func (s *Server) hgVideoMedia(w http.ResponseWriter, c *call) error {
	exp, err := strconv.ParseInt(c.r.URL.Query().Get("Expires"), 10, 64)
	if err != nil {
		return cdnError(http.StatusForbidden, "MissingKey", "Missing Key-Pair-Id query parameter or cookie value")
	}
	now := s.now()
	if now.Unix() > exp {
		return cdnError(http.StatusForbidden, "AccessDenied", "Request has expired")
	}
	s.mu.Lock()
	v, ok := s.hg.videos[c.params["id"]]
	completed := ok && s.statusAt(v, now) == "completed"
	s.mu.Unlock()
	if !completed {
		return cdnError(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	}
	switch c.params["file"] {
	case "video.mp4", "caption_video.mp4":
		return serveBytes(w, c.r, "video/mp4", videoMP4)
	case "thumb.jpeg":
		return serveBytes(w, c.r, "image/jpeg", thumbnailJPEG)
	case "preview.gif":
		return serveBytes(w, c.r, "image/gif", videoGIF)
	case "caption.ass":
		return serveBytes(w, c.r, "text/plain; charset=utf-8", captionASS(v.req.script, float64(v.durationMs)/1000))
	}
	return cdnError(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
}

// hgCatalogMedia serves previews of catalog entries.
func (s *Server) hgCatalogMedia(w http.ResponseWriter, c *call) error {
	kind, id, file := c.params["kind"], c.params["id"], c.params["file"]
	switch {
	case kind == "avatar" && s.heygen.avatarByID[id] && file == "preview.png",
		kind == "talking_photo" && s.heygen.photoByID[id] && file == "preview.png":
		return serveBytes(w, c.r, "image/png", previewPNG(id))
	case kind == "avatar" && s.heygen.avatarByID[id] && file == "preview_target.webp",
		kind == "talking_photo" && s.heygen.photoByID[id] && file == "preview_target.webp":
		return serveBytes(w, c.r, "image/webp", avatarWebP) // links from before previews were drawn
	case kind == "avatar" && s.heygen.avatarByID[id] && file == "preview_video_target.mp4":
		return serveBytes(w, c.r, "video/mp4", videoMP4)
	case kind == "voice" && s.heygen.voiceByID[id] && file == "preview.mp3":
		return serveBytes(w, c.r, "audio/mpeg", Speech(previewSentence, id, defaultModelID, defaultOutputFormat))
	case kind == "template" && file == "thumbnail.jpeg":
		if _, ok := s.heygen.template(id); ok {
			return serveBytes(w, c.r, "image/jpeg", thumbnailJPEG)
		}
	}
	return cdnError(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
}

// captionASS renders script as a minimal Advanced SubStation Alpha subtitle file.
func captionASS(script string, seconds float64) []byte {
	var b strings.Builder
	b.WriteString("[Script Info]\nScriptType: v4.00+\nPlayResX: 1280\nPlayResY: 720\n\n")
	b.WriteString("[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n")
	lines := strings.FieldsFunc(script, func(r rune) bool { return r == '\n' })
	for i, line := range lines {
		start := seconds * float64(i) / float64(len(lines))
		end := seconds * float64(i+1) / float64(len(lines))
		b.WriteString("Dialogue: 0," + assTime(start) + "," + assTime(end) + ",Default,,0,0,0,," + line + "\n")
	}
	return []byte(b.String())
}

// assTime formats seconds as H:MM:SS.cc.
func assTime(sec float64) string {
	cs := int(sec * 100)
	return strconv.Itoa(cs/360000) + ":" + pad2(cs/6000%60) + ":" + pad2(cs/100%60) + "." + pad2(cs%100)
}

// pad2 formats n with at least two digits.
func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

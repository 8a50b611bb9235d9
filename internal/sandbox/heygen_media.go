package sandbox

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// heygenMediaRoutes adds the public media routes that stand in for HeyGen's file CDNs.
func (s *Server) heygenMediaRoutes(sv *service) {
	sv.handlePublic(http.MethodGet, "/media/video/{id}/{file}", s.hgVideoMedia)
	sv.handlePublic(http.MethodGet, "/media/asset/{id}/{file}", s.hgAssetMedia)
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
	case kind == "avatar" && s.heygen.avatarByID[id] && file == "preview_target.webp",
		kind == "talking_photo" && s.heygen.photoByID[id] && file == "preview_target.webp":
		return serveBytes(w, c.r, "image/webp", avatarWebP)
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

// hgAsset is an uploaded file.
type hgAsset struct {
	id, key, fileType, contentType string
	created                        time.Time
	data                           []byte
}

// assetTypes maps the upload MIME types HeyGen accepts to its file_type.
var assetTypes = map[string]string{
	"image/jpeg": "image", "image/png": "image", "video/mp4": "video", "video/webm": "video",
	"audio/mpeg": "audio", "audio/wav": "audio", "audio/x-wav": "audio",
}

// hgUploadAsset answers POST /v1/asset (upload.heygen.com): the raw file is the body.
func (s *Server) hgUploadAsset(w http.ResponseWriter, c *call) error {
	ct, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	fileType, ok := assetTypes[ct]
	if !ok {
		return v1Error(http.StatusBadRequest, 400111, "Invalid file type: "+ct)
	}
	if len(c.body) == 0 {
		return v1Error(http.StatusBadRequest, 40001, "Missing file content")
	}
	a := &hgAsset{id: s.newID(lowerHex, 32), key: c.key, fileType: fileType, contentType: ct, created: s.now(), data: c.body}
	s.mu.Lock()
	s.hg.assets[a.id] = a
	s.mu.Unlock()
	ext, _ := mime.ExtensionsByType(ct)
	name := a.id
	if len(ext) > 0 {
		name += ext[len(ext)-1]
	}
	data := map[string]any{
		"id": a.id, "name": a.id, "file_type": fileType, "folder_id": "", "meta": nil,
		"created_ts": a.created.Unix(), "url": baseURL(c.r, HeyGen) + "/media/asset/" + a.id + "/" + name,
	}
	if fileType == "image" {
		data["image_key"] = "image/" + a.id + "/original"
	}
	return v1Data(w, data)
}

// hasAsset reports whether an asset with id was uploaded.
func (s *Server) hasAsset(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.hg.assets[id]
	return ok
}

// hgAssetMedia serves an uploaded file back.
func (s *Server) hgAssetMedia(w http.ResponseWriter, c *call) error {
	s.mu.Lock()
	a, ok := s.hg.assets[c.params["id"]]
	s.mu.Unlock()
	if !ok {
		return cdnError(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	}
	return serveBytes(w, c.r, a.contentType, a.data)
}

// hgWebhookEventNames are the legacy webhook events HeyGen lists.
var hgWebhookEventNames = []string{
	"avatar_video.success", "avatar_video.fail", "avatar_video_gif.success", "avatar_video_gif.fail",
	"video_translate.success", "video_translate.fail", "personalized_video",
}

// hgEndpoint is a registered webhook endpoint.
type hgEndpoint struct {
	key  string
	json endpointJSON
}

// endpointJSON is a webhook endpoint as HeyGen shows it.
type endpointJSON struct {
	EndpointID string   `json:"endpoint_id"`
	URL        string   `json:"url"`
	Secret     string   `json:"secret"`
	Status     string   `json:"status"`
	Events     []string `json:"events"`
	Username   string   `json:"username"`
	CreatedAt  string   `json:"created_at"`
}

// hgWebhookEvents answers GET /v1/webhook/webhook.list.
func (s *Server) hgWebhookEvents(w http.ResponseWriter, _ *call) error {
	return v1Data(w, hgWebhookEventNames)
}

// hgAddEndpoint answers POST /v1/webhook/endpoint.add. The sandbox does not probe the URL.
func (s *Server) hgAddEndpoint(w http.ResponseWriter, c *call) error {
	var body struct {
		URL    string   `json:"url"`
		Events []string `json:"events"`
	}
	if err := json.Unmarshal(c.body, &body); err != nil {
		return v1Error(http.StatusBadRequest, 400175, "Invalid parameter: request body is not valid JSON")
	}
	if u, err := url.Parse(body.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return v1Error(http.StatusBadRequest, 400175, "Invalid parameter: url")
	}
	if body.Events == nil {
		body.Events = hgWebhookEventNames
	}
	for _, e := range body.Events {
		if !slices.Contains(hgWebhookEventNames, e) {
			return v1Error(http.StatusBadRequest, 400175, "Invalid parameter: unknown event "+e)
		}
	}
	ep := endpointJSON{
		EndpointID: s.newID(lowerHex, 32), URL: body.URL, Secret: s.newID(alnum, 32), Status: "enabled",
		Events: slices.Clone(body.Events), Username: "sandbox", CreatedAt: s.now().UTC().Format(time.RFC3339),
	}
	s.mu.Lock()
	s.hg.endpoints = append(s.hg.endpoints, hgEndpoint{key: c.key, json: ep})
	s.mu.Unlock()
	return v1Data(w, ep)
}

// hgListEndpoints answers GET /v1/webhook/endpoint.list.
func (s *Server) hgListEndpoints(w http.ResponseWriter, c *call) error {
	s.mu.Lock()
	out := []endpointJSON{}
	for _, ep := range s.hg.endpoints {
		if ep.key == c.key {
			out = append(out, ep.json)
		}
	}
	s.mu.Unlock()
	return v1Data(w, out)
}

// hgDeleteEndpoint answers DELETE /v1/webhook/endpoint.delete.
func (s *Server) hgDeleteEndpoint(w http.ResponseWriter, c *call) error {
	id := c.r.URL.Query().Get("endpoint_id")
	if id == "" {
		return v1Error(http.StatusBadRequest, 40001, "Missing required parameter: endpoint_id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.hg.endpoints)
	s.hg.endpoints = slices.DeleteFunc(s.hg.endpoints, func(ep hgEndpoint) bool {
		return ep.key == c.key && ep.json.EndpointID == id
	})
	if len(s.hg.endpoints) == n {
		return v1Error(http.StatusNotFound, 404, "Webhook endpoint not found")
	}
	return v1Data(w, nil)
}

package sandbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// v3Epoch is the created_at the sandbox gives catalog entries (integer unix seconds, as v3
// lists use).
var v3Epoch = time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC).Unix()

// v3AspectRatio maps a v2 template orientation to v3's ratio [INF].
func v3AspectRatio(v2 string) string {
	if v2 == "portrait" {
		return "9:16"
	}
	return "16:9"
}

// v3TemplateThumb is a template's thumbnail link, if it has one.
func v3TemplateThumb(r *http.Request, t *hgTemplate) any {
	if !t.HasThumbnail {
		return nil
	}
	return baseURL(r, HeyGen) + "/media/template/" + t.ID + "/thumbnail.jpeg"
}

// v3ListTemplates answers GET /v3/templates (limit 1–100, default 10).
func (s *Server) v3ListTemplates(w http.ResponseWriter, c *call) error {
	ts := s.heygen.templates
	p, err := v3Paginate(c, len(ts), 10, 100)
	if err != nil {
		return err
	}
	items := make([]map[string]any, len(ts))
	for i := range ts {
		items[i] = map[string]any{"id": ts[i].ID, "name": ts[i].Name, "aspect_ratio": v3AspectRatio(ts[i].AspectRatio),
			"thumbnail_url": v3TemplateThumb(c.r, &ts[i]), "created_at": v3Epoch, "updated_at": v3Epoch}
	}
	return v3List(w, items, p)
}

// v3Template finds a template or answers 404 template_not_found [INF: the v3 code].
func (s *Server) v3Template(c *call) (*hgTemplate, error) {
	id := c.params["template_id"]
	t, ok := s.heygen.template(id)
	if !ok {
		return nil, v3Error(http.StatusNotFound, "template_not_found", "Template "+id+" not found", "")
	}
	return t, nil
}

// v3GetTemplate answers GET /v3/templates/{template_id}: one scene holding every variable,
// and each variable's default in the shape generate takes.
func (s *Server) v3GetTemplate(w http.ResponseWriter, c *call) error {
	t, err := s.v3Template(c)
	if err != nil {
		return err
	}
	sceneID := t.ID[:8] + "-scene-1"
	vars, defaults, script := []map[string]any{}, map[string]any{}, ""
	for _, v := range t.Variables {
		vars = append(vars, map[string]any{"name": v.Name, "variable_type": v.Type})
		defaults[v.Name] = map[string]any{"name": v.Name, "type": v.Type, "properties": v.Properties}
		if v.Type == "text" {
			script += "{{" + v.Name + "}} "
		}
	}
	return v3Data(w, map[string]any{
		"id": t.ID, "name": t.Name, "aspect_ratio": v3AspectRatio(t.AspectRatio), "created_at": v3Epoch,
		"updated_at": v3Epoch, "thumbnail_url": v3TemplateThumb(c.r, t), "scene_ids": []string{sceneID},
		"scenes":    []any{map[string]any{"scene_id": sceneID, "script": strings.TrimSpace(script), "variables": vars}},
		"variables": defaults,
	})
}

// v3GenerateTemplate answers POST /v3/templates/{template_id} with the new video's full
// VideoDetail (status pending), not {video_id}.
func (s *Server) v3GenerateTemplate(w http.ResponseWriter, c *call) error {
	t, err := s.v3Template(c)
	if err != nil {
		return err
	}
	var b struct {
		Variables   map[string]json.RawMessage `json:"variables"`
		Title       string                     `json:"title"`
		Caption     bool                       `json:"caption"`
		CallbackURL string                     `json:"callback_url"`
		CallbackID  *string                    `json:"callback_id"`
	}
	if err := v3DecodeBody(c.body, &b); err != nil {
		return err
	}
	if b.Variables == nil {
		return v3Invalid("variables", "variables is required")
	}
	script, err := templateScript(t, b.Variables)
	if err != nil {
		return v3Invalid("variables", "Each variable must be an object with properties")
	}
	req := renderRequest{title: b.Title, callbackID: b.CallbackID, callbackURL: b.CallbackURL, caption: b.Caption,
		script: script, duration: speechSeconds(script), v3: &v3Render{outputFormat: "mp4", subtitles: b.Caption}}
	v, err := s.v3StartRender(c, req)
	if err != nil {
		return err
	}
	return v3Data(w, s.v3Detail(c.r, v, s.now()))
}

// v3ListVoices answers GET /v3/voices (type public|private, language, gender; limit 1–100,
// default 20). The sandbox has no cloned voices, so private lists are empty.
func (s *Server) v3ListVoices(w http.ResponseWriter, c *call) error {
	q := c.r.URL.Query()
	typ := q.Get("type")
	if typ != "" && typ != "public" && typ != "private" {
		return v3Invalid("type", "type must be one of public, private")
	}
	base := baseURL(c.r, HeyGen)
	items := []map[string]any{}
	for _, v := range s.heygen.voices {
		if typ == "private" || !matchFold(q.Get("language"), v.Language) || !matchFold(q.Get("gender"), v.Gender) {
			continue
		}
		items = append(items, map[string]any{"voice_id": v.ID, "name": v.Name, "language": v.Language, "gender": v.Gender,
			"type": "public", "preview_audio_url": base + "/media/voice/" + v.ID + "/preview.mp3",
			"support_pause": v.SupportPause, "support_locale": v.Locale})
	}
	p, err := v3Paginate(c, len(items), 20, 100)
	if err != nil {
		return err
	}
	return v3List(w, items, p)
}

// matchFold reports whether an optional filter matches a value, ignoring case.
func matchFold(filter, v string) bool { return filter == "" || strings.EqualFold(filter, v) }

// v3Group is an avatar group ("character"): the looks that share a person.
type v3Group struct {
	id, name, gender string
	looks            []hgAvatar
}

// v3Groups groups the catalog's avatars by the person's name, in catalog order.
func (s *Server) v3Groups() []v3Group {
	var out []v3Group
	index := map[string]int{}
	for _, a := range s.heygen.avatars {
		name := strings.Fields(a.Name)[0]
		i, ok := index[name]
		if !ok {
			sum := sha256.Sum256([]byte("group/" + name))
			i = len(out)
			index[name] = i
			out = append(out, v3Group{id: hex.EncodeToString(sum[:16]), name: name, gender: a.Gender})
		}
		out[i].looks = append(out[i].looks, a)
	}
	return out
}

// v3GroupJSON is a group as GET /v3/avatars shows it.
func v3GroupJSON(r *http.Request, g v3Group) map[string]any {
	first := g.looks[0]
	base := baseURL(r, HeyGen) + "/media/avatar/" + first.ID
	return map[string]any{"id": g.id, "name": g.name, "created_at": v3Epoch, "looks_count": len(g.looks),
		"gender": g.gender, "preview_image_url": base + "/preview.png",
		"preview_video_url": base + "/preview_video_target.mp4", "default_voice_id": first.DefaultVoiceID}
}

// v3CheckOwnership reads the ownership filter; the sandbox's avatars are all public.
func v3CheckOwnership(c *call) (private bool, err error) {
	o := c.r.URL.Query().Get("ownership")
	if o != "" && o != "public" && o != "private" {
		return false, v3Invalid("ownership", "ownership must be one of public, private")
	}
	return o == "private", nil
}

// v3ListAvatarGroups answers GET /v3/avatars (ownership; limit 1–50, default 20).
func (s *Server) v3ListAvatarGroups(w http.ResponseWriter, c *call) error {
	private, err := v3CheckOwnership(c)
	if err != nil {
		return err
	}
	groups := s.v3Groups()
	if private {
		groups = nil
	}
	p, err := v3Paginate(c, len(groups), 20, 50)
	if err != nil {
		return err
	}
	items := make([]map[string]any, len(groups))
	for i := p.start; i < p.end; i++ {
		items[i] = v3GroupJSON(c.r, groups[i])
	}
	return v3List(w, items, p)
}

// v3GetAvatarGroup answers GET /v3/avatars/{group_id}; an unknown group is 404
// avatar_group_not_found [3P code].
func (s *Server) v3GetAvatarGroup(w http.ResponseWriter, c *call) error {
	for _, g := range s.v3Groups() {
		if g.id == c.params["group_id"] {
			return v3Data(w, v3GroupJSON(c.r, g))
		}
	}
	return v3Error(http.StatusNotFound, "avatar_group_not_found", "Avatar group "+c.params["group_id"]+" not found", "")
}

// v3ListLooks answers GET /v3/avatars/looks (group_id, avatar_type, ownership; limit 1–50,
// default 20). A look's id is the avatar_id POST /v3/videos takes; talking photos are
// photo_avatar looks, each its own group.
func (s *Server) v3ListLooks(w http.ResponseWriter, c *call) error {
	private, err := v3CheckOwnership(c)
	if err != nil {
		return err
	}
	q := c.r.URL.Query()
	kind, group := q.Get("avatar_type"), q.Get("group_id")
	if kind != "" && !slices.Contains([]string{"studio_avatar", "digital_twin", "photo_avatar"}, kind) {
		return v3Invalid("avatar_type", "avatar_type must be one of studio_avatar, digital_twin, photo_avatar")
	}
	base := baseURL(c.r, HeyGen)
	items := []map[string]any{}
	for _, g := range s.v3Groups() {
		for _, a := range g.looks {
			if private || (kind != "" && kind != "studio_avatar") || (group != "" && group != g.id) {
				continue
			}
			items = append(items, v3Look(base, a.ID, a.Name, "studio_avatar", g.id, a.Gender, a.DefaultVoiceID, a.Tags))
		}
	}
	for _, ph := range s.heygen.photos {
		if private || (kind != "" && kind != "photo_avatar") || (group != "" && group != ph.ID) {
			continue
		}
		items = append(items, v3Look(base, ph.ID, ph.Name, "photo_avatar", ph.ID, "", nil, []string{}))
	}
	p, err := v3Paginate(c, len(items), 20, 50)
	if err != nil {
		return err
	}
	return v3List(w, items, p)
}

// v3Look is one look as GET /v3/avatars/looks shows it.
func v3Look(base, id, name, kind, group, gender string, voice *string, tags []string) map[string]any {
	media := "avatar"
	engines := []string{"avatar_iv", "avatar_iii"}
	if kind == "photo_avatar" {
		media, engines = "talking_photo", []string{"avatar_iv"}
	}
	if tags == nil {
		tags = []string{}
	}
	var g any
	if gender != "" {
		g = gender
	}
	return map[string]any{"id": id, "name": name, "avatar_type": kind, "group_id": group, "gender": g,
		"default_voice_id": voice, "preview_image_url": base + "/media/" + media + "/" + id + "/preview.png",
		"preview_video_url": nil, "image_width": 1920, "image_height": 1080, "preferred_orientation": "landscape",
		"supported_api_engines": engines, "tags": tags, "status": "completed", "error": nil}
}

// v3MaxAsset is the documented upload limit.
const v3MaxAsset = 32 << 20

// v3AssetTypes are the MIME types POST /v3/assets accepts, detected from the bytes.
var v3AssetTypes = map[string]string{
	"image/png": "image", "image/jpeg": "image", "video/mp4": "video", "video/webm": "video",
	"audio/mpeg": "audio", "audio/wave": "audio", "application/pdf": "document", "application/x-subrip": "subtitle",
}

// v3UploadAsset answers POST /v3/assets: multipart/form-data with one file part named file,
// at most 32 MB, its type detected from the bytes.
func (s *Server) v3UploadAsset(w http.ResponseWriter, c *call) error {
	data, err := v3FilePart(c)
	if err != nil {
		return err
	}
	mt := sniffAsset(data)
	fileType, ok := v3AssetTypes[mt]
	if !ok {
		return v3Invalid("file", "Unsupported file type "+mt+"; upload png, jpeg, mp4, webm, mp3, wav, pdf or srt")
	}
	a := s.storeAsset(c.key, fileType, mt, data)
	return v3Data(w, map[string]any{"asset_id": a.id, "url": assetURL(c.r, a), "mime_type": mt, "size_bytes": len(data)})
}

// v3FilePart reads the part named file of a multipart body.
func v3FilePart(c *call) ([]byte, error) {
	mt, params, err := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, v3Invalid("file", "The request must be multipart/form-data with a file part")
	}
	mr := multipart.NewReader(bytes.NewReader(c.body), params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			return nil, v3Invalid("file", "file is required")
		}
		if part.FormName() != "file" {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(part, v3MaxAsset+1))
		switch {
		case err != nil:
			return nil, v3Invalid("file", "The file part could not be read")
		case len(data) > v3MaxAsset:
			return nil, v3Error(http.StatusRequestEntityTooLarge, "payload_too_large", "Files may be at most 32 MB", "file")
		case len(data) == 0:
			return nil, v3Invalid("file", "file is empty")
		}
		return data, nil
	}
}

// sniffAsset detects a file's MIME type from its bytes, as HeyGen does, including the MP3
// and SRT files that net/http does not recognize.
func sniffAsset(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("ID3")) || (len(b) > 1 && b[0] == 0xFF && b[1]&0xE0 == 0xE0):
		return "audio/mpeg"
	case bytes.HasPrefix(bytes.TrimLeft(b, "\ufeff\r\n "), []byte("1\n")) || bytes.HasPrefix(bytes.TrimLeft(b, "\ufeff\r\n "), []byte("1\r\n")):
		return "application/x-subrip"
	}
	mt, _, _ := mime.ParseMediaType(http.DetectContentType(b))
	return mt
}

// v3CurrentUser answers GET /v3/users/me, the documented key check: a wallet account whose
// balance is the key's remaining render quota in credits.
func (s *Server) v3CurrentUser(w http.ResponseWriter, c *call) error {
	s.mu.Lock()
	left := max(0, s.hgQuotaLocked(c.key)-s.hg.quotaUsed[c.key])
	s.mu.Unlock()
	user := v3Username(c.key)
	return v3Data(w, map[string]any{
		"username": user, "email": user + "@sandbox.invalid", "first_name": "Sandbox", "last_name": "User",
		"billing_type": "wallet",
		"wallet": map[string]any{"currency": "credits", "remaining_balance": float64(left) / 60,
			"auto_reload": map[string]any{"enabled": false, "threshold_usd": nil, "amount_usd": nil}},
		"subscription": nil, "usage_based": nil,
	})
}

// v3Username is the username of the account behind key.
func v3Username(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "sandbox_" + hex.EncodeToString(sum[:4])
}

// v3WebhookEvents are the event types the sandbox's v3 endpoints accept (a subset of the
// spec's enum: the ones the sandbox can send, plus the other legacy names).
var v3WebhookEvents = hgWebhookEventNames

// v3EndpointJSON is an endpoint as v3 shows it; secret only on create.
func v3EndpointJSON(ep endpointJSON, withSecret bool) map[string]any {
	var secret any
	if withSecret {
		secret = ep.Secret
	}
	return map[string]any{"endpoint_id": ep.EndpointID, "url": ep.URL, "events": ep.Events, "status": ep.Status,
		"created_at": ep.CreatedAt, "secret": secret}
}

// v3AddEndpoint answers POST /v3/webhooks/endpoints. Null or omitted events mean all. The
// sandbox accepts http URLs too, so that tests can listen on loopback.
func (s *Server) v3AddEndpoint(w http.ResponseWriter, c *call) error {
	var body struct {
		URL    string   `json:"url"`
		Events []string `json:"events"`
	}
	if err := v3DecodeBody(c.body, &body); err != nil {
		return err
	}
	if u, err := url.Parse(body.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return v3Invalid("url", "url must be a public HTTPS URL")
	}
	if body.Events == nil {
		body.Events = v3WebhookEvents
	}
	for _, e := range body.Events {
		if !slices.Contains(v3WebhookEvents, e) {
			return v3Invalid("events", "Unknown event type "+e)
		}
	}
	ep := endpointJSON{EndpointID: "ep_" + s.newID(lowerHex, 24), URL: body.URL, Secret: "whsec_" + s.newID(alnum, 32),
		Status: "enabled", Events: slices.Clone(body.Events), Username: "sandbox", CreatedAt: s.now().UTC().Format(time.RFC3339)}
	s.mu.Lock()
	s.hg.endpoints = append(s.hg.endpoints, hgEndpoint{key: c.key, json: ep})
	s.mu.Unlock()
	return v3Data(w, v3EndpointJSON(ep, true))
}

// v3ListEndpoints answers GET /v3/webhooks/endpoints (limit 1–100, default 10).
func (s *Server) v3ListEndpoints(w http.ResponseWriter, c *call) error {
	s.mu.Lock()
	items := []map[string]any{}
	for _, ep := range s.hg.endpoints {
		if ep.key == c.key {
			items = append(items, v3EndpointJSON(ep.json, false))
		}
	}
	s.mu.Unlock()
	p, err := v3Paginate(c, len(items), 10, 100)
	if err != nil {
		return err
	}
	return v3List(w, items, p)
}

// v3DeleteEndpoint answers DELETE /v3/webhooks/endpoints/{endpoint_id}.
func (s *Server) v3DeleteEndpoint(w http.ResponseWriter, c *call) error {
	id := c.params["endpoint_id"]
	s.mu.Lock()
	n := len(s.hg.endpoints)
	s.hg.endpoints = slices.DeleteFunc(s.hg.endpoints, func(ep hgEndpoint) bool {
		return ep.key == c.key && ep.json.EndpointID == id
	})
	gone := len(s.hg.endpoints) < n
	s.mu.Unlock()
	if !gone {
		return v3Error(http.StatusNotFound, "webhook_not_found", "Webhook endpoint "+id+" not found", "")
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{}, "error": nil})
	return nil
}

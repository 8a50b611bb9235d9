package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// The catalog walk (issue 14): every endpoint of every service aiproxy discovers, HeyGen v2
// and v3 and ElevenLabs, is called through aiproxy against the sandbox with a minimal valid
// envelope, objects created first so that path parameters name real ones. A call fails the
// walk when the sandbox answers that it has no such route, when anything answers 5xx, when
// a call that should succeed does not, or when a call never reaches the sandbox.

// walkEndpoint is one endpoint as discovery describes it.
type walkEndpoint struct {
	Slug         string `json:"slug"`
	HTTPMethod   string `json:"http_method"`
	PathTemplate string `json:"path_template"`
	RequestMode  string `json:"request_mode"`
}

// walkFile is one file part of a multipart invoke.
type walkFile struct {
	field, name, contentType string
	data                     []byte
}

// walkCall is one call the walk made, for the sandbox-log check and the summary.
type walkCall struct {
	service, slug, method, path string
	status                      int
}

// walker drives the walk through one running demo.
type walker struct {
	t      *testing.T
	d      *demo
	eps    map[string]map[string]walkEndpoint // service → slug → endpoint
	called map[string]bool                    // "service/slug"
	calls  []walkCall
}

// Seeded catalog entries the walk uses: a HeyGen look and voice, an ElevenLabs voice.
const (
	walkLook   = "Abigail_expressive_2024112501"
	walkVoice  = "f38a635bee7a4d1f9b0a654a31d050d2"
	walkRachel = "21m00Tcm4TlvDq8ikWAM"
)

// Media the walk uploads: a JPEG header is all the sandbox's type checks read; the audio is
// real MP3.
var (
	walkJPEG = []byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00 walk image")
	walkMP3  = sandbox.Speech("A short sample for the catalog walk.", "walk", "eleven_multilingual_v2", "mp3_44100_128")
)

func TestDemoCatalogWalk(t *testing.T) {
	d := startDemo(t)
	w := &walker{t: t, d: d, eps: map[string]map[string]walkEndpoint{}, called: map[string]bool{}}
	w.discover()
	w.walkHeyGenVideos()
	w.walkHeyGenAssetsAndAvatars()
	w.walkHeyGenWebhooks()
	w.walkHeyGenV3()
	w.walkElevenLabsSpeech()
	w.walkElevenLabsVoices()
	w.walkElevenLabsDubbingAndHistory()
	w.walkElevenLabsRealtime() // catalog_walk_realtime_e2e_test.go
	w.walkLiveAvatar()         // catalog_walk_live_e2e_test.go
	w.walkTheRest()
	w.checkSandboxSawEveryCall()
	t.Logf("walked %d endpoints in %d calls", len(w.called), len(w.calls))
}

// discover reads every enabled service and endpoint through discovery, and checks that it
// is the whole built-in catalog.
func (w *walker) discover() {
	var services []struct {
		Slug string `json:"slug"`
	}
	w.d.getJSON("/api/ai-proxy/orgs/"+w.d.org+"/services/", w.d.key, 200, &services)
	total := 0
	for _, s := range services {
		var detail struct {
			Endpoints []walkEndpoint `json:"endpoints"`
		}
		w.d.getJSON("/api/ai-proxy/orgs/"+w.d.org+"/services/"+s.Slug+"/", w.d.key, 200, &detail)
		w.eps[s.Slug] = map[string]walkEndpoint{}
		for _, ep := range detail.Endpoints {
			w.eps[s.Slug][ep.Slug] = ep
			total++
		}
	}
	cat, err := catalog.Load(catalog.Options{})
	if err != nil {
		w.t.Fatal(err)
	}
	want := 0
	for _, s := range cat.Services() {
		for _, ep := range s.Endpoints {
			if s.IsEnabled && ep.IsEnabled {
				want++
			}
		}
	}
	if total != want || w.eps["heygen"] == nil || w.eps["elevenlabs"] == nil {
		w.t.Fatalf("discovery shows %d endpoints in %d services, the catalog has %d", total, len(services), want)
	}
}

// call invokes service/slug with env (and, when files are given, as multipart/form-data),
// checks the answer and returns its headers and body.
func (w *walker) call(service, slug string, env map[string]any, files ...walkFile) (http.Header, []byte) {
	w.t.Helper()
	ep, ok := w.eps[service][slug]
	if !ok {
		w.t.Fatalf("%s/%s: not in the discovered catalog", service, slug)
	}
	status, header, body := w.invoke(service, slug, env, files)
	w.record(service, ep, env, status)
	if marked(header, body) {
		w.t.Errorf("%s/%s: the sandbox has no route %s %s: %d %.300s", service, slug, ep.HTTPMethod, ep.PathTemplate, status, body)
	} else if status < 200 || status > 299 {
		w.t.Errorf("%s/%s: %d %.300s", service, slug, status, body)
	}
	return header, body
}

// invoke sends one invoke request.
func (w *walker) invoke(service, slug string, env map[string]any, files []walkFile) (int, http.Header, []byte) {
	w.t.Helper()
	if len(files) == 0 {
		return w.d.invoke(w.d.org, w.d.key, service, slug, env)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, k := range sortedEnvKeys(env) {
		b, _ := json.Marshal(env[k])
		if err := mw.WriteField(k, string(b)); err != nil {
			w.t.Fatal(err)
		}
	}
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, f.field, f.name))
		h.Set("Content-Type", f.contentType)
		part, err := mw.CreatePart(h)
		if err != nil {
			w.t.Fatal(err)
		}
		_, _ = part.Write(f.data)
	}
	if err := mw.Close(); err != nil {
		w.t.Fatal(err)
	}
	path := fmt.Sprintf("/api/ai-proxy/orgs/%s/services/%s/%s/", w.d.org, service, slug)
	return w.d.do("POST", path, w.d.key, &buf, http.Header{"Content-Type": {mw.FormDataContentType()}})
}

// sortedEnvKeys returns an envelope's keys in order, for a stable multipart body.
func sortedEnvKeys(env map[string]any) []string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// record notes a call and the provider path it should have reached.
func (w *walker) record(service string, ep walkEndpoint, env map[string]any, status int) {
	path := ep.PathTemplate
	params, _ := env["path_params"].(map[string]any)
	for k, v := range params {
		path = strings.ReplaceAll(path, "{"+k+"}", fmt.Sprint(v))
	}
	w.called[service+"/"+ep.Slug] = true
	w.calls = append(w.calls, walkCall{service: service, slug: ep.Slug, method: ep.HTTPMethod, path: path, status: status})
}

// marked reports whether an answer is the sandbox's "no such route".
func marked(h http.Header, body []byte) bool {
	return h.Get(sandbox.UnknownRouteHeader) != "" || bytes.Contains(body, []byte(`"`+sandbox.UnknownRouteField+`"`))
}

// field decodes body and returns the string at a dotted path of object keys and array
// indexes ("data.templates.0.template_id").
func (w *walker) field(body []byte, path string) string {
	w.t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		w.t.Fatalf("%s: %v in %.300s", path, err, body)
	}
	for _, k := range strings.Split(path, ".") {
		switch node := v.(type) {
		case map[string]any:
			v = node[k]
		case []any:
			var i int
			if _, err := fmt.Sscan(k, &i); err != nil || i >= len(node) {
				w.t.Fatalf("%s: no element %s in %.300s", path, k, body)
			}
			v = node[i]
		default:
			w.t.Fatalf("%s: nothing at %s in %.300s", path, k, body)
		}
	}
	s, ok := v.(string)
	if !ok || s == "" {
		w.t.Fatalf("%s: %v is not a string in %.300s", path, v, body)
	}
	return s
}

// pp is a path_params envelope member.
func pp(kv ...string) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// walkVideoBody is a one-scene test render of a seeded avatar or talking photo.
func walkVideoBody(character map[string]any) map[string]any {
	return map[string]any{"test": true, "dimension": map[string]any{"width": 1280, "height": 720},
		"video_inputs": []any{map[string]any{"character": character, "voice": map[string]any{
			"type": "text", "input_text": "Walking the catalog.", "voice_id": walkVoice}}}}
}

// walkHeyGenVideos walks templates, renders, statuses, lists and translations.
func (w *walker) walkHeyGenVideos() {
	_, body := w.call("heygen", "list-templates", map[string]any{})
	tpl := w.field(body, "data.templates.0.template_id")
	w.call("heygen", "get-template", map[string]any{"path_params": pp("template_id", tpl)})
	w.call("heygen", "list-voices", map[string]any{})
	_, body = w.call("heygen", "generate-video", map[string]any{"body": walkVideoBody(map[string]any{
		"type": "avatar", "avatar_id": walkLook, "avatar_style": "normal"})})
	video := w.field(body, "data.video_id")
	w.call("heygen", "generate-template-video", map[string]any{"path_params": pp("template_id", tpl),
		"body": map[string]any{"test": true, "variables": map[string]any{}}})
	w.call("heygen", "video-status", map[string]any{"query": pp("video_id", video)})
	w.call("heygen", "list-videos", map[string]any{"query": pp("limit", "10")})
	_, body = w.call("heygen", "translate-video", map[string]any{"body": map[string]any{
		"video_url": "https://example.com/walk.mp4", "output_language": "Spanish", "title": "walk"}})
	w.call("heygen", "translation-status", map[string]any{"path_params": pp("video_translate_id", w.field(body, "data.video_translate_id"))})
	w.call("heygen", "get-remaining-quota", map[string]any{})
	w.call("heygen", "delete-video", map[string]any{"query": pp("video_id", video)})
}

// walkHeyGenAssetsAndAvatars walks uploads, photo avatars, talking photos and avatar groups.
func (w *walker) walkHeyGenAssetsAndAvatars() {
	_, body := w.call("heygen", "upload-asset", map[string]any{}, walkFile{"file", "walk.jpg", "image/jpeg", walkJPEG})
	asset, imageKey := w.field(body, "data.id"), w.field(body, "data.image_key")
	w.call("heygen", "get-asset", map[string]any{"path_params": pp("asset_id", asset)})
	w.call("heygen", "list-assets", map[string]any{})
	_, body = w.call("heygen", "create-photo-avatar", map[string]any{"body": map[string]any{"name": "walk", "image_key": imageKey}})
	w.call("heygen", "photo-avatar-train-status", map[string]any{"path_params": pp("photo_avatar_id", w.field(body, "data.id"))})
	_, body = w.call("heygen", "list-avatars", map[string]any{})
	photo := w.field(body, "data.talking_photos.0.talking_photo_id")
	w.call("heygen", "generate-talking-photo", map[string]any{"body": walkVideoBody(map[string]any{
		"type": "talking_photo", "talking_photo_id": photo})})
	w.call("heygen", "list-talking-photos", map[string]any{})
	w.call("heygen", "get-avatar-details", map[string]any{"path_params": pp("avatar_id", walkLook)})
	_, body = w.call("heygen", "list-avatar-groups", map[string]any{"query": pp("include_public", "true")})
	w.call("heygen", "list-avatar-group-avatars", map[string]any{"path_params": pp("group_id", w.field(body, "data.avatar_group_list.0.id"))})
}

// walkHeyGenWebhooks walks the legacy webhook endpoints. The URL is a closed loopback port,
// so the sandbox's deliveries to it fail at once and nothing leaves the machine.
func (w *walker) walkHeyGenWebhooks() {
	_, body := w.call("heygen", "add-webhook", map[string]any{"body": map[string]any{
		"url": "http://127.0.0.1:1/walk", "events": []string{"avatar_video.success"}}})
	id := w.field(body, "data.endpoint_id")
	w.call("heygen", "list-webhooks", map[string]any{})
	w.call("heygen", "update-webhook", map[string]any{"body": map[string]any{"endpoint_id": id, "url": "http://127.0.0.1:1/walk2"}})
	w.call("heygen", "list-webhook-events", map[string]any{})
	w.call("heygen", "delete-webhook", map[string]any{"query": pp("endpoint_id", id)})
}

// walkHeyGenV3 walks HeyGen's v3 surface.
func (w *walker) walkHeyGenV3() {
	_, body := w.call("heygen", "v3-create-video", map[string]any{"body": map[string]any{
		"type": "avatar", "avatar_id": walkLook, "script": "Walking v3.", "voice_id": walkVoice}})
	video := w.field(body, "data.video_id")
	w.call("heygen", "v3-get-video", map[string]any{"path_params": pp("video_id", video)})
	w.call("heygen", "v3-list-videos", map[string]any{})
	w.call("heygen", "v3-list-voices", map[string]any{"query": pp("limit", "5")})
	_, body = w.call("heygen", "v3-list-avatars", map[string]any{})
	w.call("heygen", "v3-get-avatar-group", map[string]any{"path_params": pp("group_id", w.field(body, "data.0.id"))})
	w.call("heygen", "v3-list-avatar-looks", map[string]any{})
	w.call("heygen", "v3-upload-asset", map[string]any{}, walkFile{"file", "walk.jpg", "image/jpeg", walkJPEG})
	_, body = w.call("heygen", "v3-list-templates", map[string]any{})
	tpl := w.field(body, "data.0.id")
	w.call("heygen", "v3-get-template", map[string]any{"path_params": pp("template_id", tpl)})
	w.call("heygen", "v3-generate-template-video", map[string]any{"path_params": pp("template_id", tpl),
		"body": map[string]any{"variables": map[string]any{}}})
	w.call("heygen", "v3-get-current-user", map[string]any{})
	w.call("heygen", "v3-delete-video", map[string]any{"path_params": pp("video_id", video)})
}

// walkElevenLabsSpeech walks the catalogs and the four text-to-speech endpoints.
func (w *walker) walkElevenLabsSpeech() {
	w.call("elevenlabs", "list-voices", map[string]any{})
	w.call("elevenlabs", "list-models", map[string]any{})
	w.call("elevenlabs", "search-voices", map[string]any{"query": pp("page_size", "5")})
	for _, slug := range []string{"tts", "tts-stream", "tts-timestamps", "tts-stream-timestamps"} {
		w.call("elevenlabs", slug, map[string]any{"path_params": pp("voice_id", walkRachel),
			"body": map[string]any{"text": "Walking the catalog.", "model_id": "eleven_multilingual_v2"}})
	}
	w.call("elevenlabs", "sound-generation", map[string]any{"body": map[string]any{"text": "A door creaks", "duration_seconds": 1}})
	for _, slug := range []string{"audio-isolation", "audio-isolation-stream"} {
		w.call("elevenlabs", slug, map[string]any{}, walkFile{"audio", "noisy.mp3", "audio/mpeg", walkMP3})
	}
	w.call("elevenlabs", "get-user", map[string]any{})
	w.call("elevenlabs", "get-subscription", map[string]any{})
}

// walkElevenLabsVoices walks a cloned voice from creation to deletion.
func (w *walker) walkElevenLabsVoices() {
	w.call("elevenlabs", "get-voice", map[string]any{"path_params": pp("voice_id", walkRachel)})
	_, body := w.call("elevenlabs", "add-voice", map[string]any{"body": map[string]any{"name": "Walk clone"}},
		walkFile{"files", "sample.mp3", "audio/mpeg", walkMP3})
	voice := w.field(body, "voice_id")
	w.call("elevenlabs", "edit-voice", map[string]any{"path_params": pp("voice_id", voice), "body": map[string]any{"name": "Walk clone 2"}})
	w.call("elevenlabs", "get-voice-settings", map[string]any{"path_params": pp("voice_id", voice)})
	w.call("elevenlabs", "delete-voice", map[string]any{"path_params": pp("voice_id", voice)})
}

// walkElevenLabsDubbingAndHistory walks a dub until its audio is ready, and the history
// item a generation leaves.
func (w *walker) walkElevenLabsDubbingAndHistory() {
	_, body := w.call("elevenlabs", "create-dubbing", map[string]any{"body": map[string]any{"target_lang": "es", "name": "walk"}},
		walkFile{"file", "talk.mp3", "audio/mpeg", walkMP3})
	dub := w.field(body, "dubbing_id")
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, body = w.call("elevenlabs", "get-dubbing", map[string]any{"path_params": pp("dubbing_id", dub)})
		if st := w.field(body, "status"); st != "dubbing" || time.Now().After(deadline) {
			break
		}
	}
	w.call("elevenlabs", "get-dubbed-audio", map[string]any{"path_params": pp("dubbing_id", dub, "language_code", "es")})
	w.call("elevenlabs", "delete-dubbing", map[string]any{"path_params": pp("dubbing_id", dub)})

	header, _ := w.call("elevenlabs", "tts", map[string]any{"path_params": pp("voice_id", walkRachel), "body": map[string]any{"text": "Remember me."}})
	item := header.Get("History-Item-Id")
	_, body = w.call("elevenlabs", "get-history", map[string]any{"query": pp("page_size", "10")})
	if !bytes.Contains(body, []byte(`"history_item_id":"`+item+`"`)) || item == "" {
		w.t.Errorf("get-history does not list the generation's history-item-id %q: %.300s", item, body)
	}
	w.call("elevenlabs", "get-history-item", map[string]any{"path_params": pp("history_item_id", item)})
	w.call("elevenlabs", "get-history-audio", map[string]any{"path_params": pp("history_item_id", item)})
	w.call("elevenlabs", "delete-history-item", map[string]any{"path_params": pp("history_item_id", item)})
}

// walkTheRest calls, with a made-up id and no body, every discovered endpoint the walk has no
// recipe for (one added to the catalog since), so that an unknown route still fails the
// walk; any answer but the sandbox's "no such route" or a 5xx passes.
func (w *walker) walkTheRest() {
	for service, eps := range w.eps {
		for slug, ep := range eps {
			if w.called[service+"/"+slug] {
				continue
			}
			w.t.Logf("%s/%s: no recipe in the walk; calling it with made-up parameters", service, slug)
			params := map[string]any{}
			for _, seg := range strings.Split(ep.PathTemplate, "/") {
				if strings.HasPrefix(seg, "{") {
					params[strings.Trim(seg, "{}")] = "walk-made-up"
				}
			}
			env := map[string]any{"path_params": params}
			status, header, body := w.invoke(service, slug, env, nil)
			w.record(service, ep, env, status)
			if marked(header, body) || status >= 500 {
				w.t.Errorf("%s/%s: %d %.300s", service, slug, status, body)
			}
		}
	}
}

// checkSandboxSawEveryCall fails for every call that never reached the sandbox, which would
// leave its route untested.
func (w *walker) checkSandboxSawEveryCall() {
	resp, err := http.Get(w.d.sandbox + "/_sandbox/requests")
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var reqs []struct {
		Provider string `json:"provider"`
		Method   string `json:"method"`
		Path     string `json:"path"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&reqs); err != nil {
		w.t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range reqs {
		seen[r.Provider+" "+r.Method+" "+r.Path] = true
	}
	for _, c := range w.calls {
		if !seen[c.service+" "+c.method+" "+c.path] {
			w.t.Errorf("%s/%s (%d) never reached the sandbox as %s %s", c.service, c.slug, c.status, c.method, c.path)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// demo is a running `aiproxy demo` started through run on port :0.
type demo struct {
	t       *testing.T
	dir     string
	url     string
	org     string
	key     string
	sandbox string
	// metricsToken guards the demo's /metrics.
	metricsToken string
	stdout       *syncBuffer
	stderr       *syncBuffer
	// bodies collects every response body the test read, for the leak check.
	mu     sync.Mutex
	bodies [][]byte
}

// startDemo runs the real program's demo command until the test ends,
// with the speech cache off, so that a test that repeats a speech request
// reaches the provider each time; extraArgs may turn it on again.
func startDemo(t *testing.T, extraArgs ...string) *demo {
	t.Helper()
	return startShippedDemo(t, append([]string{"--speech-cache-orgs", "off"}, extraArgs...)...)
}

// startShippedDemo runs the demo as a new user would, with every default
// of the demo command.
func startShippedDemo(t *testing.T, extraArgs ...string) *demo {
	t.Helper()
	d := &demo{t: t, dir: t.TempDir(), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args := append([]string{"demo", "--addr", "127.0.0.1:0", "--data-dir", d.dir, "--render-time", "1500ms", "--log-level", "debug"}, extraArgs...)
	getenv := func(string) string { return "" }
	go func() { done <- run(ctx, args, getenv, strings.NewReader(""), d.stdout, d.stderr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo exited with %v", err)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if vars := parseVars(d.stdout.String()); vars["AIPROXY_API_KEY"] != "" {
			d.url, d.org, d.key = vars["AIPROXY_URL"], vars["AIPROXY_ORG"], vars["AIPROXY_API_KEY"]
			d.metricsToken = vars["AIPROXY_METRICS_TOKEN"]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("demo stopped early: %v\nstderr:\n%s", err, d.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if d.key == "" {
		t.Fatalf("demo printed no AIPROXY_API_KEY; stdout:\n%s\nstderr:\n%s", d.stdout.String(), d.stderr.String())
	}
	var detail struct {
		BaseURL string `json:"base_url"`
	}
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/services/heygen/", d.key, 200, &detail)
	d.sandbox = strings.TrimSuffix(detail.BaseURL, "/heygen")
	return d
}

func parseVars(out string) map[string]string {
	vars := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "AIPROXY_") && !strings.Contains(k, " ") {
			vars[k] = v
		}
	}
	return vars
}

// do sends a request and returns the status, headers and whole body.
func (d *demo) do(method, path, key string, body io.Reader, header http.Header) (int, http.Header, []byte) {
	d.t.Helper()
	req, err := http.NewRequest(method, d.url+path, body)
	if err != nil {
		d.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if key != "" {
		req.Header.Set("Authorization", "Api-Key "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatalf("read %s: %v", path, err)
	}
	d.mu.Lock()
	d.bodies = append(d.bodies, data)
	d.mu.Unlock()
	return resp.StatusCode, resp.Header, data
}

func (d *demo) getJSON(path, key string, want int, v any) {
	d.t.Helper()
	status, _, body := d.do("GET", path, key, nil, nil)
	if status != want {
		d.t.Fatalf("GET %s = %d, want %d: %s", path, status, want, body)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			d.t.Fatalf("GET %s: %v: %s", path, err, body)
		}
	}
}

// invoke calls POST .../services/{service}/{action}/ with a JSON envelope.
func (d *demo) invoke(org, key, service, action string, envelope any) (int, http.Header, []byte) {
	d.t.Helper()
	data, err := json.Marshal(envelope)
	if err != nil {
		d.t.Fatal(err)
	}
	path := fmt.Sprintf("/api/ai-proxy/orgs/%s/services/%s/%s/", org, service, action)
	return d.do("POST", path, key, bytes.NewReader(data), http.Header{"Content-Type": {"application/json"}})
}

func (d *demo) invokeJSON(service, action string, envelope, v any) {
	d.t.Helper()
	status, _, body := d.invoke(d.org, d.key, service, action, envelope)
	if status != 200 {
		d.t.Fatalf("invoke %s/%s = %d: %s", service, action, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		d.t.Fatalf("invoke %s/%s: %v: %s", service, action, err, body)
	}
}

// cli runs an admin command of the same program against the demo's data dir.
func (d *demo) cli(stdin string, args ...string) string {
	d.t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--data-dir", d.dir)
	getenv := func(name string) string {
		if name == "AIPROXY_MASTER_KEY_FILE" {
			return filepath.Join(d.dir, "master.key")
		}
		return ""
	}
	if err := run(context.Background(), args, getenv, strings.NewReader(stdin), &out, &errOut); err != nil {
		d.t.Fatalf("aiproxy %v: %v\n%s", args, err, errOut.String())
	}
	return strings.TrimSpace(out.String())
}

// waitVideo polls video-status until the render ends and returns its data.
func (d *demo) waitVideo(id string) map[string]any {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var st struct {
			Code int            `json:"code"`
			Data map[string]any `json:"data"`
		}
		d.invokeJSON("heygen", "video-status", map[string]any{"query": map[string]any{"video_id": id}}, &st)
		if s := st.Data["status"]; s == "completed" || s == "failed" {
			return st.Data
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.t.Fatalf("video %s never finished", id)
	return nil
}

func (d *demo) download(url string) (string, []byte) {
	d.t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		d.t.Fatalf("download %s = %d", url, resp.StatusCode)
	}
	return resp.Header.Get("Content-Type"), data
}

func TestDemoHeyGenWorkflow(t *testing.T) {
	d := startDemo(t)

	var services []map[string]any
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/services/", d.key, 200, &services)
	if len(services) != 3 || services[0]["slug"] != "elevenlabs" || services[1]["slug"] != "heygen" || services[2]["slug"] != "liveavatar" {
		t.Fatalf("services = %v", services)
	}

	var avatars struct {
		Data struct {
			Avatars []struct {
				AvatarID string `json:"avatar_id"`
			} `json:"avatars"`
		} `json:"data"`
	}
	d.invokeJSON("heygen", "list-avatars", map[string]any{}, &avatars)
	if len(avatars.Data.Avatars) < 100 {
		t.Fatalf("got %d avatars, want hundreds", len(avatars.Data.Avatars))
	}
	var voices struct {
		Data struct {
			Voices []struct {
				VoiceID string `json:"voice_id"`
			} `json:"voices"`
		} `json:"data"`
	}
	d.invokeJSON("heygen", "list-voices", map[string]any{}, &voices)
	if len(voices.Data.Voices) < 10 {
		t.Fatalf("got %d voices", len(voices.Data.Voices))
	}

	var gen struct {
		Data struct {
			VideoID string `json:"video_id"`
		} `json:"data"`
	}
	d.invokeJSON("heygen", "generate-video", map[string]any{"body": map[string]any{
		"test": true,
		"video_inputs": []any{map[string]any{
			"character": map[string]any{"type": "avatar", "avatar_id": avatars.Data.Avatars[0].AvatarID, "avatar_style": "normal"},
			"voice":     map[string]any{"type": "text", "input_text": "Hello, this is a test video.", "voice_id": voices.Data.Voices[0].VoiceID},
		}},
		"dimension": map[string]any{"width": 1280, "height": 720},
	}}, &gen)
	if gen.Data.VideoID == "" {
		t.Fatal("no video_id")
	}
	st := d.waitVideo(gen.Data.VideoID)
	if st["status"] != "completed" {
		t.Fatalf("render ended %v", st)
	}
	ct, mp4 := d.download(st["video_url"].(string))
	if ct != "video/mp4" || len(mp4) < 12 || string(mp4[4:8]) != "ftyp" {
		t.Fatalf("video_url gave %q, %d bytes, head %q", ct, len(mp4), mp4[:min(12, len(mp4))])
	}
}

func TestDemoTemplateVideo(t *testing.T) {
	d := startDemo(t)
	var list struct {
		Data struct {
			Templates []struct {
				TemplateID string `json:"template_id"`
			} `json:"templates"`
		} `json:"data"`
	}
	d.invokeJSON("heygen", "list-templates", map[string]any{}, &list)
	var withScript string
	for _, tpl := range list.Data.Templates {
		var detail struct {
			Data struct {
				Variables map[string]any `json:"variables"`
			} `json:"data"`
		}
		d.invokeJSON("heygen", "get-template", map[string]any{"path_params": map[string]any{"template_id": tpl.TemplateID}}, &detail)
		if _, ok := detail.Data.Variables["script"]; ok {
			withScript = tpl.TemplateID
		}
	}
	if withScript == "" {
		t.Fatal("no template has a script variable")
	}
	var gen struct {
		Data struct {
			VideoID string `json:"video_id"`
		} `json:"data"`
	}
	d.invokeJSON("heygen", "generate-template-video", map[string]any{
		"path_params": map[string]any{"template_id": withScript},
		"body": map[string]any{"test": true, "caption": false, "variables": map[string]any{
			"script": map[string]any{"name": "script", "type": "text", "properties": map[string]any{"content": "Hello, this is a test video."}},
		}},
	}, &gen)
	if st := d.waitVideo(gen.Data.VideoID); st["status"] != "completed" {
		t.Fatalf("template render ended %v", st)
	}
}

func TestDemoElevenLabsTTS(t *testing.T) {
	d := startDemo(t)
	var voices struct {
		Voices []struct {
			VoiceID string `json:"voice_id"`
		} `json:"voices"`
	}
	d.invokeJSON("elevenlabs", "list-voices", map[string]any{}, &voices)
	var models []map[string]any
	d.invokeJSON("elevenlabs", "list-models", map[string]any{}, &models)
	if len(voices.Voices) == 0 || len(models) == 0 {
		t.Fatalf("voices %d, models %d", len(voices.Voices), len(models))
	}
	text := "Hello, this is a test."
	env := map[string]any{
		"path_params": map[string]any{"voice_id": "21m00Tcm4TlvDq8ikWAM"},
		"body":        map[string]any{"text": text, "model_id": "eleven_multilingual_v2", "voice_settings": map[string]any{"stability": 0.5, "similarity_boost": 0.5}},
	}
	want := sandbox.Speech(text, "21m00Tcm4TlvDq8ikWAM", "eleven_multilingual_v2", "mp3_44100_128")
	for _, action := range []string{"tts", "tts-stream"} {
		status, h, audio := d.invoke(d.org, d.key, "elevenlabs", action, env)
		if status != 200 || h.Get("Content-Type") != "audio/mpeg" {
			t.Fatalf("%s = %d %q: %.200s", action, status, h.Get("Content-Type"), audio)
		}
		if !bytes.Equal(audio, want) {
			t.Fatalf("%s returned %d bytes that differ from the sandbox's %d", action, len(audio), len(want))
		}
		if h.Get("Request-Id") == "" || h.Get("Character-Cost") == "" {
			t.Errorf("%s lost provider headers: %v", action, h)
		}
	}
}

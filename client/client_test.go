package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/client"
	"github.com/aiproxy/aiproxy/internal/sandbox"
)

const rachel = "21m00Tcm4TlvDq8ikWAM"

func TestNewReportsEveryProblem(t *testing.T) {
	_, err := client.New(client.Config{URL: "ftp://x"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"URL", "Org", "APIKey"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	env := map[string]string{"AIPROXY_URL": "http://127.0.0.1:1", "AIPROXY_ORG": "o", "AIPROXY_API_KEY": "k"}
	c, err := client.FromEnv(func(k string) string { return env[k] })
	if err != nil || c.Org() != "o" {
		t.Fatalf("FromEnv = %v, %v", c, err)
	}
	if got := c.NativeURL("elevenlabs"); got != "http://127.0.0.1:1/api/ai-proxy/orgs/o/native/elevenlabs" {
		t.Errorf("NativeURL = %q", got)
	}
}

func TestDiscovery(t *testing.T) {
	c := startServer(t).client(t)
	ctx := context.Background()
	services, err := c.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(services) != 3 || services[0].Slug != "elevenlabs" || services[1].Slug != "heygen" || services[1].EndpointCount < 6 ||
		services[2].Slug != "liveavatar" {
		t.Fatalf("services = %+v", services)
	}
	detail, err := c.Service(ctx, "elevenlabs")
	if err != nil {
		t.Fatal(err)
	}
	ep, ok := detail.Endpoint("tts")
	if !ok || ep.PathTemplate != "/v1/text-to-speech/{voice_id}" || ep.ResponseMode != "binary" {
		t.Fatalf("tts endpoint = %+v, %v", ep, ok)
	}

	resp, err := http.Get(strings.Replace(c.NativeURL("x"), "/orgs/demo/native/x", "/openapi.json", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi.json without a key = %d %q %v", resp.StatusCode, doc.OpenAPI, err)
	}
	if doc.Paths["/api/ai-proxy/orgs/{org}/services/heygen/generate-video/"] == nil {
		t.Error("openapi.json lacks heygen/generate-video")
	}
}

// TestHeyGenWorkflow is the contract's frontend workflow: list avatars and
// voices, generate a video, poll until done, download it.
func TestHeyGenWorkflow(t *testing.T) {
	c := startServer(t).client(t)
	ctx := context.Background()
	hg := c.HeyGen()
	avatars, err := hg.ListAvatars(ctx)
	if err != nil || len(avatars) == 0 || avatars[0].AvatarID == "" {
		t.Fatalf("avatars: %d, %v", len(avatars), err)
	}
	voices, err := hg.ListVoices(ctx)
	if err != nil || len(voices) == 0 {
		t.Fatalf("voices: %d, %v", len(voices), err)
	}
	req := client.AvatarVideo(avatars[0].AvatarID, voices[0].VoiceID, "Hello, this is a test video.")
	req.Test = true
	id, err := hg.GenerateVideo(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []client.Progress
	st, err := hg.WaitForVideo(ctx, id, client.WaitOptions{Interval: 100 * time.Millisecond, Timeout: 20 * time.Second,
		OnProgress: func(p client.Progress) { mu.Lock(); seen = append(seen, p); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "completed" || st.VideoURL == "" || !st.Done() {
		t.Fatalf("status = %+v", st)
	}
	if len(seen) < 2 || seen[0].Status == "completed" || seen[len(seen)-1].Status != "completed" || seen[len(seen)-1].Polls != len(seen) {
		t.Errorf("progress = %+v", seen)
	}
	resp, err := c.Download(ctx, st.VideoURL)
	if err != nil {
		t.Fatal(err)
	}
	mp4, err := resp.Bytes()
	if err != nil || resp.ContentType() != "video/mp4" || len(mp4) < 12 || string(mp4[4:8]) != "ftyp" {
		t.Fatalf("download: %q, %d bytes, %v", resp.ContentType(), len(mp4), err)
	}
}

func TestHeyGenTemplateVideo(t *testing.T) {
	c := startServer(t).client(t)
	ctx := context.Background()
	var list struct {
		Data struct {
			Templates []struct {
				TemplateID string `json:"template_id"`
			} `json:"templates"`
		} `json:"data"`
	}
	if err := c.InvokeJSON(ctx, "heygen", "list-templates", client.Envelope{}, &list); err != nil || len(list.Data.Templates) == 0 {
		t.Fatalf("templates: %v", err)
	}
	var id string
	var lastErr error
	for _, tpl := range list.Data.Templates {
		id, lastErr = c.HeyGen().GenerateTemplateVideo(ctx, tpl.TemplateID, client.TemplateVideoRequest{Test: true, Variables: map[string]any{
			"script": map[string]any{"name": "script", "type": "text", "properties": map[string]any{"content": "Hello."}},
		}})
		if lastErr == nil {
			break
		}
	}
	if id == "" {
		t.Fatalf("no template rendered: %v", lastErr)
	}
	st, err := c.HeyGen().WaitForVideo(ctx, id, client.WaitOptions{Interval: 100 * time.Millisecond})
	if err != nil || st.Status != "completed" {
		t.Fatalf("wait = %+v, %v", st, err)
	}
}

func TestWaitForVideoEnds(t *testing.T) {
	s := startServer(t)
	c := s.client(t)
	hg := c.HeyGen()
	ctx := context.Background()
	start := func(text string) string {
		t.Helper()
		id, err := hg.GenerateVideo(ctx, client.AvatarVideo("Abigail_expressive_2024112501", "f38a635bee7a4d1f9b0a654a31d050d2", text))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	t.Run("failed", func(t *testing.T) {
		st, err := hg.WaitForVideo(ctx, start("SANDBOX_FAIL please"), client.WaitOptions{Interval: 100 * time.Millisecond})
		var failed *client.VideoFailedError
		if !errors.As(err, &failed) || st == nil || st.Status != "failed" || failed.Reason == nil || failed.Reason.Message == "" {
			t.Fatalf("wait = %+v, %v", st, err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		_, err := hg.WaitForVideo(ctx, start("SANDBOX_STUCK"), client.WaitOptions{Interval: 20 * time.Millisecond, Timeout: 150 * time.Millisecond})
		if !errors.Is(err, client.ErrWaitTimeout) {
			t.Fatalf("err = %v, want ErrWaitTimeout", err)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		id := start("SANDBOX_STUCK")
		_, err := hg.WaitForVideo(cctx, id, client.WaitOptions{Interval: 20 * time.Millisecond,
			OnProgress: func(client.Progress) { cancel() }})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("rides out transient failures", func(t *testing.T) {
		id := start("Hello")
		s.sandbox.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Path: "/v1/video_status.get", Status: 503, Count: 2})
		st, err := hg.WaitForVideo(ctx, id, client.WaitOptions{Interval: 50 * time.Millisecond})
		if err != nil || st.Status != "completed" {
			t.Fatalf("wait = %+v, %v", st, err)
		}
	})
}

func TestElevenLabs(t *testing.T) {
	c := startServer(t).client(t)
	ctx := context.Background()
	el := c.ElevenLabs()
	voices, err := el.ListVoices(ctx)
	if err != nil || len(voices) == 0 {
		t.Fatalf("voices: %d, %v", len(voices), err)
	}
	models, err := el.ListModels(ctx)
	if err != nil || len(models) == 0 {
		t.Fatalf("models: %d, %v", len(models), err)
	}
	text := "Hello, this is a test."
	want := sandbox.Speech(text, rachel, client.DefaultTTSModel, "mp3_44100_128")
	audio, err := el.TTS(ctx, rachel, client.TTSRequest{Text: text, VoiceSettings: &client.VoiceSettings{Stability: 0.5, SimilarityBoost: 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	if audio.ContentType != "audio/mpeg" || !bytes.Equal(audio.Data, want) {
		t.Fatalf("tts: %q, %d bytes, want %d", audio.ContentType, len(audio.Data), len(want))
	}
	resp, err := el.TTSStream(ctx, rachel, client.TTSRequest{Text: text})
	if err != nil {
		t.Fatal(err)
	}
	var _ io.ReadCloser = resp.Body
	streamed, err := resp.Bytes()
	if err != nil || !bytes.Equal(streamed, want) {
		t.Fatalf("tts-stream: %d bytes, %v", len(streamed), err)
	}
	if err := func() error {
		r, err := el.TTSStream(ctx, rachel, client.TTSRequest{Text: text})
		if err != nil {
			return err
		}
		var v any
		return r.JSON(&v)
	}(); err == nil || !strings.Contains(err.Error(), "audio/mpeg") {
		t.Errorf("JSON on audio = %v, want a content-type error", err)
	}
}

func TestErrors(t *testing.T) {
	s := startServer(t)
	c := s.client(t)
	ctx := context.Background()
	bad, err := client.New(client.Config{URL: s.url, Org: s.org, APIKey: "aip_nope_nope"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		call       func() error
		is         error
		status     int
		detailPart string
	}{
		{"bad key", func() error { _, err := bad.Services(ctx); return err }, client.ErrUnauthenticated, 401, "Invalid token."},
		{"unknown service", func() error { _, err := c.Service(ctx, "nope"); return err }, client.ErrNotFound, 404, "External proxy service 'nope' not found or disabled."},
		{"unknown action", func() error {
			return c.InvokeJSON(ctx, "heygen", "nope", client.Envelope{}, new(any))
		}, client.ErrNotFound, 404, "heygen/nope"},
		{"missing path param", func() error {
			_, err := c.Invoke(ctx, "elevenlabs", "tts", client.Envelope{Body: map[string]any{"text": "x"}})
			return err
		}, client.ErrInvalid, 400, "Missing required path parameter: voice_id"},
		{"other org", func() error {
			o, _ := client.New(client.Config{URL: s.url, Org: "elsewhere", APIKey: s.key})
			_, err := o.Services(ctx)
			return err
		}, client.ErrForbidden, 403, "permission"},
		{"provider 4xx passed through", func() error {
			_, err := c.HeyGen().VideoStatus(ctx, "no-such-video")
			return err
		}, client.ErrNotFound, 404, "Invalid video id"},
		{"upstream failure", func() error {
			s.sandbox.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Path: "/v2/avatars", Status: 500, Count: 1})
			_, err := c.HeyGen().ListAvatars(ctx)
			return err
		}, client.ErrUpstreamFailed, 502, "The upstream external service request failed."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var e *client.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *client.Error", err)
			}
			if !errors.Is(err, tt.is) || e.Status != tt.status || !strings.Contains(e.Detail, tt.detailPart) {
				t.Errorf("err = %+v, want %v %d %q", e, tt.is, tt.status, tt.detailPart)
			}
			if strings.Contains(err.Error(), s.key) {
				t.Error("error text holds the key")
			}
		})
	}
}

func TestNativePassthrough(t *testing.T) {
	s := startServer(t)
	c := s.client(t)
	do := func(method, path, header, key, body string) (int, http.Header, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, c.NativeURL("elevenlabs")+path, strings.NewReader(body))
		if header != "" {
			req.Header.Set(header, key)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, data
	}
	if st, _, body := do("GET", "/v1/voices", "xi-api-key", s.key, ""); st != 200 || !bytes.Contains(body, []byte(rachel)) {
		t.Fatalf("voices = %d %.200s", st, body)
	}
	if st, _, _ := do("GET", "/v1/voices", "Authorization", "Bearer "+s.key, ""); st != 200 {
		t.Fatalf("voices with Bearer = %d", st)
	}
	text := "Native hello."
	st, h, audio := do("POST", "/v1/text-to-speech/"+rachel+"?output_format=mp3_44100_128", "xi-api-key", s.key,
		`{"text":"`+text+`","model_id":"eleven_multilingual_v2"}`)
	if st != 200 || h.Get("Content-Type") != "audio/mpeg" || !bytes.Equal(audio, sandbox.Speech(text, rachel, "eleven_multilingual_v2", "mp3_44100_128")) {
		t.Fatalf("tts = %d %q %d bytes", st, h.Get("Content-Type"), len(audio))
	}
	refusals := []struct {
		name, method, path, header, key string
		status                          int
	}{
		{"unlisted path", "GET", "/v1/secret-admin", "xi-api-key", s.key, 404},
		{"unlisted method", "PUT", "/v1/voices", "xi-api-key", s.key, 404},
		{"no key", "GET", "/v1/voices", "", "", 401},
		{"wrong provider header", "GET", "/v1/voices", "X-Api-Key", s.key, 401},
		{"bad key", "GET", "/v1/voices", "xi-api-key", "aip_nope_nope", 401},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			st, h, body := do(tt.method, tt.path, tt.header, tt.key, "")
			if st != tt.status || h.Get("Content-Type") != "application/json" || !bytes.Contains(body, []byte(`"code"`)) {
				t.Errorf("= %d %s, want %d in the contract shape", st, body, tt.status)
			}
		})
	}
	t.Run("provider header is refused off the native routes", func(t *testing.T) {
		req, _ := http.NewRequest("GET", s.url+"/api/ai-proxy/orgs/demo/services/", nil)
		req.Header.Set("xi-api-key", s.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("= %d, want 401", resp.StatusCode)
		}
	})
	t.Run("heygen with X-Api-Key", func(t *testing.T) {
		req, _ := http.NewRequest("GET", c.NativeURL("heygen")+"/v2/avatars", nil)
		req.Header.Set("X-Api-Key", s.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !bytes.Contains(body, []byte("avatar_id")) {
			t.Errorf("= %d %.200s", resp.StatusCode, body)
		}
	})
}

package sandbox_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// generateText submits a one-scene render speaking text and returns its id.
func (f *fixture) generateText(text string, test bool) string {
	f.t.Helper()
	body := `{"test":` + strconv.FormatBool(test) + `,"video_inputs":[{"character":{"type":"avatar","avatar_id":"Abigail_expressive_2024112501","avatar_style":"normal"},` +
		`"voice":{"type":"text","input_text":"` + text + `","voice_id":"f38a635bee7a4d1f9b0a654a31d050d2"}}],"dimension":{"width":1280,"height":720}}`
	resp, b := f.hg("POST", "/v2/video/generate", body)
	if resp.StatusCode != 200 {
		f.t.Fatalf("generate: %d %s", resp.StatusCode, b)
	}
	var out struct {
		Data struct {
			VideoID string `json:"video_id"`
		} `json:"data"`
	}
	decode(f.t, b, &out)
	return out.Data.VideoID
}

// videoStatus is the data of GET /v1/video_status.get.
type videoStatus struct {
	ID           string   `json:"id"`
	Status       string   `json:"status"`
	VideoURL     *string  `json:"video_url"`
	ThumbnailURL *string  `json:"thumbnail_url"`
	GifURL       *string  `json:"gif_url"`
	Duration     *float64 `json:"duration"`
	CreatedAt    int64    `json:"created_at"`
	Error        *struct {
		Code    int    `json:"code"`
		Detail  string `json:"detail"`
		Message string `json:"message"`
	} `json:"error"`
}

// status polls a video's status.
func (f *fixture) status(id string) videoStatus {
	f.t.Helper()
	resp, b := f.hg("GET", "/v1/video_status.get?video_id="+id, "")
	if resp.StatusCode != 200 {
		f.t.Fatalf("status: %d %s", resp.StatusCode, b)
	}
	var out struct {
		Code    int         `json:"code"`
		Message string      `json:"message"`
		Data    videoStatus `json:"data"`
	}
	decode(f.t, b, &out)
	if out.Code != 100 || out.Message != "Success" {
		f.t.Fatalf("status envelope: %s", b)
	}
	return out.Data
}

func TestRenderLifecycle(t *testing.T) {
	f := newFixture(t, sandbox.Config{RenderTime: 10 * time.Second})
	id := f.generateText("Hello, this is a test video.", true)
	steps := []struct {
		name    string
		advance time.Duration
		want    string
	}{
		{"just submitted", 0, "pending"},
		{"inside the first 20%", 1900 * time.Millisecond, "pending"},
		{"after 20%", 200 * time.Millisecond, "processing"},
		{"just before the end", 7800 * time.Millisecond, "processing"},
		{"at the end", 100 * time.Millisecond, "completed"},
	}
	for _, st := range steps {
		f.clock.Advance(st.advance)
		got := f.status(id)
		if got.Status != st.want {
			t.Fatalf("%s: status %q, want %q", st.name, got.Status, st.want)
		}
		if st.want != "completed" && (got.VideoURL != nil || got.Duration != nil) {
			t.Fatalf("%s: media fields before completion: %+v", st.name, got)
		}
	}
	got := f.status(id)
	if got.VideoURL == nil || got.ThumbnailURL == nil || got.GifURL == nil || got.Duration == nil || *got.Duration <= 0 {
		t.Fatalf("completed without media: %+v", got)
	}
	u, err := url.Parse(*got.VideoURL)
	if err != nil || u.Host != strings.TrimPrefix(f.srv.URL, "http://") || !strings.HasPrefix(u.Path, "/heygen/") {
		t.Fatalf("video_url %q is not on the sandbox", *got.VideoURL)
	}
	exp, _ := strconv.ParseInt(u.Query().Get("Expires"), 10, 64)
	if want := f.clock.Now().Add(7 * 24 * time.Hour).Unix(); exp != want {
		t.Errorf("Expires = %d, want %d (7 days ahead)", exp, want)
	}
	if _, raw := f.hg("GET", "/v1/video_status.get?video_id="+id, ""); !strings.Contains(string(raw), "&Signature=") {
		t.Errorf("signed URL is HTML-escaped in %s", raw)
	}
	f.clock.Advance(time.Hour)
	if again := f.status(id); *again.VideoURL == *got.VideoURL {
		t.Error("video_url not regenerated on a later status call")
	}
}

func TestRenderMedia(t *testing.T) {
	f := newFixture(t, sandbox.Config{RenderTime: time.Second})
	id := f.generateText("Media please.", false)
	f.clock.Advance(2 * time.Second)
	st := f.status(id)
	tests := []struct {
		name, url, contentType string
		magic                  []byte
		magicAt                int
	}{
		{"video", *st.VideoURL, "video/mp4", []byte("ftyp"), 4},
		{"thumbnail", *st.ThumbnailURL, "image/jpeg", []byte{0xFF, 0xD8, 0xFF}, 0},
		{"gif", *st.GifURL, "image/gif", []byte("GIF89a"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := f.srv.Client().Get(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tt.contentType {
				t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if len(b) < tt.magicAt+len(tt.magic) || !bytes.Equal(b[tt.magicAt:tt.magicAt+len(tt.magic)], tt.magic) {
				t.Fatalf("file starts % x, want % x at %d", b[:min(len(b), 12)], tt.magic, tt.magicAt)
			}
		})
	}
	t.Run("range", func(t *testing.T) {
		req, _ := http.NewRequest("GET", *st.VideoURL, nil)
		req.Header.Set("Range", "bytes=4-7")
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusPartialContent || string(b) != "ftyp" {
			t.Fatalf("range: %d %q", resp.StatusCode, b)
		}
	})
	t.Run("expired link", func(t *testing.T) {
		f.clock.Advance(8 * 24 * time.Hour)
		resp, err := f.srv.Client().Get(*st.VideoURL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("expired link: status %d, want 403", resp.StatusCode)
		}
	})
}

func TestRenderFailures(t *testing.T) {
	f := newFixture(t, sandbox.Config{RenderTime: time.Second})
	tests := []struct {
		name, text string
		status     string
		code       int
	}{
		{"plain marker", "please SANDBOX_FAIL now", "failed", 40119},
		{"moderation marker", "SANDBOX_FAIL_MODERATION", "failed", 400105},
		{"stuck marker", "SANDBOX_STUCK", "processing", 0},
		{"no marker", "fine", "completed", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := f.generateText(tt.text, true)
			f.clock.Advance(time.Hour)
			got := f.status(id)
			if got.Status != tt.status {
				t.Fatalf("status %q, want %q", got.Status, tt.status)
			}
			switch {
			case tt.code == 0 && got.Error != nil:
				t.Errorf("unexpected error %+v", got.Error)
			case tt.code != 0 && (got.Error == nil || got.Error.Code != tt.code || got.Error.Message == "" || got.Error.Detail == ""):
				t.Errorf("error = %+v, want code %d", got.Error, tt.code)
			case tt.code != 0 && got.VideoURL != nil:
				t.Error("failed render has a video_url")
			}
		})
	}
}

func TestVideoStatusErrors(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	tests := []struct {
		name, query string
		status      int
		body        string
	}{
		{"missing video_id", "", 400, `{"code":40001,"message":"Missing required parameter: video_id"}`},
		{"unknown video_id", "?video_id=0123456789abcdef0123456789abcdef", 404, `{"code":40031,"message":"Invalid video id: video not found"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.hg("GET", "/v1/video_status.get"+tt.query, "")
			wantResponse(t, resp, body, tt.status, tt.body)
		})
	}
}

func TestTemplateGenerate(t *testing.T) {
	f := newFixture(t, sandbox.Config{RenderTime: time.Second})
	const tpl = "22a48da453ef4c014a6a60d827a02f0b"
	tests := []struct {
		name, template, body string
		status               int
		want                 string
	}{
		{"contract example", tpl, `{"test":true,"caption":false,"variables":{"script":{"name":"script","type":"text","properties":{"content":"Hello, this is a test video."}}}}`, 200, ""},
		{"missing variables", tpl, `{"test":true}`, 400, `{"data":null,"error":{"code":"invalid_parameter","message":"variables is invalid: field required"}}`},
		{"variable not an object", tpl, `{"variables":{"script":"hi"}}`, 400, `{"data":null,"error":{"code":"invalid_parameter","message":"variables.script is invalid: value is not a valid dict"}}`},
		{"unknown template", "ffffffffffffffffffffffffffffffff", `{"variables":{}}`, 404, `{"data":null,"error":{"code":"template_not_found","message":"Template ffffffffffffffffffffffffffffffff not found"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.hg("POST", "/v2/template/"+tt.template+"/generate", tt.body)
			wantResponse(t, resp, body, tt.status, tt.want)
		})
	}
	t.Run("marker in a variable fails the render", func(t *testing.T) {
		_, body := f.hg("POST", "/v2/template/"+tpl+"/generate", `{"variables":{"script":{"name":"script","type":"text","properties":{"content":"SANDBOX_FAIL"}}}}`)
		var out struct {
			Data struct {
				VideoID string `json:"video_id"`
			} `json:"data"`
		}
		decode(t, body, &out)
		f.clock.Advance(time.Minute)
		if st := f.status(out.Data.VideoID); st.Status != "failed" {
			t.Fatalf("status %q, want failed", st.Status)
		}
	})
}

func TestTestDailyCap(t *testing.T) {
	f := newFixture(t, sandbox.Config{TestDailyCap: 2})
	for i := range 2 {
		f.generateText("ok "+strconv.Itoa(i), true)
	}
	f.generateText("not a test render, so not capped", false)
	body := `{"test":true,"video_inputs":[{"voice":{"type":"silence"}}]}`
	resp, b := f.hg("POST", "/v2/video/generate", body)
	wantResponse(t, resp, b, 429, `{"data":null,"error":{"code":"trial_video_limit_exceeded","message":"It seems you've reached your daily api trial limit 2."}}`)
	f.clock.Advance(24 * time.Hour)
	if resp, b := f.hg("POST", "/v2/video/generate", body); resp.StatusCode != 200 {
		t.Fatalf("next day: %d %s", resp.StatusCode, b)
	}
}

func TestMaxConcurrentRenders(t *testing.T) {
	f := newFixture(t, sandbox.Config{MaxConcurrentRenders: 2, RenderTime: 10 * time.Second})
	f.generateText("one", false)
	f.clock.Advance(4 * time.Second)
	f.generateText("two", false)
	body := `{"video_inputs":[{"voice":{"type":"silence"}}]}`
	resp, b := f.hg("POST", "/v2/video/generate", body)
	wantResponse(t, resp, b, 429, `{"data":null,"error":{"code":"rate_limit_exceeded","message":"You have reached the limit of 2 concurrent video renders. Please retry later."}}`)
	if got := resp.Header.Get("Retry-After"); got != "6" {
		t.Errorf("Retry-After = %q, want 6 (the first render ends in 6 s)", got)
	}
	f.clock.Advance(6 * time.Second)
	if resp, b := f.hg("POST", "/v2/video/generate", body); resp.StatusCode != 200 {
		t.Fatalf("after one finished: %d %s", resp.StatusCode, b)
	}
}

func TestVideoListAndDelete(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	var ids []string
	for i := range 3 {
		ids = append(ids, f.generateText("video "+strconv.Itoa(i), true))
		f.clock.Advance(time.Second)
	}
	type page struct {
		Code int `json:"code"`
		Data struct {
			Token  *string `json:"token"`
			Videos []struct {
				VideoID string `json:"video_id"`
				Status  string `json:"status"`
				Type    string `json:"type"`
			} `json:"videos"`
		} `json:"data"`
	}
	var first, second page
	_, b := f.hg("GET", "/v1/video.list?limit=2", "")
	decode(t, b, &first)
	if len(first.Data.Videos) != 2 || first.Data.Token == nil || first.Data.Videos[0].VideoID != ids[2] {
		t.Fatalf("first page: %s", b)
	}
	_, b = f.hg("GET", "/v1/video.list?limit=2&token="+*first.Data.Token, "")
	decode(t, b, &second)
	if len(second.Data.Videos) != 1 || second.Data.Token != nil || second.Data.Videos[0].VideoID != ids[0] {
		t.Fatalf("second page: %s", b)
	}
	resp, b := f.hg("DELETE", "/v1/video.delete?video_id="+ids[0], "")
	wantResponse(t, resp, b, 200, `{"code":100,"data":null,"msg":null,"message":null}`)
	resp, b = f.hg("GET", "/v1/video_status.get?video_id="+ids[0], "")
	if resp.StatusCode != 404 {
		t.Fatalf("status after delete: %d %s", resp.StatusCode, b)
	}
}

func TestRemainingQuota(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	quota := func() float64 {
		var out struct {
			Data struct {
				RemainingQuota float64 `json:"remaining_quota"`
			} `json:"data"`
		}
		_, b := f.hg("GET", "/v2/user/remaining_quota", "")
		decode(t, b, &out)
		return out.Data.RemainingQuota
	}
	before := quota()
	f.generateText("test renders are free", true)
	if got := quota(); got != before {
		t.Errorf("test render spent quota: %v → %v", before, got)
	}
	f.generateText("a real render costs thirty seconds", false)
	if got := quota(); got != before-30 {
		t.Errorf("quota %v → %v, want 30 less", before, got)
	}
}

func TestAssetUpload(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	png := []byte("\x89PNG\r\n\x1a\nfake")
	req := request{method: "POST", path: "/heygen/v1/asset", body: string(png),
		header: map[string]string{"X-Api-Key": hgKey, "Content-Type": "image/png"}}
	resp, b := f.do(req)
	var out struct {
		Code int `json:"code"`
		Data struct {
			ID       string `json:"id"`
			FileType string `json:"file_type"`
			URL      string `json:"url"`
		} `json:"data"`
	}
	decode(t, b, &out)
	if resp.StatusCode != 200 || out.Code != 100 || len(out.Data.ID) != 32 || out.Data.FileType != "image" {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	got, err := f.srv.Client().Get(out.Data.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Body.Close()
	if back, _ := io.ReadAll(got.Body); !bytes.Equal(back, png) {
		t.Errorf("asset URL served %q", back)
	}
	req.header["Content-Type"] = "application/zip"
	resp, b = f.do(req)
	wantResponse(t, resp, b, 400, `{"code":400111,"message":"Invalid file type: application/zip"}`)
}

func TestWebhookEndpoints(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	resp, b := f.hg("GET", "/v1/webhook/webhook.list", "")
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"avatar_video.success"`) {
		t.Fatalf("webhook.list: %d %s", resp.StatusCode, b)
	}
	resp, b = f.hg("POST", "/v1/webhook/endpoint.add", `{"url":"https://example.com/hook","events":["avatar_video.success"]}`)
	var added struct {
		Data struct {
			EndpointID string `json:"endpoint_id"`
			Secret     string `json:"secret"`
		} `json:"data"`
	}
	decode(t, b, &added)
	if resp.StatusCode != 200 || added.Data.EndpointID == "" || added.Data.Secret == "" {
		t.Fatalf("endpoint.add: %d %s", resp.StatusCode, b)
	}
	if _, b = f.hg("GET", "/v1/webhook/endpoint.list", ""); !strings.Contains(string(b), added.Data.EndpointID) {
		t.Fatalf("endpoint.list lacks the endpoint: %s", b)
	}
	resp, b = f.hg("DELETE", "/v1/webhook/endpoint.delete?endpoint_id="+added.Data.EndpointID, "")
	wantResponse(t, resp, b, 200, `{"code":100,"data":null,"msg":null,"message":null}`)
	resp, b = f.hg("DELETE", "/v1/webhook/endpoint.delete?endpoint_id="+added.Data.EndpointID, "")
	wantResponse(t, resp, b, 404, `{"code":404,"message":"Webhook endpoint not found"}`)
	resp, b = f.hg("POST", "/v1/webhook/endpoint.add", `{"url":"ftp://example.com"}`)
	wantResponse(t, resp, b, 400, `{"code":400175,"message":"Invalid parameter: url"}`)
}

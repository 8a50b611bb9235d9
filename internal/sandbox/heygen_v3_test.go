package sandbox_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// v3Avatar is a body for POST /v3/videos with a look and a script.
func v3Avatar(script string, extra string) string {
	return `{"type":"avatar","avatar_id":"Abigail_expressive_2024112501","script":` + strconv.Quote(script) +
		`,"voice_id":"f38a635bee7a4d1f9b0a654a31d050d2"` + extra + `}`
}

// v3Create creates a video and returns its id.
func (f *fixture) v3Create(body string) string {
	f.t.Helper()
	resp, b := f.hg("POST", "/v3/videos", body)
	var out struct {
		Data struct {
			VideoID string `json:"video_id"`
		} `json:"data"`
	}
	decode(f.t, b, &out)
	if resp.StatusCode != 200 || out.Data.VideoID == "" {
		f.t.Fatalf("POST /v3/videos = %d %s", resp.StatusCode, b)
	}
	return out.Data.VideoID
}

// v3Get reads a video's VideoDetail.
func (f *fixture) v3Get(id string) map[string]any {
	f.t.Helper()
	resp, b := f.hg("GET", "/v3/videos/"+id, "")
	var out struct {
		Data map[string]any `json:"data"`
	}
	decode(f.t, b, &out)
	if resp.StatusCode != 200 {
		f.t.Fatalf("GET /v3/videos/%s = %d %s", id, resp.StatusCode, b)
	}
	return out.Data
}

func TestV3VideoLifecycle(t *testing.T) {
	f := newFixture(t, sandbox.Config{RenderTime: 10 * time.Second})
	resp, b := f.hg("POST", "/v3/videos", v3Avatar("Hello from v3.", `,"title":"v3 test","caption":{"file_format":"srt"}`))
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"status":"waiting"`) || !strings.Contains(string(b), `"output_format":"mp4"`) {
		t.Fatalf("create = %d %s", resp.StatusCode, b)
	}
	var created struct {
		Data struct {
			VideoID string `json:"video_id"`
		} `json:"data"`
	}
	decode(t, b, &created)
	id := created.Data.VideoID
	for _, step := range []struct {
		advance time.Duration
		status  string
	}{{0, "pending"}, {3 * time.Second, "processing"}, {8 * time.Second, "completed"}} {
		f.clock.Advance(step.advance)
		d := f.v3Get(id)
		if d["id"] != id || d["status"] != step.status {
			t.Fatalf("after %v: %v", step.advance, d)
		}
	}
	d := f.v3Get(id)
	if d["title"] != "v3 test" || d["failure_code"] != nil || d["subtitle_url"] == nil || d["captioned_video_url"] != nil {
		t.Fatalf("completed detail = %v", d)
	}
	r, mp4 := f.do(request{path: strings.TrimPrefix(d["video_url"].(string), f.srv.URL)})
	if r.Header.Get("Content-Type") != "video/mp4" || string(mp4[4:8]) != "ftyp" {
		t.Fatalf("video_url gave %s %q", r.Header.Get("Content-Type"), mp4[:8])
	}
	r, srt := f.do(request{path: strings.TrimPrefix(d["subtitle_url"].(string), f.srv.URL)})
	if r.StatusCode != 200 || !strings.Contains(string(srt), "00:00:00,000 --> ") {
		t.Fatalf("subtitle_url = %d %s", r.StatusCode, srt)
	}

	resp, b = f.hg("DELETE", "/v3/videos/"+id, "")
	wantResponse(t, resp, b, 200, `{"data":{"id":"`+id+`","deleted":true}}`)
	resp, b = f.hg("DELETE", "/v3/videos/"+id, "")
	wantResponse(t, resp, b, 404, `{"error":{"code":"video_not_found","message":"Video `+id+` not found",`+
		`"doc_url":"https://developers.heygen.com/docs/error-codes#video-not-found"}}`)
}

func TestV3VideoFailures(t *testing.T) {
	f := newFixture(t, sandbox.Config{RenderTime: time.Second})
	failed := f.v3Create(v3Avatar("SANDBOX_FAIL please", ""))
	moderated := f.v3Create(v3Avatar("SANDBOX_FAIL_MODERATION", ""))
	f.clock.Advance(2 * time.Second)
	for id, code := range map[string]string{failed: "rendering_failed", moderated: "content_policy_violation"} {
		d := f.v3Get(id)
		if d["status"] != "failed" || d["failure_code"] != code || d["failure_message"] == nil || d["video_url"] != nil {
			t.Errorf("%s: %v", id, d)
		}
	}
}

func TestV3Errors(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	doc := func(code string) string {
		return `"doc_url":"https://developers.heygen.com/docs/error-codes#` + strings.ReplaceAll(code, "_", "-") + `"`
	}
	cases := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"no type", "POST", "/v3/videos", `{"avatar_id":"x"}`, 400,
			`{"error":{"code":"invalid_parameter","message":"type is required","param":"type",` + doc("invalid_parameter") + `}}`},
		{"unknown type", "POST", "/v3/videos", `{"type":"hologram"}`, 400,
			`{"error":{"code":"invalid_parameter","message":"type must be one of avatar, image, cinematic_avatar, studio","param":"type",` + doc("invalid_parameter") + `}}`},
		{"bad json", "POST", "/v3/videos", `{`, 400,
			`{"error":{"code":"invalid_parameter","message":"Request body is not valid JSON","param":"body",` + doc("invalid_parameter") + `}}`},
		{"unknown look", "POST", "/v3/videos", `{"type":"avatar","avatar_id":"nobody"}`, 404,
			`{"error":{"code":"avatar_not_found","message":"Avatar nobody not found",` + doc("avatar_not_found") + `}}`},
		{"unknown voice", "POST", "/v3/videos", `{"type":"avatar","avatar_id":"josh_lite3_20230714","script":"Hi","voice_id":"nope"}`, 404,
			`{"error":{"code":"voice_not_found","message":"Voice nope not found",` + doc("voice_not_found") + `}}`},
		{"script needs a voice", "POST", "/v3/videos", `{"type":"avatar","avatar_id":"josh_lite3_20230714","script":"Hi"}`, 400,
			`{"error":{"code":"invalid_parameter","message":"voice_id is required with script for this avatar","param":"voice_id",` + doc("invalid_parameter") + `}}`},
		{"webm with background", "POST", "/v3/videos", v3Avatar("Hi", `,"output_format":"webm","background":{"type":"color","value":"#fff"}`), 400, ""},
		{"cinematic needs an array", "POST", "/v3/videos", `{"type":"cinematic_avatar","avatar_id":"Abigail_expressive_2024112501","prompt":"x"}`, 400, ""},
		{"unknown video", "GET", "/v3/videos/abc", "", 404,
			`{"error":{"code":"video_not_found","message":"Video abc not found",` + doc("video_not_found") + `}}`},
		{"unknown v3 path", "GET", "/v3/nothing", "", 404,
			`{"error":{"code":"not_found","message":"Not found",` + doc("not_found") + `},"sandbox_unknown_route":"GET /v3/nothing"}`},
		{"bad limit", "GET", "/v3/videos?limit=101", "", 400, ""},
		{"bad token", "GET", "/v3/voices?token=%21%21", "", 400, ""},
		{"bad idempotency key", "POST", "/v3/videos", v3Avatar("Hi", ""), 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"X-Api-Key": hgKey}
			if tc.name == "bad idempotency key" {
				h["Idempotency-Key"] = "has space"
			}
			resp, b := f.do(request{method: tc.method, path: "/heygen" + tc.path, body: tc.body, header: h})
			wantResponse(t, resp, b, tc.status, tc.want)
			if tc.want == "" && !strings.Contains(string(b), `"code":"invalid_parameter"`) {
				t.Errorf("body %s", b)
			}
		})
	}
	t.Run("unauthorized", func(t *testing.T) {
		for _, key := range []string{"", "wrong"} {
			resp, b := f.do(request{path: "/heygen/v3/users/me", header: map[string]string{"X-Api-Key": key}})
			wantResponse(t, resp, b, 401, `{"error":{"code":"unauthorized","message":"Unauthorized",`+doc("unauthorized")+`}}`)
		}
	})
	t.Run("fault bodies", func(t *testing.T) {
		for status, code := range map[int]string{402: "insufficient_credit", 409: "request_in_progress", 429: "rate_limit_exceeded", 500: "internal_error"} {
			f.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Path: "/v3/videos", Status: status, Count: 1})
			resp, b := f.hg("POST", "/v3/videos", v3Avatar("Hi", ""))
			if resp.StatusCode != status || !strings.Contains(string(b), `"code":"`+code+`"`) {
				t.Errorf("fault %d = %d %s", status, resp.StatusCode, b)
			}
		}
	})
}

func TestV3Pagination(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	var ids []string
	for i := range 5 {
		ids = append(ids, f.v3Create(v3Avatar("Video "+strconv.Itoa(i), `,"title":"page test `+strconv.Itoa(i)+`"`)))
	}
	var seen []string
	token, pages := "", 0
	for {
		path := "/v3/videos?limit=2"
		if token != "" {
			path += "&token=" + token
		}
		resp, b := f.hg("GET", path, "")
		var page struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
			HasMore   bool    `json:"has_more"`
			NextToken *string `json:"next_token"`
		}
		decode(t, b, &page)
		if resp.StatusCode != 200 || page.HasMore != (page.NextToken != nil) {
			t.Fatalf("page = %d %s", resp.StatusCode, b)
		}
		pages++
		for _, d := range page.Data {
			seen = append(seen, d.ID)
		}
		if !page.HasMore {
			break
		}
		token = *page.NextToken
	}
	if pages != 3 || len(seen) != 5 || seen[0] != ids[4] || seen[4] != ids[0] {
		t.Fatalf("%d pages, ids %v, created %v", pages, seen, ids)
	}
	resp, b := f.hg("GET", "/v3/videos?title=test%203", "")
	if resp.StatusCode != 200 || strings.Count(string(b), `"id":`) != 1 {
		t.Fatalf("title filter = %s", b)
	}
	for _, p := range []string{"/v3/voices?limit=100", "/v3/avatars?limit=50", "/v3/avatars/looks?limit=50", "/v3/templates"} {
		resp, b := f.hg("GET", p, "")
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"has_more":`) || !strings.Contains(string(b), `"next_token":`) {
			t.Errorf("GET %s = %d %.200s", p, resp.StatusCode, b)
		}
	}
}

func TestV3IdempotencyKey(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	post := func(key, body string) (*http.Response, []byte) {
		return f.do(request{method: "POST", path: "/heygen/v3/videos", body: body,
			header: map[string]string{"X-Api-Key": hgKey, "Idempotency-Key": key}})
	}
	r1, b1 := post("order-1", v3Avatar("Once.", ""))
	r2, b2 := post("order-1", v3Avatar("Once, slightly different.", ""))
	if r1.StatusCode != 200 || r2.StatusCode != 200 || !bytes.Equal(b1, b2) {
		t.Fatalf("replay: %s / %s", b1, b2)
	}
	_, b3 := post("order-2", v3Avatar("Once.", ""))
	if bytes.Equal(b1, b3) {
		t.Fatal("another key replayed the first answer")
	}
	resp, b := f.hg("GET", "/v3/videos", "")
	if resp.StatusCode != 200 || strings.Count(string(b), `"id":`) != 2 {
		t.Fatalf("want 2 videos: %s", b)
	}
	// An error is not stored: the key can be used again.
	r4, _ := post("order-3", `{"type":"avatar"}`)
	r5, _ := post("order-3", v3Avatar("Now valid.", ""))
	if r4.StatusCode != 400 || r5.StatusCode != 200 {
		t.Fatalf("error then retry = %d, %d", r4.StatusCode, r5.StatusCode)
	}
}

func TestV3ConcurrencyLimit(t *testing.T) {
	f := newFixture(t, sandbox.Config{RenderTime: 10 * time.Second, MaxConcurrentRenders: 1})
	f.v3Create(v3Avatar("First.", ""))
	resp, b := f.hg("POST", "/v3/videos", v3Avatar("Second.", ""))
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "10" || !strings.Contains(string(b), `"code":"rate_limit_exceeded"`) {
		t.Fatalf("second = %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	f.clock.Advance(11 * time.Second)
	f.v3Create(v3Avatar("Third.", ""))
}

func TestV3Webhook(t *testing.T) {
	f := newFixture(t, sandbox.Config{RenderTime: time.Second, WebhookSecret: "whsec_cb"})
	recv := &hookReceiver{}
	hooks := httptest.NewServer(recv)
	t.Cleanup(hooks.Close)
	id := f.v3Create(v3Avatar("Hook me.", `,"callback_url":"`+hooks.URL+`","callback_id":"ref-7"`))
	failed := f.v3Create(v3Avatar("SANDBOX_FAIL", `,"callback_url":"`+hooks.URL+`"`))
	f.clock.Advance(2 * time.Second)
	if n := f.sb.DeliverWebhooks(t.Context()); n != 2 {
		t.Fatalf("delivered %d", n)
	}
	for i, r := range recv.got {
		body := recv.body[i]
		if r.Header.Get("Heygen-Signature") != hexMAC("whsec_cb", body) || r.Header.Get("Signature") != "" ||
			r.Header.Get("Heygen-Timestamp") == "" || r.Header.Get("Heygen-Event-Id") == "" {
			t.Errorf("headers %v", r.Header)
		}
		var ev struct {
			EventType string         `json:"event_type"`
			EventData map[string]any `json:"event_data"`
		}
		decode(t, body, &ev)
		switch ev.EventData["video_id"] {
		case id:
			if ev.EventType != "avatar_video.success" || ev.EventData["callback_id"] != "ref-7" || ev.EventData["url"] == nil {
				t.Errorf("success %s", body)
			}
		case failed:
			if ev.EventType != "avatar_video.fail" || ev.EventData["failure_code"] != "rendering_failed" {
				t.Errorf("fail %s", body)
			}
		default:
			t.Errorf("unexpected %s", body)
		}
	}
}

func TestV3WebhookEndpoints(t *testing.T) {
	f := newFixture(t, sandbox.Config{RenderTime: time.Second})
	recv := &hookReceiver{}
	hooks := httptest.NewServer(recv)
	t.Cleanup(hooks.Close)
	resp, b := f.hg("POST", "/v3/webhooks/endpoints", `{"url":"`+hooks.URL+`","events":["avatar_video.success"]}`)
	var ep struct {
		Data struct {
			EndpointID string `json:"endpoint_id"`
			Secret     string `json:"secret"`
		} `json:"data"`
	}
	decode(t, b, &ep)
	if resp.StatusCode != 200 || !strings.HasPrefix(ep.Data.Secret, "whsec_") {
		t.Fatalf("add = %d %s", resp.StatusCode, b)
	}
	if _, b := f.hg("GET", "/v3/webhooks/endpoints", ""); !strings.Contains(string(b), `"secret":null`) {
		t.Fatalf("list shows the secret: %s", b)
	}
	f.v3Create(v3Avatar("To the endpoint.", ""))
	f.clock.Advance(2 * time.Second)
	f.sb.DeliverWebhooks(t.Context())
	if recv.count() != 1 || recv.got[0].Header.Get("Heygen-Signature") != hexMAC(ep.Data.Secret, recv.body[0]) {
		t.Fatalf("deliveries %d", recv.count())
	}
	resp, _ = f.hg("DELETE", "/v3/webhooks/endpoints/"+ep.Data.EndpointID, "")
	resp2, b2 := f.hg("DELETE", "/v3/webhooks/endpoints/"+ep.Data.EndpointID, "")
	if resp.StatusCode != 200 || resp2.StatusCode != 404 || !strings.Contains(string(b2), "webhook_not_found") {
		t.Fatalf("delete = %d, again %d %s", resp.StatusCode, resp2.StatusCode, b2)
	}
}

func TestV3AssetsTemplatesAndUser(t *testing.T) {
	f := newFixture(t, sandbox.Config{RenderTime: time.Second})
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part, _ := mw.CreateFormFile("file", "face.png")
	_, _ = part.Write([]byte("\x89PNG\r\n\x1a\n" + strings.Repeat("\x00", 32)))
	_ = mw.Close()
	resp, b := f.do(request{method: "POST", path: "/heygen/v3/assets", body: buf.String(),
		header: map[string]string{"X-Api-Key": hgKey, "Content-Type": mw.FormDataContentType()}})
	var asset struct {
		Data struct {
			AssetID  string `json:"asset_id"`
			MimeType string `json:"mime_type"`
			Size     int    `json:"size_bytes"`
		} `json:"data"`
	}
	decode(t, b, &asset)
	if resp.StatusCode != 200 || asset.Data.MimeType != "image/png" || asset.Data.Size != 40 {
		t.Fatalf("upload = %d %s", resp.StatusCode, b)
	}
	id := f.v3Create(`{"type":"image","image":{"type":"asset_id","asset_id":"` + asset.Data.AssetID + `"},"script":"From a photo.","voice_id":"f38a635bee7a4d1f9b0a654a31d050d2"}`)
	if f.v3Get(id)["status"] != "pending" {
		t.Fatal("image video not pending")
	}

	resp, b = f.hg("GET", "/v3/templates", "")
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	decode(t, b, &list)
	if resp.StatusCode != 200 || len(list.Data) == 0 {
		t.Fatalf("templates = %s", b)
	}
	resp, b = f.hg("GET", "/v3/templates/"+list.Data[0].ID, "")
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"variable_type":"text"`) {
		t.Fatalf("template = %s", b)
	}
	resp, b = f.hg("POST", "/v3/templates/"+list.Data[0].ID, `{"variables":{"script":{"name":"script","type":"text","properties":{"content":"Hi"}}}}`)
	var gen struct {
		Data map[string]any `json:"data"`
	}
	decode(t, b, &gen)
	if resp.StatusCode != 200 || gen.Data["id"] == nil || gen.Data["status"] != "pending" {
		t.Fatalf("generate = %d %s", resp.StatusCode, b)
	}

	resp, b = f.hg("GET", "/v3/users/me", "")
	var me struct {
		Data struct {
			BillingType string `json:"billing_type"`
			Wallet      struct {
				RemainingBalance float64 `json:"remaining_balance"`
			} `json:"wallet"`
		} `json:"data"`
	}
	decode(t, b, &me)
	if resp.StatusCode != 200 || me.Data.BillingType != "wallet" || me.Data.Wallet.RemainingBalance >= 100 {
		t.Fatalf("users/me = %s", b)
	}
}

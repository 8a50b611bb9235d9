package sandbox_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// translate starts a translation for key and returns its id.
func translate(t *testing.T, f *fixture, key, title string) string {
	t.Helper()
	resp, body := f.as(key, "heygen", "POST", "/v2/video_translate",
		`{"video_url":"https://example.com/talk.mp4","output_language":"Spanish","title":"`+title+`","callback_id":"cb-1"}`)
	wantStatus(t, resp, body, 200)
	id, _ := jsonField(t, body, "data.video_translate_id").(string)
	if len(id) != 32 || jsonField(t, body, "error") != nil {
		t.Fatalf("translate answer %s", body)
	}
	return id
}

func TestHeyGenTranslationLifecycle(t *testing.T) {
	f := newFixture(t, sandbox.Config{RenderTime: 10 * time.Second})
	id := translate(t, f, hgKey, "Launch")
	status := func() (string, []byte) {
		_, body := f.hg("GET", "/v2/video_translate/"+id, "")
		st, _ := jsonField(t, body, "data.status").(string)
		return st, body
	}
	if st, body := status(); st != "pending" || jsonField(t, body, "data.url") != nil {
		t.Errorf("at start: %s", body)
	}
	f.clock.Advance(3 * time.Second)
	if st, _ := status(); st != "running" {
		t.Errorf("after 3 s: %s", st)
	}
	_, list := f.hg("GET", "/v1/video.list", "")
	if !strings.Contains(string(list), `{"video_id":"`+id+`","status":"processing","created_at":1772618400,"type":"TRANSLATED"}`) {
		t.Errorf("video.list: %s", list)
	}
	f.clock.Advance(8 * time.Second)
	st, body := status()
	url, _ := jsonField(t, body, "data.url").(string)
	if st != "success" || jsonField(t, body, "data.title") != "Launch" || jsonField(t, body, "data.callback_id") != "cb-1" || url == "" {
		t.Fatalf("after render time: %s", body)
	}
	media := strings.TrimPrefix(url, f.srv.URL)
	if resp, mp4 := f.do(request{path: media}); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/mp4" || len(mp4) < 1000 {
		t.Errorf("download %s: %d %s", media, resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	resp, body := f.hg("DELETE", "/v1/video.delete?video_id="+id+"&type=video_translate", "")
	wantResponse(t, resp, body, 200, `{"code":100,"data":null,"msg":null,"message":null}`)
	resp, body = f.hg("GET", "/v2/video_translate/"+id, "")
	wantResponse(t, resp, body, 404, `{"data":null,"error":{"code":"video_translate_not_found","message":"Video translate `+id+` not found"}}`)
}

func TestHeyGenTranslationIsPerKey(t *testing.T) {
	f := newTwoKeyFixture(t, sandbox.Config{})
	id := translate(t, f, hgKey, "Mine")
	resp, body := f.as(hgOther, "heygen", "GET", "/v2/video_translate/"+id, "")
	wantStatus(t, resp, body, 404)
	resp, body = f.as(hgOther, "heygen", "DELETE", "/v1/video.delete?video_id="+id+"&type=video_translate", "")
	wantResponse(t, resp, body, 404, `{"code":40031,"message":"Invalid video id: video not found"}`)
	if _, list := f.as(hgOther, "heygen", "GET", "/v1/video.list", ""); strings.Contains(string(list), id) {
		t.Errorf("the other key lists the translation: %s", list)
	}
	if resp, _ := f.hg("GET", "/v2/video_translate/"+id, ""); resp.StatusCode != 200 {
		t.Errorf("owner: %d", resp.StatusCode)
	}
}

func TestHeyGenTranslationErrors(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	tests := []struct{ name, body, want string }{
		{"video_url required", `{"output_language":"Spanish"}`, `{"data":null,"error":{"code":"invalid_parameter","message":"video_url is invalid: field required"}}`},
		{"video_url scheme", `{"video_url":"file:///etc/passwd","output_language":"Spanish"}`, `{"data":null,"error":{"code":"invalid_parameter","message":"video_url is invalid: invalid or missing URL scheme"}}`},
		{"language required", `{"video_url":"https://example.com/a.mp4"}`, `{"data":null,"error":{"code":"invalid_parameter","message":"output_language is invalid: field required"}}`},
		{"unknown language", `{"video_url":"https://example.com/a.mp4","output_language":"Klingon"}`,
			`{"data":null,"error":{"code":"invalid_parameter","message":"output_language is invalid: unsupported language Klingon; see /v2/video_translate/target_languages"}}`},
		{"not JSON", `{`, `{"data":null,"error":{"code":"invalid_parameter","message":"body is invalid: request body is not valid JSON"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.hg("POST", "/v2/video_translate", tt.body)
			wantResponse(t, resp, body, 400, tt.want)
		})
	}
	resp, body := f.hg("GET", "/v2/video_translate/target_languages", "")
	wantStatus(t, resp, body, 200)
	if !strings.Contains(string(body), `"Spanish"`) {
		t.Errorf("languages: %s", body)
	}
}

func TestHeyGenTranslationWebhooks(t *testing.T) {
	f := newFixture(t, sandbox.Config{RenderTime: time.Second})
	recv := &hookReceiver{}
	hooks := httptest.NewServer(recv)
	t.Cleanup(hooks.Close)
	resp, body := f.hg("POST", "/v1/webhook/endpoint.add", `{"url":"`+hooks.URL+`","events":["video_translate.success","video_translate.fail"]}`)
	wantStatus(t, resp, body, 200)
	ok := translate(t, f, hgKey, "Fine")
	bad := translate(t, f, hgKey, "SANDBOX_FAIL")
	f.clock.Advance(2 * time.Second)
	if n := f.sb.DeliverWebhooks(t.Context()); n != 2 {
		t.Fatalf("delivered %d, want 2", n)
	}
	events := map[string]map[string]any{}
	for _, b := range recv.body {
		var ev struct {
			EventType string         `json:"event_type"`
			EventData map[string]any `json:"event_data"`
		}
		decode(t, b, &ev)
		events[ev.EventType] = ev.EventData
	}
	if d := events["video_translate.success"]; d["video_translate_id"] != ok || d["url"] == nil || d["output_language"] != "Spanish" {
		t.Errorf("success event: %v", d)
	}
	if d := events["video_translate.fail"]; d["video_translate_id"] != bad || d["message"] == nil {
		b, _ := json.Marshal(events)
		t.Errorf("fail event: %s", b)
	}
}

package sandbox_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// hookReceiver records the webhooks it receives.
type hookReceiver struct {
	mu   sync.Mutex
	got  []*http.Request
	body [][]byte
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.got = append(h.got, r)
	h.body = append(h.body, b)
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookReceiver) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.got)
}

func hexMAC(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func TestWebhooksToCallbackURL(t *testing.T) {
	f := newFixture(t, sandbox.Config{RenderTime: 10 * time.Second, WebhookSecret: "cb-secret"})
	recv := &hookReceiver{}
	hooks := httptest.NewServer(recv)
	t.Cleanup(hooks.Close)

	body := `{"callback_url":"` + hooks.URL + `/hook","callback_id":"mine","video_inputs":[{"character":{"type":"avatar","avatar_id":"Abigail_expressive_2024112501","avatar_style":"normal"},` +
		`"voice":{"type":"text","input_text":"Hello","voice_id":"f38a635bee7a4d1f9b0a654a31d050d2"}}],"dimension":{"width":1280,"height":720}}`
	resp, b := f.hg("POST", "/v2/video/generate", body)
	if resp.StatusCode != 200 {
		t.Fatalf("generate: %d %s", resp.StatusCode, b)
	}
	failed := f.generateText("SANDBOX_FAIL", true) // no callback_url: no webhook
	_ = failed
	if n := f.sb.DeliverWebhooks(t.Context()); n != 0 {
		t.Fatalf("delivered %d webhooks before any render finished", n)
	}
	f.clock.Advance(10 * time.Second)
	if n := f.sb.DeliverWebhooks(t.Context()); n != 1 {
		t.Fatalf("delivered %d, want 1", n)
	}
	if n := f.sb.DeliverWebhooks(t.Context()); n != 0 {
		t.Fatalf("a finished render was announced twice (%d)", n)
	}
	if recv.count() != 1 {
		t.Fatalf("receiver got %d", recv.count())
	}
	r, got := recv.got[0], recv.body[0]
	if r.Header.Get("Heygen-Signature") != hexMAC("cb-secret", got) || r.Header.Get("Signature") != hexMAC("cb-secret", got) ||
		r.Header.Get("Heygen-Event-Id") == "" || r.Header.Get("Heygen-Timestamp") == "" {
		t.Fatalf("headers %v", r.Header)
	}
	var ev struct {
		EventType string `json:"event_type"`
		EventData struct {
			VideoID    string `json:"video_id"`
			URL        string `json:"url"`
			CallbackID string `json:"callback_id"`
		} `json:"event_data"`
	}
	if err := json.Unmarshal(got, &ev); err != nil || ev.EventType != "avatar_video.success" || ev.EventData.URL == "" ||
		ev.EventData.CallbackID != "mine" || ev.EventData.VideoID == "" {
		t.Fatalf("payload %s (%v)", got, err)
	}
}

func TestWebhooksToEndpointsLostAndDuplicated(t *testing.T) {
	f := newFixture(t, sandbox.Config{RenderTime: 10 * time.Second})
	recv := &hookReceiver{}
	hooks := httptest.NewServer(recv)
	t.Cleanup(hooks.Close)
	resp, b := f.hg("POST", "/v1/webhook/endpoint.add", `{"url":"`+hooks.URL+`","events":["avatar_video.fail"]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("endpoint.add: %d %s", resp.StatusCode, b)
	}
	var ep struct {
		Data struct {
			Secret string `json:"secret"`
		} `json:"data"`
	}
	decode(t, b, &ep)

	f.generateText("fine", true) // success: the endpoint does not subscribe
	f.generateText("SANDBOX_FAIL one", true)
	f.generateText("SANDBOX_FAIL two", true)
	f.sb.DropWebhooks(1)
	f.sb.DuplicateWebhooks(1)
	f.clock.Advance(10 * time.Second)
	f.sb.DeliverWebhooks(t.Context())

	sent := f.sb.Webhooks()
	if len(sent) != 3 || !sent[0].Lost || sent[1].Lost || sent[1].EventID != sent[2].EventID || sent[1].Status != 204 {
		t.Fatalf("sends = %+v, want one lost, then one delivered twice with one event id", sent)
	}
	if recv.count() != 2 {
		t.Fatalf("receiver got %d, want the duplicate pair", recv.count())
	}
	for i, r := range recv.got {
		if r.Header.Get("Heygen-Signature") != hexMAC(ep.Data.Secret, recv.body[i]) {
			t.Fatalf("delivery %d not signed with the endpoint's secret", i)
		}
	}
}

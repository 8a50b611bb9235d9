package sandbox_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// waitFor polls cond until it holds, failing the test after 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hold sends a request as key that the sandbox keeps answering until the
// returned function is called.
func (f *fixture) hold(key, provider, method, path, body string) func() {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, method, f.srv.URL+"/"+provider+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set(keyHeader(provider), key)
	req.Header.Set("Content-Type", "application/json")
	var wg sync.WaitGroup
	wg.Go(func() {
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_, _ = resp.Body.Read(make([]byte, 1))
			<-ctx.Done()
			resp.Body.Close()
		}
	})
	return func() { cancel(); wg.Wait() }
}

func TestKeyConcurrencyCap(t *testing.T) {
	f := newTwoKeyFixture(t, sandbox.Config{TTSLatency: time.Hour, Now: time.Now})
	f.sb.SetKeyLimits(sandbox.ElevenLabs, elKey, sandbox.KeyLimits{MaxConcurrent: 1})
	release := f.hold(elKey, "elevenlabs", "POST", "/v1/text-to-speech/"+rachelVoice, `{"text":"held for an hour"}`)
	waitFor(t, "the held request", func() bool { return f.sb.KeyStats(sandbox.ElevenLabs, elKey).InFlight == 1 })

	resp, body := f.as(elKey, "elevenlabs", "POST", "/v1/text-to-speech/"+rachelVoice, `{"text":"one more"}`)
	wantStatus(t, resp, body, 429)
	if !strings.Contains(string(body), "too_many_concurrent_requests") {
		t.Fatalf("429 body = %s", body)
	}
	if resp, body := f.as(elKey, "elevenlabs", "GET", "/v1/models", ""); resp.StatusCode != 429 {
		t.Fatalf("the key's cap covers every route: %d %s", resp.StatusCode, body)
	}
	if resp, body := f.as(elOther, "elevenlabs", "GET", "/v1/models", ""); resp.StatusCode != 200 {
		t.Fatalf("another key is held back: %d %s", resp.StatusCode, body)
	}
	if st := f.sb.KeyStats(sandbox.ElevenLabs, elKey); st.InFlight != 1 || st.Refused != 2 || st.Requests != 1 {
		t.Fatalf("stats = %+v, want 1 in flight, 2 refused, 1 accepted", st)
	}
	release()
	waitFor(t, "the slot to be given back", func() bool { return f.sb.KeyStats(sandbox.ElevenLabs, elKey).InFlight == 0 })
	if resp, body := f.as(elKey, "elevenlabs", "GET", "/v1/models", ""); resp.StatusCode != 200 {
		t.Fatalf("the key after its slot was freed: %d %s", resp.StatusCode, body)
	}

	f.sb.SetKeyLimits(sandbox.HeyGen, hgKey, sandbox.KeyLimits{MaxConcurrent: 1, Latency: time.Hour})
	release = f.hold(hgKey, "heygen", "GET", "/v2/avatars", "")
	waitFor(t, "the held HeyGen request", func() bool { return f.sb.KeyStats(sandbox.HeyGen, hgKey).InFlight == 1 })
	for path, want := range map[string]string{
		"/v2/voices": `{"data":null,"error":{"code":"rate_limit_exceeded"`,
		"/v3/voices": `{"error":{"code":"rate_limit_exceeded"`,
	} {
		resp, body := f.as(hgKey, "heygen", "GET", path, "")
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" || !strings.HasPrefix(string(body), want) {
			t.Fatalf("GET %s over the key's cap = %d (Retry-After %q) %s", path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	release()
}

func TestKeyCredits(t *testing.T) {
	f := newTwoKeyFixture(t, sandbox.Config{})
	twenty := 20
	f.sb.SetKeyLimits(sandbox.ElevenLabs, elKey, sandbox.KeyLimits{Credits: &twenty})
	tts := `{"text":"twelve chars"}`
	if resp, body := f.as(elKey, "elevenlabs", "POST", "/v1/text-to-speech/"+rachelVoice, tts); resp.StatusCode != 200 {
		t.Fatalf("TTS within the credits = %d %s", resp.StatusCode, body)
	}
	resp, body := f.as(elKey, "elevenlabs", "POST", "/v1/text-to-speech/"+rachelVoice, tts)
	if resp.StatusCode != 401 || !strings.Contains(string(body), `"status":"quota_exceeded"`) ||
		!strings.Contains(string(body), "You have 8 credits remaining") {
		t.Fatalf("TTS past the credits = %d %s", resp.StatusCode, body)
	}
	if resp, body := f.as(elOther, "elevenlabs", "POST", "/v1/text-to-speech/"+rachelVoice, tts); resp.StatusCode != 200 {
		t.Fatalf("another key's credits = %d %s", resp.StatusCode, body)
	}

	thirty := 30
	f.sb.SetKeyLimits(sandbox.HeyGen, hgKey, sandbox.KeyLimits{Credits: &thirty})
	render := func(key string, test bool) (*http.Response, []byte) {
		return f.as(key, "heygen", "POST", "/v2/video/generate", `{"test":`+map[bool]string{true: "true", false: "false"}[test]+
			`,"video_inputs":[{"character":{"type":"avatar","avatar_id":"Abigail_expressive_2024112501","avatar_style":"normal"},`+
			`"voice":{"type":"text","input_text":"Hello there","voice_id":"f38a635bee7a4d1f9b0a654a31d050d2"}}]}`)
	}
	if resp, body := render(hgKey, false); resp.StatusCode != 200 {
		t.Fatalf("a render within the credits = %d %s", resp.StatusCode, body)
	}
	resp, body = render(hgKey, false)
	if resp.StatusCode != 402 || !strings.Contains(string(body), `"code":"insufficient_credit"`) {
		t.Fatalf("a render past the credits = %d %s", resp.StatusCode, body)
	}
	if resp, body := render(hgKey, true); resp.StatusCode != 200 {
		t.Fatalf("a test render spends no credits = %d %s", resp.StatusCode, body)
	}
	if resp, body := render(hgOther, false); resp.StatusCode != 200 {
		t.Fatalf("another key's render = %d %s", resp.StatusCode, body)
	}
	_, body = f.as(hgKey, "heygen", "GET", "/v2/user/remaining_quota", "")
	if !strings.Contains(string(body), `"remaining_quota":0`) {
		t.Fatalf("remaining quota = %s", body)
	}
	if st := f.sb.KeyStats(sandbox.HeyGen, hgKey); st.JobStarts != 2 {
		t.Fatalf("job starts = %d, want 2 (the refused render started nothing)", st.JobStarts)
	}
}

func TestRevokeKey(t *testing.T) {
	f := newTwoKeyFixture(t, sandbox.Config{})
	f.sb.RevokeKey(sandbox.HeyGen, hgOther)
	f.sb.RevokeKey(sandbox.ElevenLabs, elOther)
	resp, body := f.as(hgOther, "heygen", "GET", "/v2/voices", "")
	if resp.StatusCode != 401 || !strings.Contains(string(body), "Unauthorized") {
		t.Fatalf("a revoked HeyGen key = %d %s", resp.StatusCode, body)
	}
	resp, body = f.as(elOther, "elevenlabs", "GET", "/v1/models", "")
	if resp.StatusCode != 401 || !strings.Contains(string(body), `"status":"invalid_api_key"`) {
		t.Fatalf("a revoked ElevenLabs key = %d %s", resp.StatusCode, body)
	}
	if resp, body := f.as(hgKey, "heygen", "GET", "/v2/voices", ""); resp.StatusCode != 200 {
		t.Fatalf("the other key = %d %s", resp.StatusCode, body)
	}
}

func TestKeyControlAPI(t *testing.T) {
	f := newTwoKeyFixture(t, sandbox.Config{})
	post := func(path, body string) int {
		resp, _ := f.do(request{method: "POST", path: path, body: body})
		return resp.StatusCode
	}
	if got := post("/_sandbox/keys/limits", `{"provider":"elevenlabs","key":"`+elKey+`","credits":0,"latency":"1ms"}`); got != 204 {
		t.Fatalf("limits = %d", got)
	}
	if got := post("/_sandbox/keys/limits", `{"provider":"elevenlabs","key":"`+elKey+`","latency":"soon"}`); got != 400 {
		t.Fatalf("limits with a bad latency = %d, want 400", got)
	}
	if resp, body := f.as(elKey, "elevenlabs", "POST", "/v1/text-to-speech/"+rachelVoice, `{"text":"hi"}`); resp.StatusCode != 401 {
		t.Fatalf("TTS with no credits = %d %s", resp.StatusCode, body)
	}
	if got := post("/_sandbox/keys/revoke", `{"provider":"heygen","key":"`+hgOther+`"}`); got != 204 {
		t.Fatalf("revoke = %d", got)
	}
	if resp, _ := f.as(hgOther, "heygen", "GET", "/v2/voices", ""); resp.StatusCode != 401 {
		t.Fatalf("a key revoked through the control API = %d", resp.StatusCode)
	}
	for _, bad := range []string{`{"provider":"x","key":"k"}`, `{"provider":"heygen"}`, `nope`} {
		if got := post("/_sandbox/keys/revoke", bad); got != 400 {
			t.Errorf("revoke %s = %d, want 400", bad, got)
		}
	}
	f.as(hgKey, "heygen", "GET", "/v2/voices", "")
	resp, body := f.do(request{method: "GET", path: "/_sandbox/keys/stats?provider=heygen&key=" + hgKey})
	var st map[string]int
	if err := json.Unmarshal(body, &st); resp.StatusCode != 200 || err != nil || st["requests"] != 1 || st["job_starts"] != 0 {
		t.Fatalf("stats = %d %s", resp.StatusCode, body)
	}
	if resp, _ := f.do(request{method: "GET", path: "/_sandbox/keys/stats?provider=heygen"}); resp.StatusCode != 400 {
		t.Fatalf("stats without a key = %d", resp.StatusCode)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

// sandboxTTSCalls counts the text-to-speech requests the demo's sandbox
// received.
func (d *demo) sandboxTTSCalls() int {
	d.t.Helper()
	resp, err := http.Get(d.sandbox + "/_sandbox/requests")
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	var reqs []struct {
		Method, Path string
	}
	if err := json.NewDecoder(resp.Body).Decode(&reqs); err != nil {
		d.t.Fatal(err)
	}
	n := 0
	for _, r := range reqs {
		if r.Method == "POST" && len(r.Path) > len("/v1/text-to-speech/") && bytes.Contains([]byte(r.Path), []byte("/v1/text-to-speech/")) {
			n++
		}
	}
	return n
}

// TestSpeechCacheThroughTheServer runs the demo as shipped, whose speech
// cache is on for the demo org, and checks, through the real server: repeated
// identical speech is one provider call with the same bytes, marked HIT
// with no character cost; another org (not opted in) always reaches the
// provider; another voice setting misses.
func TestSpeechCacheThroughTheServer(t *testing.T) {
	d := startShippedDemo(t, "--speech-cache-max-bytes", "8388608")
	d.cli("", "org", "create", "other")
	other := d.cli("", "key", "create", "--org", "other", "--role", "invoke")
	body, _ := json.Marshal(map[string]string{"provider": "elevenlabs", "key": "el-other-org-key"})
	resp, err := http.Post(d.sandbox+"/_sandbox/keys", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("add sandbox key: %v %v", resp, err)
	}
	resp.Body.Close()
	d.cli("el-other-org-key", "credential", "set", "--org", "other", "elevenlabs")
	env := ttsEnv("The same greeting for every learner.")
	before := d.sandboxTTSCalls()
	var first []byte
	for i := range 3 {
		status, h, body := d.invoke(d.org, d.key, "elevenlabs", "tts", env)
		if status != 200 || len(body) == 0 {
			t.Fatalf("call %d = %d", i, status)
		}
		want := map[bool]string{true: "MISS", false: "HIT"}[i == 0]
		if got := h.Get("X-Aiproxy-Cache"); got != want {
			t.Errorf("call %d: X-Aiproxy-Cache %q, want %q", i, got, want)
		}
		if i == 0 {
			first = body
			continue
		}
		if !bytes.Equal(body, first) || h.Get("character-cost") != "0" || h.Get("history-item-id") != "" {
			t.Errorf("hit %d: same bytes %v, character-cost %q, history-item-id %q", i, bytes.Equal(body, first),
				h.Get("character-cost"), h.Get("history-item-id"))
		}
	}
	if n := d.sandboxTTSCalls() - before; n != 1 {
		t.Errorf("3 identical calls made %d provider calls, want 1", n)
	}
	before = d.sandboxTTSCalls()
	for range 2 {
		if status, h, body := d.invoke("other", other, "elevenlabs", "tts", env); status != 200 || h.Get("X-Aiproxy-Cache") != "" {
			t.Errorf("an org without the cache = %d, %q: %.200s", status, h.Get("X-Aiproxy-Cache"), body)
		}
	}
	if n := d.sandboxTTSCalls() - before; n != 2 {
		t.Errorf("an org without the cache made %d provider calls for 2, want 2", n)
	}
	slower := ttsEnv("The same greeting for every learner.")
	slower["body"].(map[string]any)["voice_settings"] = map[string]any{"stability": 0.2, "similarity_boost": 0.5}
	if _, h, _ := d.invoke(d.org, d.key, "elevenlabs", "tts", slower); h.Get("X-Aiproxy-Cache") != "MISS" {
		t.Errorf("another voice setting: X-Aiproxy-Cache %q, want MISS", h.Get("X-Aiproxy-Cache"))
	}
}

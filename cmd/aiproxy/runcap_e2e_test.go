package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestDemoRunningJobCap runs serve's demo with a running-job cap of one per
// org: a second render is refused with the contract's 429 until the first
// has finished, on the invoke and native surfaces alike.
func TestDemoRunningJobCap(t *testing.T) {
	d := startDemo(t, "--max-running-jobs", "org:heygen=1")
	id, _ := d.generateVideo("first", nil)

	env, _ := json.Marshal(map[string]any{"body": map[string]any{
		"test": true,
		"video_inputs": []any{map[string]any{
			"character": map[string]any{"type": "avatar", "avatar_id": "Abigail_expressive_2024112501", "avatar_style": "normal"},
			"voice":     map[string]any{"type": "text", "input_text": "second", "voice_id": "f38a635bee7a4d1f9b0a654a31d050d2"},
		}},
		"dimension": map[string]any{"width": 1280, "height": 720},
	}})
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	status, h, body := d.do("POST", "/api/ai-proxy/orgs/"+d.org+"/services/heygen/generate-video/", d.key, bytes.NewReader(env), jsonHeader)
	var refusal struct{ Detail, Code string }
	_ = json.Unmarshal(body, &refusal)
	if status != 429 || refusal.Code != "rate_limited" || h.Get("Retry-After") == "" ||
		refusal.Detail != "Too many running heygen jobs for this org (at most 1); retry when one has finished." {
		t.Fatalf("second render = %d Retry-After %q %s", status, h.Get("Retry-After"), body)
	}
	var native map[string]any
	_ = json.Unmarshal(env, &native)
	nativeBody, _ := json.Marshal(native["body"])
	status, _, body = d.do("POST", "/api/ai-proxy/orgs/"+d.org+"/native/heygen/v2/video/generate", d.key, bytes.NewReader(nativeBody), jsonHeader)
	if status != 429 || !strings.Contains(string(body), "at most 1") {
		t.Fatalf("second render, native = %d %s", status, body)
	}

	if st := d.waitVideo(id); st["status"] != "completed" {
		t.Fatalf("first render = %v", st)
	}
	d.generateVideo("after the first finished", nil)
}

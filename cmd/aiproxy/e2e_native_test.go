package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestNativeJobsAndSchema runs the native passthrough through serve's own
// wiring (the demo): a HeyGen SDK-shaped generate call is checked against
// the catalog's request_schema, a valid one is recorded as a job like an
// invoke call, and its status is answered through the jobs service.
func TestNativeJobsAndSchema(t *testing.T) {
	d := startDemo(t)
	native := "/api/ai-proxy/orgs/" + d.org + "/native/heygen"
	jsonHeader := http.Header{"Content-Type": {"application/json"}}

	status, _, body := d.do("POST", native+"/v2/video/generate", d.key,
		strings.NewReader(`{"video_inputs":[{"voice":{"type":"text","input_text":"hi"}}]}`), jsonHeader)
	if status != 400 || !strings.Contains(string(body), `"detail":"Invalid request body: /video_inputs/0/voice/voice_id: is required"`) {
		t.Fatalf("invalid native body = %d %s", status, body)
	}

	gen := `{"test":true,"video_inputs":[{"character":{"type":"avatar","avatar_id":"Abigail_expressive_2024112501","avatar_style":"normal"},` +
		`"voice":{"type":"text","input_text":"Hello.","voice_id":"f38a635bee7a4d1f9b0a654a31d050d2"}}]}`
	status, _, body = d.do("POST", native+"/v2/video/generate", d.key, strings.NewReader(gen), jsonHeader)
	var started struct {
		Data struct {
			VideoID string `json:"video_id"`
		} `json:"data"`
	}
	if status != 200 || json.Unmarshal(body, &started) != nil || started.Data.VideoID == "" {
		t.Fatalf("native generate = %d %s", status, body)
	}
	var list struct {
		Jobs []struct {
			ProviderJobID string `json:"provider_job_id"`
			Action        string `json:"action"`
		} `json:"jobs"`
	}
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/jobs/", d.key, 200, &list)
	found := false
	for _, j := range list.Jobs {
		found = found || (j.ProviderJobID == started.Data.VideoID && j.Action == "generate-video")
	}
	if !found {
		t.Fatalf("native generate-video started no tracked job: %+v", list.Jobs)
	}

	status, h, body := d.do("GET", native+"/v1/video_status.get?video_id="+started.Data.VideoID, d.key, nil,
		http.Header{"Prefer": {"wait=1"}})
	if status != 200 || h.Get("Preference-Applied") != "wait=1" || !strings.Contains(string(body), `"status"`) {
		t.Fatalf("native status = %d %v %s", status, h.Get("Preference-Applied"), body)
	}

	// The response cache is invoke's alone (it is keyed on envelopes): a
	// cached endpoint called natively always reaches the provider and
	// carries no cache marker.
	for range 2 {
		status, h, body = d.do("GET", "/api/ai-proxy/orgs/"+d.org+"/native/elevenlabs/v1/models", d.key, nil, nil)
		if status != 200 || h.Get("X-Aiproxy-Cache") != "" {
			t.Fatalf("native list-models = %d, X-Aiproxy-Cache %q: %.200s", status, h.Get("X-Aiproxy-Cache"), body)
		}
	}
	if _, h, _ := d.invoke(d.org, d.key, "elevenlabs", "list-models", map[string]any{}); h.Get("X-Aiproxy-Cache") == "" {
		t.Error("invoke of list-models carries no X-Aiproxy-Cache marker")
	}
}

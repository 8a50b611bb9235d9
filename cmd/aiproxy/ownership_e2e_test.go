package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// sharedAccount is a demo where orgs bee and sea have no provider
// credential of their own and fall back to the platform's, one sandbox
// account for both, as issue 14 describes.
type sharedAccount struct {
	*demo
	bee, sea, admin string // aiproxy keys: two orgs' and a platform admin's
}

func startSharedAccount(t *testing.T) *sharedAccount {
	t.Helper()
	d := startDemo(t)
	s := &sharedAccount{demo: d}
	for provider, key := range map[string]string{"heygen": "hg-shared-platform-key", "elevenlabs": "el-shared-platform-key"} {
		body, _ := json.Marshal(map[string]string{"provider": provider, "key": key})
		resp, err := http.Post(d.sandbox+"/_sandbox/keys", "application/json", bytes.NewReader(body))
		if err != nil || resp.StatusCode != 204 {
			t.Fatalf("add sandbox key: %v %v", resp, err)
		}
		resp.Body.Close()
		d.cli(key, "credential", "set", "--platform", provider)
	}
	for _, org := range []string{"bee", "sea"} {
		d.cli("", "org", "create", org)
	}
	s.bee = d.cli("", "key", "create", "--org", "bee", "--role", "invoke")
	s.sea = d.cli("", "key", "create", "--org", "sea", "--role", "invoke")
	s.admin = d.cli("", "key", "create", "--platform")
	return s
}

// providerCalls counts the requests the demo's sandbox has received.
func (s *sharedAccount) providerCalls() int {
	resp, err := http.Get(s.sandbox + "/_sandbox/requests")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var reqs []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&reqs); err != nil {
		s.t.Fatal(err)
	}
	return len(reqs)
}

// TestOwnershipOnTheSharedPlatformAccount runs the shared-account threat
// through the real server's wiring: org sea cannot read, delete or list
// org bee's video and speech, cannot manage the account's webhooks, and its
// refused calls reach no provider, spend none of its quota and open no
// breaker; bee keeps its objects and a platform admin keeps the account.
func TestOwnershipOnTheSharedPlatformAccount(t *testing.T) {
	s := startSharedAccount(t)
	// Sea's quota is 3 requests a day: far fewer than the calls it is
	// refused below.
	s.cli("", "quota", "set", "--org", "sea", "--metric", "requests", "--period", "day", "--limit", "3")

	var started struct {
		Data struct {
			VideoID string `json:"video_id"`
		} `json:"data"`
	}
	status, _, body := s.invoke("bee", s.bee, "heygen", "generate-video", map[string]any{"body": map[string]any{
		"test": true, "video_inputs": []any{map[string]any{
			"character": map[string]any{"type": "avatar", "avatar_id": v3Look, "avatar_style": "normal"},
			"voice":     map[string]any{"type": "text", "voice_id": v3Voice, "input_text": "Bee's quarterly results."}}}}})
	if err := json.Unmarshal(body, &started); status != 200 || err != nil || started.Data.VideoID == "" {
		t.Fatalf("bee generate-video = %d %s", status, body)
	}
	vid := started.Data.VideoID
	status, h, body := s.invoke("bee", s.bee, "elevenlabs", "tts", map[string]any{
		"path_params": map[string]any{"voice_id": "21m00Tcm4TlvDq8ikWAM"}, "body": map[string]any{"text": "Bee's memo."}})
	hist := h.Get("History-Item-Id")
	if status != 200 || hist == "" {
		t.Fatalf("bee tts = %d, history item %q: %.200s", status, hist, body)
	}

	before := s.providerCalls()
	refused := []struct {
		what    string
		status  int
		want    string
		service string
		action  string
		env     map[string]any
	}{
		{"delete bee's video", 404, "Video '" + vid + "'", "heygen", "delete-video", map[string]any{"query": map[string]any{"video_id": vid}}},
		{"read bee's video", 404, "Job '" + vid + "' of external proxy service 'heygen' not found.", "heygen", "video-status",
			map[string]any{"query": map[string]any{"video_id": vid}}},
		{"download bee's speech", 404, "History item '" + hist + "'", "elevenlabs", "get-history-audio",
			map[string]any{"path_params": map[string]any{"history_item_id": hist}}},
		{"register a provider webhook", 403, "/api/ai-proxy/orgs/sea/webhooks/", "heygen", "add-webhook",
			map[string]any{"body": map[string]any{"url": "https://sea.example/hook"}}},
		{"read the account's plan", 403, "only a platform admin key", "elevenlabs", "get-subscription", map[string]any{}},
	}
	for range 2 {
		for _, r := range refused {
			status, _, body := s.invoke("sea", s.sea, r.service, r.action, r.env)
			if status != r.status || !strings.Contains(string(body), r.want) {
				t.Errorf("sea: %s = %d %s, want %d with %q", r.what, status, body, r.status, r.want)
			}
		}
	}
	status, _, body = s.do("DELETE", "/api/ai-proxy/orgs/sea/native/heygen/v1/video.delete?video_id="+vid, s.sea, nil, nil)
	if status != 404 {
		t.Errorf("sea: native delete of bee's video = %d %s", status, body)
	}
	if n := s.providerCalls() - before; n != 0 {
		t.Errorf("sea's refused calls reached the provider %d times", n)
	}

	// Sea's lists hold none of bee's objects, within its quota: the
	// refusals above spent none of it.
	status, _, body = s.invoke("sea", s.sea, "heygen", "list-videos", map[string]any{})
	if status != 200 || strings.Contains(string(body), vid) {
		t.Errorf("sea list-videos = %d %s, want 200 without bee's video", status, body)
	}
	status, _, body = s.invoke("sea", s.sea, "elevenlabs", "get-history", map[string]any{})
	if status != 200 || strings.Contains(string(body), hist) {
		t.Errorf("sea get-history = %d %s, want 200 without bee's item", status, body)
	}

	// Bee's calls on the same platform credential go on: no breaker opened.
	if status, _, body := s.invoke("bee", s.bee, "heygen", "video-status", map[string]any{"query": map[string]any{"video_id": vid}}); status != 200 {
		t.Errorf("bee video-status = %d %s", status, body)
	}
	status, _, body = s.invoke("bee", s.bee, "heygen", "list-videos", map[string]any{})
	if status != 200 || !strings.Contains(string(body), vid) {
		t.Errorf("bee list-videos = %d %s, want its own video", status, body)
	}
	// The platform admin manages the account.
	if status, _, body := s.invoke("sea", s.admin, "heygen", "list-webhooks", map[string]any{}); status != 200 {
		t.Errorf("platform admin list-webhooks = %d %s", status, body)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// mintToken mints a user token with an org key and returns the answer.
func (d *demo) mintToken(org, key string, req map[string]any) (int, map[string]any) {
	d.t.Helper()
	data, _ := json.Marshal(req)
	status, _, body := d.do("POST", "/api/ai-proxy/orgs/"+org+"/user-tokens/", key, bytes.NewReader(data),
		http.Header{"Content-Type": {"application/json"}})
	var out map[string]any
	_ = json.Unmarshal(body, &out)
	return status, out
}

// token mints a user token and returns it.
func (d *demo) token(org, key, user string) string {
	d.t.Helper()
	status, out := d.mintToken(org, key, map[string]any{"user": user})
	tok, _ := out["token"].(string)
	if status != 201 || !strings.HasPrefix(tok, "aipt_") {
		d.t.Fatalf("mint for %s = %d %v", user, status, out)
	}
	return tok
}

// as calls with an Authorization header of a scheme and credential.
func (d *demo) as(method, path, auth string, env any, extra ...string) (int, http.Header, []byte) {
	d.t.Helper()
	var body *bytes.Reader
	h := http.Header{"Authorization": {auth}}
	if env != nil {
		data, _ := json.Marshal(env)
		body = bytes.NewReader(data)
		h.Set("Content-Type", "application/json")
	} else {
		body = bytes.NewReader(nil)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return d.do(method, path, "", body, h)
}

func invokePath(org, service, action string) string {
	return "/api/ai-proxy/orgs/" + org + "/services/" + service + "/" + action + "/"
}

func videoBody(text string) map[string]any {
	return map[string]any{"body": map[string]any{"test": true, "video_inputs": []any{map[string]any{
		"character": map[string]any{"type": "avatar", "avatar_id": v3Look, "avatar_style": "normal"},
		"voice":     map[string]any{"type": "text", "voice_id": v3Voice, "input_text": text}}}}}
}

func videoID(t *testing.T, status int, body []byte) string {
	t.Helper()
	var started struct {
		Data struct {
			VideoID string `json:"video_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &started); status != 200 || err != nil || started.Data.VideoID == "" {
		t.Fatalf("generate-video = %d %s", status, body)
	}
	return started.Data.VideoID
}

// TestUsersOwnTheirObjects acts as an org's backend and two of its users,
// on the platform's shared account (org bee) and on the org's own
// credential (the demo org): each user reaches only their own videos,
// speech and jobs, the refusals reach no provider, and the org's key
// sees everyone's.
func TestUsersOwnTheirObjects(t *testing.T) {
	s := startSharedAccount(t)
	for _, c := range []struct{ name, org, key string }{{"platform", "bee", s.bee}, {"tenant", s.org, s.key}} {
		t.Run(c.name, func(t *testing.T) {
			alice, bob := s.token(c.org, c.key, "alice"), s.token(c.org, c.key, "bob")
			status, _, body := s.as("POST", invokePath(c.org, "heygen", "generate-video"), "Token "+alice, videoBody("Alice's lesson."))
			vid := videoID(t, status, body)
			status, h, body := s.as("POST", invokePath(c.org, "elevenlabs", "tts"), "Bearer "+alice, map[string]any{
				"path_params": map[string]any{"voice_id": "21m00Tcm4TlvDq8ikWAM"}, "body": map[string]any{"text": "Alice's memo."}})
			hist := h.Get("History-Item-Id")
			if status != 200 || hist == "" {
				t.Fatalf("alice tts = %d %q %.200s", status, hist, body)
			}
			var jobs struct {
				Jobs []struct {
					ID            string  `json:"id"`
					ProviderJobID string  `json:"provider_job_id"`
					User          *string `json:"user"`
				} `json:"jobs"`
			}
			status, _, body = s.as("GET", "/api/ai-proxy/orgs/"+c.org+"/jobs/", "Token "+alice, nil)
			if err := json.Unmarshal(body, &jobs); status != 200 || err != nil || len(jobs.Jobs) != 1 ||
				jobs.Jobs[0].ProviderJobID != vid || jobs.Jobs[0].User == nil || *jobs.Jobs[0].User != "alice" {
				t.Fatalf("alice's jobs = %d %s", status, body)
			}
			jobID := jobs.Jobs[0].ID

			before := s.providerCalls()
			refused := []struct {
				what, method, path string
				env                any
				status             int
			}{
				{"read alice's video", "POST", invokePath(c.org, "heygen", "video-status"), map[string]any{"query": map[string]any{"video_id": vid}}, 404},
				{"delete alice's video", "POST", invokePath(c.org, "heygen", "delete-video"), map[string]any{"query": map[string]any{"video_id": vid}}, 404},
				{"download alice's speech", "POST", invokePath(c.org, "elevenlabs", "get-history-audio"),
					map[string]any{"path_params": map[string]any{"history_item_id": hist}}, 404},
				{"download it natively", "GET", "/api/ai-proxy/orgs/" + c.org + "/native/elevenlabs/v1/history/" + hist + "/audio", nil, 404},
				{"read alice's job", "GET", "/api/ai-proxy/orgs/" + c.org + "/jobs/" + jobID + "/", nil, 404},
				{"read the account's subscription", "POST", invokePath(c.org, "elevenlabs", "get-subscription"), map[string]any{}, 403},
				{"mint a token", "POST", "/api/ai-proxy/orgs/" + c.org + "/user-tokens/", map[string]any{"user": "bob"}, 403},
				{"list the org's keys", "GET", "/api/ai-proxy/orgs/" + c.org + "/keys/", nil, 403},
			}
			for _, r := range refused {
				status, _, body := s.as(r.method, r.path, "Token "+bob, r.env)
				if status != r.status {
					t.Errorf("bob: %s = %d %.200q, want %d", r.what, status, body, r.status)
				}
			}
			// Naming alice in the header the org's backend uses changes nothing for bob.
			status, _, body = s.as("POST", invokePath(c.org, "heygen", "video-status"), "Token "+bob,
				map[string]any{"query": map[string]any{"video_id": vid}}, "X-AIProxy-User", "alice")
			if status != 404 {
				t.Errorf("bob naming alice in X-AIProxy-User = %d %s", status, body)
			}
			if n := s.providerCalls() - before; n != 0 {
				t.Errorf("bob's refused calls reached the provider %d times", n)
			}
			// Bob's lists hold none of alice's objects.
			for _, l := range []struct{ service, action, id string }{{"heygen", "list-videos", vid}, {"elevenlabs", "get-history", hist}} {
				status, _, body := s.as("POST", invokePath(c.org, l.service, l.action), "Token "+bob, map[string]any{})
				if status != 200 || strings.Contains(string(body), l.id) {
					t.Errorf("bob's %s = %d %.300s", l.action, status, body)
				}
			}
			status, _, body = s.as("GET", "/api/ai-proxy/orgs/"+c.org+"/jobs/?user=alice", "Token "+bob, nil)
			if status != 200 || strings.Contains(string(body), vid) {
				t.Errorf("bob's jobs asking for alice's = %d %s", status, body)
			}

			// Alice reaches her own, by header and by query string on a media route.
			if status, _, body := s.as("POST", invokePath(c.org, "heygen", "video-status"), "Token "+alice,
				map[string]any{"query": map[string]any{"video_id": vid}}); status != 200 {
				t.Errorf("alice's own video-status = %d %s", status, body)
			}
			status, h, body = s.do("GET", "/api/ai-proxy/orgs/"+c.org+"/native/elevenlabs/v1/history/"+hist+"/audio?access_token="+alice, "", nil, nil)
			if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "audio/") || len(body) == 0 {
				t.Errorf("alice's audio by query token = %d %s", status, h.Get("Content-Type"))
			}
			// An org key is never taken from a query string.
			if status, _, _ := s.do("GET", "/api/ai-proxy/orgs/"+c.org+"/native/elevenlabs/v1/history/"+hist+"/audio?access_token="+c.key, "", nil, nil); status != 401 {
				t.Errorf("org key in the query = %d, want 401", status)
			}

			// The org's key sees every user's job, and can ask for one user's.
			for q, want := range map[string]bool{"": true, "?user=alice": true, "?user=bob": false} {
				status, _, body := s.do("GET", "/api/ai-proxy/orgs/"+c.org+"/jobs/"+q, c.key, nil, nil)
				if status != 200 || strings.Contains(string(body), vid) != want {
					t.Errorf("org key's jobs%s = %d, holds alice's video %v, want %v", q, status, !want, want)
				}
			}
			if status, _, body := s.do("GET", "/api/ai-proxy/orgs/"+c.org+"/jobs/"+jobID+"/", c.key, nil, nil); status != 200 {
				t.Errorf("org key reading alice's job = %d %s", status, body)
			}
		})
	}
}

// TestUserTokenLifecycle checks the token rules through the server:
// revoked and spent tokens are invalid, grants narrow and never widen,
// another org's key cannot mint or revoke, and the org's backend can make
// a video for a user that the user then owns.
func TestUserTokenLifecycle(t *testing.T) {
	s := startSharedAccount(t)
	status, out := s.mintToken("bee", s.bee, map[string]any{"user": "alice", "ttl_seconds": 120,
		"services": []string{"heygen"}, "max_spend": 1.5})
	exp, _ := time.Parse(time.RFC3339Nano, out["expires_at"].(string))
	if status != 201 || time.Until(exp) > 121*time.Second || time.Until(exp) < 100*time.Second || out["max_spend"] != 1.5 {
		t.Fatalf("mint = %d %v", status, out)
	}
	tok, id := out["token"].(string), out["id"].(string)
	if status, _, body := s.as("POST", invokePath("bee", "elevenlabs", "get-history"), "Token "+tok, map[string]any{}); status != 403 {
		t.Errorf("a heygen-only token on elevenlabs = %d %s", status, body)
	}
	if status, _, body := s.as("GET", "/api/ai-proxy/orgs/bee/me/", "Token "+tok, nil); status != 200 ||
		!strings.Contains(string(body), `"user":"alice"`) || !strings.Contains(string(body), `"member":true`) ||
		!strings.Contains(string(body), `"expires_at":"`+out["expires_at"].(string)[:19]) {
		t.Errorf("me = %d %s", status, body)
	}
	if status, _, body := s.do("DELETE", "/api/ai-proxy/orgs/sea/user-tokens/"+id+"/", s.sea, nil, nil); status != 404 {
		t.Errorf("sea revoking bee's token = %d %s", status, body)
	}
	if status, _, body := s.do("DELETE", "/api/ai-proxy/orgs/bee/user-tokens/"+id+"/", s.bee, nil, nil); status != 200 {
		t.Fatalf("revoke = %d %s", status, body)
	}
	status, _, body := s.as("GET", "/api/ai-proxy/orgs/bee/me/", "Token "+tok, nil)
	if status != 401 || !strings.Contains(string(body), `"Invalid token."`) {
		t.Errorf("revoked token = %d %s", status, body)
	}

	status, out = s.mintToken("bee", s.bee, map[string]any{"user": "alice", "single_use": true})
	one, _ := out["token"].(string)
	if status != 201 {
		t.Fatalf("mint single-use = %d %v", status, out)
	}
	if status, _, _ := s.as("GET", "/api/ai-proxy/orgs/bee/me/", "Token "+one, nil); status != 200 {
		t.Errorf("single-use token's first use = %d", status)
	}
	if status, _, _ := s.as("GET", "/api/ai-proxy/orgs/bee/me/", "Token "+one, nil); status != 401 {
		t.Errorf("single-use token's second use = %d", status)
	}

	narrow := s.cli("", "key", "create", "--org", "bee", "--role", "invoke", "--services", "heygen")
	for _, bad := range []map[string]any{
		{"user": "alice", "services": []string{"elevenlabs"}},
		{"user": "alice", "actions": []string{"elevenlabs/tts"}},
	} {
		if status, out := s.mintToken("bee", narrow, bad); status != 403 {
			t.Errorf("a heygen-only key minting %v = %d %v", bad, status, out)
		}
	}
	for _, bad := range []map[string]any{
		{"user": ""}, {"user": "has space"}, {"user": "alice", "ttl_seconds": 5}, {"user": "alice", "ttl_seconds": 3601},
		{"user": "alice", "actions": []string{"heygen"}}, {"user": "alice", "services": []string{"nope"}},
		{"user": "alice", "max_spend": -1}, {"user": "alice", "role": "admin"},
	} {
		if status, out := s.mintToken("bee", s.bee, bad); status != 400 {
			t.Errorf("mint %v = %d %v, want 400", bad, status, out)
		}
	}
	if status, out := s.mintToken("bee", s.sea, map[string]any{"user": "alice"}); status != 403 {
		t.Errorf("sea's key minting for bee = %d %v", status, out)
	}
	if status, out := s.mintToken("bee", s.admin, map[string]any{"user": "alice"}); status != 403 {
		t.Errorf("a platform key minting for bee = %d %v", status, out)
	}

	// An action grant allows that action only.
	status, out = s.mintToken("bee", s.bee, map[string]any{"user": "carol", "actions": []string{"heygen/video-status"}})
	statusOnly, _ := out["token"].(string)
	if status != 201 {
		t.Fatalf("mint with actions = %d %v", status, out)
	}
	if status, _, body := s.as("POST", invokePath("bee", "heygen", "generate-video"), "Token "+statusOnly, videoBody("no")); status != 403 {
		t.Errorf("a video-status-only token making a video = %d %s", status, body)
	}
	status, _, body = s.as("GET", "/api/ai-proxy/orgs/bee/services/", "Token "+statusOnly, nil)
	if status != 200 || strings.Contains(string(body), "elevenlabs") || !strings.Contains(string(body), `"endpoint_count":1`) {
		t.Errorf("discovery for a one-action token = %d %s", status, body)
	}

	// The org's backend makes a video for dave; dave's token then owns it.
	status, _, body = s.as("POST", invokePath("bee", "heygen", "generate-video"), "Api-Key "+s.bee, videoBody("For dave."), "X-AIProxy-User", "dave")
	vid := videoID(t, status, body)
	dave, erin := s.token("bee", s.bee, "dave"), s.token("bee", s.bee, "erin")
	for who, want := range map[string]int{dave: 200, erin: 404} {
		if status, _, body := s.as("POST", invokePath("bee", "heygen", "video-status"), "Token "+who,
			map[string]any{"query": map[string]any{"video_id": vid}}); status != want {
			t.Errorf("video-status of dave's video = %d %s, want %d", status, body, want)
		}
	}
	// A token's secret never appears in the server's logs.
	for _, secret := range []string{tok, one, dave} {
		if strings.Contains(s.stderr.String(), secret) || strings.Contains(s.stdout.String(), secret) {
			t.Errorf("a user token appears in the server's output")
		}
	}
}

// TestOrgTokenSettings checks an org's own token lifetimes: an admin sets
// them within aiproxy's bounds, minting follows them, an invoke key may
// not change them, and the CLI shows them.
func TestOrgTokenSettings(t *testing.T) {
	s := startSharedAccount(t)
	path := "/api/ai-proxy/orgs/" + s.org + "/settings/"
	status, _, body := s.as("PUT", path, "Api-Key "+s.key, map[string]any{"user_token_ttl_seconds": 60, "user_token_max_ttl_seconds": 120})
	if status != 200 || !strings.Contains(string(body), `"effective_user_token_ttl_seconds":60`) ||
		!strings.Contains(string(body), `"effective_user_token_max_ttl_seconds":120`) {
		t.Fatalf("set settings = %d %s", status, body)
	}
	status, out := s.mintToken(s.org, s.key, map[string]any{"user": "alice"})
	exp, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(out["expires_at"]))
	if status != 201 || time.Until(exp) > 61*time.Second || time.Until(exp) < 40*time.Second {
		t.Errorf("a token minted with the org's default = %d %v", status, out)
	}
	if status, out := s.mintToken(s.org, s.key, map[string]any{"user": "alice", "ttl_seconds": 300}); status != 400 ||
		!strings.Contains(fmt.Sprint(out["detail"]), "between 10 and 120") {
		t.Errorf("a token longer than the org allows = %d %v", status, out)
	}
	for _, bad := range []map[string]any{{"user_token_ttl_seconds": 5}, {"user_token_max_ttl_seconds": 7200},
		{"user_token_ttl_seconds": 600, "user_token_max_ttl_seconds": 300}, {"user_token_ttl_seconds": -1}} {
		if status, _, body := s.as("PUT", path, "Api-Key "+s.key, bad); status != 400 {
			t.Errorf("settings %v = %d %s", bad, status, body)
		}
	}
	if status, _, _ := s.as("PUT", "/api/ai-proxy/orgs/bee/settings/", "Api-Key "+s.bee, map[string]any{"user_token_ttl_seconds": 3600}); status != 403 {
		t.Errorf("an invoke key changing settings = %d", status)
	}
	if status, _, _ := s.as("GET", "/api/ai-proxy/orgs/bee/settings/", "Api-Key "+s.key, nil); status != 403 {
		t.Errorf("another org's admin reading settings = %d", status)
	}
	if got := s.cli("", "org", "settings", s.org, "--user-token-ttl", "90s"); !strings.Contains(got, "1m30s") || !strings.Contains(got, "2m0s") {
		t.Errorf("org settings from the CLI:\n%s", got)
	}
}

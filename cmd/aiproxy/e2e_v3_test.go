package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/jobs"
)

// HeyGen v3 through aiproxy and the sandbox (issue 10): discovery, a video
// from creation to MP4, pagination, every v3 error as the client sees it,
// webhooks, idempotency and ownership.

// v3Look and v3Voice are a look and a voice the sandbox always has.
const (
	v3Look  = "Abigail_expressive_2024112501"
	v3Voice = "f38a635bee7a4d1f9b0a654a31d050d2"
)

// startDemoEnv is startDemo with environment variables, for settings that
// have no flag (the provider webhook secret).
func startDemoEnv(t *testing.T, env map[string]string, extraArgs ...string) *demo {
	t.Helper()
	d := &demo{t: t, dir: t.TempDir(), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args := append([]string{"demo", "--addr", "127.0.0.1:0", "--data-dir", d.dir, "--render-time", "1500ms"}, extraArgs...)
	go func() {
		done <- run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(""), d.stdout, d.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo exited with %v", err)
		}
	})
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && d.key == ""; {
		if vars := parseVars(d.stdout.String()); vars["AIPROXY_API_KEY"] != "" {
			d.url, d.org, d.key = vars["AIPROXY_URL"], vars["AIPROXY_ORG"], vars["AIPROXY_API_KEY"]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("demo stopped early: %v\nstderr:\n%s", err, d.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if d.key == "" {
		t.Fatalf("demo printed no AIPROXY_API_KEY; stderr:\n%s", d.stderr.String())
	}
	var detail struct {
		BaseURL string `json:"base_url"`
	}
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/services/heygen/", d.key, 200, &detail)
	d.sandbox = strings.TrimSuffix(detail.BaseURL, "/heygen")
	return d
}

// v3Create calls v3-create-video and returns the status, headers and body.
func (d *demo) v3Create(body map[string]any, header http.Header) (int, http.Header, []byte) {
	d.t.Helper()
	env, _ := json.Marshal(map[string]any{"body": body})
	if header == nil {
		header = http.Header{}
	}
	header.Set("Content-Type", "application/json")
	return d.do("POST", "/api/ai-proxy/orgs/"+d.org+"/services/heygen/v3-create-video/", d.key, bytes.NewReader(env), header)
}

// v3Video creates an avatar video speaking script and returns its id.
func (d *demo) v3Video(script string, extra map[string]any) string {
	d.t.Helper()
	body := map[string]any{"type": "avatar", "avatar_id": v3Look, "script": script, "voice_id": v3Voice}
	for k, v := range extra {
		body[k] = v
	}
	status, _, b := d.v3Create(body, nil)
	var out struct {
		Data struct {
			VideoID string `json:"video_id"`
			Status  string `json:"status"`
		} `json:"data"`
	}
	if status != 200 || json.Unmarshal(b, &out) != nil || out.Data.VideoID == "" || out.Data.Status != "waiting" {
		d.t.Fatalf("v3-create-video = %d %s", status, b)
	}
	return out.Data.VideoID
}

// v3Get calls v3-get-video.
func (d *demo) v3Get(org, key, id string) (int, map[string]any, []byte) {
	d.t.Helper()
	status, _, b := d.invoke(org, key, "heygen", "v3-get-video", map[string]any{"path_params": map[string]any{"video_id": id}})
	var out struct {
		Data map[string]any `json:"data"`
	}
	_ = json.Unmarshal(b, &out)
	return status, out.Data, b
}

// sandboxCalls counts the requests the sandbox got with a method and path.
func (d *demo) sandboxCalls(method, path string) int {
	d.t.Helper()
	resp, err := http.Get(d.sandbox + "/_sandbox/requests")
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	var reqs []struct {
		Method string      `json:"method"`
		Path   string      `json:"path"`
		Header http.Header `json:"header"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&reqs); err != nil {
		d.t.Fatal(err)
	}
	n := 0
	for _, r := range reqs {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

func TestDemoV3Discovery(t *testing.T) {
	d := startDemo(t)
	var detail map[string]any
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/services/heygen/", d.key, 200, &detail)
	for _, k := range []string{"credential_check_action", "upstream", "job_webhook"} {
		if _, ok := detail[k]; ok {
			t.Errorf("discovery shows %q, which is not a contract field", k)
		}
	}
	eps := map[string]map[string]any{}
	for _, e := range detail["endpoints"].([]any) {
		m := e.(map[string]any)
		eps[m["slug"].(string)] = m
		if len(m) != 8 {
			t.Errorf("%s has fields %v, want the contract's eight", m["slug"], m)
		}
	}
	want := []struct{ slug, method, path, req, resp, callback string }{
		{"v3-create-video", "POST", "/v3/videos", "json", "json", "poll"},
		{"v3-get-video", "GET", "/v3/videos/{video_id}", "raw", "json", "none"},
		{"v3-list-videos", "GET", "/v3/videos", "raw", "json", "none"},
		{"v3-delete-video", "DELETE", "/v3/videos/{video_id}", "raw", "json", "none"},
		{"v3-list-voices", "GET", "/v3/voices", "raw", "json", "none"},
		{"v3-list-avatars", "GET", "/v3/avatars", "raw", "json", "none"},
		{"v3-get-avatar-group", "GET", "/v3/avatars/{group_id}", "raw", "json", "none"},
		{"v3-list-avatar-looks", "GET", "/v3/avatars/looks", "raw", "json", "none"},
		{"v3-list-templates", "GET", "/v3/templates", "raw", "json", "none"},
		{"v3-get-template", "GET", "/v3/templates/{template_id}", "raw", "json", "none"},
		{"v3-generate-template-video", "POST", "/v3/templates/{template_id}", "json", "json", "poll"},
		{"v3-upload-asset", "POST", "/v3/assets", "multipart", "json", "none"},
		{"v3-get-current-user", "GET", "/v3/users/me", "raw", "json", "none"},
	}
	for _, w := range want {
		e := eps[w.slug]
		if e == nil || e["http_method"] != w.method || e["path_template"] != w.path || e["request_mode"] != w.req ||
			e["response_mode"] != w.resp || e["callback_mode"] != w.callback || e["is_enabled"] != true || e["supports_streaming"] != false {
			t.Errorf("%s = %v", w.slug, e)
		}
	}
	// The contract's six keep their v1/v2 paths.
	if eps["generate-video"]["path_template"] != "/v2/video/generate" || eps["video-status"]["path_template"] != "/v1/video_status.get" {
		t.Errorf("contract slugs moved: %v / %v", eps["generate-video"], eps["video-status"])
	}
	var list []map[string]any
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/services/", d.key, 200, &list)
	for _, s := range list {
		if s["slug"] == "heygen" && s["endpoint_count"] != float64(len(eps)) {
			t.Errorf("endpoint_count = %v, endpoints %d", s["endpoint_count"], len(eps))
		}
	}

	// The credential check is named in the OpenAPI document and works.
	var doc struct {
		Tags []map[string]any `json:"tags"`
	}
	d.getJSON("/api/ai-proxy/openapi.json", "", 200, &doc)
	check := ""
	for _, tag := range doc.Tags {
		if tag["name"] == "heygen" {
			check, _ = tag["x-aiproxy-credential-check"].(string)
		}
	}
	var me struct {
		Data struct {
			Username    string `json:"username"`
			BillingType string `json:"billing_type"`
		} `json:"data"`
	}
	d.invokeJSON("heygen", check, map[string]any{}, &me)
	if check != "v3-get-current-user" || me.Data.Username == "" || me.Data.BillingType != "wallet" {
		t.Fatalf("credential check %q answered %+v", check, me)
	}
}

func TestDemoV3VideoToMP4(t *testing.T) {
	d := startDemo(t)
	var looks struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	d.invokeJSON("heygen", "v3-list-avatar-looks", map[string]any{"query": map[string]any{"limit": "5"}}, &looks)
	var voices struct {
		Data []struct {
			VoiceID string `json:"voice_id"`
		} `json:"data"`
	}
	d.invokeJSON("heygen", "v3-list-voices", map[string]any{"query": map[string]any{"language": "English"}}, &voices)
	if len(looks.Data) != 5 || len(voices.Data) == 0 {
		t.Fatalf("looks %d, voices %d", len(looks.Data), len(voices.Data))
	}

	h := http.Header{"Idempotency-Key": {"v3-e2e-1"}}
	body := map[string]any{"type": "avatar", "avatar_id": looks.Data[0].ID, "script": "Hello from HeyGen v3.",
		"voice_id": voices.Data[0].VoiceID, "callback_id": "v3-e2e", "caption": map[string]any{"file_format": "srt"}}
	status, _, first := d.v3Create(body, h.Clone())
	status2, h2, again := d.v3Create(body, h.Clone())
	if status != 200 || status2 != 200 || !bytes.Equal(first, again) || h2.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("create = %d %s, again %d %s", status, first, status2, again)
	}
	if n := d.sandboxCalls("POST", "/v3/videos"); n != 1 {
		t.Fatalf("HeyGen got %d creates, want 1", n)
	}
	var created struct {
		Data struct {
			VideoID string `json:"video_id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(first, &created)
	id := created.Data.VideoID

	var list struct {
		Jobs []jobs.JobJSON `json:"jobs"`
	}
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/jobs/?action=v3-create-video", d.key, 200, &list)
	if len(list.Jobs) != 1 || list.Jobs[0].ProviderJobID != id || list.Jobs[0].StatusAction != "v3-get-video" || list.Jobs[0].CallbackID != "v3-e2e" {
		t.Fatalf("jobs = %+v", list.Jobs)
	}

	var detail map[string]any
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var st int
		if st, detail, _ = d.v3Get(d.org, d.key, id); st != 200 {
			t.Fatalf("v3-get-video = %d", st)
		}
		if s := detail["status"]; s == "completed" || s == "failed" {
			break
		}
		if s := detail["status"]; s != "pending" && s != "processing" {
			t.Fatalf("status %v is not a v3 status", s)
		}
	}
	if detail["status"] != "completed" || detail["id"] != id || detail["failure_code"] != nil {
		t.Fatalf("video = %v", detail)
	}
	ct, mp4 := d.download(detail["video_url"].(string))
	if ct != "video/mp4" || len(mp4) < 12 || string(mp4[4:8]) != "ftyp" {
		t.Fatalf("video_url gave %q, %d bytes", ct, len(mp4))
	}
	if ct, srt := d.download(detail["subtitle_url"].(string)); ct != "application/x-subrip" || !strings.Contains(string(srt), "-->") {
		t.Fatalf("subtitle_url gave %q %s", ct, srt)
	}
	var j jobs.JobJSON
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/jobs/"+list.Jobs[0].ID+"?wait=10", d.key, 200, &j)
	if j.State != "completed" || j.ResultURLs["video_url"] == "" || j.ResultURLs["subtitle_url"] == "" {
		t.Fatalf("job = %+v", j)
	}

	// A template video is a v3 job too; its start answer is a VideoDetail.
	var tpls struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	d.invokeJSON("heygen", "v3-list-templates", map[string]any{}, &tpls)
	var gen struct {
		Data struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"data"`
	}
	d.invokeJSON("heygen", "v3-generate-template-video", map[string]any{"path_params": map[string]any{"template_id": tpls.Data[0].ID},
		"body": map[string]any{"variables": map[string]any{"script": map[string]any{"name": "script", "type": "text",
			"properties": map[string]any{"content": "Templated hello."}}}}}, &gen)
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/jobs/?action=v3-generate-template-video", d.key, 200, &list)
	if gen.Data.Status != "pending" || len(list.Jobs) != 1 || list.Jobs[0].ProviderJobID != gen.Data.ID {
		t.Fatalf("template video %+v, jobs %+v", gen, list.Jobs)
	}

	status, _, b := d.invoke(d.org, d.key, "heygen", "v3-delete-video", map[string]any{"path_params": map[string]any{"video_id": id}})
	if status != 200 || !strings.Contains(string(b), `"deleted":true`) {
		t.Fatalf("v3-delete-video = %d %s", status, b)
	}
}

func TestDemoV3Pagination(t *testing.T) {
	d := startDemo(t)
	var made []string
	for i := range 5 {
		made = append(made, d.v3Video("Paged video "+strconv.Itoa(i)+".", map[string]any{"title": "paged " + strconv.Itoa(i)}))
	}
	var seen []string
	token, pages := "", 0
	for {
		q := map[string]any{"limit": "2"}
		if token != "" {
			q["token"] = token
		}
		var page struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
			HasMore   bool    `json:"has_more"`
			NextToken *string `json:"next_token"`
		}
		d.invokeJSON("heygen", "v3-list-videos", map[string]any{"query": q}, &page)
		pages++
		for _, v := range page.Data {
			seen = append(seen, v.ID)
		}
		if !page.HasMore {
			if page.NextToken != nil {
				t.Fatalf("last page has next_token %q", *page.NextToken)
			}
			break
		}
		token = *page.NextToken
	}
	if pages != 3 || len(seen) != 5 || seen[0] != made[4] || seen[4] != made[0] {
		t.Fatalf("%d pages, %v; created %v", pages, seen, made)
	}
	// Voices page the same way, 20 by default.
	var voices struct {
		Data      []any  `json:"data"`
		HasMore   bool   `json:"has_more"`
		NextToken string `json:"next_token"`
	}
	d.invokeJSON("heygen", "v3-list-voices", map[string]any{}, &voices)
	if len(voices.Data) != 20 || !voices.HasMore || voices.NextToken == "" {
		t.Fatalf("voices page: %d items, has_more %v", len(voices.Data), voices.HasMore)
	}
	status, _, b := d.invoke(d.org, d.key, "heygen", "v3-list-voices", map[string]any{"query": map[string]any{"token": "forged"}})
	if status != 400 || !strings.Contains(string(b), `"param":"token"`) {
		t.Fatalf("forged token = %d %s", status, b)
	}
}

// v3ErrorBody is HeyGen's v3 error envelope.
type v3ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Param   string `json:"param"`
		DocURL  string `json:"doc_url"`
	} `json:"error"`
}

func TestDemoV3Errors(t *testing.T) {
	d := startDemo(t)
	valid := map[string]any{"type": "avatar", "avatar_id": v3Look, "script": "Hi.", "voice_id": v3Voice}
	wantV3 := func(t *testing.T, status int, b []byte, wantStatus int, code, param string) {
		t.Helper()
		var e v3ErrorBody
		if status != wantStatus || json.Unmarshal(b, &e) != nil || e.Error.Code != code || e.Error.Param != param ||
			e.Error.DocURL != "https://developers.heygen.com/docs/error-codes#"+strings.ReplaceAll(code, "_", "-") {
			t.Fatalf("= %d %s, want %d %s", status, b, wantStatus, code)
		}
	}
	t.Run("400 invalid_parameter", func(t *testing.T) {
		status, _, b := d.v3Create(map[string]any{"type": "avatar", "avatar_id": v3Look, "script": "Hi.", "voice_id": v3Voice, "resolution": "8k"}, nil)
		wantV3(t, status, b, 400, "invalid_parameter", "resolution")
		status, _, b = d.v3Create(map[string]any{"avatar_id": v3Look}, nil)
		wantV3(t, status, b, 400, "invalid_parameter", "type")
	})
	t.Run("404 video_not_found", func(t *testing.T) {
		status, _, b := d.invoke(d.org, d.key, "heygen", "v3-delete-video", map[string]any{"path_params": map[string]any{"video_id": "0123abcd"}})
		wantV3(t, status, b, 404, "video_not_found", "")
		status, _, b = d.v3Create(map[string]any{"type": "avatar", "avatar_id": "no_such_look"}, nil)
		wantV3(t, status, b, 404, "avatar_not_found", "")
	})
	for _, tc := range []struct {
		status   int
		code     string
		replayed bool // a 4xx answer is kept for the key; a 409 invites a retry
	}{{402, "insufficient_credit", true}, {409, "request_in_progress", false}} {
		t.Run(strconv.Itoa(tc.status)+" "+tc.code, func(t *testing.T) {
			d.fault(map[string]any{"provider": "heygen", "method": "POST", "path": "/v3/videos", "status": tc.status, "count": 1})
			key := http.Header{"Idempotency-Key": {"err-" + tc.code}}
			status, _, b := d.v3Create(valid, key.Clone())
			wantV3(t, status, b, tc.status, tc.code, "")
			status, h, b := d.v3Create(valid, key.Clone())
			if tc.replayed && (status != tc.status || h.Get("Idempotent-Replayed") != "true") ||
				!tc.replayed && status != 200 {
				t.Fatalf("retry with the key = %d %s", status, b)
			}
		})
	}
	t.Run("429 rate_limit_exceeded keeps Retry-After", func(t *testing.T) {
		d.fault(map[string]any{"provider": "heygen", "method": "POST", "path": "/v3/videos", "status": 429, "count": 1,
			"header": map[string]any{"Retry-After": "7"}})
		status, h, b := d.v3Create(valid, nil)
		wantV3(t, status, b, 429, "rate_limit_exceeded", "")
		if h.Get("Retry-After") != "7" {
			t.Fatalf("Retry-After = %q", h.Get("Retry-After"))
		}
	})
	t.Run("401 unauthorized becomes the contract's 502", func(t *testing.T) {
		d.fault(map[string]any{"provider": "heygen", "path": "/v3/users/me", "status": 401, "count": 1})
		status, _, b := d.invoke(d.org, d.key, "heygen", "v3-get-current-user", map[string]any{})
		wantError(t, "v3-get-current-user", status, b, 502, map[string]string{"code": "upstream_failed", "detail": aiproxy.MsgUpstreamFailed})
	})
	t.Run("a render failure is a failed video, not an HTTP error", func(t *testing.T) {
		id := d.v3Video("SANDBOX_FAIL on purpose.", nil)
		var v map[string]any
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if _, v, _ = d.v3Get(d.org, d.key, id); v["status"] == "failed" {
				break
			}
		}
		if v["status"] != "failed" || v["failure_code"] != "rendering_failed" || v["failure_message"] == nil {
			t.Fatalf("video = %v", v)
		}
	})
}

// signV3 is the hex HMAC-SHA256 of a body, as HeyGen signs v3 webhooks.
func signV3(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func TestDemoV3Webhook(t *testing.T) {
	const secret = "whsec_v3_e2e_secret"
	// With polling an hour apart, only a webhook can finish a job in time.
	d := startDemoEnv(t, map[string]string{"AIPROXY_PROVIDER_WEBHOOK_SECRETS": "heygen=" + secret}, "--job-poll-interval", "1h")
	id := d.v3Video("Announce me.", map[string]any{"callback_id": "hooked"})
	var list struct {
		Jobs []jobs.JobJSON `json:"jobs"`
	}
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/jobs/?action=v3-create-video", d.key, 200, &list)
	var j jobs.JobJSON
	for range 10 {
		d.getJSON("/api/ai-proxy/orgs/"+d.org+"/jobs/"+list.Jobs[0].ID+"?wait=5", d.key, 200, &j)
		if j.State == "completed" {
			break
		}
	}
	if j.State != "completed" || j.ProviderJobID != id {
		t.Fatalf("job after the sandbox's v3 webhook = %+v", j)
	}

	// A render that never ends: a signed webhook makes aiproxy read it once,
	// and a redelivery with the same Heygen-Event-Id is ignored.
	stuck := d.v3Video("SANDBOX_STUCK forever.", nil)
	body, _ := json.Marshal(map[string]any{"event_type": "avatar_video.success", "event_data": map[string]any{"video_id": stuck, "callback_id": nil}})
	hook := func(sig, eventID string) int {
		h := http.Header{"Content-Type": {"application/json"}, "Heygen-Signature": {sig},
			"Heygen-Timestamp": {strconv.FormatInt(time.Now().Unix(), 10)}, "Heygen-Event-Id": {eventID}}
		status, _, _ := d.do("POST", "/api/ai-proxy/webhooks/heygen/", "", bytes.NewReader(body), h)
		return status
	}
	reads := func() int { return d.sandboxCalls("GET", "/v3/videos/"+stuck) }
	before := reads()
	if s := hook("00"+signV3(secret, body)[2:], "evt_forged"); s != 401 {
		t.Fatalf("bad signature = %d", s)
	}
	if s := hook(signV3(secret, body), "evt_v3_once"); s/100 != 2 || reads() != before+1 {
		t.Fatalf("first delivery = %d, reads %d → %d", s, before, reads())
	}
	if s := hook(signV3(secret, body), "evt_v3_once"); s/100 != 2 || reads() != before+1 {
		t.Fatalf("redelivery = %d, reads %d → %d", s, before, reads())
	}
}

func TestDemoV3CrossOrg(t *testing.T) {
	d := startDemo(t)
	id := d.v3Video("Only mine.", nil)
	d.cli("", "org", "create", "other")
	otherKey := d.cli("", "key", "create", "--org", "other", "--name", "ci", "--role", "admin")
	before := d.sandboxCalls("GET", "/v3/videos/"+id)
	status, _, b := d.v3Get("other", otherKey, id)
	if status != 404 || !strings.Contains(string(b), `"code":"not_found"`) || d.sandboxCalls("GET", "/v3/videos/"+id) != before {
		t.Fatalf("other org's v3-get-video = %d %s", status, b)
	}
	var list struct {
		Jobs []jobs.JobJSON `json:"jobs"`
	}
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/jobs/", d.key, 200, &list)
	d.getJSON("/api/ai-proxy/orgs/other/jobs/"+url.PathEscape(list.Jobs[0].ID), otherKey, 404, nil)
	// The owner still reads it.
	if status, v, _ := d.v3Get(d.org, d.key, id); status != 200 || v["id"] != id {
		t.Fatalf("owner's read = %d %v", status, v)
	}
}

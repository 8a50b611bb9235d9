package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/httpapi"
	"github.com/aiproxy/aiproxy/internal/jobs"
)

// studioVideo starts a render with a title, an avatar and a script, and
// returns the provider's video id.
func (d *demo) studioVideo(title, avatar, script string) string {
	d.t.Helper()
	var out struct {
		Data struct {
			VideoID string `json:"video_id"`
		} `json:"data"`
	}
	d.invokeJSON("heygen", "generate-video", map[string]any{"body": map[string]any{
		"test": true, "title": title,
		"video_inputs": []any{map[string]any{
			"character": map[string]any{"type": "avatar", "avatar_id": avatar, "avatar_style": "normal"},
			"voice":     map[string]any{"type": "text", "input_text": script, "voice_id": "f38a635bee7a4d1f9b0a654a31d050d2"},
		}},
		"dimension": map[string]any{"width": 1280, "height": 720},
	}}, &out)
	if out.Data.VideoID == "" {
		d.t.Fatal("generate-video answered no video_id")
	}
	return out.Data.VideoID
}

// jobList reads the org's job list with a query.
func (d *demo) jobList(query url.Values) []jobs.JobJSON {
	d.t.Helper()
	var list httpapi.JobListJSON
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/jobs/?"+query.Encode(), d.key, 200, &list)
	return list.Jobs
}

func providerIDs(list []jobs.JobJSON) []string {
	var out []string
	for _, j := range list {
		out = append(out, j.ProviderJobID)
	}
	return out
}

// TestDemoStudio drives the console's studio API through the real program:
// a video's details and what it made, the job search, a job's events, and
// the request log, with no provider key anywhere in the answers.
func TestDemoStudio(t *testing.T) {
	d := startDemo(t)
	hg, el := d.useLeakTestKeys()
	const abigail, kristin = "Abigail_expressive_2024112501", "Kristin_public_3_20240108"
	launch := d.studioVideo("Spring Launch", abigail, "Welcome to the spring launch.")
	weekly := d.studioVideo("Weekly news", kristin, "Here is what happened this week.")
	d.waitVideo(launch)
	d.waitVideo(weekly)

	var job jobs.JobJSON
	t.Run("a video's details and what it made", func(t *testing.T) {
		list := d.jobList(url.Values{"q": {"spring"}})
		if got := providerIDs(list); !slices.Equal(got, []string{launch}) {
			t.Fatalf("q=spring = %v, want [%s]", got, launch)
		}
		job = list[0]
		det := job.Details
		if det.Title == nil || *det.Title != "Spring Launch" || det.Script == nil || *det.Script != "Welcome to the spring launch." ||
			det.AvatarID == nil || *det.AvatarID != abigail || det.VoiceID == nil || *det.VoiceID != "f38a635bee7a4d1f9b0a654a31d050d2" {
			t.Fatalf("details = %+v", det)
		}
		if job.State != "completed" || det.DurationSeconds == nil || *det.DurationSeconds <= 0 || det.ThumbnailURL == nil {
			t.Fatalf("a completed video's details = %+v (state %s), want its duration and thumbnail", det, job.State)
		}
		ctype, img := d.download(*det.ThumbnailURL)
		if !strings.HasPrefix(ctype, "image/") || len(img) == 0 {
			t.Fatalf("thumbnail %s is %q, %d bytes", *det.ThumbnailURL, ctype, len(img))
		}
	})

	t.Run("search by text, avatar and date", func(t *testing.T) {
		today := time.Now().UTC().Format(time.DateOnly)
		yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
		for _, c := range []struct {
			name  string
			query url.Values
			want  []string
		}{
			{"script text, any case", url.Values{"q": {"WHAT HAPPENED"}}, []string{weekly}},
			{"no match", url.Values{"q": {"zebra"}}, nil},
			{"avatar", url.Values{"avatar": {kristin}}, []string{weekly}},
			{"today", url.Values{"from": {today}, "to": {today}}, []string{weekly, launch}},
			{"until yesterday", url.Values{"to": {yesterday}}, nil},
			{"avatar and today", url.Values{"avatar": {abigail}, "from": {today}}, []string{launch}},
		} {
			t.Run(c.name, func(t *testing.T) {
				// Compared as sets: the two renders may share a millisecond,
				// and the order of a page is the stores' contract (storetest).
				got := providerIDs(d.jobList(c.query))
				slices.Sort(got)
				slices.Sort(c.want)
				if !slices.Equal(got, c.want) {
					t.Fatalf("jobs ?%s = %v, want %v", c.query.Encode(), got, c.want)
				}
			})
		}
		if s, _, b := d.do("GET", "/api/ai-proxy/orgs/"+d.org+"/jobs/?from=soon", d.key, nil, nil); s != 400 {
			t.Fatalf("from=soon = %d %s, want 400", s, b)
		}
	})

	t.Run("a job's events", func(t *testing.T) {
		var evs httpapi.JobEventListJSON
		d.getJSON("/api/ai-proxy/orgs/"+d.org+"/jobs/"+job.ID+"/events/", d.key, 200, &evs)
		var types []string
		for _, ev := range evs.Events {
			var data jobs.EventJSON
			if err := json.Unmarshal(ev.Data, &data); err != nil || data.Job.ID != job.ID || data.ID != ev.ID {
				t.Fatalf("event %s data = %s (%v)", ev.ID, ev.Data, err)
			}
			types = append(types, ev.Type)
		}
		if len(types) < 2 || types[0] != "job.created" || types[len(types)-1] != "job.completed" {
			t.Fatalf("events = %v, want job.created first and job.completed last", types)
		}
		d.getJSON("/api/ai-proxy/orgs/"+d.org+"/jobs/job_000000000000000000000000/events/", d.key, 404, nil)
		// A member reads only its own user's jobs: the org key's job is not
		// found for it, as it is not in its job list.
		alice := d.token(d.org, d.key, "alice")
		if s, _, b := d.as("GET", "/api/ai-proxy/orgs/"+d.org+"/jobs/"+job.ID+"/events/", "Token "+alice, nil); s != 404 {
			t.Fatalf("a member reads another user's job's events: %d %s", s, b)
		}
		if s, _, b := d.as("GET", "/api/ai-proxy/orgs/"+d.org+"/requests/", "Token "+alice, nil); s != 403 {
			t.Fatalf("a member reads the request log: %d %s", s, b)
		}
	})

	t.Run("the request log", func(t *testing.T) {
		hdr := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"studio-refused-1"}}
		s, _, b := d.do("POST", "/api/ai-proxy/orgs/"+d.org+"/services/heygen/no-such-action/", d.key, strings.NewReader(`{}`), hdr)
		var refusal struct{ Detail, Code string }
		if s != 404 || json.Unmarshal(b, &refusal) != nil || refusal.Detail == "" {
			t.Fatalf("unknown action = %d %s", s, b)
		}
		var found *httpapi.RequestJSON
		deadline := time.Now().Add(20 * time.Second)
		for found == nil && time.Now().Before(deadline) {
			var log httpapi.RequestListJSON
			d.getJSON("/api/ai-proxy/orgs/"+d.org+"/requests/?status=errors", d.key, 200, &log)
			for i, r := range log.Requests {
				if r.RequestID == "studio-refused-1" {
					found = &log.Requests[i]
				}
			}
			if found == nil {
				time.Sleep(100 * time.Millisecond) // usage records are written in batches
			}
		}
		if found == nil {
			t.Fatal("the refused call never showed in the request log")
		}
		if found.Status != 404 || found.ErrorCode == nil || *found.ErrorCode != refusal.Code ||
			found.ErrorDetail == nil || *found.ErrorDetail != refusal.Detail || found.UpstreamStatus != nil {
			t.Fatalf("refused call in the log = %+v, want 404 %s %q", found, refusal.Code, refusal.Detail)
		}
		var renders httpapi.RequestListJSON
		d.getJSON("/api/ai-proxy/orgs/"+d.org+"/requests/?action=generate-video&status=200", d.key, 200, &renders)
		if len(renders.Requests) != 2 || renders.Requests[0].RequestID == "" || renders.Requests[0].ErrorDetail != nil {
			t.Fatalf("the two renders in the log = %+v", renders.Requests)
		}

		var k struct{ Key string }
		s, _, b = d.do("POST", "/api/ai-proxy/orgs/"+d.org+"/keys/", d.key, strings.NewReader(`{"name":"studio","role":"invoke"}`), nil)
		if s != 201 || json.Unmarshal(b, &k) != nil || k.Key == "" {
			t.Fatalf("create invoke key = %d %s", s, b)
		}
		if s, _, b := d.do("GET", "/api/ai-proxy/orgs/"+d.org+"/requests/", k.Key, nil, nil); s != 403 {
			t.Fatalf("an invoke key reads the request log: %d %s", s, b)
		}
	})

	scan := newLeakScanner(
		secretText{name: "the heygen key", whole: hg, random: strings.TrimPrefix(hg, "leak_hg_")},
		secretText{name: "the elevenlabs key", whole: el, random: strings.TrimPrefix(el, "leak_el_")},
	)
	for i, b := range d.bodies {
		for _, leak := range scan.find(b) {
			t.Errorf("response %d shows %s: %.300s", i, leak, bytes.TrimSpace(b))
		}
	}
}

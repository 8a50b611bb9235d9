package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/httpapi"
	"github.com/aiproxy/aiproxy/internal/jobs"
)

// TestStudioJobsAPI checks what the studio's Home and library read of the
// jobs API. Who made a video: the API names the aiproxy key behind each
// job for an org admin, and only the caller's own key for anyone else (an
// invoke key, a member). The month's video minutes: /jobs/totals/ adds up
// the lengths of the completed videos, under the job list's access rules.
func TestStudioJobsAPI(t *testing.T) {
	d := startDemo(t)
	var keys []httpapi.KeyJSON
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/keys/", d.key, 200, &keys)
	adminID, _, ok := aiproxy.ParseKey(d.key)
	if !ok {
		t.Fatalf("the demo's key does not parse")
	}
	names := map[string]string{}
	for _, k := range keys {
		names[k.ID] = k.Name
	}
	var invoke struct{ ID, Key string }
	s, _, b := d.do("POST", "/api/ai-proxy/orgs/"+d.org+"/keys/", d.key, strings.NewReader(`{"name":"Marketing site","role":"invoke"}`), nil)
	if s != 201 || json.Unmarshal(b, &invoke) != nil || invoke.Key == "" {
		t.Fatalf("create invoke key = %d %s", s, b)
	}
	start := func(auth string) string {
		t.Helper()
		s, _, b := d.as("POST", invokePath(d.org, "heygen", "generate-video"), auth, videoBody("Who made this?"))
		var out struct {
			Data struct {
				VideoID string `json:"video_id"`
			} `json:"data"`
		}
		if s != 200 || json.Unmarshal(b, &out) != nil || out.Data.VideoID == "" {
			t.Fatalf("generate-video = %d %s", s, b)
		}
		return out.Data.VideoID
	}
	byAdmin := start("Api-Key " + d.key)
	byInvoke := start("Api-Key " + invoke.Key)
	alice := d.token(d.org, d.key, "alice")
	byAlice := start("Token " + alice)

	list := func(auth string) map[string]*jobs.JobKeyJSON {
		t.Helper()
		s, _, b := d.as("GET", "/api/ai-proxy/orgs/"+d.org+"/jobs/?service=heygen", auth, nil)
		var page httpapi.JobListJSON
		if s != 200 || json.Unmarshal(b, &page) != nil {
			t.Fatalf("jobs = %d %s", s, b)
		}
		out := map[string]*jobs.JobKeyJSON{}
		for _, j := range page.Jobs {
			out[j.ProviderJobID] = j.Key
		}
		return out
	}
	want := func(who string, got *jobs.JobKeyJSON, id, name string) {
		t.Helper()
		if id == "" {
			if got != nil {
				t.Errorf("%s: key = %+v, want none shown", who, *got)
			}
			return
		}
		if got == nil || got.ID != id || got.Name != name {
			t.Errorf("%s: key = %+v, want %s named %q", who, got, id, name)
		}
	}

	adminName := names[adminID]
	if adminName == "" {
		t.Fatalf("the demo's key %s has no name in %+v", adminID, keys)
	}
	admin := list("Api-Key " + d.key)
	want("the admin, its own video", admin[byAdmin], adminID, adminName)
	want("the admin, the invoke key's video", admin[byInvoke], invoke.ID, "Marketing site")
	want("the admin, alice's video (minted by the admin's key)", admin[byAlice], adminID, adminName)

	inv := list("Api-Key " + invoke.Key)
	want("the invoke key, its own video", inv[byInvoke], invoke.ID, "Marketing site")
	want("the invoke key, the admin's video", inv[byAdmin], "", "")

	mine := list("Token " + alice)
	if len(mine) != 1 {
		t.Fatalf("alice lists %d videos, want her one", len(mine))
	}
	want("alice, her video", mine[byAlice], adminID, adminName)

	// One job, read by id, names its key under the same rule.
	var page httpapi.JobListJSON
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/jobs/?service=heygen", d.key, 200, &page)
	jobID := ""
	for _, j := range page.Jobs {
		if j.ProviderJobID == byInvoke {
			jobID = j.ID
		}
	}
	if jobID == "" {
		t.Fatal("the invoke key's job is not listed")
	}
	for _, c := range []struct{ who, key string }{{"the admin", d.key}, {"the invoke key", invoke.Key}} {
		var one jobs.JobJSON
		d.getJSON("/api/ai-proxy/orgs/"+d.org+"/jobs/"+jobID+"/", c.key, 200, &one)
		want(c.who+", the invoke key's job by id", one.Key, invoke.ID, "Marketing site")
	}
	s, _, b = d.as("GET", "/api/ai-proxy/orgs/"+d.org+"/jobs/"+page.Jobs[len(page.Jobs)-1].ID+"/", "Api-Key "+invoke.Key, nil)
	var first jobs.JobJSON
	if s != 200 || json.Unmarshal(b, &first) != nil || first.ProviderJobID != byAdmin {
		t.Fatalf("the invoke key reads the admin's first job = %d %s", s, b)
	}
	want("the invoke key, the admin's job by id", first.Key, "", "")

	// Totals, once the three renders have ended.
	var lengths float64
	for _, id := range []string{byAdmin, byInvoke, byAlice} {
		d.waitVideo(id)
	}
	var done httpapi.JobListJSON
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/jobs/?service=heygen&state=completed", d.key, 200, &done)
	for _, j := range done.Jobs {
		if j.Details.DurationSeconds == nil {
			t.Fatalf("completed job %s has no length", j.ID)
		}
		lengths += *j.Details.DurationSeconds
	}
	if len(done.Jobs) != 3 || lengths <= 0 {
		t.Fatalf("%d completed videos, %.1f s in all; want 3 with a length", len(done.Jobs), lengths)
	}
	totals := func(auth, query string, want int) jobs.TotalsJSON {
		t.Helper()
		s, _, b := d.as("GET", "/api/ai-proxy/orgs/"+d.org+"/jobs/totals/?"+query, auth, nil)
		var out jobs.TotalsJSON
		if s != want || (want == 200 && json.Unmarshal(b, &out) != nil) {
			t.Fatalf("totals ?%s = %d %s, want %d", query, s, b, want)
		}
		return out
	}
	today := time.Now().UTC().Format(time.DateOnly)
	if got := totals("Api-Key "+d.key, "service=heygen&from="+today+"&to="+today, 200); got.Jobs != 3 || got.Completed != 3 || got.Failed != 0 || !near(got.VideoSeconds, lengths) {
		t.Errorf("the org's totals today = %+v, want 3 completed, %.3f s", got, lengths)
	}
	if got := totals("Api-Key "+d.key, "service=heygen&to="+time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly), 200); got != (jobs.TotalsJSON{}) {
		t.Errorf("the org's totals until yesterday = %+v, want none", got)
	}
	var aliceLen float64
	for _, j := range done.Jobs {
		if j.ProviderJobID == byAlice {
			aliceLen = *j.Details.DurationSeconds
		}
	}
	if got := totals("Token "+alice, "service=heygen", 200); got.Jobs != 1 || got.Completed != 1 || !near(got.VideoSeconds, aliceLen) {
		t.Errorf("alice's totals = %+v, want her one video of %.3f s", got, aliceLen)
	}
	if got := totals("Token "+alice, "service=heygen&user=bob", 200); got.Jobs != 1 {
		t.Errorf("alice asking for bob's totals = %+v, want her own", got)
	}
	var speech struct{ Key string }
	s, _, b = d.do("POST", "/api/ai-proxy/orgs/"+d.org+"/keys/", d.key, strings.NewReader(`{"name":"speech only","role":"invoke","services":["elevenlabs"]}`), nil)
	if s != 201 || json.Unmarshal(b, &speech) != nil {
		t.Fatalf("create a speech key = %d %s", s, b)
	}
	totals("Api-Key "+speech.Key, "service=heygen", 403)
	if got := totals("Api-Key "+speech.Key, "", 200); got.Jobs != 0 {
		t.Errorf("a speech-only key's totals = %+v, want its service's (none)", got)
	}
	totals("Api-Key "+d.key, "from=soon", 400)
}

func near(a, b float64) bool { return a-b < 1e-6 && b-a < 1e-6 }

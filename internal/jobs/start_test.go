package jobs

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

func TestStartRecordsDetails(t *testing.T) {
	h := newHarness(t)
	body := generateBody("Hello there.")
	body["title"] = "Spring launch"
	inputs := body["video_inputs"].([]any)
	body["video_inputs"] = append(inputs, map[string]any{
		"character": map[string]any{"type": "avatar", "avatar_id": "Abigail_expressive_2024112501", "avatar_style": "normal"},
		"voice":     map[string]any{"type": "text", "input_text": "Second scene.", "voice_id": "f38a635bee7a4d1f9b0a654a31d050d2"},
	})
	resp := h.invoke("acme", "generate-video", map[string]any{"body": body})
	id, _ := aiproxy.LookupJSON(resp.json(t), "data.video_id")
	if resp.status != 200 || id == nil {
		t.Fatalf("generate-video = %d %s", resp.status, resp.body)
	}
	j := h.job(id.(string))
	want := aiproxy.JobDetails{Title: "Spring launch", Script: "Hello there.\nSecond scene.",
		AvatarID: "Abigail_expressive_2024112501", VoiceID: "f38a635bee7a4d1f9b0a654a31d050d2"}
	if j.Details != want {
		t.Fatalf("details at start = %+v, want %+v", j.Details, want)
	}

	h.track(1, 101*time.Second)
	j = h.job(id.(string))
	if j.State != aiproxy.JobCompleted || j.Details.DurationSeconds <= 0 || !strings.HasPrefix(j.Details.ThumbnailURL, "http") {
		t.Fatalf("after completion: state %s, details %+v; want a duration and a thumbnail", j.State, j.Details)
	}
	if j.Details.ThumbnailURL != j.ResultURLs["thumbnail_url"] {
		t.Fatalf("thumbnail %q is not the status answer's %q", j.Details.ThumbnailURL, j.ResultURLs["thumbnail_url"])
	}
	evs, err := h.db.EventsOfJob(context.Background(), j.ID, 0)
	if err != nil || len(evs) < 2 {
		t.Fatalf("events = %+v, %v", evs, err)
	}
	var last EventJSON
	if err := json.Unmarshal(evs[len(evs)-1].Data, &last); err != nil {
		t.Fatal(err)
	}
	if d := last.Job.Details; d.DurationSeconds == nil || d.Title == nil || *d.Title != "Spring launch" {
		t.Fatalf("completion event's details = %+v", d)
	}
}

func TestV3StartRecordsDetails(t *testing.T) {
	h := newHarness(t)
	body := v3Body("Hello v3")
	body["title"] = "Version three"
	resp := h.invoke("acme", "v3-create-video", map[string]any{"body": body})
	id, _ := aiproxy.LookupJSON(resp.json(t), "data.video_id")
	if resp.status != 200 || id == nil {
		t.Fatalf("v3-create-video = %d %s", resp.status, resp.body)
	}
	j := h.job(id.(string))
	want := aiproxy.JobDetails{Title: "Version three", Script: "Hello v3",
		AvatarID: "Abigail_expressive_2024112501", VoiceID: "f38a635bee7a4d1f9b0a654a31d050d2"}
	if j.Details != want {
		t.Fatalf("details = %+v, want %+v", j.Details, want)
	}
	h.track(1, 101*time.Second)
	if j = h.job(id.(string)); j.Details.DurationSeconds <= 0 || j.Details.ThumbnailURL == "" {
		t.Fatalf("after completion: %+v", j.Details)
	}
}

func TestStartDetails(t *testing.T) {
	spec := &aiproxy.JobDetailsSpec{Title: []string{"body.title", "path.template_id"}, Script: []string{"body.scenes.*.text", "body.script"},
		AvatarID: []string{"body.scenes.*.avatar.id"}, VoiceID: []string{"body.voice"}}
	long := strings.Repeat("é", aiproxy.JobDetailsScriptMax+20)
	cases := []struct {
		name   string
		body   string
		params map[string]string
		want   aiproxy.JobDetails
	}{
		{"every scene's text joined", `{"title":"T","scenes":[{"text":"a","avatar":{"id":"x"}},{"text":"b","avatar":{"id":"y"}}],"voice":"v"}`, nil,
			aiproxy.JobDetails{Title: "T", Script: "a\nb", AvatarID: "x", VoiceID: "v"}},
		{"fallback paths", `{"script":"s"}`, map[string]string{"template_id": "tpl_1"},
			aiproxy.JobDetails{Title: "tpl_1", Script: "s"}},
		{"empty strings and other types skipped", `{"title":"","scenes":[{"text":5},{"text":" "}],"voice":{"id":"v"}}`, nil,
			aiproxy.JobDetails{}},
		{"script cut to its first characters", `{"script":"` + long + `"}`, nil,
			aiproxy.JobDetails{Script: strings.Repeat("é", aiproxy.JobDetailsScriptMax)}},
		{"not JSON", `not json`, nil, aiproxy.JobDetails{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := startDetails(spec, proxy.Envelope{Body: json.RawMessage(c.body), PathParams: c.params})
			if got != c.want {
				t.Fatalf("details = %+v, want %+v", got, c.want)
			}
		})
	}
	if got := startDetails(nil, proxy.Envelope{Body: json.RawMessage(`{"title":"x"}`)}); got != (aiproxy.JobDetails{}) {
		t.Fatalf("no spec read %+v", got)
	}
}

func TestJobJSONDetailsNullWhenUnknown(t *testing.T) {
	b, err := json.Marshal(ToJobJSON(aiproxy.Job{Details: aiproxy.JobDetails{Title: "T", DurationSeconds: 2.5}}))
	if err != nil {
		t.Fatal(err)
	}
	const want = `"details":{"title":"T","script":null,"avatar_id":null,"voice_id":null,"duration_seconds":2.5,"thumbnail_url":null}`
	if !strings.Contains(string(b), want) {
		t.Fatalf("job JSON = %s, want %s", b, want)
	}
}

// FuzzStartDetails checks that any start body yields details without
// panicking, within the script's cap, seeded from TestStartDetails.
func FuzzStartDetails(f *testing.F) {
	f.Add(`{"title":"T","scenes":[{"text":"a","avatar":{"id":"x"}},{"text":"b"}],"voice":"v"}`, "tpl")
	f.Add(`{"script":"s"}`, "")
	f.Add(`not json`, "x")
	f.Add(`{"scenes":{"*":{"text":"odd"}}}`, "")
	spec := &aiproxy.JobDetailsSpec{Title: []string{"body.title", "path.template_id"}, Script: []string{"body.scenes.*.text", "body.script"},
		AvatarID: []string{"body.scenes.*.avatar.id"}, VoiceID: []string{"body.voice"}}
	f.Fuzz(func(t *testing.T, body, template string) {
		d := startDetails(spec, proxy.Envelope{Body: json.RawMessage(body), PathParams: map[string]string{"template_id": template}})
		if utf8.RuneCountInString(d.Script) > aiproxy.JobDetailsScriptMax {
			t.Fatalf("script of %d characters", utf8.RuneCountInString(d.Script))
		}
	})
}

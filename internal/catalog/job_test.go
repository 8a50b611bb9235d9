package catalog

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// jobDoc adds a job-starting endpoint and its status endpoint to validDoc.
func jobDoc() map[string]any {
	doc := validDoc()
	eps := doc["endpoints"].([]any)
	eps = append(eps,
		map[string]any{"slug": "start", "path_template": "/v1/jobs", "http_method": "POST",
			"request_mode": "json", "response_mode": "json", "callback_mode": "poll",
			"job":       map[string]any{"status_action": "status", "id_path": "data.id", "callback_url_field": "callback_url"},
			"ownership": map[string]any{"op": "create", "kind": "job", "id": "data.id"}},
		map[string]any{"slug": "status", "path_template": "/v1/jobs/{job_id}", "http_method": "GET",
			"request_mode": "raw", "response_mode": "json",
			"job_status": map[string]any{"id_param": "path.job_id", "state_path": "data.status",
				"states":      map[string]any{"queued": "pending", "done": "completed", "error": "failed"},
				"result_urls": map[string]any{"url": "data.url"}, "error_path": "data.error", "url_ttl_seconds": 3600},
			"ownership": map[string]any{"op": "read", "kind": "job", "id": "path.job_id"}},
	)
	doc["endpoints"] = eps
	doc["job_webhook"] = map[string]any{"signature_headers": []any{"X-Sig"}, "event_type_path": "type",
		"id_path": "data.id", "events": map[string]any{"job.done": "completed"}}
	return doc
}

func TestJobBlocks(t *testing.T) {
	const start = "test.json: testsvc/start: "
	const status = "test.json: testsvc/status: "
	cases := []struct {
		name  string
		edits map[string]any
		want  []string
	}{
		{name: "valid"},
		{name: "status_action missing", edits: map[string]any{"endpoints.2.job.status_action": del},
			want: []string{start + "job.status_action is required"}},
		{name: "status_action unknown", edits: map[string]any{"endpoints.2.job.status_action": "nope"},
			want: []string{start + `job.status_action "nope" names no endpoint of the service`}},
		{name: "status_action without job_status", edits: map[string]any{"endpoints.2.job.status_action": "get-thing"},
			want: []string{start + `job.status_action "get-thing" has no job_status block`}},
		{name: "status endpoint disabled", edits: map[string]any{"endpoints.3.is_enabled": false},
			want: []string{start + `job.status_action "status" is disabled`}},
		{name: "id_path missing", edits: map[string]any{"endpoints.2.job.id_path": ""},
			want: []string{start + "job.id_path is required"}},
		{name: "id_path malformed", edits: map[string]any{"endpoints.2.job.id_path": "data..id"},
			want: []string{start + `job.id_path "data..id" is not a dotted JSON path`}},
		{name: "callback field on a multipart endpoint", edits: map[string]any{"endpoints.2.request_mode": "multipart"},
			want: []string{start + `job.callback_url_field "callback_url" must be a field name of a request_mode json body`}},
		{name: "id_param kind", edits: map[string]any{"endpoints.3.job_status.id_param": "header.x"},
			want: []string{status + `job_status.id_param "header.x" must be "query.NAME" or "path.NAME"`}},
		{name: "id_param placeholder", edits: map[string]any{"endpoints.3.job_status.id_param": "path.other"},
			want: []string{status + `job_status.id_param "path.other" names no placeholder`}},
		{name: "query id_param", edits: map[string]any{"endpoints.3.job_status.id_param": "query.job_id"}},
		{name: "unknown state", edits: map[string]any{"endpoints.3.job_status.states.queued": "waiting"},
			want: []string{status + `job_status.states["queued"] "waiting" is not one of`}},
		{name: "no terminal state", edits: map[string]any{"endpoints.3.job_status.states": map[string]any{"queued": "pending"}},
			want: []string{status + "job_status.states must map at least one provider value to completed or failed"}},
		{name: "status on POST", edits: map[string]any{"endpoints.3.http_method": "POST"},
			want: []string{status + "job_status needs a GET endpoint"}},
		{name: "negative ttl", edits: map[string]any{"endpoints.3.job_status.url_ttl_seconds": -1},
			want: []string{status + "job_status.url_ttl_seconds -1 is not between"}},
		{name: "bad result url name", edits: map[string]any{"endpoints.3.job_status.result_urls": map[string]any{"a-b": "x"}},
			want: []string{status + `job_status.result_urls name "a-b" must match`}},
		{name: "webhook unsigned", edits: map[string]any{"job_webhook.signature_headers": []any{}},
			want: []string{"test.json: testsvc: job_webhook.signature_headers is required"}},
		{name: "webhook bad header", edits: map[string]any{"job_webhook.event_id_header": "X Id"},
			want: []string{`job_webhook: "X Id" is not a valid header name`}},
		{name: "webhook event state", edits: map[string]any{"job_webhook.events": map[string]any{"x": "done"}},
			want: []string{`job_webhook.events["x"] "done" is not one of`, "job_webhook.events must map at least one"}},
		{name: "details", edits: map[string]any{
			"endpoints.2.job.details":        map[string]any{"title": []any{"body.title"}, "script": []any{"body.scenes.*.text"}},
			"endpoints.3.job_status.details": map[string]any{"duration_seconds": "data.duration"}}},
		{name: "details unknown name", edits: map[string]any{"endpoints.2.job.details": map[string]any{"mood": []any{"body.mood"}}},
			want: []string{start + `job.details "mood" is not one of title, script, avatar_id, voice_id`}},
		{name: "details no path", edits: map[string]any{"endpoints.2.job.details": map[string]any{"title": []any{}}},
			want: []string{start + "job.details.title lists no path"}},
		{name: "details bad path kind", edits: map[string]any{"endpoints.2.job.details": map[string]any{"title": []any{"header.x"}}},
			want: []string{start + `job.details.title "header.x" must be "body.PATH" or "path.NAME"`}},
		{name: "details bad body path", edits: map[string]any{"endpoints.2.job.details": map[string]any{"title": []any{"body.a..b"}}},
			want: []string{start + `job.details.title "a..b" is not a dotted JSON path`}},
		{name: "details unknown placeholder", edits: map[string]any{"endpoints.2.job.details": map[string]any{"title": []any{"path.nope"}}},
			want: []string{start + `job.details.title "path.nope" names no placeholder of path_template`}},
		{name: "details body on multipart", edits: map[string]any{"endpoints.2.job.details": map[string]any{"title": []any{"body.title"}},
			"endpoints.2.request_mode": "multipart", "endpoints.2.job.callback_url_field": del},
			want: []string{start + `job.details.title "body.title" needs request_mode json`}},
		{name: "status details unknown name", edits: map[string]any{"endpoints.3.job_status.details": map[string]any{"size": "data.size"}},
			want: []string{status + `job_status.details "size" is not one of duration_seconds, thumbnail_url`}},
		{name: "unknown job field", edits: map[string]any{"endpoints.2.job.status": "x"},
			want: []string{`test.json: unknown field "endpoints[2].job.status"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := jobDoc()
			for _, path := range sortedKeys(tc.edits) {
				set(doc, path, tc.edits[path])
			}
			data, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			cat, err := compile(nil, []sourceFile{{name: "test.json", data: data}}, nil)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("want no problems, got %v", err)
				}
				checkCompiledJob(t, cat)
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a *ValidationError, got %v", err)
			}
			if len(ve.Problems) != len(tc.want) {
				t.Errorf("got %d problems, want %d:\n%s", len(ve.Problems), len(tc.want), err)
			}
			for _, w := range tc.want {
				if !containsProblem(ve.Problems, w) {
					t.Errorf("no problem contains %q; got:\n%s", w, err)
				}
			}
		})
	}
}

func checkCompiledJob(t *testing.T, cat *Catalog) {
	t.Helper()
	_, start, ok := cat.Lookup("testsvc", "start")
	if !ok || start.Job == nil || start.Job.StatusAction != "status" || start.Job.IDPath != "data.id" {
		t.Fatalf("start endpoint job = %+v", start)
	}
	_, st, _ := cat.Lookup("testsvc", "status")
	if st.JobStatus == nil || st.JobStatus.States["done"] != aiproxy.JobCompleted || st.JobStatus.URLTTLSeconds != 3600 {
		t.Fatalf("status endpoint job_status = %+v", st.JobStatus)
	}
	svc, _ := cat.Service("testsvc")
	if svc.JobWebhook == nil || svc.JobWebhook.Events["job.done"] != aiproxy.JobCompleted {
		t.Fatalf("job_webhook = %+v", svc.JobWebhook)
	}
}

// TestHeyGenJobs pins the built-in HeyGen job data the contract's async flow
// depends on.
func TestHeyGenJobs(t *testing.T) {
	cat, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"generate-video", "generate-template-video", "generate-talking-photo"} {
		_, e, ok := cat.Lookup("heygen", action)
		if !ok || e.Job == nil || e.Job.StatusAction != "video-status" || e.Job.IDPath != "data.video_id" {
			t.Errorf("%s job = %+v", action, e)
		}
	}
	_, st, _ := cat.Lookup("heygen", "video-status")
	if st.JobStatus == nil || st.JobStatus.IDParam != "query.video_id" || st.JobStatus.URLTTLSeconds != 7*86400 {
		t.Errorf("video-status job_status = %+v", st.JobStatus)
	}
	for _, action := range []string{"generate-video", "generate-talking-photo", "v3-create-video", "generate-template-video", "v3-generate-template-video"} {
		_, e, _ := cat.Lookup("heygen", action)
		if e.Job == nil || e.Job.Details == nil || len(e.Job.Details.Title) == 0 || len(e.Job.Details.AvatarID) == 0 {
			t.Errorf("%s has no job details: %+v", action, e.Job)
		}
	}
	for _, action := range []string{"video-status", "v3-get-video"} {
		_, e, _ := cat.Lookup("heygen", action)
		if e.JobStatus.DurationPath != "data.duration" || e.JobStatus.ThumbnailPath != "data.thumbnail_url" {
			t.Errorf("%s status details = %q, %q", action, e.JobStatus.DurationPath, e.JobStatus.ThumbnailPath)
		}
	}
}

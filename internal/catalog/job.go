package catalog

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// fileJob is an endpoint's "job" block: the call starts a provider job.
type fileJob struct {
	StatusAction     string `json:"status_action"`
	IDPath           string `json:"id_path"`
	CallbackURLField string `json:"callback_url_field,omitempty"`
	// ForwardIdempotencyKey sends the client's Idempotency-Key on to a
	// provider that honours one.
	ForwardIdempotencyKey bool `json:"forward_idempotency_key,omitempty"`
	// Details maps a job detail (title, script, avatar_id, voice_id) to the
	// request paths that hold it, first match wins.
	Details map[string][]string `json:"details,omitempty"`
}

// fileJobStatus is an endpoint's "job_status" block: the call reads a job's
// status.
type fileJobStatus struct {
	IDParam       string            `json:"id_param"`
	StatePath     string            `json:"state_path"`
	States        map[string]string `json:"states"`
	ResultURLs    map[string]string `json:"result_urls,omitempty"`
	ErrorPath     string            `json:"error_path,omitempty"`
	URLTTLSeconds int               `json:"url_ttl_seconds,omitempty"`
	// Details maps a detail of the finished job (duration_seconds,
	// thumbnail_url) to the JSON path of the status answer that holds it.
	Details map[string]string `json:"details,omitempty"`
}

// fileJobWebhook is a service's "job_webhook" block: how the provider's job
// webhooks are verified and read.
type fileJobWebhook struct {
	SignatureHeaders []string          `json:"signature_headers"`
	EventIDHeader    string            `json:"event_id_header,omitempty"`
	TimestampHeader  string            `json:"timestamp_header,omitempty"`
	EventTypePath    string            `json:"event_type_path"`
	IDPath           string            `json:"id_path"`
	Events           map[string]string `json:"events"`
}

// maxURLTTLSeconds bounds url_ttl_seconds to a year.
const maxURLTTLSeconds = 365 * 86400

// compileJob checks an endpoint's job and job_status blocks and fills them
// in; cross-endpoint references are checked by checkJobLinks.
func compileJob(r *report, where string, f fileEndpoint, e *aiproxy.Endpoint) {
	if j := f.Job; j != nil {
		e.Job = &aiproxy.JobSpec{StatusAction: j.StatusAction, IDPath: j.IDPath, CallbackURLField: j.CallbackURLField,
			ForwardIdempotencyKey: j.ForwardIdempotencyKey}
		if j.StatusAction == "" {
			r.add(where, "job.status_action is required")
		}
		checkJSONPath(r, where, "job.id_path", j.IDPath, true)
		if j.CallbackURLField != "" && (!fieldPattern.MatchString(j.CallbackURLField) || f.RequestMode != "json") {
			r.add(where, "job.callback_url_field %q must be a field name of a request_mode json body", j.CallbackURLField)
		}
		if j.ForwardIdempotencyKey && f.RequestMode != "json" {
			r.add(where, "job.forward_idempotency_key needs request_mode json, where aiproxy honours Idempotency-Key")
		}
		e.Job.Details = compileJobDetails(r, where, j.Details, f, e)
	}
	if js := f.JobStatus; js != nil {
		e.JobStatus = compileJobStatus(r, where, js, e)
	}
}

func compileJobStatus(r *report, where string, f *fileJobStatus, e *aiproxy.Endpoint) *aiproxy.JobStatusSpec {
	spec := &aiproxy.JobStatusSpec{IDParam: f.IDParam, StatePath: f.StatePath, ResultURLs: f.ResultURLs,
		ErrorPath: f.ErrorPath, URLTTLSeconds: f.URLTTLSeconds, States: map[string]aiproxy.JobState{}}
	checkIDParam(r, where, f.IDParam, e)
	checkJSONPath(r, where, "job_status.state_path", f.StatePath, true)
	checkJSONPath(r, where, "job_status.error_path", f.ErrorPath, false)
	for _, name := range sortedKeys(f.ResultURLs) {
		if !fieldPattern.MatchString(name) {
			r.add(where, "job_status.result_urls name %q must match %s", name, fieldPattern)
		}
		checkJSONPath(r, where, "job_status.result_urls."+name, f.ResultURLs[name], true)
	}
	spec.States = checkStates(r, where, "job_status.states", f.States)
	for _, name := range sortedKeys(f.Details) {
		path := f.Details[name]
		checkJSONPath(r, where, "job_status.details."+name, path, true)
		switch name {
		case "duration_seconds":
			spec.DurationPath = path
		case "thumbnail_url":
			spec.ThumbnailPath = path
		default:
			r.add(where, "job_status.details %q is not one of duration_seconds, thumbnail_url", name)
		}
	}
	if f.URLTTLSeconds < 0 || f.URLTTLSeconds > maxURLTTLSeconds {
		r.add(where, "job_status.url_ttl_seconds %d is not between 0 and %d", f.URLTTLSeconds, maxURLTTLSeconds)
	}
	if e.HTTPMethod != http.MethodGet {
		r.add(where, "job_status needs a GET endpoint, since aiproxy repeats it freely")
	}
	return spec
}

// compileJobDetails checks a job block's details: each names a known
// detail and lists request paths, "body.PATH" ("*" for every item of an
// array) of a JSON body or "path.NAME" of a placeholder.
func compileJobDetails(r *report, where string, in map[string][]string, f fileEndpoint, e *aiproxy.Endpoint) *aiproxy.JobDetailsSpec {
	if in == nil {
		return nil
	}
	d := &aiproxy.JobDetailsSpec{}
	for _, name := range sortedKeys(in) {
		paths := in[name]
		field := "job.details." + name
		switch name {
		case "title":
			d.Title = paths
		case "script":
			d.Script = paths
		case "avatar_id":
			d.AvatarID = paths
		case "voice_id":
			d.VoiceID = paths
		default:
			r.add(where, "job.details %q is not one of title, script, avatar_id, voice_id", name)
			continue
		}
		if len(paths) == 0 {
			r.add(where, "%s lists no path", field)
		}
		for _, p := range paths {
			checkDetailPath(r, where, field, p, f, e)
		}
	}
	return d
}

// checkDetailPath checks one request path of a job detail.
func checkDetailPath(r *report, where, field, p string, f fileEndpoint, e *aiproxy.Endpoint) {
	kind, rest, _ := strings.Cut(p, ".")
	switch {
	case kind == "body" && f.RequestMode != "json":
		r.add(where, "%s %q needs request_mode json", field, p)
	case kind == "body":
		checkJSONPath(r, where, field, rest, true)
	case kind == "path" && (!fieldPattern.MatchString(rest) || !strings.Contains(e.PathTemplate, "{"+rest+"}")):
		r.add(where, "%s %q names no placeholder of path_template", field, p)
	case kind != "path":
		r.add(where, "%s %q must be \"body.PATH\" or \"path.NAME\"", field, p)
	}
}

// checkIDParam checks "query.NAME" or "path.NAME", the latter naming a
// placeholder of the endpoint's path template.
func checkIDParam(r *report, where, p string, e *aiproxy.Endpoint) {
	kind, name, ok := strings.Cut(p, ".")
	switch {
	case !ok || !fieldPattern.MatchString(name) || (kind != "query" && kind != "path"):
		r.add(where, "job_status.id_param %q must be \"query.NAME\" or \"path.NAME\"", p)
	case kind == "path" && !strings.Contains(e.PathTemplate, "{"+name+"}"):
		r.add(where, "job_status.id_param %q names no placeholder of path_template", p)
	}
}

// checkStates checks a map of provider strings to job states; at least one
// must be terminal, or no job could ever finish.
func checkStates(r *report, where, field string, in map[string]string) map[string]aiproxy.JobState {
	out := map[string]aiproxy.JobState{}
	terminal := false
	for _, k := range sortedKeys(in) {
		st := aiproxy.JobState(in[k])
		if !aiproxy.ValidJobState(st) {
			r.add(where, "%s[%q] %q is not one of pending, processing, completed, failed", field, k, in[k])
			continue
		}
		out[k] = st
		terminal = terminal || st.Terminal()
	}
	if !terminal {
		r.add(where, "%s must map at least one provider value to completed or failed", field)
	}
	return out
}

// checkJSONPath checks a dotted path of non-empty segments.
func checkJSONPath(r *report, where, field, p string, required bool) {
	if p == "" {
		if required {
			r.add(where, "%s is required", field)
		}
		return
	}
	for _, seg := range strings.Split(p, ".") {
		if seg == "" || strings.TrimSpace(seg) != seg {
			r.add(where, "%s %q is not a dotted JSON path such as \"data.video_id\"", field, p)
			return
		}
	}
}

// compileJobWebhook checks a service's job_webhook block.
func compileJobWebhook(r *report, where string, f *fileJobWebhook) *aiproxy.JobWebhookSpec {
	if f == nil {
		return nil
	}
	if len(f.SignatureHeaders) == 0 {
		r.add(where, "job_webhook.signature_headers is required: aiproxy accepts only signed webhooks")
	}
	for _, h := range append(append([]string{}, f.SignatureHeaders...), f.EventIDHeader, f.TimestampHeader) {
		if h != "" && !validToken(h) {
			r.add(where, "job_webhook: %q is not a valid header name", h)
		}
	}
	checkJSONPath(r, where, "job_webhook.event_type_path", f.EventTypePath, true)
	checkJSONPath(r, where, "job_webhook.id_path", f.IDPath, true)
	return &aiproxy.JobWebhookSpec{
		SignatureHeaders: f.SignatureHeaders, EventIDHeader: f.EventIDHeader, TimestampHeader: f.TimestampHeader,
		EventTypePath: f.EventTypePath, IDPath: f.IDPath,
		Events: checkStates(r, where, "job_webhook.events", f.Events),
	}
}

// checkJobLinks checks that every job block names a status endpoint of the
// same service that has a job_status block.
func checkJobLinks(r *report, where string, s *aiproxy.Service) {
	for _, e := range s.Endpoints {
		if e.Job == nil || e.Job.StatusAction == "" {
			continue
		}
		ewhere := fmt.Sprintf("%s/%s", where, e.Slug)
		st := findEndpoint(s, e.Job.StatusAction)
		switch {
		case st == nil:
			r.add(ewhere, "job.status_action %q names no endpoint of the service", e.Job.StatusAction)
		case st.JobStatus == nil:
			r.add(ewhere, "job.status_action %q has no job_status block", e.Job.StatusAction)
		case e.IsEnabled && !st.IsEnabled:
			r.add(ewhere, "job.status_action %q is disabled", e.Job.StatusAction)
		}
	}
}

func findEndpoint(s *aiproxy.Service, slug string) *aiproxy.Endpoint {
	for i := range s.Endpoints {
		if s.Endpoints[i].Slug == slug {
			return &s.Endpoints[i]
		}
	}
	return nil
}

func encodeJob(j *aiproxy.JobSpec) *fileJob {
	if j == nil {
		return nil
	}
	return &fileJob{StatusAction: j.StatusAction, IDPath: j.IDPath, CallbackURLField: j.CallbackURLField,
		ForwardIdempotencyKey: j.ForwardIdempotencyKey, Details: encodeJobDetails(j.Details)}
}

func encodeJobDetails(d *aiproxy.JobDetailsSpec) map[string][]string {
	if d == nil {
		return nil
	}
	out := map[string][]string{}
	for name, paths := range map[string][]string{"title": d.Title, "script": d.Script, "avatar_id": d.AvatarID, "voice_id": d.VoiceID} {
		if len(paths) > 0 {
			out[name] = paths
		}
	}
	return out
}

func encodeJobStatus(js *aiproxy.JobStatusSpec) *fileJobStatus {
	if js == nil {
		return nil
	}
	var details map[string]string
	if js.DurationPath != "" || js.ThumbnailPath != "" {
		details = map[string]string{}
		if js.DurationPath != "" {
			details["duration_seconds"] = js.DurationPath
		}
		if js.ThumbnailPath != "" {
			details["thumbnail_url"] = js.ThumbnailPath
		}
	}
	return &fileJobStatus{IDParam: js.IDParam, StatePath: js.StatePath, States: encodeStates(js.States),
		ResultURLs: js.ResultURLs, ErrorPath: js.ErrorPath, URLTTLSeconds: js.URLTTLSeconds, Details: details}
}

func encodeJobWebhook(w *aiproxy.JobWebhookSpec) *fileJobWebhook {
	if w == nil {
		return nil
	}
	return &fileJobWebhook{SignatureHeaders: w.SignatureHeaders, EventIDHeader: w.EventIDHeader,
		TimestampHeader: w.TimestampHeader, EventTypePath: w.EventTypePath, IDPath: w.IDPath,
		Events: encodeStates(w.Events)}
}

func encodeStates(in map[string]aiproxy.JobState) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = string(v)
	}
	return out
}

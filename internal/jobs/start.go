package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// record stores the job a provider's answer started. A call with an
// Idempotency-Key completes it with that answer in the same transaction;
// the idempotency hook settles the key of an answer that started nothing.
//
// The store decides what "stored" means: a SpooledStore retries an
// unavailable database and spools the start, so that its nil is durable.
// When the store cannot keep the start, the client is told so with a 503
// rather than the provider's 200: a job it was told about is never lost
// silently.
func (s *Service) record(ctx context.Context, c *proxy.Call, rep reply) error {
	j, ok := s.jobFromStart(c, rep)
	if !ok {
		return nil
	}
	if id, held := s.slots.Load(c); held {
		j.RunSlotID = id.(string) // freed with the record, not after the answer is written
	}
	var idem *aiproxy.IdempotencyRecord
	if c.Idem != nil {
		rec := *c.Idem
		rec.State, rec.Status, rec.Body, rec.JobID = aiproxy.IdempotencyDone, rep.status, rep.body, j.ID
		rec.ContentType = rep.header.Get("Content-Type")
		idem = &rec
	}
	err := s.cfg.Store.CreateJob(ctx, j, newEvent(j, aiproxy.EventJobCreated, j.CreatedAt), idem)
	switch {
	case errors.Is(err, aiproxy.ErrConflict), errors.Is(err, aiproxy.ErrNotFound):
		// Another job has the provider's id, or the org is gone: there is
		// nothing aiproxy could track, and the client keeps its answer.
		s.log.Error("record job", "service", j.Service, "provider_job_id", j.ProviderJobID, "err", err)
		return nil
	case err != nil:
		s.log.Error("job started but not recorded", "service", j.Service, "provider_job_id", j.ProviderJobID, "err", err)
		keyed := c.Idem != nil
		// The key stays claimed: released, a retry with it would start a
		// second job at the provider. Claimed, the retry gets this start's
		// answer once the store records it, or else, after the claim's
		// lease, the 409 that says the job may exist.
		c.Idem = nil
		return errNotRecorded(keyed, err)
	}
	if idem != nil {
		*c.Idem = *idem
	}
	s.hub.publish(j.OrgKey)
	s.cfg.OnEvent()
	return nil
}

// notRecordedRetryAfter is the Retry-After, in seconds, of a start that
// could not be recorded: the database's outage answer's.
const notRecordedRetryAfter = 2

// errNotRecorded is the answer to a start the provider accepted and the
// store could not keep: 503, saying what a retry does.
func errNotRecorded(keyed bool, cause error) error {
	msg := "The provider accepted the job, but aiproxy could not record it yet: its database is unavailable. " +
		"A retry may start another job; look for this one in the jobs list once the service is back."
	if keyed {
		msg = "The provider accepted the job, but aiproxy could not record it yet: its database is unavailable. " +
			"Retry with the same Idempotency-Key: once the job is recorded, the retry gets its answer."
	}
	return &aiproxy.Error{Code: aiproxy.CodeUnavailable, Message: msg, RetryAfter: notRecordedRetryAfter, Err: cause}
}

// jobFromStart builds the job record of a successful start, if the answer
// carries a job id where the catalog says.
func (s *Service) jobFromStart(c *proxy.Call, rep reply) (aiproxy.Job, bool) {
	if rep.status < 200 || rep.status > 299 {
		return aiproxy.Job{}, false
	}
	doc, ok := aiproxy.DecodeJSON(rep.body)
	id := aiproxy.LookupJSONString(doc, c.Endpoint.Job.IDPath)
	if !ok || id == "" {
		return aiproxy.Job{}, false
	}
	now := s.now()
	j := aiproxy.Job{
		ID: aiproxy.NewID("job_"), OrgKey: c.Org, Service: c.Service.Slug, Action: c.Endpoint.Slug,
		StatusAction: c.Endpoint.Job.StatusAction, ProviderJobID: id, Source: c.Source,
		CredentialName: c.Service.CredentialName, CredentialKeyID: c.CredentialKeyID(),
		State: aiproxy.JobPending, ResultURLs: map[string]string{},
		CallbackID: bodyString(c.Envelope.Body, "callback_id"), Details: startDetails(c.Endpoint.Job.Details, c.Envelope),
		CreatedAt: now, UpdatedAt: now,
		NextCheckAt: now.Add(s.cfg.PollInterval), DeadlineAt: now.Add(s.cfg.Deadline),
	}
	if j.Source == aiproxy.SourceTenant {
		j.CredentialOrg = c.Org
	}
	if c.Idem != nil {
		j.IdempotencyKey = c.Inbound().Get("Idempotency-Key") // the client's, not the stored per-user form
	}
	if pr, ok := c.Principal(); ok {
		j.User, j.KeyID = pr.User, pr.KeyID
	}
	return j, true
}

// withCallbackURL puts aiproxy's webhook URL into a job start's body, when a
// public base URL and the service's webhook secret are configured. A
// client's own callback_url wins (the provider takes one), and the client's
// callback_id is never touched.
func (s *Service) withCallbackURL(svc *aiproxy.Service, ep *aiproxy.Endpoint, body json.RawMessage) json.RawMessage {
	field := ep.Job.CallbackURLField
	if field == "" || s.cfg.PublicBaseURL == "" || svc.JobWebhook == nil || s.cfg.ProviderSecrets[svc.Slug] == "" {
		return body
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil || obj == nil {
		return body
	}
	if v, ok := obj[field]; ok && string(v) != "null" {
		return body
	}
	u, _ := json.Marshal(s.CallbackURL(svc.Slug))
	obj[field] = u
	out, err := json.Marshal(obj)
	if err != nil {
		return body
	}
	return out
}

// CallbackURL is where a service's provider sends job webhooks to aiproxy.
func (s *Service) CallbackURL(service string) string {
	return strings.TrimRight(s.cfg.PublicBaseURL, "/") + "/api/ai-proxy/webhooks/" + service + "/"
}

// startDetails reads what a job is about from its start request, where the
// catalog says. Only the request is read: never a header, so never a
// credential.
func startDetails(spec *aiproxy.JobDetailsSpec, env proxy.Envelope) aiproxy.JobDetails {
	if spec == nil {
		return aiproxy.JobDetails{}
	}
	var body any
	if len(env.Body) > 0 {
		body, _ = aiproxy.DecodeJSON(env.Body)
	}
	first := func(paths []string) string {
		for _, p := range paths {
			if vs := requestValues(body, env.PathParams, p); len(vs) > 0 {
				return vs[0]
			}
		}
		return ""
	}
	var script string
	for _, p := range spec.Script {
		if vs := requestValues(body, env.PathParams, p); len(vs) > 0 {
			script = strings.Join(vs, "\n")
			break
		}
	}
	return aiproxy.JobDetails{Title: first(spec.Title), Script: truncateRunes(script, aiproxy.JobDetailsScriptMax),
		AvatarID: first(spec.AvatarID), VoiceID: first(spec.VoiceID)}
}

// requestValues returns the non-empty strings at a request path:
// "path.NAME", or "body.PATH" where "*" stands for every item of an array.
func requestValues(body any, params map[string]string, path string) []string {
	kind, rest, _ := strings.Cut(path, ".")
	if kind == "path" {
		if v := params[rest]; v != "" {
			return []string{v}
		}
		return nil
	}
	if kind != "body" {
		return nil
	}
	var out []string
	var walk func(v any, segs []string)
	walk = func(v any, segs []string) {
		if len(segs) == 0 {
			if s, ok := v.(string); ok && strings.TrimSpace(s) != "" {
				out = append(out, s)
			}
			return
		}
		if arr, ok := v.([]any); ok && segs[0] == "*" {
			for _, item := range arr {
				walk(item, segs[1:])
			}
			return
		}
		if next, ok := aiproxy.LookupJSON(v, segs[0]); ok {
			walk(next, segs[1:])
		}
	}
	walk(body, strings.Split(rest, "."))
	return out
}

// truncateRunes cuts s to at most n characters.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// bodyString returns a top-level string field of a JSON body.
func bodyString(body json.RawMessage, field string) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return ""
	}
	var v string
	_ = json.Unmarshal(obj[field], &v)
	return v
}

package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

var _ interface {
	Invoke(w http.ResponseWriter, r *http.Request, org, service, action string) (proxy.Outcome, error)
} = (*Service)(nil)

// Invoke performs an invoke call. Calls to endpoints whose catalog entry has
// a job or job_status block are handled here; every other call goes to the
// proxy unchanged.
func (s *Service) Invoke(w http.ResponseWriter, r *http.Request, org, service, action string) (proxy.Outcome, error) {
	if svc, ok := s.cfg.Catalog.Service(service); ok {
		if ep, ok := svc.Endpoint(action); ok {
			switch {
			case ep.Job != nil:
				return s.metered(w, r, org, service, action, func(r *http.Request) (proxy.Outcome, error) {
					return s.invokeStart(w, r, org, svc, ep)
				})
			case ep.JobStatus != nil:
				return s.metered(w, r, org, service, action, func(r *http.Request) (proxy.Outcome, error) {
					env, err := s.readEnvelope(r)
					if err != nil {
						return proxy.Outcome{Service: service, Action: action}, err
					}
					return s.invokeStatus(w, r, org, svc, ep, env)
				})
			}
		}
	}
	return s.cfg.Proxy.Invoke(w, r, org, service, action)
}

// InvokeNative performs a native passthrough call (a request in the
// provider's own shape). Endpoints that start or read jobs are handled like
// their invoke counterparts, so that ownership and tracking hold on both
// surfaces; every other call goes to the proxy unchanged.
func (s *Service) InvokeNative(w http.ResponseWriter, r *http.Request, org, service, path string) (proxy.Outcome, error) {
	svc, ok := s.cfg.Catalog.Service(service)
	if !ok {
		return s.cfg.Proxy.InvokeNative(w, r, org, service, path)
	}
	ep, params, ok := proxy.MatchEndpoint(svc, r.Method, path)
	if !ok || (ep.Job == nil && ep.JobStatus == nil) {
		return s.cfg.Proxy.InvokeNative(w, r, org, service, path)
	}
	return s.metered(w, r, org, svc.Slug, ep.Slug, func(r *http.Request) (proxy.Outcome, error) {
		return s.invokeNativeJob(w, r, org, svc, ep, params, path)
	})
}

// invokeNativeJob performs a native call of an endpoint that starts or
// reads jobs.
func (s *Service) invokeNativeJob(w http.ResponseWriter, r *http.Request, org string, svc *aiproxy.Service, ep *aiproxy.Endpoint, params map[string]string, path string) (proxy.Outcome, error) {
	out := proxy.Outcome{Service: svc.Slug, Action: ep.Slug}
	env := proxy.Envelope{PathParams: params, Query: r.URL.Query()}
	if ep.JobStatus != nil {
		return s.invokeStatus(w, r, org, svc, ep, env)
	}
	st := &started{svc: svc, ep: ep, org: org}
	if !jsonEnvelope(ep) {
		if r.Header.Get("Idempotency-Key") != "" {
			return out, aiproxy.Errorf(aiproxy.CodeInvalid, "Idempotency-Key is supported only on endpoints that take a JSON envelope.")
		}
		c, err := s.cfg.Proxy.PrepareNative(r, org, svc.Slug, path)
		if err != nil {
			return out, err
		}
		st.call = c
		return s.send(w, r, st)
	}
	raw, err := s.readRaw(r)
	if err != nil {
		return out, err
	}
	if body := bytes.TrimSpace(raw); len(body) > 0 {
		if !json.Valid(body) {
			return out, aiproxy.Errorf(aiproxy.CodeInvalid, "The request body must be JSON.")
		}
		env.Body = body
	}
	return s.startJSON(w, r, st, env)
}

// jsonEnvelope reports whether an endpoint's envelope is plain JSON, which
// jobs read whole; multipart and binary uploads stream through Prepare.
func jsonEnvelope(ep *aiproxy.Endpoint) bool {
	return ep.RequestMode == aiproxy.RequestJSON || ep.RequestMode == aiproxy.RequestRaw
}

// readEnvelope reads a JSON invoke envelope, bounded, with the proxy's
// checks and messages.
func (s *Service) readEnvelope(r *http.Request) (proxy.Envelope, error) {
	raw, err := s.readRaw(r)
	if err != nil {
		return proxy.Envelope{}, err
	}
	return proxy.DecodeEnvelope(raw)
}

func (s *Service) readRaw(r *http.Request) ([]byte, error) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		return nil, aiproxy.Errorf(aiproxy.CodeInvalid, "This endpoint takes a JSON envelope, not multipart/form-data.")
	}
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, s.cfg.MaxEnvelopeBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, aiproxy.Errorf(aiproxy.CodeTooLarge, "Request body exceeds %d bytes.", tooBig.Limit)
	case err != nil:
		return nil, aiproxy.Errorf(aiproxy.CodeInvalid, "Could not read the request body.")
	}
	return raw, nil
}

// started is a job-starting call on its way: the prepared upstream call and
// what the job record needs to know of the request.
type started struct {
	svc        *aiproxy.Service
	ep         *aiproxy.Endpoint
	org        string
	call       *proxy.Call
	callbackID string
	idem       *aiproxy.IdempotencyRecord
}

// invokeStart performs a job-starting call: it sends it (with aiproxy's
// callback URL when configured), records the job from the provider's answer
// before replying, and honours an Idempotency-Key.
func (s *Service) invokeStart(w http.ResponseWriter, r *http.Request, org string, svc *aiproxy.Service, ep *aiproxy.Endpoint) (proxy.Outcome, error) {
	out := proxy.Outcome{Service: svc.Slug, Action: ep.Slug}
	st := &started{svc: svc, ep: ep, org: org}
	key := r.Header.Get("Idempotency-Key")
	if !jsonEnvelope(ep) {
		if key != "" {
			return out, aiproxy.Errorf(aiproxy.CodeInvalid, "Idempotency-Key is supported only on endpoints that take a JSON envelope.")
		}
		c, err := s.cfg.Proxy.Prepare(r, org, svc.Slug, ep.Slug)
		if err != nil {
			return out, err
		}
		st.call = c
		return s.send(w, r, st)
	}
	raw, err := s.readRaw(r)
	if err != nil {
		return out, err
	}
	env, err := proxy.DecodeEnvelope(raw)
	if err != nil {
		return out, err
	}
	return s.startJSON(w, r, st, env)
}

// startJSON performs a job start whose envelope has been read.
func (s *Service) startJSON(w http.ResponseWriter, r *http.Request, st *started, env proxy.Envelope) (proxy.Outcome, error) {
	org, svc, ep := st.org, st.svc, st.ep
	out := proxy.Outcome{Service: svc.Slug, Action: ep.Slug}
	key := r.Header.Get("Idempotency-Key")
	st.callbackID = bodyString(env.Body, "callback_id")
	if key != "" {
		rec, replay, err := s.claim(r.Context(), org, key, svc, ep, env)
		if err != nil {
			return out, err
		}
		if replay != nil {
			out.Status = replay.status
			out.Bytes = replay.write(w)
			return out, nil
		}
		st.idem = &rec
		env = forwardIdempotencyKey(ep, env, key) // forward.go
	}
	env.Body = s.withCallbackURL(svc, ep, env.Body)
	c, err := s.cfg.Proxy.NewCall(r.Context(), org, svc.Slug, ep.Slug, env, "")
	if err != nil {
		s.release(st.idem)
		return out, err
	}
	st.call = c
	return s.send(w, r, st)
}

// send performs the upstream exchange of a job start and replies. The
// exchange is not tied to the client: once the provider may have started a
// job, aiproxy must learn its id even if the client has gone.
func (s *Service) send(w http.ResponseWriter, r *http.Request, st *started) (proxy.Outcome, error) {
	defer st.call.Close()
	markPrepared(r.Context()) // meter.go
	ctx := context.WithoutCancel(r.Context())
	out := proxy.Outcome{Service: st.svc.Slug, Action: st.ep.Slug, Source: st.call.Source}
	freeSlot, err := s.claimRunSlot(ctx, st) // runcap.go
	if err != nil {
		s.release(st.idem)
		return st.call.Finish(out, err)
	}
	defer freeSlot()
	resp, err := s.cfg.Proxy.Send(ctx, st.call)
	if err != nil {
		s.release(st.idem)
		return st.call.Finish(out, err)
	}
	cp := newCapture()
	pout, err := s.cfg.Proxy.Respond(cp, r.WithContext(ctx), st.call, resp)
	resp.Close()
	if err == nil {
		err = pout.Err
	}
	if err != nil {
		s.release(st.idem)
		return st.call.Finish(out, err)
	}
	s.crashPoint("after-provider")
	rep := cp.reply()
	s.record(ctx, st, rep)
	s.crashPoint("before-reply")
	out.UpstreamStatus, out.Status = rep.status, rep.status
	out.Bytes = rep.write(w)
	return st.call.Finish(out, nil)
}

// record stores the job a provider's answer started, and completes the
// Idempotency-Key with that answer in the same transaction. An answer that
// started nothing completes the key too, unless it invites a retry (429 or
// a server error), which releases it.
func (s *Service) record(ctx context.Context, st *started, rep reply) {
	if st.idem != nil {
		st.idem.State, st.idem.Status, st.idem.Body = aiproxy.IdempotencyDone, rep.status, rep.body
		st.idem.ContentType = rep.header.Get("Content-Type")
	}
	j, ok := s.jobFromStart(st, rep)
	if !ok {
		switch {
		case st.idem == nil:
		case retryable(rep.status):
			s.release(st.idem)
		default:
			s.completeIdem(ctx, st.idem)
		}
		return
	}
	if st.idem != nil {
		st.idem.JobID = j.ID
	}
	err := s.cfg.Store.CreateJob(ctx, j, newEvent(j, aiproxy.EventJobCreated, j.CreatedAt), st.idem)
	if err != nil {
		// The provider has started a job that aiproxy could not record;
		// the client still gets its id, and the key its answer.
		s.log.Error("record job", "service", j.Service, "provider_job_id", j.ProviderJobID, "err", err)
		if st.idem != nil {
			s.completeIdem(ctx, st.idem)
		}
		return
	}
	if st.idem != nil {
		s.idemDone(st.org, st.idem.Key)
	}
	s.hub.publish(j.OrgKey)
	s.wake()
}

// jobFromStart builds the job record of a successful start, if the answer
// carries a job id where the catalog says.
func (s *Service) jobFromStart(st *started, rep reply) (aiproxy.Job, bool) {
	if rep.status < 200 || rep.status > 299 {
		return aiproxy.Job{}, false
	}
	doc, ok := decodeDoc(rep.body)
	id := lookupString(doc, st.ep.Job.IDPath)
	if !ok || id == "" {
		return aiproxy.Job{}, false
	}
	now := s.now()
	j := aiproxy.Job{
		ID: newID("job_"), OrgKey: st.org, Service: st.svc.Slug, Action: st.ep.Slug,
		StatusAction: st.ep.Job.StatusAction, ProviderJobID: id, Source: st.call.Source,
		CredentialName: st.svc.CredentialName, State: aiproxy.JobPending, ResultURLs: map[string]string{},
		CallbackID: st.callbackID, CreatedAt: now, UpdatedAt: now, NextCheckAt: now.Add(s.cfg.PollInterval),
		DeadlineAt: now.Add(s.cfg.Deadline),
	}
	if j.Source == aiproxy.SourceTenant {
		j.CredentialOrg = st.org
	}
	if st.idem != nil {
		j.IdempotencyKey = st.idem.Key
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

func (s *Service) crashPoint(name string) {
	if s.crash != nil {
		s.crash(name)
	}
}

package jobs

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// urlRefreshMargin is how long before result URLs lapse a completed job is
// read again; a day, or half the URLs' life if that is shorter.
func urlRefreshMargin(ttl time.Duration) time.Duration { return min(24*time.Hour, ttl/2) }

// preferWait reads "Prefer: wait=N" (RFC 7240), capped at a minute.
func preferWait(h string) time.Duration {
	for _, p := range strings.Split(h, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "wait="); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return time.Duration(min(n, 60)) * time.Second
			}
		}
	}
	return 0
}

// providerID returns the job id a status call carries.
func providerID(param string, env proxy.Envelope) string {
	kind, name, _ := strings.Cut(param, ".")
	if kind == "path" {
		return env.PathParams[name]
	}
	if v := env.Query[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// statusEnvelope is the envelope of a status read for a provider id.
func statusEnvelope(param, id string) proxy.Envelope {
	kind, name, _ := strings.Cut(param, ".")
	if kind == "path" {
		return proxy.Envelope{PathParams: map[string]string{name: id}}
	}
	return proxy.Envelope{Query: map[string][]string{name: {id}}}
}

// statusFor returns the answer to a status call for a job: the stored
// provider body while it is fresh (or final), else a new provider read
// shared with every concurrent caller. If the read fails and a body is
// stored, the stored body is answered. polled reports a provider call.
func (t *tracker) statusFor(ctx context.Context, j aiproxy.Job, force bool) (reply, bool, error) {
	if !force && t.servable(j, t.now()) {
		return jsonReply(j.StatusBody), false, nil
	}
	rep, err := t.refresh(ctx, j.ID, force)
	if err == nil && rep.status == http.StatusOK {
		return rep, true, nil
	}
	if cur, gerr := t.cfg.Store.Job(ctx, j.ID); gerr == nil && cur.StatusBody != nil {
		return jsonReply(cur.StatusBody), false, nil
	}
	return rep, true, err
}

// servable reports whether a job's stored status body may answer a status
// call at now without asking the provider.
func (t *tracker) servable(j aiproxy.Job, now time.Time) bool {
	if j.StatusBody == nil {
		return false
	}
	if now.Sub(j.CheckedAt) < t.cfg.FreshFor {
		return true
	}
	_, spec, ok := t.statusSpec(j)
	if !ok || !spec.States[j.ProviderStatus].Terminal() {
		return false
	}
	if j.URLsExpireAt.IsZero() {
		return true
	}
	ttl := time.Duration(spec.URLTTLSeconds) * time.Second
	return now.Before(j.URLsExpireAt.Add(-urlRefreshMargin(ttl)))
}

// refresh reads a job's status from the provider, once for every concurrent
// caller. The read is a background call, tied to no caller: the first
// caller's going away fails no one, and the read is not admitted or metered
// as that caller's own. Unless force is set, a job that became servable
// meanwhile is answered from the store.
func (t *tracker) refresh(ctx context.Context, id string, force bool) (reply, error) {
	key := id
	if force {
		key += "/force"
	}
	ch := t.flight.DoChan(key, func() (any, error) {
		bg := context.Background()
		j, err := t.cfg.Store.Job(bg, id)
		if err != nil {
			return reply{}, err
		}
		if !force && t.servable(j, t.now()) {
			return jsonReply(j.StatusBody), nil
		}
		unlock, j, done := t.lockPoll(bg, j, force)
		defer unlock()
		if done {
			return jsonReply(j.StatusBody), nil
		}
		return t.poll(bg, j)
	})
	select {
	case <-ctx.Done():
		return reply{}, proxy.ErrClientGone
	case res := <-ch:
		rep, _ := res.Val.(reply)
		return rep, res.Err
	}
}

// poll makes one status read of a job and records what it learnt.
func (t *tracker) poll(ctx context.Context, j aiproxy.Job) (reply, error) {
	_, spec, ok := t.statusSpec(j)
	if !ok {
		return reply{}, aiproxy.ErrServiceNotFound(j.Service + "/" + j.StatusAction)
	}
	svc, _ := t.cfg.Catalog.Service(j.Service)
	ep, _ := svc.Endpoint(j.StatusAction)
	a, err := t.cfg.Proxy.Fetch(proxy.WithCredentialKey(ctx, j.CredentialKeyID), j.OrgKey, svc, ep, statusEnvelope(spec.IDParam, j.ProviderJobID), j.Source)
	if err != nil {
		t.recordFailure(ctx, j, err, 0)
		return reply{}, err
	}
	rep, _ := readReply(a) // Fetch read it whole
	switch {
	case rep.status == http.StatusOK:
		return rep, t.applyStatus(ctx, j, spec, rep)
	case rep.status == http.StatusNotFound:
		t.fail(ctx, j, fmt.Sprintf("The provider no longer knows this job (HTTP 404 from %s).", j.StatusAction))
	default:
		retry, _ := strconv.Atoi(rep.header.Get("Retry-After"))
		t.recordFailure(ctx, j, fmt.Errorf("status read answered %d", rep.status), time.Duration(retry)*time.Second)
	}
	return rep, nil
}

// applyStatus records a successful status read: the body verbatim, the
// provider's status and result URLs, and a state change with its event. A
// body whose status aiproxy cannot read (such as HeyGen's HTTP 200 carrying
// an error) counts as a failed read.
func (t *tracker) applyStatus(ctx context.Context, j aiproxy.Job, spec *aiproxy.JobStatusSpec, rep reply) error {
	doc, ok := aiproxy.DecodeJSON(rep.body)
	status := aiproxy.LookupJSONString(doc, spec.StatePath)
	if !ok || status == "" {
		t.recordFailure(ctx, j, errors.New("status body has no status at "+spec.StatePath), 0)
		return nil
	}
	now := t.now()
	from := j.State
	j.StatusBody, j.ProviderStatus, j.CheckedAt, j.UpdatedAt, j.Attempts = rep.body, status, now, now, 0
	j.ResultURLs = map[string]string{}
	for name, path := range spec.ResultURLs {
		if u := aiproxy.LookupJSONString(doc, path); u != "" {
			j.ResultURLs[name] = u
		}
	}
	j.URLsExpireAt = time.Time{}
	if spec.URLTTLSeconds > 0 && len(j.ResultURLs) > 0 {
		j.URLsExpireAt = now.Add(time.Duration(spec.URLTTLSeconds) * time.Second)
	}
	if to, known := spec.States[status]; known && !from.Terminal() {
		j.State = to
		if to == aiproxy.JobFailed {
			j.Error = lookupError(doc, spec.ErrorPath)
			if j.Error == "" {
				j.Error = "The provider reported the job as " + status + "."
			}
		}
	}
	if j.State == aiproxy.JobCompleted {
		j.Details = finishedDetails(j.Details, spec, doc)
	}
	j.NextCheckAt = now.Add(t.cfg.PollInterval)
	if j.State.Terminal() {
		j.NextCheckAt = time.Time{}
		if j.CompletedAt.IsZero() {
			j.CompletedAt = now
		}
	}
	if err := t.save(ctx, j, from); err != nil && !errors.Is(err, aiproxy.ErrConflict) {
		t.log.Error("record job status", "job", j.ID, "err", err)
	}
	return nil
}

// finishedDetails adds what a completed job made, its length and its
// thumbnail, from a status answer where the catalog says; a later read
// keeps them fresh (the thumbnail's link is signed anew).
func finishedDetails(d aiproxy.JobDetails, spec *aiproxy.JobStatusSpec, doc any) aiproxy.JobDetails {
	if n, err := strconv.ParseFloat(aiproxy.LookupJSONString(doc, spec.DurationPath), 64); err == nil && n > 0 {
		d.DurationSeconds = n
	}
	if u := aiproxy.LookupJSONString(doc, spec.ThumbnailPath); u != "" {
		d.ThumbnailURL = u
	}
	return d
}

// recordFailure schedules the next read of a job after a failed one:
// exponential backoff from the poll interval, or the provider's Retry-After
// when longer, which also holds back every job on the same credential.
func (t *tracker) recordFailure(ctx context.Context, j aiproxy.Job, cause error, retryAfter time.Duration) {
	now := t.now()
	j.Attempts++
	delay := t.backoff(j.Attempts)
	if retryAfter > 0 {
		t.gate(j, now.Add(retryAfter))
		delay = max(delay, retryAfter)
	}
	t.log.Warn("job status read failed", "job", j.ID, "attempts", j.Attempts, "retry_in", delay, "err", cause)
	if j.State.Terminal() {
		return // A final job is only read again on demand.
	}
	j.NextCheckAt, j.UpdatedAt = now.Add(delay), now
	if err := t.cfg.Store.UpdateJob(ctx, j, nil); err != nil && !errors.Is(err, aiproxy.ErrConflict) {
		t.log.Error("record job backoff", "job", j.ID, "err", err)
	}
}

// backoff is the wait after n failed reads in a row, with up to 10% jitter.
func (t *tracker) backoff(n int) time.Duration {
	d := t.cfg.PollInterval << min(n-1, 20)
	d = min(d, t.cfg.MaxBackoff)
	return d + time.Duration(rand.Int64N(int64(d)/10+1))
}

// fail ends a job as failed with aiproxy's reason.
func (t *tracker) fail(ctx context.Context, j aiproxy.Job, reason string) {
	if j.State.Terminal() {
		return
	}
	now := t.now()
	from := j.State
	j.State, j.Error, j.CompletedAt, j.UpdatedAt, j.NextCheckAt = aiproxy.JobFailed, reason, now, now, time.Time{}
	if err := t.save(ctx, j, from); err != nil && !errors.Is(err, aiproxy.ErrConflict) {
		t.log.Error("fail job", "job", j.ID, "err", err)
	}
}

// credentialKey names the credential a job's reads use, for 429 gates.
func credentialKey(j aiproxy.Job) string {
	return j.Service + "/" + string(j.Source) + "/" + j.CredentialOrg + "/" + j.CredentialName
}

func (t *tracker) gate(j aiproxy.Job, until time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if until.After(t.gates[credentialKey(j)]) {
		t.gates[credentialKey(j)] = until
	}
}

// gated returns when a job's credential may be used again, if it is held
// back at now.
func (t *tracker) gated(j aiproxy.Job, now time.Time) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	until, ok := t.gates[credentialKey(j)]
	if ok && !now.Before(until) {
		delete(t.gates, credentialKey(j))
		return time.Time{}, false
	}
	return until, ok
}

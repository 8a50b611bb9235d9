package jobs

import (
	"context"
	"encoding/json"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// JobJSON is a job in the jobs API, the CLI's --json output and event
// payloads.
type JobJSON struct {
	ID  string `json:"id"`
	Org string `json:"org"`
	// User is the user of the org who started the job, or null.
	User           *string           `json:"user"`
	Service        string            `json:"service"`
	Action         string            `json:"action"`
	StatusAction   string            `json:"status_action"`
	ProviderJobID  string            `json:"provider_job_id"`
	Credential     CredentialRefJSON `json:"credential"`
	State          string            `json:"state"`
	ProviderStatus string            `json:"provider_status"`
	ResultURLs     map[string]string `json:"result_urls"`
	Error          string            `json:"error,omitempty"`
	Details        JobDetailsJSON    `json:"details"`
	CallbackID     string            `json:"callback_id,omitempty"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	CompletedAt    *time.Time        `json:"completed_at"`
	CheckedAt      *time.Time        `json:"checked_at"`
	DeadlineAt     *time.Time        `json:"deadline_at"`
	URLsExpireAt   *time.Time        `json:"urls_expire_at"`
	// Key is the aiproxy key that started the job, when the jobs API may
	// show it to the caller; events and webhooks never carry it.
	Key *JobKeyJSON `json:"key,omitempty"`
}

// JobKeyJSON names the aiproxy key behind a job: its id and, when it is a
// key of the job's org, its name.
type JobKeyJSON struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// JobDetailsJSON is what a job is about and what it made; a field is null
// when unknown.
type JobDetailsJSON struct {
	Title           *string  `json:"title"`
	Script          *string  `json:"script"`
	AvatarID        *string  `json:"avatar_id"`
	VoiceID         *string  `json:"voice_id"`
	DurationSeconds *float64 `json:"duration_seconds"`
	ThumbnailURL    *string  `json:"thumbnail_url"`
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ToJobDetailsJSON converts a job's details for output.
func ToJobDetailsJSON(d aiproxy.JobDetails) JobDetailsJSON {
	out := JobDetailsJSON{Title: optString(d.Title), Script: optString(d.Script), AvatarID: optString(d.AvatarID),
		VoiceID: optString(d.VoiceID), ThumbnailURL: optString(d.ThumbnailURL)}
	if d.DurationSeconds > 0 {
		n := d.DurationSeconds
		out.DurationSeconds = &n
	}
	return out
}

// CredentialRefJSON names the credential that started a job, never its
// value: its source, its org (empty for the platform's) and its name.
type CredentialRefJSON struct {
	Source string `json:"source"`
	Org    string `json:"org"`
	Name   string `json:"name"`
}

// EventJSON is a job event as the event stream and webhooks send it.
type EventJSON struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Org       string    `json:"org"`
	Job       JobJSON   `json:"job"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ToJobJSON converts a job for output.
func ToJobJSON(j aiproxy.Job) JobJSON {
	urls := j.ResultURLs
	if urls == nil {
		urls = map[string]string{}
	}
	var user *string
	if j.User != "" {
		u := j.User
		user = &u
	}
	return JobJSON{
		ID: j.ID, Org: j.OrgKey, User: user, Service: j.Service, Action: j.Action, StatusAction: j.StatusAction,
		ProviderJobID: j.ProviderJobID,
		Credential:    CredentialRefJSON{Source: string(j.Source), Org: j.CredentialOrg, Name: j.CredentialName},
		State:         string(j.State), ProviderStatus: j.ProviderStatus, ResultURLs: urls, Error: j.Error,
		Details: ToJobDetailsJSON(j.Details), CallbackID: j.CallbackID, IdempotencyKey: j.IdempotencyKey, CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt,
		CompletedAt: optTime(j.CompletedAt), CheckedAt: optTime(j.CheckedAt), DeadlineAt: optTime(j.DeadlineAt),
		URLsExpireAt: optTime(j.URLsExpireAt),
	}
}

// JobEvents returns the events of an org's job, oldest first (at most
// limit, 0 meaning 50); another org's job is not found.
func (s *Service) JobEvents(ctx context.Context, org, id string, limit int) ([]aiproxy.JobEvent, error) {
	if _, err := s.Job(ctx, org, id); err != nil {
		return nil, err
	}
	return s.cfg.Store.EventsOfJob(ctx, id, limit)
}

// newEvent builds the event of a job's change; its data is the job as it is
// after the change.
func newEvent(j aiproxy.Job, typ string, at time.Time) aiproxy.JobEvent {
	ev := aiproxy.JobEvent{ID: aiproxy.NewID("evt_"), OrgKey: j.OrgKey, JobID: j.ID, Type: typ, CreatedAt: at}
	ev.Data, _ = json.Marshal(EventJSON{ID: ev.ID, Type: typ, CreatedAt: at, Org: j.OrgKey, Job: ToJobJSON(j)})
	return ev
}

// eventFor returns the type of event a move from one state to another is.
func eventFor(from, to aiproxy.JobState) string {
	switch {
	case from == to:
		return ""
	case to == aiproxy.JobCompleted:
		return aiproxy.EventJobCompleted
	case to == aiproxy.JobFailed:
		return aiproxy.EventJobFailed
	}
	return aiproxy.EventJobUpdated
}

// save stores a job's update, with an event when its state changed, and
// wakes waiters. It returns aiproxy.ErrConflict when another writer got
// there first.
func (t *tracker) save(ctx context.Context, j aiproxy.Job, from aiproxy.JobState) error {
	var ev *aiproxy.JobEvent
	if typ := eventFor(from, j.State); typ != "" {
		e := newEvent(j, typ, j.UpdatedAt)
		ev = &e
	}
	if err := t.cfg.Store.UpdateJob(ctx, j, ev); err != nil {
		return err
	}
	if ev != nil {
		t.hub.publish(j.OrgKey)
		t.cfg.OnEvent()
	}
	if t.cfg.OnEnd != nil && j.State.Terminal() && !from.Terminal() {
		t.cfg.OnEnd(context.WithoutCancel(ctx), j)
	}
	return nil
}

package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The states of a job.
const (
	JobPending    = "pending"
	JobProcessing = "processing"
	JobCompleted  = "completed"
	JobFailed     = "failed"
)

// Job is an async provider job that aiproxy tracks, such as a HeyGen
// render: the record of the call that started it, kept fresh by aiproxy.
type Job struct {
	ID  string `json:"id"`
	Org string `json:"org"`
	// User is the user of the org the job was started for, or "" (null in
	// the API) for the org itself.
	User string `json:"user"`
	// Service and Action started the job; StatusAction reads its status.
	Service      string `json:"service"`
	Action       string `json:"action"`
	StatusAction string `json:"status_action"`
	// ProviderJobID is the provider's id, such as HeyGen's video_id.
	ProviderJobID string `json:"provider_job_id"`
	// Credential names the credential that started the job, never its
	// value.
	Credential JobCredential `json:"credential"`
	// Key is the aiproxy key that started the job (its id, and its name
	// when it is one of the org's keys), present only when the jobs API may
	// show it to the caller: an admin sees every job's, others their own.
	Key *JobKey `json:"key,omitempty"`
	// State is one of the Job* constants; ProviderStatus is the
	// provider's own word for it.
	State          string `json:"state"`
	ProviderStatus string `json:"provider_status"`
	// ResultURLs are the finished job's results, such as "video_url";
	// they expire at URLsExpireAt.
	ResultURLs     map[string]string `json:"result_urls"`
	Error          string            `json:"error,omitempty"`
	CallbackID     string            `json:"callback_id,omitempty"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	// Details is what the job is about and, once it completed, what it
	// made.
	Details      JobDetails `json:"details"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	CompletedAt  *time.Time `json:"completed_at"`
	CheckedAt    *time.Time `json:"checked_at"`
	DeadlineAt   *time.Time `json:"deadline_at"`
	URLsExpireAt *time.Time `json:"urls_expire_at"`
}

// JobDetails is what a job is about, read from the request that started
// it, and what it made, read from its final status; "" and 0 are unknown
// (null in the API).
type JobDetails struct {
	Title string `json:"title"`
	// Script is the first 500 characters of the script.
	Script   string `json:"script"`
	AvatarID string `json:"avatar_id"`
	VoiceID  string `json:"voice_id"`
	// DurationSeconds and ThumbnailURL are known once the job completed.
	DurationSeconds float64 `json:"duration_seconds"`
	ThumbnailURL    string  `json:"thumbnail_url"`
}

// Done reports whether the job has ended, completed or failed.
func (j *Job) Done() bool { return j.State == JobCompleted || j.State == JobFailed }

// JobCredential names the credential a job was started with: its source
// ("tenant" or "platform"), its org ("" for the platform's) and its name.
type JobCredential struct {
	Source string `json:"source"`
	Org    string `json:"org"`
	Name   string `json:"name"`
}

// JobFilter narrows a page of jobs. Every field is optional.
type JobFilter struct {
	// State is one of the Job* constants.
	State   string
	Service string
	Action  string
	// User keeps the jobs started for one user of the org. A member (a
	// user token) always gets its own jobs only, whatever User says.
	User string
	// Limit is the page size, 1 to 200; 0 means the server's, 50.
	Limit int
	// Cursor is a JobPage's NextCursor, for the next (older) page.
	Cursor string
}

// JobPage is one page of jobs, newest first.
type JobPage struct {
	Jobs []Job `json:"jobs"`
	// NextCursor, when not "", is the Cursor of the next page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// Jobs lists one page of the org's jobs, newest first. Any key of the org
// may; a key limited to some services sees only their jobs, and a member
// only its own.
func (c *Client) Jobs(ctx context.Context, f JobFilter) (JobPage, error) {
	q := url.Values{}
	for name, v := range map[string]string{"state": f.State, "service": f.Service, "action": f.Action,
		"user": f.User, "cursor": f.Cursor} {
		if v != "" {
			q.Set(name, v)
		}
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out JobPage
	if err := c.getJSON(ctx, withQuery(c.orgURL("jobs"), q), &out); err != nil {
		return JobPage{}, err
	}
	if out.Jobs == nil {
		out.Jobs = []Job{}
	}
	return out, nil
}

// Job returns one of the org's jobs by its id (job_…). Another org's job,
// and for a member another user's, is ErrNotFound.
func (c *Client) Job(ctx context.Context, id string) (Job, error) {
	var out Job
	return out, c.getJSON(ctx, c.orgURL("jobs", id), &out)
}

// JobWait is how long WaitJob waits, and for what.
type JobWait struct {
	// Wait is the longest the server holds the answer, rounded up to
	// whole seconds; the server caps it at 60s.
	Wait time.Duration
	// Since is the state to wait to leave; "" means the job's state when
	// the server reads it.
	Since string
}

// WaitJob returns one of the org's jobs once its state differs from
// w.Since, or it has ended, or w.Wait has passed, whichever comes first:
// a long poll, in place of reading Job again and again.
func (c *Client) WaitJob(ctx context.Context, id string, w JobWait) (Job, error) {
	if w.Wait < 0 {
		return Job{}, fmt.Errorf("wait job: negative wait %v", w.Wait)
	}
	q := url.Values{"wait": {strconv.FormatInt(int64((w.Wait+time.Second-1)/time.Second), 10)}}
	if w.Since != "" {
		q.Set("state", w.Since)
	}
	var out Job
	return out, c.getJSON(ctx, withQuery(c.orgURL("jobs", id), q), &out)
}

// The event types of an org's webhooks.
const (
	EventJobCreated   = "job.created"
	EventJobUpdated   = "job.updated"
	EventJobCompleted = "job.completed"
	EventJobFailed    = "job.failed"
)

// WebhookEndpoint is a URL to which aiproxy posts the org's job events,
// signed with the endpoint's secret.
type WebhookEndpoint struct {
	ID        string    `json:"id"`
	Org       string    `json:"org"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"created_at"`
	// Secret signs the deliveries (Standard Webhooks, "whsec_…"). It is
	// set only in the answer of AddWebhook: keep it then.
	Secret string `json:"secret,omitempty"`
}

// AddWebhook registers an endpoint for the org's job events: events are
// Event* constants, and none means job.completed and job.failed. Only an
// org's admin key may. The answer's Secret is shown this once.
func (c *Client) AddWebhook(ctx context.Context, endpointURL string, events []string) (WebhookEndpoint, error) {
	data, err := json.Marshal(struct {
		URL    string   `json:"url"`
		Events []string `json:"events,omitempty"`
	}{endpointURL, events})
	if err != nil {
		return WebhookEndpoint{}, fmt.Errorf("encode webhook: %w", err)
	}
	var out WebhookEndpoint
	return out, c.sendJSON(ctx, http.MethodPost, c.orgURL("webhooks"), data, &out)
}

// Webhooks lists the org's webhook endpoints, without their secrets. Only
// an org's admin key may.
func (c *Client) Webhooks(ctx context.Context) ([]WebhookEndpoint, error) {
	var out []WebhookEndpoint
	return out, c.getJSON(ctx, c.orgURL("webhooks"), &out)
}

// DeleteWebhook removes an endpoint and its pending deliveries. Only an
// org's admin key may.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	req, err := c.newRequest(ctx, http.MethodDelete, c.orgURL("webhooks", id), nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	return resp.Close()
}

// WebhookDelivery is one event's delivery to one endpoint, with how its
// attempts went.
type WebhookDelivery struct {
	ID         string `json:"id"`
	EventID    string `json:"event_id"`
	EventType  string `json:"event_type"`
	EndpointID string `json:"endpoint_id"`
	// State is "pending", "delivered" or "failed" (given up).
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	// LastStatus is the endpoint's last HTTP status, 0 when none came;
	// LastError says why the last attempt failed.
	LastStatus    int        `json:"last_status"`
	LastError     string     `json:"last_error,omitempty"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	CreatedAt     time.Time  `json:"created_at"`
	DeliveredAt   *time.Time `json:"delivered_at"`
}

// DeliveryFilter narrows a page of the delivery log. Every field is
// optional.
type DeliveryFilter struct {
	EndpointID string
	EventID    string
	// Limit is the page size, 1 to 200; 0 means the server's, 50.
	Limit int
	// Cursor is a DeliveryPage's NextCursor, for the next (older) page.
	Cursor string
}

// DeliveryPage is one page of the delivery log, newest first.
type DeliveryPage struct {
	Deliveries []WebhookDelivery `json:"deliveries"`
	// NextCursor, when not "", is the Cursor of the next page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// WebhookDeliveries reads one page of the org's delivery log, newest
// first. Only an org's admin key may.
func (c *Client) WebhookDeliveries(ctx context.Context, f DeliveryFilter) (DeliveryPage, error) {
	q := url.Values{}
	for name, v := range map[string]string{"endpoint_id": f.EndpointID, "event_id": f.EventID, "cursor": f.Cursor} {
		if v != "" {
			q.Set(name, v)
		}
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out DeliveryPage
	if err := c.getJSON(ctx, withQuery(c.orgURL("webhook-deliveries"), q), &out); err != nil {
		return DeliveryPage{}, err
	}
	if out.Deliveries == nil {
		out.Deliveries = []WebhookDelivery{}
	}
	return out, nil
}

// withQuery adds a query string to a URL that has none.
func withQuery(u string, q url.Values) string {
	if len(q) == 0 {
		return u
	}
	return u + "?" + q.Encode()
}

// JobKey names the aiproxy key behind a job, never its secret.
type JobKey struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

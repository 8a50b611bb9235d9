package aiproxy

import (
	"context"
	"time"
)

// JobState is where an asynchronous provider job stands, in aiproxy's own
// vocabulary; the catalog maps each provider's status strings onto it.
type JobState string

// The job states. Pending and processing are live; completed and failed are
// terminal.
const (
	JobPending    JobState = "pending"
	JobProcessing JobState = "processing"
	JobCompleted  JobState = "completed"
	JobFailed     JobState = "failed"
)

// ValidJobState reports whether s is a known job state.
func ValidJobState(s JobState) bool {
	return s == JobPending || s == JobProcessing || s == JobCompleted || s == JobFailed
}

// Terminal reports whether a job in state s will not change any more.
func (s JobState) Terminal() bool { return s == JobCompleted || s == JobFailed }

// JobSpec is the catalog's description of an endpoint that starts a job: the
// endpoint that reads its status and where the provider's answer holds the
// job id.
type JobSpec struct {
	// StatusAction is the slug of the service's endpoint that reads the
	// job's status; it carries a JobStatusSpec.
	StatusAction string
	// IDPath is the dotted JSON path of the provider's job id in the start
	// response, for example "data.video_id".
	IDPath string
	// CallbackURLField, when set, is the top-level body field where aiproxy
	// puts its own webhook URL if a public base URL is configured.
	CallbackURLField string
	// ForwardIdempotencyKey says that the provider honours an
	// Idempotency-Key header itself (HeyGen v3): aiproxy then sends the
	// client's key on, scoped to the org, besides honouring it.
	ForwardIdempotencyKey bool
	// Details says where the start request's body holds what the job is
	// about (its title, script, avatar and voice), as "body." paths; nil
	// records no details.
	Details *JobDetailsSpec
}

// JobDetailsSpec maps each job detail to the paths of the start request
// that hold it: "body.a.b", with "*" for every item of an array
// ("body.video_inputs.*.voice.voice_id"). The first path with a value
// wins; the script joins every value its first path with values finds.
type JobDetailsSpec struct {
	Title    []string
	Script   []string
	AvatarID []string
	VoiceID  []string
}

// JobDetailsScriptMax is how many characters of a job's script aiproxy
// keeps.
const JobDetailsScriptMax = 500

// JobDetails is what a job is about, read from its start request by the
// catalog's JobDetailsSpec, and what it made, read from its final status.
// It never holds a credential. Empty fields are unknown.
type JobDetails struct {
	Title string
	// Script is the first JobDetailsScriptMax characters of the script.
	Script   string
	AvatarID string
	VoiceID  string
	// DurationSeconds is the finished video's length, 0 when unknown.
	DurationSeconds float64
	// ThumbnailURL is the finished video's thumbnail, from its status.
	ThumbnailURL string
}

// JobStatusSpec is the catalog's description of an endpoint that reads job
// status: where the call carries the job id and how the answer is read.
type JobStatusSpec struct {
	// IDParam is where the status call carries the provider's job id:
	// "query.NAME" or "path.NAME".
	IDParam string
	// StatePath is the dotted JSON path of the provider's status string.
	StatePath string
	// States maps provider status strings to job states. A status it does
	// not list leaves the job as it is.
	States map[string]JobState
	// ResultURLs maps a result name (such as "video_url") to its JSON path.
	ResultURLs map[string]string
	// ErrorPath is the dotted JSON path of the provider's failure detail.
	ErrorPath string
	// URLTTLSeconds, when positive, is how long result URLs stay valid after
	// a status read; a completed job is read again before they lapse.
	URLTTLSeconds int
	// DurationPath is the dotted JSON path of the finished job's length in
	// seconds, for its details; "" when the provider gives none.
	DurationPath string
	// ThumbnailPath is the dotted JSON path of the finished job's
	// thumbnail URL, for its details.
	ThumbnailPath string
}

// JobWebhookSpec is the catalog's description of the job webhooks a provider
// sends: how they are signed and where they name the job.
type JobWebhookSpec struct {
	// SignatureHeaders are the headers that may carry the lowercase hex
	// HMAC-SHA256 of the raw body, first match wins.
	SignatureHeaders []string
	// EventIDHeader names the header with the provider's event id; empty
	// means the body's hash stands in for it.
	EventIDHeader string
	// TimestampHeader names a header with the dispatch time in unix seconds;
	// when present it must be within five minutes of aiproxy's clock.
	TimestampHeader string
	// EventTypePath is the dotted JSON path of the event type.
	EventTypePath string
	// IDPath is the dotted JSON path of the provider's job id.
	IDPath string
	// Events maps the event types that concern jobs to the state they
	// announce; other event types are acknowledged and ignored.
	Events map[string]JobState
}

// Job is one asynchronous provider job that aiproxy started and tracks.
type Job struct {
	// ID is aiproxy's id for the job, "job_" and 24 hex digits.
	ID     string
	OrgKey string
	// User is the user within the org who started the job, or "".
	User string
	// KeyID is the aiproxy key behind the call that started it, or "".
	KeyID string
	// RunSlotID, on a job being created, is the running-job slot its start
	// held (JobSlotStore): CreateJob frees it in the same transaction that
	// records the job, so that a running-job cap never counts the start
	// twice. It is not stored.
	RunSlotID string
	// Service and Action are the catalog endpoint that started the job;
	// StatusAction is the one that reads its status.
	Service, Action, StatusAction string
	// ProviderJobID is the provider's id, such as HeyGen's video_id.
	ProviderJobID string
	// Source, CredentialOrg and CredentialName identify the credential that
	// started the job: every later provider call for it uses the same one.
	// CredentialOrg is empty for a platform credential.
	Source         Source
	CredentialOrg  string
	CredentialName string
	// CredentialKeyID is the key of the credential's pool that started the
	// job ("" for a credential of one key): status reads use that key, the
	// one provider account that knows the job.
	CredentialKeyID string

	State JobState
	// ProviderStatus is the provider's own status string at the last read.
	ProviderStatus string
	// ResultURLs holds the result links of the last read, by name.
	ResultURLs map[string]string
	// Error says why the job failed: the provider's detail, or aiproxy's
	// reason when it gave up.
	Error string
	// StatusBody is the provider's last status response body, verbatim.
	StatusBody []byte
	// CallbackID is the client's callback_id, if its request carried one.
	CallbackID string
	// IdempotencyKey is the Idempotency-Key of the request that started it.
	IdempotencyKey string
	// Details is what the job is about, for finding it again.
	Details JobDetails

	CreatedAt   time.Time
	UpdatedAt   time.Time
	CompletedAt time.Time
	// CheckedAt is the time of the last successful status read.
	CheckedAt time.Time
	// NextCheckAt is when the tracker should next read the status; zero for
	// a job it no longer tracks.
	NextCheckAt time.Time
	// DeadlineAt is when an unfinished job is failed.
	DeadlineAt time.Time
	// URLsExpireAt is when the result URLs of the last read lapse; zero
	// when they do not.
	URLsExpireAt time.Time
	// Attempts counts status reads that failed in a row, for backoff.
	Attempts int
	// Version increases with every update, for optimistic concurrency.
	Version int64
}

// JobFilter selects an org's jobs, newest first.
type JobFilter struct {
	OrgKey string
	// User, when set, selects only the jobs that user of the org started.
	User    string
	State   JobState
	Service string
	Action  string
	// Query, when set, selects jobs whose title or script contains it,
	// ignoring case; stores scan the org's other matches for it.
	Query string
	// AvatarID, when set, selects jobs made with that avatar.
	AvatarID string
	// From (inclusive) and To (exclusive), when set, bound CreatedAt.
	From, To time.Time
	// Limit caps the answer; 0 means 50.
	Limit int
	// Before, when set, returns only jobs older than this position (from a
	// previous page's last job): created earlier, or at the same time with a
	// smaller id.
	Before *JobCursor
}

// JobCursor is a position in the newest-first order of jobs.
type JobCursor struct {
	CreatedAt time.Time
	ID        string
}

// The types of job events.
const (
	EventJobCreated   = "job.created"
	EventJobUpdated   = "job.updated"
	EventJobCompleted = "job.completed"
	EventJobFailed    = "job.failed"
)

// JobEvent is one change of a job, kept durably: the server-sent event
// stream replays them and the outbox delivers them to webhook endpoints.
type JobEvent struct {
	// Seq orders every event of the store; the store assigns it.
	Seq int64
	// ID is the stable event id, "evt_" and 24 hex digits, that receivers
	// deduplicate on.
	ID     string
	OrgKey string
	JobID  string
	Type   string
	// Data is the event's JSON body, sent as is.
	Data      []byte
	CreatedAt time.Time
}

// WebhookEndpoint is a URL an org registered to receive job events.
type WebhookEndpoint struct {
	ID     string
	OrgKey string
	URL    string
	// Sealed is the signing secret sealed by the vault; the plaintext is
	// shown once, when the endpoint is created.
	Sealed []byte
	// Events are the event types sent to it.
	Events    []string
	CreatedAt time.Time
}

// AAD binds a sealed webhook secret to its endpoint.
func (e WebhookEndpoint) AAD() []byte { return []byte("webhook/" + e.OrgKey + "/" + e.ID) }

// The states of a webhook delivery.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// WebhookDelivery is one event on its way to one endpoint, and its log.
type WebhookDelivery struct {
	ID         string
	OrgKey     string
	EventID    string
	EventType  string
	EndpointID string
	State      string
	Attempts   int
	// LastStatus is the HTTP status of the last attempt, 0 if none came.
	LastStatus int
	// LastError says why the last attempt failed.
	LastError     string
	NextAttemptAt time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	DeliveredAt   time.Time
}

// DeliveryFilter selects an org's deliveries, newest first.
type DeliveryFilter struct {
	OrgKey     string
	EndpointID string
	EventID    string
	// Limit caps the answer; 0 means 50.
	Limit int
	// BeforeID, when set, returns deliveries created before this one.
	BeforeID string
}

// The states of an idempotency record.
const (
	IdempotencyStarted = "started"
	IdempotencyDone    = "done"
)

// IdempotencyRecord remembers a job-starting request made with an
// Idempotency-Key and, once it is known, the answer it got.
type IdempotencyRecord struct {
	OrgKey string
	Key    string
	// Fingerprint is a hash of the service, action and request envelope.
	Fingerprint string
	State       string
	// Status, ContentType and Body are the answer, once State is done.
	Status      int
	ContentType string
	Body        []byte
	// JobID is the job the answer started, if any.
	JobID     string
	CreatedAt time.Time
	// LockedUntil is when a started record's claim lapses.
	LockedUntil time.Time
	// ExpiresAt is when the record is forgotten.
	ExpiresAt time.Time
}

// JobTotals adds up an org's jobs, for a period's summary: how many were
// started, how many completed and failed, and the video time the completed
// ones made (the sum of their DurationSeconds; a job whose length is
// unknown adds none).
type JobTotals struct {
	Jobs, Completed, Failed int64
	Seconds                 float64
}

// JobStore keeps jobs and their events. Creating or updating a job with an
// event also queues that event for every webhook endpoint of the job's org
// that subscribes to its type, in the same transaction.
type JobStore interface {
	// CreateJob stores a new job with its creation event, and completes
	// done (an idempotency record) in the same transaction when it is not
	// nil. A second job with the same service and provider id is
	// ErrConflict.
	CreateJob(ctx context.Context, j Job, ev JobEvent, done *IdempotencyRecord) error
	// Job returns one job by aiproxy id, or ErrNotFound.
	Job(ctx context.Context, id string) (Job, error)
	// JobByProviderID returns the job of a service with a provider id, or
	// ErrNotFound.
	JobByProviderID(ctx context.Context, service, providerID string) (Job, error)
	// Jobs lists an org's jobs, newest first.
	Jobs(ctx context.Context, f JobFilter) ([]Job, error)
	// JobTotals adds up the jobs Jobs would list for f without its Limit
	// and Before: every page at once.
	JobTotals(ctx context.Context, f JobFilter) (JobTotals, error)
	// UpdateJob stores j if the stored version is still j.Version, and
	// increments the version; otherwise it returns ErrConflict. A non-nil
	// ev is stored (and queued) with it.
	UpdateJob(ctx context.Context, j Job, ev *JobEvent) error
	// DueJobs returns up to limit unfinished jobs whose NextCheckAt is not
	// after now, soonest first.
	DueJobs(ctx context.Context, now time.Time, limit int) ([]Job, error)
	// ClaimDueJobs leases up to limit of the jobs DueJobs would return to
	// owner until until, skipping jobs another owner's unexpired lease
	// holds, and returns them soonest first. Replicas that claim at once
	// get disjoint jobs; a lease ends with the job's next UpdateJob, or
	// when it expires (its holder died), and the job can be claimed again.
	ClaimDueJobs(ctx context.Context, owner string, now, until time.Time, limit int) ([]Job, error)
	// JobEvents returns an org's events with a Seq above after, oldest
	// first; an empty org means every org.
	JobEvents(ctx context.Context, org string, after int64, limit int) ([]JobEvent, error)
	// EventsOfJob returns one job's events, oldest first, at most limit
	// (0 means 50).
	EventsOfJob(ctx context.Context, jobID string, limit int) ([]JobEvent, error)
}

// WebhookStore keeps webhook endpoints, the delivery outbox and its log,
// and the provider webhooks already seen.
type WebhookStore interface {
	// CreateWebhookEndpoint stores an endpoint; its org must exist.
	CreateWebhookEndpoint(ctx context.Context, e WebhookEndpoint) error
	// WebhookEndpoint returns one endpoint of an org, or ErrNotFound.
	WebhookEndpoint(ctx context.Context, org, id string) (WebhookEndpoint, error)
	// WebhookEndpoints lists an org's endpoints, oldest first.
	WebhookEndpoints(ctx context.Context, org string) ([]WebhookEndpoint, error)
	// DeleteWebhookEndpoint removes an org's endpoint and its pending
	// deliveries, or returns ErrNotFound.
	DeleteWebhookEndpoint(ctx context.Context, org, id string) error
	// JobEvent returns one event by id, or ErrNotFound.
	JobEvent(ctx context.Context, id string) (JobEvent, error)
	// DueDeliveries returns up to limit pending deliveries whose
	// NextAttemptAt is not after now, soonest first.
	DueDeliveries(ctx context.Context, now time.Time, limit int) ([]WebhookDelivery, error)
	// ClaimDueDeliveries leases up to limit of the deliveries DueDeliveries
	// would return to owner until until, as ClaimDueJobs does for jobs; a
	// lease ends with the delivery's next UpdateDelivery.
	ClaimDueDeliveries(ctx context.Context, owner string, now, until time.Time, limit int) ([]WebhookDelivery, error)
	// UpdateDelivery records an attempt's outcome: state, attempts, last
	// status and error, next attempt and delivery time.
	UpdateDelivery(ctx context.Context, d WebhookDelivery) error
	// Deliveries lists an org's deliveries, newest first.
	Deliveries(ctx context.Context, f DeliveryFilter) ([]WebhookDelivery, error)
	// RecordProviderWebhook remembers a provider's event id and reports
	// whether it was new.
	RecordProviderWebhook(ctx context.Context, service, eventID string, at time.Time) (bool, error)
}

// IdempotencyStore keeps idempotency records.
type IdempotencyStore interface {
	// ClaimIdempotency stores rec as started unless a live record with its
	// org and key exists (one whose ExpiresAt is after now). It returns the
	// record that holds the key and whether rec claimed it. A started
	// record whose LockedUntil has passed is not taken over: its outcome is
	// unknown.
	ClaimIdempotency(ctx context.Context, rec IdempotencyRecord, now time.Time) (IdempotencyRecord, bool, error)
	// CompleteIdempotency stores the answer of a claimed record and marks
	// it done.
	CompleteIdempotency(ctx context.Context, rec IdempotencyRecord) error
	// ReleaseIdempotency forgets a started record, so that the key can be
	// used again; a done record is kept.
	ReleaseIdempotency(ctx context.Context, org, key string) error
}

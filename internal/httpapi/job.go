package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/jobs"
)

// JobReader reads an org's jobs and their events.
type JobReader interface {
	Jobs(ctx context.Context, f aiproxy.JobFilter) ([]aiproxy.Job, error)
	Job(ctx context.Context, org, id string) (aiproxy.Job, error)
	WaitJob(ctx context.Context, org, id string, since aiproxy.JobState, wait time.Duration) (aiproxy.Job, error)
	Events(ctx context.Context, org string, after int64, limit int) ([]aiproxy.JobEvent, error)
	Subscribe(org string) (<-chan struct{}, func())
}

// WebhookAdmin manages an org's webhook endpoints and reads their delivery
// log.
type WebhookAdmin interface {
	CreateWebhook(ctx context.Context, org, url string, events []string) (aiproxy.WebhookEndpoint, string, error)
	Webhooks(ctx context.Context, org string) ([]aiproxy.WebhookEndpoint, error)
	DeleteWebhook(ctx context.Context, org, id string) error
	Deliveries(ctx context.Context, f aiproxy.DeliveryFilter) ([]aiproxy.WebhookDelivery, error)
}

// WebhookReceiver accepts providers' job webhooks.
type WebhookReceiver interface {
	ReceiveWebhook(ctx context.Context, service string, h http.Header, body []byte) error
}

// maxListLimit caps a page of jobs or deliveries.
const maxListLimit = 200

// maxWait caps a long poll.
const maxWait = 60 * time.Second

// sseHeartbeat is how often an idle event stream sends a comment line, so
// that proxies in between keep it open.
const sseHeartbeat = 15 * time.Second

// sseRecheck is how often an event stream reads the store without a wake-up.
const sseRecheck = 2 * time.Second

// jobRoutes registers the jobs API, the org's webhook endpoints and the
// provider webhook receiver.
func (s *server) jobRoutes() {
	s.route("/orgs/{org}/jobs", s.orgAccess(s.listJobs), http.MethodGet)
	s.route("/orgs/{org}/jobs/events", s.orgMedia(s.jobEvents), http.MethodGet)
	s.route("/orgs/{org}/jobs/totals", s.orgAccess(s.jobTotals), http.MethodGet)
	s.route("/orgs/{org}/jobs/{id}", s.orgAccess(s.getJob), http.MethodGet)
	s.route("/orgs/{org}/jobs/{id}/events", s.orgAccess(s.getJobEvents), http.MethodGet)
	s.route("/orgs/{org}/webhooks", s.orgAdmin(s.orgWebhooks), http.MethodGet, http.MethodPost)
	s.route("/orgs/{org}/webhooks/{id}", s.orgAdmin(s.deleteWebhook), http.MethodDelete)
	s.route("/orgs/{org}/webhook-deliveries", s.orgAdmin(s.webhookDeliveries), http.MethodGet)
	s.route("/webhooks/{service}", s.providerWebhook, http.MethodPost)
}

func errNoJobs() error { return aiproxy.Errorf(aiproxy.CodeNotFound, "Not found.") }

// JobListJSON is a page of jobs.
type JobListJSON struct {
	Jobs []jobs.JobJSON `json:"jobs"`
	// NextCursor, when set, fetches the next (older) page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// listJobs answers GET /orgs/{org}/jobs?state=&service=&action=&user=&q=
// &avatar=&from=&to=&limit=&cursor=: q finds a text in titles and scripts
// (ignoring case), avatar the jobs made with an avatar, and from and to
// bound the creation time (RFC 3339, or a day YYYY-MM-DD in UTC, to
// including the whole day).
func (s *server) listJobs(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Jobs == nil {
		return errNoJobs()
	}
	q := r.URL.Query()
	limit, err := queryLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	if err := checkQueryText(q, "state", "service", "action", "user", "q", "avatar"); err != nil {
		return err
	}
	from, to, err := queryRange(q)
	if err != nil {
		return err
	}
	state := aiproxy.JobState(q.Get("state"))
	if state != "" && !aiproxy.ValidJobState(state) {
		return aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid state %q: use pending, processing, completed or failed.", state)
	}
	f := aiproxy.JobFilter{OrgKey: r.PathValue("org"), State: state,
		Service: q.Get("service"), Action: q.Get("action"), User: q.Get("user"), Limit: limit + 1,
		Query: strings.TrimSpace(q.Get("q")), AvatarID: q.Get("avatar"), From: from, To: to}
	p := principal(r)
	if p.Member() {
		f.User = p.User // a member lists only its own jobs, whatever it asks for
	}
	if f.Service != "" && !p.CanUseService(f.Service) {
		return errForbidden()
	}
	if f.Service == "" && len(p.Services) == 1 {
		f.Service = p.Services[0]
	}
	if c := q.Get("cursor"); c != "" {
		cur, ok := decodeJobCursor(c)
		if !ok {
			return aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid cursor.")
		}
		f.Before = &cur
	}
	list, next, err := s.jobsPage(r.Context(), p, f, limit)
	if err != nil {
		return err
	}
	out := JobListJSON{Jobs: []jobs.JobJSON{}}
	if next != nil {
		out.NextCursor = encodeJobCursor(*next)
	}
	names := map[string]*jobs.JobKeyJSON{}
	for _, j := range list {
		jj := jobs.ToJobJSON(j)
		jj.Key = s.jobKey(r.Context(), p, f.OrgKey, j, names)
		out.Jobs = append(out.Jobs, jj)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// jobKey names the aiproxy key that started a job, for the jobs API: an
// admin of the org (or of the platform) sees every job's key, anyone else
// only their own key (a member's is the key that minted its token). The
// name is the key's when it is a key of the org; a platform key's or a
// deleted key's job shows its id alone. names caches the lookups of one
// answer, so a page reads each key once.
func (s *server) jobKey(ctx context.Context, p aiproxy.Principal, org string, j aiproxy.Job, names map[string]*jobs.JobKeyJSON) *jobs.JobKeyJSON {
	if j.KeyID == "" || (!p.CanAdminOrg(org) && j.KeyID != p.KeyID) {
		return nil
	}
	if k, ok := names[j.KeyID]; ok {
		return k
	}
	out := &jobs.JobKeyJSON{ID: j.KeyID}
	if s.cfg.Keys != nil {
		if k, err := s.cfg.Keys.Key(ctx, j.KeyID); err == nil && k.OrgKey == org {
			out.Name = k.Name
		}
	}
	if names != nil {
		names[j.KeyID] = out
	}
	return out
}

// jobTotaler is a JobReader that also adds up jobs (jobs.Service).
type jobTotaler interface {
	JobTotals(ctx context.Context, f aiproxy.JobFilter) (aiproxy.JobTotals, error)
}

// jobTotals answers GET /orgs/{org}/jobs/totals?service=&action=&user=
// &from=&to=: how many jobs were started in the period, how many of them
// completed and failed, and the seconds of video the completed ones made,
// under the access rules of the job list (a member counts only its own
// jobs; a key limited to some services must name one of them, unless it
// has only one).
func (s *server) jobTotals(w http.ResponseWriter, r *http.Request) error {
	jt, ok := s.cfg.Jobs.(jobTotaler)
	if !ok {
		return errNoJobs()
	}
	q := r.URL.Query()
	if err := checkQueryText(q, "service", "action", "user"); err != nil {
		return err
	}
	from, to, err := queryRange(q)
	if err != nil {
		return err
	}
	f := aiproxy.JobFilter{OrgKey: r.PathValue("org"), Service: q.Get("service"), Action: q.Get("action"),
		User: q.Get("user"), From: from, To: to}
	p := principal(r)
	if p.Member() {
		f.User = p.User
	}
	if f.Service == "" && len(p.Services) == 1 {
		f.Service = p.Services[0]
	}
	if (f.Service == "" && len(p.Services) > 0) || (f.Service != "" && !p.CanUseService(f.Service)) {
		return errForbidden()
	}
	t, err := jt.JobTotals(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, jobs.ToTotalsJSON(t))
	return nil
}

// maxScanPages bounds how many pages of the store a listing for a key
// limited to some services reads to fill one page of its own.
const maxScanPages = 10

// jobsPage reads up to limit jobs that the principal's services cover,
// and the cursor of the next page, if any. The store's pages are read and
// filtered until the page is full or the store has no more; after
// maxScanPages the page is answered short, with a cursor where the reading
// stopped, so that a key limited to a rarely used service never makes one
// request read the whole org.
func (s *server) jobsPage(ctx context.Context, p aiproxy.Principal, f aiproxy.JobFilter, limit int) ([]aiproxy.Job, *aiproxy.JobCursor, error) {
	var out []aiproxy.Job
	for range maxScanPages {
		list, err := s.cfg.Jobs.Jobs(ctx, f)
		if err != nil {
			return nil, nil, err
		}
		for _, j := range list {
			if !p.CanUseService(j.Service) {
				continue
			}
			if len(out) == limit {
				last := out[limit-1]
				return out, &aiproxy.JobCursor{CreatedAt: last.CreatedAt, ID: last.ID}, nil
			}
			out = append(out, j)
		}
		if len(list) < f.Limit {
			return out, nil, nil
		}
		last := list[len(list)-1]
		f.Before = &aiproxy.JobCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	return out, f.Before, nil
}

// queryRange reads the from and to parameters of a listing: an instant
// (RFC 3339) or a UTC day (YYYY-MM-DD); a day's to includes the whole day.
func queryRange(q url.Values) (from, to time.Time, err error) {
	if from, err = queryInstant(q.Get("from"), "from", false); err != nil {
		return
	}
	if to, err = queryInstant(q.Get("to"), "to", true); err != nil {
		return
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		err = aiproxy.Errorf(aiproxy.CodeInvalid, "from must be before to.")
	}
	return
}

func queryInstant(v, name string, endOfDay bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	day, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid %s %q: use RFC 3339 (2026-05-01T09:00:00Z) or a day (2026-05-01).", name, v)
	}
	if endOfDay {
		day = day.AddDate(0, 0, 1)
	}
	return day, nil
}

// principal returns who the request acts as; routes that reach here have
// authenticated it.
func principal(r *http.Request) aiproxy.Principal {
	p, _ := aiproxy.PrincipalFrom(r.Context())
	return p
}

// refuseScoped refuses a key limited to some services: what the route
// manages spans every service of the org.
func refuseScoped(r *http.Request) error {
	if len(principal(r).Services) > 0 {
		return errForbidden()
	}
	return nil
}

func queryLimit(v string) (int, error) {
	if v == "" {
		return 50, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxListLimit {
		return 0, aiproxy.Errorf(aiproxy.CodeInvalid, "limit must be between 1 and %d.", maxListLimit)
	}
	return n, nil
}

// encodeJobCursor makes an opaque cursor of a position in the job list.
func encodeJobCursor(c aiproxy.JobCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.CreatedAt.UnixMilli(), 10) + ":" + c.ID))
}

func decodeJobCursor(s string) (aiproxy.JobCursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return aiproxy.JobCursor{}, false
	}
	ms, id, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || id == "" {
		return aiproxy.JobCursor{}, false
	}
	return aiproxy.JobCursor{CreatedAt: time.UnixMilli(n).UTC(), ID: id}, true
}

// getJob answers GET /orgs/{org}/jobs/{id}; with ?wait=N (seconds, at most
// 60) it waits for the job's state to change from ?state= (default: its
// current state) before answering: the long-poll form of status.
func (s *server) getJob(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Jobs == nil {
		return errNoJobs()
	}
	org, id := r.PathValue("org"), r.PathValue("id")
	if err := s.checkJobScope(r, org, id); err != nil {
		return err
	}
	var j aiproxy.Job
	var err error
	if v := r.URL.Query().Get("wait"); v != "" {
		secs, perr := strconv.Atoi(v)
		if perr != nil || secs < 0 {
			return aiproxy.Errorf(aiproxy.CodeInvalid, "wait must be a number of seconds.")
		}
		wait := min(time.Duration(secs)*time.Second, maxWait)
		if jw, ok := s.cfg.Jobs.(jsonWaiter); ok {
			return waitJobJSON(w, r, jw, org, id, wait)
		}
		j, err = s.cfg.Jobs.WaitJob(r.Context(), org, id, aiproxy.JobState(r.URL.Query().Get("state")), wait)
	} else {
		j, err = s.cfg.Jobs.Job(r.Context(), org, id)
	}
	if err != nil {
		return err
	}
	jj := jobs.ToJobJSON(j)
	jj.Key = s.jobKey(r.Context(), principal(r), org, j, nil)
	writeJob(w, &jj)
	return nil
}

// checkJobScope answers a key limited to some services as if a job of
// another service did not exist (as another org's does not), and a member
// as if another user's job did not.
func (s *server) checkJobScope(r *http.Request, org, id string) error {
	p := principal(r)
	if len(p.Services) == 0 && !p.Member() {
		return nil
	}
	j, err := s.cfg.Jobs.Job(r.Context(), org, id)
	if err != nil {
		return err
	}
	if !p.CanUseService(j.Service) || (p.Member() && j.User != p.User) {
		return aiproxy.Errorf(aiproxy.CodeNotFound, "Job %q not found.", id)
	}
	return nil
}

// jobEventReader is a JobReader that also reads one job's events
// (jobs.Service).
type jobEventReader interface {
	JobEvents(ctx context.Context, org, id string, limit int) ([]aiproxy.JobEvent, error)
}

// JobEventListJSON is a job's event history, oldest first.
type JobEventListJSON struct {
	Events []JobEventJSON `json:"events"`
}

// JobEventJSON is one event of a job: its data is the JSON a webhook
// carries for it (the job as it was after the change).
type JobEventJSON struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// maxJobEvents caps a job's history; a job changes state a few times.
const maxJobEvents = 200

// getJobEvents answers GET /orgs/{org}/jobs/{id}/events: the job's own
// events, oldest first, under the access rules of GET /jobs/{id}.
func (s *server) getJobEvents(w http.ResponseWriter, r *http.Request) error {
	er, ok := s.cfg.Jobs.(jobEventReader)
	if !ok {
		return errNoJobs()
	}
	org, id := r.PathValue("org"), r.PathValue("id")
	if err := s.checkJobScope(r, org, id); err != nil {
		return err
	}
	evs, err := er.JobEvents(r.Context(), org, id, maxJobEvents)
	if err != nil {
		return err
	}
	out := JobEventListJSON{Events: make([]JobEventJSON, 0, len(evs))}
	for _, ev := range evs {
		data := json.RawMessage(ev.Data)
		if !json.Valid(data) {
			data = json.RawMessage("null")
		}
		out.Events = append(out.Events, JobEventJSON{ID: ev.ID, Type: ev.Type, CreatedAt: ev.CreatedAt, Data: data})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// jsonWaiter is a JobReader that also answers a long poll with the job's
// JSON already encoded, shared by the waiters on the job (jobs.Service).
type jsonWaiter interface {
	WaitJobJSON(ctx context.Context, org, id string, since aiproxy.JobState, wait time.Duration) ([]byte, error)
}

// waitJobJSON answers a long poll with the encoded job, written as
// writeJSON writes a value (keep the two in step).
func waitJobJSON(w http.ResponseWriter, r *http.Request, jw jsonWaiter, org, id string, wait time.Duration) error {
	body, err := jw.WaitJobJSON(r.Context(), org, id, aiproxy.JobState(r.URL.Query().Get("state")), wait)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}

// writeJob answers with a job. It is apart from getJob, and not inlined,
// so that a long poll's stack does not hold the answer's frame while it
// waits: ten thousand waiting requests each keep their stack.
//
//go:noinline
func writeJob(w http.ResponseWriter, j *jobs.JobJSON) {
	writeJSON(w, http.StatusOK, j)
}

// jobEvents streams an org's job events as Server-Sent Events: "id" is the
// event's sequence number (send it back as Last-Event-ID, or as ?after=, to
// resume), "event" its type and "data" the same JSON a webhook carries.
// Without either, the stream starts with the org's oldest event.
func (s *server) jobEvents(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Jobs == nil {
		return errNoJobs()
	}
	org := r.PathValue("org")
	after, err := resumePoint(r)
	if err != nil {
		return err
	}
	p := principal(r)
	scoped := len(p.Services) > 0 || p.Member()
	wake, cancel := s.cfg.Jobs.Subscribe(org)
	defer cancel()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_, _ = io.WriteString(w, ": aiproxy job events\n\n")
	heartbeat := time.NewTicker(sseHeartbeat)
	defer heartbeat.Stop()
	recheck := time.NewTicker(sseRecheck)
	defer recheck.Stop()
	for {
		evs, err := s.cfg.Jobs.Events(r.Context(), org, after, 100)
		if err != nil {
			return nil // The stream has started: there is no error to render.
		}
		for _, ev := range evs {
			after = ev.Seq
			if scoped && !eventVisible(p, ev.Data) {
				continue
			}
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, ev.Data)
		}
		if rc.Flush() != nil {
			return nil
		}
		if len(evs) == 100 {
			continue
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-wake:
		case <-recheck.C:
		case <-heartbeat.C:
			_, _ = io.WriteString(w, ": ping\n\n")
		}
	}
}

// eventVisible reports whether a principal limited to some services, or
// a member, may see an event: it must be about a job of a service it may
// use and, for a member, one its own user started.
func eventVisible(p aiproxy.Principal, data []byte) bool {
	var ev struct {
		Job struct {
			Service string  `json:"service"`
			User    *string `json:"user"`
		} `json:"job"`
	}
	_ = json.Unmarshal(data, &ev)
	if !p.CanUseService(ev.Job.Service) {
		return false
	}
	return !p.Member() || (ev.Job.User != nil && *ev.Job.User == p.User)
}

func resumePoint(r *http.Request) (int64, error) {
	v := r.Header.Get("Last-Event-ID")
	if q := r.URL.Query().Get("after"); q != "" {
		v = q
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, aiproxy.Errorf(aiproxy.CodeInvalid, "Last-Event-ID and after must be an event sequence number.")
	}
	return n, nil
}

// WebhookEndpointJSON is an org's webhook endpoint in the API and the CLI's
// --json output. Secret is set only in the answer that creates it.
type WebhookEndpointJSON struct {
	ID        string    `json:"id"`
	Org       string    `json:"org"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"created_at"`
	Secret    string    `json:"secret,omitempty"`
}

// ToWebhookEndpointJSON converts an endpoint for output, without its secret.
func ToWebhookEndpointJSON(e aiproxy.WebhookEndpoint) WebhookEndpointJSON {
	return WebhookEndpointJSON{ID: e.ID, Org: e.OrgKey, URL: e.URL, Events: e.Events, CreatedAt: e.CreatedAt}
}

// DeliveryJSON is one entry of the webhook delivery log.
type DeliveryJSON struct {
	ID            string     `json:"id"`
	EventID       string     `json:"event_id"`
	EventType     string     `json:"event_type"`
	EndpointID    string     `json:"endpoint_id"`
	State         string     `json:"state"`
	Attempts      int        `json:"attempts"`
	LastStatus    int        `json:"last_status"`
	LastError     string     `json:"last_error,omitempty"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	CreatedAt     time.Time  `json:"created_at"`
	DeliveredAt   *time.Time `json:"delivered_at"`
}

// ToDeliveryJSON converts a delivery for output.
func ToDeliveryJSON(d aiproxy.WebhookDelivery) DeliveryJSON {
	return DeliveryJSON{ID: d.ID, EventID: d.EventID, EventType: d.EventType, EndpointID: d.EndpointID, State: d.State,
		Attempts: d.Attempts, LastStatus: d.LastStatus, LastError: d.LastError, NextAttemptAt: optTime(d.NextAttemptAt),
		CreatedAt: d.CreatedAt, DeliveredAt: optTime(d.DeliveredAt)}
}

// orgWebhooks lists (GET) or registers (POST {"url", "events"}) an org's
// webhook endpoints.
func (s *server) orgWebhooks(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Webhooks == nil {
		return errNoJobs()
	}
	if err := refuseScoped(r); err != nil {
		return err
	}
	org := r.PathValue("org")
	if r.Method == http.MethodPost {
		var in struct {
			URL    *string  `json:"url"`
			Events []string `json:"events"`
		}
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
		if err := requireFields([]string{"url"}, in.URL != nil); err != nil {
			return err
		}
		if len(*in.URL) > maxWebhookURLLen || !plainText(*in.URL) {
			return aiproxy.Errorf(aiproxy.CodeInvalid, "url must be at most %d bytes of UTF-8 without control characters.", maxWebhookURLLen)
		}
		if len(in.Events) > maxWebhookEvents {
			return aiproxy.Errorf(aiproxy.CodeInvalid, "events lists more than %d event types.", maxWebhookEvents)
		}
		e, secret, err := s.cfg.Webhooks.CreateWebhook(r.Context(), org, *in.URL, in.Events)
		if err != nil {
			return err
		}
		out := ToWebhookEndpointJSON(e)
		out.Secret = secret
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusCreated, out)
		return nil
	}
	list, err := s.cfg.Webhooks.Webhooks(r.Context(), org)
	if err != nil {
		return err
	}
	out := make([]WebhookEndpointJSON, 0, len(list))
	for _, e := range list {
		out = append(out, ToWebhookEndpointJSON(e))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// The bounds of a webhook endpoint's registration.
const (
	maxWebhookURLLen = 2048
	maxWebhookEvents = 16
)

func (s *server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Webhooks == nil {
		return errNoJobs()
	}
	if err := refuseScoped(r); err != nil {
		return err
	}
	if err := s.cfg.Webhooks.DeleteWebhook(r.Context(), r.PathValue("org"), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// DeliveryListJSON is a page of the delivery log.
type DeliveryListJSON struct {
	Deliveries []DeliveryJSON `json:"deliveries"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// webhookDeliveries answers GET /orgs/{org}/webhook-deliveries
// ?endpoint_id=&event_id=&limit=&cursor=: the org's delivery log, newest
// first.
func (s *server) webhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Webhooks == nil {
		return errNoJobs()
	}
	if err := refuseScoped(r); err != nil {
		return err
	}
	q := r.URL.Query()
	limit, err := queryLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	if err := checkQueryText(q, "endpoint_id", "event_id", "cursor"); err != nil {
		return err
	}
	list, err := s.cfg.Webhooks.Deliveries(r.Context(), aiproxy.DeliveryFilter{OrgKey: r.PathValue("org"),
		EndpointID: q.Get("endpoint_id"), EventID: q.Get("event_id"), Limit: limit + 1, BeforeID: q.Get("cursor")})
	if err != nil {
		return err
	}
	out := DeliveryListJSON{Deliveries: []DeliveryJSON{}}
	if len(list) > limit {
		list = list[:limit]
		out.NextCursor = list[limit-1].ID
	}
	for _, d := range list {
		out.Deliveries = append(out.Deliveries, ToDeliveryJSON(d))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// providerWebhook receives a provider's job webhook. It needs no aiproxy
// key: the provider's signature authenticates it.
func (s *server) providerWebhook(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.ProviderWebhooks == nil {
		return errNoJobs()
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err != nil {
		return aiproxy.Errorf(aiproxy.CodeTooLarge, "Webhook body exceeds 1 MiB.")
	}
	if err := s.cfg.ProviderWebhooks.ReceiveWebhook(r.Context(), r.PathValue("service"), r.Header, body); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

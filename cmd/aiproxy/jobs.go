package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/client"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/httpapi"
	"github.com/aiproxy/aiproxy/internal/jobs"
	"github.com/aiproxy/aiproxy/internal/webhooks"
)

func runJobs(ctx context.Context, args []string, e env, s stdio) error {
	return subcommand(ctx, "jobs", args, e, s, map[string]func(context.Context, []string, env, stdio) error{
		"list": jobsList, "get": jobsGet,
	})
}

func runWebhook(ctx context.Context, args []string, e env, s stdio) error {
	return subcommand(ctx, "webhook", args, e, s, map[string]func(context.Context, []string, env, stdio) error{
		"add": webhookAdd, "list": webhookList, "delete": webhookDelete, "deliveries": webhookDeliveries,
	})
}

// jobsFlags are the flags of the jobs and webhook commands. They run on a
// server over HTTP, with AIPROXY_API_KEY, or on the database; onServer
// says which.
type jobsFlags struct {
	adminFlags
	url string
	// key is AIPROXY_API_KEY: an org key, or a user token that sees only
	// its own user's jobs.
	key string
	fs  *flag.FlagSet
}

func (f *jobsFlags) register(fs *flag.FlagSet, e env) {
	f.adminFlags.register(fs, e, false)
	fs.StringVar(&f.org, "org", e("AIPROXY_ORG"), orgActOn)
	fs.StringVar(&f.url, "url", e("AIPROXY_URL"),
		"call the server at this base URL with AIPROXY_API_KEY instead of opening the database [AIPROXY_URL]")
	f.key = e("AIPROXY_API_KEY")
	f.fs = fs
}

// onServer says whether the command calls a server rather than opening the
// database. A flag decides first: --url means the server, --data-dir or
// --database-url the database, and both is an error. Without one,
// AIPROXY_URL means the server. note is what to tell the user when that
// choice was ambiguous: AIPROXY_URL and AIPROXY_DATA_DIR or
// AIPROXY_DATABASE_URL all set, and no flag to choose.
func (f *jobsFlags) onServer(e env) (server bool, note string, err error) {
	given := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	database := given["data-dir"] || given["database-url"]
	switch {
	case given["url"] && database:
		return false, "", errors.New("give --url (a server) or --data-dir or --database-url (the database), not both")
	case given["url"]:
		return true, "", nil
	case database || f.url == "":
		return false, "", nil
	}
	if e("AIPROXY_DATA_DIR") != "" || e("AIPROXY_DATABASE_URL") != "" {
		note = fmt.Sprintf("calling the server at %s (AIPROXY_URL); --data-dir or --database-url opens the database instead", f.url)
	}
	return true, note, nil
}

// jobsBackend is what the jobs and webhook commands run on: a server
// (httpJobs) or the database (dbJobs). Both answer in the API's JSON
// types, so that a command prints the same either way.
type jobsBackend interface {
	jobs(ctx context.Context, f aiproxy.JobFilter) ([]jobs.JobJSON, error)
	job(ctx context.Context, id string) (jobs.JobJSON, error)
	addWebhook(ctx context.Context, url string, events []string) (httpapi.WebhookEndpointJSON, error)
	webhooks(ctx context.Context) ([]httpapi.WebhookEndpointJSON, error)
	deleteWebhook(ctx context.Context, id string) error
	deliveries(ctx context.Context, f aiproxy.DeliveryFilter) ([]httpapi.DeliveryJSON, error)
}

var (
	_ jobsBackend = httpJobs{}
	_ jobsBackend = dbJobs{}
)

// withJobs runs a jobs or webhook command for an org, on the server or the
// database as onServer decides. needVault says that, on the database, the
// command seals a secret.
func withJobs(ctx context.Context, f *jobsFlags, e env, s stdio, needVault bool, fn func(jobsBackend) error) error {
	if f.org == "" {
		return errors.New("give --org ORG (or set AIPROXY_ORG)")
	}
	server, note, err := f.onServer(e)
	if err != nil {
		return err
	}
	if note != "" {
		fmt.Fprintf(s.err, "aiproxy %s: %s\n", f.fs.Name(), note)
	}
	if server {
		c, err := (&clientFlags{url: f.url, org: f.org, key: f.key}).client()
		if err != nil {
			return err
		}
		if err := fn(httpJobs{c}); err != nil {
			return clientFailure(err, f.json, s)
		}
		return nil
	}
	v := newEnvValues(e)
	allowPrivate := v.bool("AIPROXY_WEBHOOK_ALLOW_PRIVATE", false)
	if err := v.err(); err != nil {
		return err
	}
	return withMgmt(ctx, &f.adminFlags, e, needVault, func(m *mgmt) error {
		ocfg := webhooks.OutboxConfig{Store: m.db, AllowPrivate: allowPrivate}
		if m.vault != nil {
			ocfg.Vault = m.vault
		}
		return fn(dbJobs{org: f.org, svc: jobs.New(jobs.Config{Store: m.db, Catalog: m.cat}), outbox: webhooks.NewOutbox(ocfg)})
	})
}

// printRows writes rows as JSON or a table.
func (f *jobsFlags) printRows(s stdio, rows any, header string, cells func(row func(...any))) error {
	return (&adminEnv{json: f.json}).print(s, rows, header, cells)
}

func jobsList(ctx context.Context, args []string, e env, s stdio) error {
	var f jobsFlags
	fs := newFlagSet("jobs list", "jobs list --org ORG [--state S] [--service S] [--action A] [--user U] [--limit N] [flags]", s)
	f.register(fs, e)
	state := fs.String("state", "", "only jobs in this state: pending, processing, completed or failed")
	service := fs.String("service", "", "only jobs of this service")
	action := fs.String("action", "", "only jobs started by this action")
	user := fs.String("user", "", "only jobs started for this user of the org (a user token sees only its own)")
	limit := fs.Int("limit", 50, "at most this many jobs, newest first")
	if _, err := parsePositional(fs, args, 0); err != nil {
		return err
	}
	if *limit < 1 {
		return errors.New("--limit must be at least 1")
	}
	return withJobs(ctx, &f, e, s, false, func(b jobsBackend) error {
		list, err := b.jobs(ctx, aiproxy.JobFilter{State: aiproxy.JobState(*state), Service: *service, Action: *action,
			User: *user, Limit: *limit})
		if err != nil {
			return err
		}
		return f.printRows(s, list, "ID\tSERVICE\tACTION\tPROVIDER ID\tSTATE\tCREDENTIAL\tCREATED", func(row func(...any)) {
			for _, x := range list {
				row(x.ID, x.Service, x.Action, x.ProviderJobID, x.State, x.Credential.Source, x.CreatedAt.Format(time.RFC3339))
			}
		})
	})
}

func jobsGet(ctx context.Context, args []string, e env, s stdio) error {
	var f jobsFlags
	fs := newFlagSet("jobs get", "jobs get JOB_ID --org ORG [flags]", s)
	f.register(fs, e)
	pos, err := parsePositional(fs, args, 1)
	if err != nil {
		return err
	}
	return withJobs(ctx, &f, e, s, false, func(b jobsBackend) error {
		x, err := b.job(ctx, pos[0])
		if err != nil {
			return err
		}
		return writeJSONTo(s.out, x)
	})
}

func webhookAdd(ctx context.Context, args []string, e env, s stdio) error {
	var f jobsFlags
	fs := newFlagSet("webhook add", "webhook add URL --org ORG [--events job.completed,job.failed] [flags]", s)
	f.register(fs, e)
	events := fs.String("events", "", "comma-separated event types (default job.completed,job.failed; also job.created, job.updated)")
	pos, err := parsePositional(fs, args, 1)
	if err != nil {
		return err
	}
	var list []string
	if *events != "" {
		list = strings.Split(*events, ",")
	}
	return withJobs(ctx, &f, e, s, true, func(b jobsBackend) error {
		ep, err := b.addWebhook(ctx, pos[0], list)
		if err != nil {
			return err
		}
		return f.printRows(s, ep, "ID\tURL\tEVENTS\tSECRET (shown once)", func(row func(...any)) {
			row(ep.ID, ep.URL, strings.Join(ep.Events, ","), ep.Secret)
		})
	})
}

func webhookList(ctx context.Context, args []string, e env, s stdio) error {
	var f jobsFlags
	fs := newFlagSet("webhook list", "webhook list --org ORG [flags]", s)
	f.register(fs, e)
	if _, err := parsePositional(fs, args, 0); err != nil {
		return err
	}
	return withJobs(ctx, &f, e, s, false, func(b jobsBackend) error {
		list, err := b.webhooks(ctx)
		if err != nil {
			return err
		}
		return f.printRows(s, list, "ID\tURL\tEVENTS\tCREATED", func(row func(...any)) {
			for _, ep := range list {
				row(ep.ID, ep.URL, strings.Join(ep.Events, ","), ep.CreatedAt.Format(time.RFC3339))
			}
		})
	})
}

func webhookDelete(ctx context.Context, args []string, e env, s stdio) error {
	var f jobsFlags
	fs := newFlagSet("webhook delete", "webhook delete ENDPOINT_ID --org ORG [flags]", s)
	f.register(fs, e)
	pos, err := parsePositional(fs, args, 1)
	if err != nil {
		return err
	}
	return withJobs(ctx, &f, e, s, false, func(b jobsBackend) error {
		if err := b.deleteWebhook(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(s.out, "deleted %s\n", termSafe(pos[0]))
		return nil
	})
}

func webhookDeliveries(ctx context.Context, args []string, e env, s stdio) error {
	var f jobsFlags
	fs := newFlagSet("webhook deliveries", "webhook deliveries --org ORG [--endpoint ID] [--event ID] [--limit N] [flags]", s)
	f.register(fs, e)
	endpoint := fs.String("endpoint", "", "only deliveries to this endpoint")
	event := fs.String("event", "", "only deliveries of this event")
	limit := fs.Int("limit", 50, "at most this many deliveries, newest first")
	if _, err := parsePositional(fs, args, 0); err != nil {
		return err
	}
	if *limit < 1 {
		return errors.New("--limit must be at least 1")
	}
	return withJobs(ctx, &f, e, s, false, func(b jobsBackend) error {
		list, err := b.deliveries(ctx, aiproxy.DeliveryFilter{EndpointID: *endpoint, EventID: *event, Limit: *limit})
		if err != nil {
			return err
		}
		return f.printRows(s, list, "ID\tEVENT\tTYPE\tENDPOINT\tSTATE\tATTEMPTS\tLAST STATUS\tLAST ERROR", func(row func(...any)) {
			for _, d := range list {
				row(d.ID, d.EventID, d.EventType, d.EndpointID, d.State, d.Attempts, d.LastStatus, d.LastError)
			}
		})
	})
}

// dbJobs runs the jobs and webhook commands on the database.
type dbJobs struct {
	org    string
	svc    *jobs.Service
	outbox *webhooks.Outbox
}

func (d dbJobs) jobs(ctx context.Context, f aiproxy.JobFilter) ([]jobs.JobJSON, error) {
	f.OrgKey = d.org
	list, err := d.svc.Jobs(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]jobs.JobJSON, 0, len(list))
	for _, x := range list {
		out = append(out, jobs.ToJobJSON(x))
	}
	return out, nil
}

func (d dbJobs) job(ctx context.Context, id string) (jobs.JobJSON, error) {
	x, err := d.svc.Job(ctx, d.org, id)
	return jobs.ToJobJSON(x), err
}

func (d dbJobs) addWebhook(ctx context.Context, url string, events []string) (httpapi.WebhookEndpointJSON, error) {
	ep, secret, err := d.outbox.CreateWebhook(ctx, d.org, url, events)
	if err != nil {
		return httpapi.WebhookEndpointJSON{}, err
	}
	out := httpapi.ToWebhookEndpointJSON(ep)
	out.Secret = secret
	return out, nil
}

func (d dbJobs) webhooks(ctx context.Context) ([]httpapi.WebhookEndpointJSON, error) {
	list, err := d.outbox.Webhooks(ctx, d.org)
	if err != nil {
		return nil, err
	}
	out := make([]httpapi.WebhookEndpointJSON, 0, len(list))
	for _, ep := range list {
		out = append(out, httpapi.ToWebhookEndpointJSON(ep))
	}
	return out, nil
}

func (d dbJobs) deleteWebhook(ctx context.Context, id string) error {
	return d.outbox.DeleteWebhook(ctx, d.org, id)
}

func (d dbJobs) deliveries(ctx context.Context, f aiproxy.DeliveryFilter) ([]httpapi.DeliveryJSON, error) {
	f.OrgKey = d.org
	list, err := d.outbox.Deliveries(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]httpapi.DeliveryJSON, 0, len(list))
	for _, x := range list {
		out = append(out, httpapi.ToDeliveryJSON(x))
	}
	return out, nil
}

// httpJobs runs the jobs and webhook commands on a server. Lists longer
// than the server's page (200) are read page by page.
type httpJobs struct{ c *client.Client }

// maxPage is the most the server answers in one page of jobs or
// deliveries.
const maxPage = 200

func (h httpJobs) jobs(ctx context.Context, f aiproxy.JobFilter) ([]jobs.JobJSON, error) {
	out := []jobs.JobJSON{}
	q := client.JobFilter{State: string(f.State), Service: f.Service, Action: f.Action, User: f.User}
	for len(out) < f.Limit {
		q.Limit = min(f.Limit-len(out), maxPage)
		page, err := h.c.Jobs(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, x := range page.Jobs {
			out = append(out, jobFromClient(x))
		}
		if q.Cursor = page.NextCursor; q.Cursor == "" {
			break
		}
	}
	return out, nil
}

func (h httpJobs) job(ctx context.Context, id string) (jobs.JobJSON, error) {
	x, err := h.c.Job(ctx, id)
	return jobFromClient(x), err
}

func (h httpJobs) addWebhook(ctx context.Context, url string, events []string) (httpapi.WebhookEndpointJSON, error) {
	ep, err := h.c.AddWebhook(ctx, url, events)
	return httpapi.WebhookEndpointJSON(ep), err
}

func (h httpJobs) webhooks(ctx context.Context) ([]httpapi.WebhookEndpointJSON, error) {
	list, err := h.c.Webhooks(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]httpapi.WebhookEndpointJSON, 0, len(list))
	for _, ep := range list {
		out = append(out, httpapi.WebhookEndpointJSON(ep))
	}
	return out, nil
}

func (h httpJobs) deleteWebhook(ctx context.Context, id string) error {
	return h.c.DeleteWebhook(ctx, id)
}

func (h httpJobs) deliveries(ctx context.Context, f aiproxy.DeliveryFilter) ([]httpapi.DeliveryJSON, error) {
	out := []httpapi.DeliveryJSON{}
	q := client.DeliveryFilter{EndpointID: f.EndpointID, EventID: f.EventID}
	for len(out) < f.Limit {
		q.Limit = min(f.Limit-len(out), maxPage)
		page, err := h.c.WebhookDeliveries(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, d := range page.Deliveries {
			out = append(out, httpapi.DeliveryJSON(d))
		}
		if q.Cursor = page.NextCursor; q.Cursor == "" {
			break
		}
	}
	return out, nil
}

// jobFromClient is a job the client read, as the API and the database
// path print it.
func jobFromClient(j client.Job) jobs.JobJSON {
	var user *string
	if j.User != "" {
		user = &j.User
	}
	urls := j.ResultURLs
	if urls == nil {
		urls = map[string]string{}
	}
	return jobs.JobJSON{ID: j.ID, Org: j.Org, User: user, Service: j.Service, Action: j.Action, StatusAction: j.StatusAction,
		ProviderJobID: j.ProviderJobID, Credential: jobs.CredentialRefJSON(j.Credential), State: j.State,
		ProviderStatus: j.ProviderStatus, ResultURLs: urls, Error: j.Error, CallbackID: j.CallbackID,
		Details: jobs.ToJobDetailsJSON(aiproxy.JobDetails{Title: j.Details.Title, Script: j.Details.Script,
			AvatarID: j.Details.AvatarID, VoiceID: j.Details.VoiceID, DurationSeconds: j.Details.DurationSeconds,
			ThumbnailURL: j.Details.ThumbnailURL}),
		IdempotencyKey: j.IdempotencyKey, CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt, CompletedAt: j.CompletedAt,
		CheckedAt: j.CheckedAt, DeadlineAt: j.DeadlineAt, URLsExpireAt: j.URLsExpireAt}
}

// demoWebhooks makes the demo receive the sandbox's HeyGen webhooks: its own
// address is its public URL (unless one is configured) and a fresh secret,
// returned for the sandbox, signs them.
func demoWebhooks(f *jobFlags) string {
	f.selfURL = true
	f.allowPrivateHooks = true // the demo's receivers run on this machine
	if f.secrets["heygen"] == "" {
		f.secrets["heygen"] = randomKey("whsec")
	}
	return f.secrets["heygen"]
}

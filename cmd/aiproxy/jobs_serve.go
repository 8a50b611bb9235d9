package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/concurrency"
	"github.com/aiproxy/aiproxy/internal/idempotency"
	"github.com/aiproxy/aiproxy/internal/jobs"
	"github.com/aiproxy/aiproxy/internal/metrics"
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/redis"
	"github.com/aiproxy/aiproxy/internal/vault"
	"github.com/aiproxy/aiproxy/internal/webhooks"
)

// jobFlags configure async job tracking and webhooks (serve and demo).
type jobFlags struct {
	publicURL    string
	concurrency  int
	pollInterval time.Duration
	deadline     time.Duration
	freshFor     time.Duration
	attempts     int
	// runningCaps are --max-running-jobs, parsed into caps by validate.
	runningCaps listFlag
	caps        []aiproxy.JobCap
	// secretsEnv is AIPROXY_PROVIDER_WEBHOOK_SECRETS. Webhook secrets have
	// no flag, since argv is visible to every user of the machine.
	secretsEnv string
	// secrets are parsed from secretsEnv, plus any the demo adds.
	secrets map[string]string
	// selfURL makes the server's own listen address its public URL (demo).
	selfURL bool
	// allowPrivateHooks lets outbound webhooks reach loopback, private and
	// link-local addresses (the demo's receivers are on loopback).
	allowPrivateHooks bool
	// spoolDir is --spool-dir; "" means spool/ in the data directory
	// (spoolIn).
	spoolDir string
	// envErr holds the variables above that do not parse.
	envErr error
}

func (f *jobFlags) register(fs *flag.FlagSet, e env) {
	v := newEnvValues(e)
	fs.StringVar(&f.publicURL, "public-url", e("AIPROXY_PUBLIC_URL"),
		"base URL where providers reach this server; enables provider webhooks (callback_url) [AIPROXY_PUBLIC_URL]")
	fs.IntVar(&f.concurrency, "job-concurrency", v.int("AIPROXY_JOB_CONCURRENCY", 4),
		"status reads the job tracker makes at once [AIPROXY_JOB_CONCURRENCY]")
	fs.DurationVar(&f.pollInterval, "job-poll-interval", v.duration("AIPROXY_JOB_POLL_INTERVAL", 5*time.Second),
		"how often the tracker reads an unfinished job's status [AIPROXY_JOB_POLL_INTERVAL]")
	fs.DurationVar(&f.deadline, "job-deadline", v.duration("AIPROXY_JOB_DEADLINE", 2*time.Hour),
		"how long a job may stay unfinished before it is failed [AIPROXY_JOB_DEADLINE]")
	fs.DurationVar(&f.freshFor, "job-fresh-for", v.duration("AIPROXY_JOB_FRESH_FOR", time.Second),
		"how long one provider status read answers every client status call [AIPROXY_JOB_FRESH_FOR]")
	fs.BoolVar(&f.allowPrivateHooks, "webhook-allow-private", v.bool("AIPROXY_WEBHOOK_ALLOW_PRIVATE", false),
		"let orgs register outbound webhooks on loopback, private and link-local addresses, and deliver there; off, such URLs are refused and such connections not made [AIPROXY_WEBHOOK_ALLOW_PRIVATE]")
	fs.IntVar(&f.attempts, "webhook-attempts", v.int("AIPROXY_WEBHOOK_ATTEMPTS", 15),
		"delivery attempts of an outbound webhook before it is given up [AIPROXY_WEBHOOK_ATTEMPTS]")
	f.runningCaps = newListFlag(e("AIPROXY_MAX_RUNNING_JOBS"))
	fs.Var(&f.runningCaps, "max-running-jobs", "cap on provider jobs running at once (started, not yet completed or failed) SCOPE[:SERVICE]=N, scope org or credential (the platform credential), e.g. credential:heygen=10; repeatable [AIPROXY_MAX_RUNNING_JOBS, comma-separated]")
	fs.StringVar(&f.spoolDir, "spool-dir", e("AIPROXY_SPOOL_DIR"),
		"directory where job starts and usage records wait on disk while the database is unavailable; default spool/ in --data-dir. With Postgres, a persistent, writable volume of each replica [AIPROXY_SPOOL_DIR]")
	f.secretsEnv = e("AIPROXY_PROVIDER_WEBHOOK_SECRETS")
	f.envErr = v.err()
}

// spoolIn returns the spool directory: --spool-dir, or spool/ in the data
// directory. Job starts wait in its jobs/, usage records in its usage/.
func (f jobFlags) spoolIn(dataDir string) string {
	if f.spoolDir != "" {
		return f.spoolDir
	}
	return filepath.Join(dataDir, "spool")
}

// parseRunningCaps reads --max-running-jobs, in the syntax of --max-inflight.
func (f *jobFlags) parseRunningCaps() error {
	f.caps = nil
	for _, v := range f.runningCaps.values {
		r, err := concurrency.ParseRule(v)
		if err != nil {
			return fmt.Errorf("--max-running-jobs: %w", err)
		}
		f.caps = append(f.caps, aiproxy.JobCap{Scope: aiproxy.JobCapScope(r.Scope), Service: r.Service, Max: r.Max})
	}
	return nil
}

// weighted returns the flags with the orgs' --concurrency-weights applied
// to the credential caps of --max-running-jobs, so that a platform
// credential's running renders are shared by the same weights as its
// calls in flight.
func (f jobFlags) weighted(weights map[string]int) jobFlags {
	if len(weights) == 0 {
		return f
	}
	caps := make([]aiproxy.JobCap, len(f.caps))
	for i, c := range f.caps {
		if c.Scope == aiproxy.JobCapCredential {
			c.Shares = &aiproxy.Shares{Weights: weights}
		}
		caps[i] = c
	}
	f.caps = caps
	return f
}

// validate parses AIPROXY_PROVIDER_WEBHOOK_SECRETS (SERVICE=SECRET,…) and
// --max-running-jobs, and checks the job settings and variables,
// returning every problem at once.
func (f *jobFlags) validate() error {
	errs := []error{f.envErr}
	if f.secrets == nil {
		f.secrets = map[string]string{}
	}
	for _, pair := range strings.Split(f.secretsEnv, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		name, secret, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || name == "" || secret == "" {
			errs = append(errs, errors.New("AIPROXY_PROVIDER_WEBHOOK_SECRETS: want SERVICE=SECRET pairs separated by commas"))
			break
		}
		f.secrets[name] = secret
	}
	if f.concurrency < 1 || f.pollInterval <= 0 || f.deadline <= 0 || f.freshFor <= 0 || f.attempts < 1 {
		errs = append(errs, errors.New("--job-concurrency, --webhook-attempts and the job durations must be positive"))
	}
	return errors.Join(append(errs, f.parseRunningCaps())...)
}

// jobParts are the jobs service and what runs beside it: the
// Idempotency-Key hooks, the webhook outbox and the provider webhook
// receiver.
type jobParts struct {
	jobs     *jobs.Service
	keys     *idempotency.Keys
	outbox   *webhooks.Outbox
	receiver *webhooks.Receiver
}

// hooks are the pipeline hooks of the jobs, in the order they run.
func (j *jobParts) hooks() []proxy.Hooks { return []proxy.Hooks{j.keys, j.jobs} }

// wireJobs builds the jobs service on the proxy (its hooks track the async
// jobs the catalog marks), the Idempotency-Key hooks, the webhook outbox
// and the provider webhook receiver. lease is how long a claimed job or
// delivery is held before another replica may take it over, and lock the
// shared lock around a job's status read (nil without Redis). The jobs and
// the keys share a store that spools job starts the database does not
// take to the spool directory's jobs/ (reported to m), so that a start the
// provider accepted is never lost.
func wireJobs(f jobFlags, js metrics.JobStore, cat *catalog.Catalog, v *vault.Vault, p *proxy.Proxy, ln net.Listener, log *slog.Logger, lease time.Duration, lock jobs.PollLock, m *metrics.Metrics, spool string, onEnd func(context.Context, aiproxy.Job)) *jobParts {
	public := f.publicURL
	if public == "" && f.selfURL {
		public = "http://" + ln.Addr().String()
	}
	outbox := webhooks.NewOutbox(webhooks.OutboxConfig{Store: js, Vault: v, Logger: log,
		MaxAttempts: f.attempts, Lease: lease, AllowPrivate: f.allowPrivateHooks})
	starts := jobs.NewSpooledStore(js, jobs.SpoolConfig{Dir: filepath.Join(spool, "jobs"), OnReplay: outbox.Wake, Logger: log})
	m.JobStarts(starts)
	svc := jobs.New(jobs.Config{
		Store: starts, Catalog: cat, Proxy: p, OnEvent: outbox.Wake, Logger: log, PublicBaseURL: public,
		ProviderSecrets: f.secrets, Concurrency: f.concurrency, PollInterval: f.pollInterval,
		Deadline: f.deadline, FreshFor: f.freshFor, Lease: lease, PollLock: lock, RunningJobCaps: f.caps, OnEnd: onEnd,
	})
	return &jobParts{
		jobs:   svc,
		keys:   idempotency.New(idempotency.Config{Store: starts, Logger: log}),
		outbox: outbox,
		receiver: webhooks.NewReceiver(webhooks.ReceiverConfig{Catalog: cat, Store: js, Jobs: svc,
			Secrets: f.secrets, Logger: log}),
	}
}

// pollLock is the lock replicas share around a job's status read: Redis's,
// or none without Redis.
func pollLock(rc *redis.Client) jobs.PollLock {
	if rc == nil {
		return nil
	}
	return rc.Locker()
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/apidocs"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/console"
	"github.com/aiproxy/aiproxy/internal/httpapi"
	"github.com/aiproxy/aiproxy/internal/ownership"
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/redis"
	"github.com/aiproxy/aiproxy/internal/speechcache"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// serverFlags are the flags of serve (and demo): the whole configuration
// of a server. register reads them over the environment; validate, the
// configuration step's check, reports every problem at once.
type serverFlags struct {
	addr       string
	store      storeFlags
	key        keyFlags
	catalogDir string
	logLevel   string
	logFlush   time.Duration
	upstreams  upstreamFlag
	// upstreamsEnv is AIPROXY_UPSTREAMS, checked by validate.
	upstreamsEnv string
	guard        guardFlags    // guardrails.go
	jobs         jobFlags      // jobs.go
	scale        scaleFlags    // scaleout.go
	obs          observeFlags  // observe.go
	data         dataFlags     // retention.go
	users        userFlags     // users.go
	budget       budgetFlags   // budgets.go
	speech       speechFlags   // speech.go
	realtime     realtimeFlags // realtime.go
	live         liveFlags     // live.go
	// envErr holds the variables above that do not parse.
	envErr error
}

func (f *serverFlags) register(fs *flag.FlagSet, e env, defaultDir string) {
	v := newEnvValues(e)
	fs.StringVar(&f.addr, "addr", envOr(e, "AIPROXY_ADDR", "127.0.0.1:8080"), "listen address [AIPROXY_ADDR]")
	f.store.register(fs, e, defaultDir)
	f.key.register(fs, e)
	fs.StringVar(&f.catalogDir, "catalog-dir", e("AIPROXY_CATALOG_DIR"),
		"directory of extra or overriding catalog files (*.json) [AIPROXY_CATALOG_DIR]")
	fs.StringVar(&f.logLevel, "log-level", envOr(e, "AIPROXY_LOG_LEVEL", "info"), "debug, info, warn or error [AIPROXY_LOG_LEVEL]")
	fs.DurationVar(&f.logFlush, "log-flush", v.duration("AIPROXY_LOG_FLUSH", 100*time.Millisecond),
		"longest a log line waits in a buffer before it is written to stderr; 0 writes every line at once [AIPROXY_LOG_FLUSH]")
	f.upstreams = upstreamFlag{}
	f.upstreamsEnv = e("AIPROXY_UPSTREAMS")
	fs.Var(f.upstreams, "upstream", "SERVICE=URL: send a service's calls to another base URL, e.g. a sandbox; repeatable [AIPROXY_UPSTREAMS, comma-separated]")
	f.guard.register(fs, e)
	f.jobs.register(fs, e)
	f.scale.register(fs, e)
	f.obs.register(fs, e)
	f.data.register(fs, e)
	f.users.register(fs, e)
	f.budget.register(fs, e)
	f.speech.register(fs, e)
	f.realtime.register(fs, e)
	f.live.register(fs, e)
	f.envErr = v.err()
}

// upstreamFlag collects SERVICE=URL pairs.
type upstreamFlag map[string]string

func (u upstreamFlag) String() string { return "" }

func (u upstreamFlag) Set(v string) error {
	name, url, ok := strings.Cut(v, "=")
	if !ok || name == "" || url == "" {
		return fmt.Errorf("want SERVICE=URL, got %q", v)
	}
	u[name] = url
	return nil
}

// configureServer is the configuration step of serve and demo: it parses
// the flags, which win over the environment, and checks everything,
// reporting every problem at once. fs must hold f's flags.
func configureServer(f *serverFlags, fs *flag.FlagSet, args []string) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	return f.validate()
}

// validate checks the whole configuration and returns every problem at
// once. It also completes what the flags leave raw: AIPROXY_UPSTREAMS
// merges under the --upstream flags, and the guardrail rules, running-job
// caps and provider webhook secrets are parsed.
func (f *serverFlags) validate() error {
	_, logErr := newLogger(io.Discard, f.logLevel)
	return errors.Join(f.envErr, f.store.envErr, logErr, f.mergeUpstreams(),
		f.guard.validate(), f.jobs.validate(), f.scale.validate(), f.obs.validate(), f.data.validate(), f.users.validate(), f.budget.validate(f.scale.redisURL), f.speech.validate(), f.realtime.validate(), f.live.validate())
}

// mergeUpstreams adds AIPROXY_UPSTREAMS under the --upstream flags, which
// win.
func (f *serverFlags) mergeUpstreams() error {
	if f.upstreamsEnv == "" {
		return nil
	}
	fromEnv := upstreamFlag{}
	for _, pair := range strings.Split(f.upstreamsEnv, ",") {
		if err := fromEnv.Set(strings.TrimSpace(pair)); err != nil {
			return fmt.Errorf("AIPROXY_UPSTREAMS: %w", err)
		}
	}
	for k, v := range fromEnv {
		if _, set := f.upstreams[k]; !set {
			f.upstreams[k] = v
		}
	}
	return nil
}

func runServe(ctx context.Context, args []string, e env, s stdio) error {
	var f serverFlags
	fs := newFlagSet("serve", "serve [flags]", s)
	f.register(fs, e, "aiproxy-data")
	cfgErr := configureServer(&f, fs, args)
	if errors.Is(cfgErr, errHelp) || errors.Is(cfgErr, errUsage) {
		return cfgErr
	}
	v, keyErr := f.key.vault(e)
	if err := errors.Join(cfgErr, keyErr); err != nil {
		return err
	}
	a, err := assemble(ctx, f, v, s)
	if err != nil {
		return err
	}
	defer a.close()
	return a.serve(ctx, s, nil)
}

// app is an assembled aiproxy server.
type app struct {
	log     *slog.Logger
	catalog *catalog.Catalog
	obs     *observability
	db      aiproxy.Store
	redis   *redis.Client
	ln      net.Listener
	// metricsLn, when --metrics-addr is set, serves /metrics apart from
	// the API.
	metricsLn net.Listener
	guard     *guardrails
	vault     *vault.Vault
	admin     *admin.Service
	jobs      *jobParts
	life      *lifecycle
	scale     scaleFlags
	upkeep    *upkeep // retention.go: rollups and pruning
	users     userFlags
	// signIns verifies the identity providers' JWTs; nil accepts none.
	signIns httpapi.SignInVerifier
	budgets *budgets // budgets.go
	// live tracks live avatar sessions and reaps them (live.go).
	live *liveParts
	// speech is the speech cache; nil when no org uses it.
	speech  *speechcache.Cache
	handler http.Handler
	// sockets closes the relayed WebSockets when the server drains.
	sockets interface{ CloseSockets() }
	// flushLogs writes the buffered log lines and stops the buffer.
	flushLogs func()
}

// assemble builds a server from a validated configuration, each part after
// the parts it needs, and binds the listener, so that the caller knows the
// address before serving:
//
//  1. logs, the catalog and observability, which need nothing else;
//  2. the store and Redis, the state replicas share;
//  3. the listener (its address is the demo's public URL);
//  4. the guardrails, on the store and Redis;
//  5. the management operations, audited in the store;
//  6. the proxy, with the guardrails and the observing transport;
//  7. the jobs service, whose hooks the API's calls run through;
//  8. the HTTP API over all of them, with the console, drain and
//     metrics around it.
//
// No step changes a part an earlier step built, except that the proxy is
// told to forget credentials the management operations change. On an
// error, what was opened is closed again.
func assemble(ctx context.Context, f serverFlags, v *vault.Vault, s stdio) (_ *app, err error) {
	a := &app{vault: v, life: newLifecycle(), scale: f.scale, users: f.users}
	var logw io.Writer
	logw, a.flushLogs = bufferLogs(s.err, f.logFlush) // logbuffer.go
	defer func() {
		if err != nil {
			if a.ln != nil {
				a.ln.Close()
			}
			if a.metricsLn != nil {
				a.metricsLn.Close()
			}
			a.close()
		}
	}()
	if a.log, err = newLogger(logw, f.logLevel); err != nil {
		return nil, err
	}
	if a.catalog, err = loadCatalog(f.catalogDir, f.upstreams); err != nil {
		return nil, err
	}
	if a.obs, err = newObservability(ctx, f.obs); err != nil {
		return nil, err
	}
	if a.db, err = f.store.open(ctx); err != nil {
		return nil, err
	}
	a.log.Info("database open", "engine", f.store.engine())
	if a.redis, err = f.scale.openRedis(a.log); err != nil {
		return nil, err
	}
	if a.ln, err = net.Listen("tcp", f.addr); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if f.obs.metricsAddr != "" {
		if a.metricsLn, err = net.Listen("tcp", f.obs.metricsAddr); err != nil {
			return nil, fmt.Errorf("listen for metrics: %w", err)
		}
	}
	spool := f.jobs.spoolIn(f.store.dataDir) // job starts and usage records the database did not take
	a.guard = f.guard.build(a.db, a.catalog, a.redis, a.log, a.obs.metrics, spool)
	a.admin = admin.New(a.db, v, a.catalog, nil)
	a.admin.SetAuditor(a.db)
	if a.signIns, err = f.users.signIns(a.log); err != nil {
		return nil, err
	}
	if a.budgets, err = f.budget.build(a.db, a.redis, a.log); err != nil {
		return nil, err
	}
	if a.speech, err = f.speech.build(f.store.dataDir, a.budgets.pricer, a.log); err != nil {
		return nil, err
	}
	p := proxy.New(f.realtime.apply(a.guard.withGuardrails(a.obs.proxyConfig(proxy.Config{Catalog: a.catalog, Credentials: a.db, Vault: v, Logger: a.log, UserAgent: "aiproxy/" + version,
		CredentialTTL: proxy.DefaultCredentialTTL})), a.redis))
	a.sockets = p
	a.admin.OnCredentialChange(p.ForgetCredential)
	// Key pools: their health shared through Redis when the replicas have
	// one, else kept here; removals audited; counted in the metrics.
	var health interface {
		proxy.KeyHealth
		admin.KeyHealth
	} = proxy.NewMemoryKeyHealth(nil)
	if a.redis != nil {
		health = a.redis.KeyHealth()
	}
	p.UsePools(proxy.PoolConfig{Health: health, OnChange: a.admin.RecordKeyChange})
	a.admin.UseKeyHealth(health)
	a.obs.metrics.Pools(p)
	a.jobs = wireJobs(f.jobs.weighted(f.guard.shares), a.obs.jobStore(a.db), a.catalog, v, p, a.ln, a.log, f.scale.jobLease,
		pollLock(a.redis), a.obs.metrics, spool, a.budgets.finishJob)
	// Calls from the API run through the ownership hooks (outermost) and
	// the job hooks; p stays the plain pipeline the jobs service reads
	// statuses with.
	// Ownership is outermost: a member is refused another user's object
	// before anything answers. The speech cache answers hits after the
	// job hooks. Budgets are innermost: a call another hook refused or
	// answered (an idempotent replay, a cached speech) never touches a
	// budget.
	a.live = f.live.build(a.db, a.catalog, p, a.guard.proxy.Meter, a.log, a.budgets)
	hooks := append([]proxy.Hooks{ownership.New(a.db, a.log), a.live.sessions}, a.jobs.hooks()...)
	if a.speech != nil {
		hooks = append(hooks, a.speech)
	}
	invoker := p.WithHooks(append(hooks, a.budgets.enforcer)...)
	a.upkeep = f.data.build(a.db, a.log)
	a.upkeep.budgets = a.budgets.enforcer
	a.handler = a.obs.wrap(a.life.wrap(withConsole(httpapi.New(a.apiConfig(invoker)))))
	return a, nil
}

// apiConfig is the HTTP API over the assembled parts, invoking through
// invoker.
func (a *app) apiConfig(invoker httpapi.Invoker) httpapi.Config {
	return a.obs.apiConfig(httpapi.Config{
		Catalog:    a.catalog,
		Keys:       a.db,
		Orgs:       a.db,
		Admin:      a.admin,
		UserTokens: a.db,
		Tokens:     a.userTokens(),
		Budgets:    a.budgets.admin,
		SignIns:    a.signIns,
		// LiveSessions lets a browser start, keep alive and stop the live
		// avatar session whose token aiproxy minted, with that token.
		LiveSessions:     a.live.sessions,
		LiveSessionAdmin: a.live.admin,
		Logger:           a.log,
		Ready:            a.db.Ping,
		Readiness:        readiness{db: a.db, redis: a.redis, life: a.life}.check,
		Access:           a.guard.access,
		Guardrails:       a.guard.manage,
		// Native stays nil: native calls go to Invoker, the proxy with the
		// job hooks, so that native job starts and status reads are
		// tracked and owned like invoke's.
		Invoker:          invoker,
		Jobs:             a.jobs.jobs,
		Webhooks:         admin.AuditedWebhooks(a.jobs.outbox, a.db, nil),
		ProviderWebhooks: a.jobs.receiver,
	})
}

// withConsole serves the web console under /console/ and everything else
// from api; "/" redirects a browser to the console.
func withConsole(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, console.Handler())
	mux.Handle(apidocs.Prefix, apidocs.Handler())
	mux.Handle("GET /{$}", http.RedirectHandler(console.Prefix, http.StatusFound))
	mux.Handle("/", api)
	return mux
}

func (a *app) url() string { return "http://" + a.ln.Addr().String() }

// close stops and closes the parts assemble built; a part it did not get
// to is skipped.
func (a *app) close() {
	if a.speech != nil {
		a.speech.Wait() // the copies of answers still being written
	}
	if a.guard != nil {
		a.guard.stop() // writes the last usage records
	}
	if a.obs != nil {
		a.obs.close(context.Background())
	}
	if a.redis != nil {
		a.redis.Close()
	}
	if a.db != nil {
		a.db.Close()
	}
	if a.flushLogs != nil {
		a.flushLogs()
	}
}

// serve serves until ctx ends, then shuts down gracefully. ready, if set,
// runs once the server accepts connections.
func (a *app) serve(ctx context.Context, s stdio, ready func()) error {
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(a.ln) }()
	if a.metricsLn != nil {
		msrv := a.obs.metricsServer()
		go func() { errc <- msrv.Serve(a.metricsLn) }()
		defer msrv.Close()
		a.log.Info("metrics", "url", "http://"+a.metricsLn.Addr().String()+"/metrics")
	} else if a.obs.flags.metricsToken == "" {
		a.log.Info("metrics are off: set AIPROXY_METRICS_TOKEN to serve /metrics behind a bearer token, or --metrics-addr for a separate listener")
	}
	defer a.runJobs(ctx)()
	defer a.upkeep.run(ctx)()
	a.log.Info("listening", "url", a.url(), "version", version)
	if ready != nil {
		ready()
	} else {
		fmt.Fprintf(s.out, "AIPROXY_URL=%s\n", a.url())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Draining: /readyz answers 503 and event streams end at once; after
	// the delay no new connection is accepted, and in-flight requests and
	// streams get the timeout to finish.
	a.life.beginDrain()
	a.log.Info("draining", "delay", a.scale.shutdownDelay, "timeout", a.scale.shutdownTimeout)
	time.Sleep(a.scale.shutdownDelay)
	if a.sockets != nil {
		a.sockets.CloseSockets() // Shutdown neither waits for nor closes upgraded connections
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), a.scale.shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	a.log.Info("stopped")
	return err
}

// runJobs tracks jobs and delivers webhooks in the background; the func it
// returns stops that and waits for it, before the database closes.
func (a *app) runJobs(ctx context.Context) func() {
	if a.jobs == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { a.jobs.jobs.Run(ctx) })
	wg.Go(func() { a.jobs.outbox.Run(ctx) })
	if a.live != nil {
		wg.Go(func() { a.live.reaper.Run(ctx) })
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

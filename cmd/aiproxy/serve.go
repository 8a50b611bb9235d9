package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/console"
	"github.com/aiproxy/aiproxy/internal/httpapi"
	"github.com/aiproxy/aiproxy/internal/jobs"
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/redis"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// serverFlags are the flags of serve (and demo).
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
	guard        guardFlags
	jobs         jobFlags
	scale        scaleFlags
	obs          observeFlags // observe.go
}

func (f *serverFlags) register(fs *flag.FlagSet, e env, defaultDir string) {
	fs.StringVar(&f.addr, "addr", envOr(e, "AIPROXY_ADDR", "127.0.0.1:8080"), "listen address [AIPROXY_ADDR]")
	f.store.register(fs, e, defaultDir)
	f.key.register(fs, e)
	fs.StringVar(&f.catalogDir, "catalog-dir", e("AIPROXY_CATALOG_DIR"),
		"directory of extra or overriding catalog files (*.json) [AIPROXY_CATALOG_DIR]")
	fs.StringVar(&f.logLevel, "log-level", envOr(e, "AIPROXY_LOG_LEVEL", "info"), "debug, info, warn or error [AIPROXY_LOG_LEVEL]")
	fs.DurationVar(&f.logFlush, "log-flush", envDuration(e, "AIPROXY_LOG_FLUSH", 100*time.Millisecond),
		"longest a log line waits in a buffer before it is written to stderr; 0 writes every line at once [AIPROXY_LOG_FLUSH]")
	f.upstreams = upstreamFlag{}
	f.upstreamsEnv = e("AIPROXY_UPSTREAMS")
	fs.Var(f.upstreams, "upstream", "SERVICE=URL: send a service's calls to another base URL, e.g. a sandbox; repeatable [AIPROXY_UPSTREAMS, comma-separated]")
	f.guard.register(fs, e)
	f.jobs.register(fs, e)
	f.scale.register(fs, e)
	f.obs.register(fs, e)
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

// validate merges AIPROXY_UPSTREAMS under the --upstream flags, which win.
func (f *serverFlags) validate() error {
	if err := f.jobs.validate(); err != nil {
		return err
	}
	if err := f.scale.validate(); err != nil {
		return err
	}
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
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := f.validate(); err != nil {
		return err
	}
	v, err := f.key.vault(e)
	if err != nil {
		return err
	}
	app, err := openApp(ctx, f, v, s)
	if err != nil {
		return err
	}
	defer app.close()
	return app.serve(ctx, s, nil)
}

// app is a wired aiproxy server.
type app struct {
	db      store
	catalog *catalog.Catalog
	vault   *vault.Vault
	admin   *admin.Service
	log     *slog.Logger
	handler http.Handler
	ln      net.Listener
	guard   *guardrails
	jobs    *jobs.Service
	redis   *redis.Client
	life    *lifecycle
	scale   scaleFlags
	obs     *observability
	// flushLogs writes the buffered log lines and stops the buffer.
	flushLogs func()
}

// openApp opens the database and catalog, wires the API and binds the
// listener, so that the caller knows the address before serving.
func openApp(ctx context.Context, f serverFlags, v *vault.Vault, s stdio) (_ *app, err error) {
	logw, flushLogs := bufferLogs(s.err, f.logFlush) // logbuffer.go
	defer func() {
		if err != nil {
			flushLogs()
		}
	}()
	log, err := newLogger(logw, f.logLevel)
	if err != nil {
		return nil, err
	}
	cat, err := loadCatalog(f.catalogDir, f.upstreams)
	if err != nil {
		return nil, err
	}
	obs, err := newObservability(ctx, f.obs)
	if err != nil {
		return nil, err
	}
	db, err := f.store.open(ctx)
	if err != nil {
		return nil, err
	}
	log.Info("database open", "engine", f.store.engine())
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	guard, err := f.guard.build(db, cat, log)
	if err != nil {
		db.Close()
		ln.Close()
		return nil, err
	}
	rc, err := f.scale.openRedis(log)
	if err != nil {
		db.Close()
		ln.Close()
		return nil, err
	}
	if rc != nil {
		guard.useRedis(rc, f.guard.cacheMB)
		f.jobs.pollLock = rc.Locker()
	}
	f.jobs.lease = f.scale.jobLease
	a := &app{db: db, catalog: cat, vault: v, log: log, ln: ln, guard: guard, redis: rc, life: newLifecycle(), scale: f.scale, obs: obs, flushLogs: flushLogs}
	a.admin = admin.New(db, v, cat, nil)
	api := httpapi.Config{
		Catalog: cat,
		Keys:    db,
		Orgs:    db,
		Admin:   a.admin,
		Logger:  log,
		Ready:   db.Ping,

		Readiness: readiness{db: db, redis: rc, life: a.life}.check,

		Guardrails: guard.manage,
	}
	if guard.access != nil {
		api.Access = guard.access
	}
	p := proxy.New(guard.withGuardrails(obs.proxyConfig(proxy.Config{Catalog: cat, Credentials: db, Vault: v, Logger: log, UserAgent: "aiproxy/" + version,
		CredentialTTL: proxy.DefaultCredentialTTL})))
	a.admin.OnCredentialChange(p.ForgetCredential)
	obs.wireAPI(&api, db, a.admin, guard.manage)
	// api.Native stays nil: native calls go to api.Invoker, the proxy with
	// the job hooks when jobs are kept, so that native job starts and
	// status reads are tracked and owned like invoke's.
	a.jobs = wireJobs(f.jobs, obs.jobStore(db), cat, v, p, ln, log, &api)
	obs.auditWebhooks(&api, db)
	a.handler = httpapi.New(api)
	a.handler = obs.wrap(a.life.wrap(withConsole(a.handler)))
	return a, nil
}

// withConsole serves the web console under /console/ and everything else
// from api; "/" redirects a browser to the console.
func withConsole(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, console.Handler())
	mux.Handle("GET /{$}", http.RedirectHandler(console.Prefix, http.StatusFound))
	mux.Handle("/", api)
	return mux
}

func (a *app) url() string { return "http://" + a.ln.Addr().String() }

func (a *app) close() {
	a.guard.stop() // writes the last usage records
	a.obs.close(context.Background())
	if a.redis != nil {
		a.redis.Close()
	}
	a.db.Close()
	a.flushLogs()
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
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(a.ln) }()
	defer a.runJobs(ctx)()
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
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.jobs.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

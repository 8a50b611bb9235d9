package main

import (
	"context"
	"crypto/subtle"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/httpapi"
	"github.com/aiproxy/aiproxy/internal/metrics"
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/tracing"
)

// observeFlags are the hardening and observability settings of serve and
// demo.
type observeFlags struct {
	corsOrigins     string
	maxBodyBytes    int64
	bodyReadTimeout time.Duration
	metricsToken    string
	metricsAddr     string
	getenv          env
	// envErr holds the variables above that do not parse.
	envErr error
}

func (f *observeFlags) register(fs *flag.FlagSet, e env) {
	v := newEnvValues(e)
	f.getenv = e
	fs.StringVar(&f.corsOrigins, "cors-origins", e("AIPROXY_CORS_ORIGINS"),
		"comma-separated browser origins allowed to call the API, e.g. https://app.example.com, or * [AIPROXY_CORS_ORIGINS]")
	fs.Int64Var(&f.maxBodyBytes, "max-body-bytes", v.int64("AIPROXY_MAX_BODY_BYTES", proxy.DefaultMaxBodyBytes),
		"largest upload accepted by an invoke call; a catalog endpoint's max_body_bytes overrides it [AIPROXY_MAX_BODY_BYTES]")
	fs.DurationVar(&f.bodyReadTimeout, "body-read-timeout", v.duration("AIPROXY_BODY_READ_TIMEOUT", httpapi.DefaultBodyReadTimeout),
		"longest silence allowed while a client sends a request body [AIPROXY_BODY_READ_TIMEOUT]")
	f.metricsToken = e("AIPROXY_METRICS_TOKEN")
	fs.StringVar(&f.metricsAddr, "metrics-addr", e("AIPROXY_METRICS_ADDR"),
		"serve /metrics on this separate address (e.g. 127.0.0.1:9090, for a scraper inside the network); without it, /metrics is served on the API's address only when AIPROXY_METRICS_TOKEN is set [AIPROXY_METRICS_ADDR]")
	f.envErr = v.err()
}

// validate reports the variables that do not parse.
func (f *observeFlags) validate() error { return f.envErr }

// observability is a server's metrics, tracer and hardening settings.
type observability struct {
	flags   observeFlags
	metrics *metrics.Metrics
	tracer  *tracing.Tracer
}

func newObservability(ctx context.Context, f observeFlags) (*observability, error) {
	getenv := f.getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	tr, err := tracing.New(ctx, getenv, version)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	return &observability{flags: f, metrics: metrics.New(), tracer: tr}, nil
}

// proxyConfig adds the upload limit and the observing transport.
func (o *observability) proxyConfig(c proxy.Config) proxy.Config {
	if c.Transport == nil {
		c.Transport = proxy.NewTransport()
	}
	c.Transport = o.tracer.Transport(o.metrics.Transport(c.Transport))
	c.MaxBodyBytes = o.flags.maxBodyBytes
	return c
}

// apiConfig adds CORS, the body read timeout, metrics and the version
// /healthz shows to the API's configuration.
func (o *observability) apiConfig(api httpapi.Config) httpapi.Config {
	api.Version = version
	for _, origin := range strings.Split(o.flags.corsOrigins, ",") {
		if origin = strings.TrimSpace(origin); origin != "" {
			api.CORSOrigins = append(api.CORSOrigins, origin)
		}
	}
	api.BodyReadTimeout = o.flags.bodyReadTimeout
	api.Metrics = o.metrics
	return api
}

// jobStore lets the metrics count job states and deliveries by wrapping
// the store the jobs service gets.
func (o *observability) jobStore(db aiproxy.Store) metrics.JobStore {
	return o.metrics.Jobs(db)
}

// wrap traces every request, and serves /metrics beside the API when a
// metrics token guards it there. Without a token the metrics are not on
// the API's address at all: they name orgs and services, and the API's
// address faces the internet (use --metrics-addr for a private one).
func (o *observability) wrap(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	if o.flags.metricsToken != "" {
		mux.Handle("GET /metrics", o.metricsHandler())
	}
	mux.Handle("/", h)
	return o.tracer.Handler(consoleHeaders(mux))
}

// metricsServer serves /metrics alone, for the separate metrics listener.
func (o *observability) metricsServer() *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", o.metricsHandler())
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}

// consoleHeaders adds security headers to the console's pages: no
// framing (clickjacking), no MIME sniffing, no referrer carrying a URL to
// another site, and no plugins or foreign base URL. Scripts are not
// restricted further, so that the console's own modules keep working.
func consoleHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/console") {
			h := w.Header()
			h.Set("X-Frame-Options", "DENY")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Content-Security-Policy", "frame-ancestors 'none'; object-src 'none'; base-uri 'self'")
		}
		next.ServeHTTP(w, r)
	})
}

// metricsHandler serves the metrics, behind a bearer token when
// AIPROXY_METRICS_TOKEN is set.
func (o *observability) metricsHandler() http.Handler {
	h := o.metrics.Handler()
	token := o.flags.metricsToken
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (o *observability) close(ctx context.Context) {
	_ = o.tracer.Shutdown(ctx)
}

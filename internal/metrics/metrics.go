// Package metrics exports aiproxy's Prometheus metrics: invoke calls by
// service, action and status; provider latency; aiproxy's own overhead;
// cache lookups; guardrail refusals; jobs by state; webhook deliveries.
//
// Labels are bounded by construction: services and actions come from the
// catalog (anything else is "unknown"), statuses are numbers, orgs are the
// operator's own list. No label ever carries a key id, a URL, a query or a
// secret. Each Metrics has its own registry, so tests and several servers
// in one process never collide.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aiproxy/aiproxy/internal/proxy"
)

// Unknown is the label value of a service or action the catalog lacks.
const Unknown = "unknown"

// Metrics holds aiproxy's collectors and their registry. A nil *Metrics
// records nothing, so that callers need no checks.
type Metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	provider   *prometheus.HistogramVec
	overhead   prometheus.Histogram
	cache      *prometheus.CounterVec
	rejections *prometheus.CounterVec
	jobs       *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	http       *prometheus.CounterVec
}

// latencyBuckets span a cached answer to a slow render start (seconds).
var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}

// overheadBuckets span aiproxy's own time per call (seconds).
var overheadBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}

// New returns metrics registered in a fresh registry, with the Go runtime
// and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aiproxy_requests_total", Help: "Invoke calls by service, action and the status sent to the client.",
		}, []string{"service", "action", "status"}),
		provider: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "aiproxy_provider_latency_seconds", Help: "Time from sending a provider request to its response head, per attempt.",
			Buckets: latencyBuckets,
		}, []string{"service", "action", "outcome"}),
		overhead: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "aiproxy_overhead_seconds", Help: "aiproxy's own time per invoke call: time to the client's response head minus time waiting for providers.",
			Buckets: overheadBuckets,
		}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aiproxy_cache_lookups_total", Help: "Response cache lookups by result (HIT, MISS, STALE).",
		}, []string{"service", "action", "result"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aiproxy_guardrail_rejections_total", Help: "Calls refused by a guardrail, by org and error code.",
		}, []string{"org", "code"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aiproxy_jobs_total", Help: "Provider jobs entering each state.",
		}, []string{"service", "state"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aiproxy_webhook_deliveries_total", Help: "Webhook delivery attempts by result (delivered, retry, failed).",
		}, []string{"result"}),
		http: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aiproxy_http_requests_total", Help: "Every HTTP request by method and status class.",
		}, []string{"method", "code"}),
	}
	m.reg.MustRegister(m.requests, m.provider, m.overhead, m.cache, m.rejections, m.jobs, m.deliveries, m.http,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry returns the registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Invoke records one finished invoke call. service and action must be
// catalog slugs or Unknown; org labels refusals only.
func (m *Metrics) Invoke(org, service, action string, status int, code, cache string) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(service, action, strconv.Itoa(status)).Inc()
	switch cache {
	case "HIT", "MISS", "STALE":
		m.cache.WithLabelValues(service, action, cache).Inc()
	}
	switch code {
	case "rate_limited", "quota_exceeded":
		m.rejections.WithLabelValues(org, code).Inc()
	}
}

// Overhead records aiproxy's own time for one call.
func (m *Metrics) Overhead(d time.Duration) {
	if m == nil || d < 0 {
		return
	}
	m.overhead.Observe(d.Seconds())
}

// HTTP records one HTTP request of any route.
func (m *Metrics) HTTP(method string, status int) {
	if m == nil {
		return
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions, http.MethodPatch:
	default:
		method = "other"
	}
	m.http.WithLabelValues(method, statusClass(status)).Inc()
}

var statusClasses = [...]string{"0xx", "1xx", "2xx", "3xx", "4xx", "5xx"}

// statusClass is "2xx" for 200 and so on, without building the string.
func statusClass(status int) string {
	if c := status / 100; c >= 0 && c < len(statusClasses) {
		return statusClasses[c]
	}
	return strconv.Itoa(status/100) + "xx"
}

// Timing adds up the time one client call spent waiting for providers.
type Timing struct{ upstream atomic.Int64 }

type timingKey struct{}

// WithTiming returns a context whose provider requests add their wait to
// the returned Timing.
func WithTiming(ctx context.Context) (context.Context, *Timing) {
	t := &Timing{}
	return context.WithValue(ctx, timingKey{}, t), t
}

// Upstream returns the provider time added so far.
func (t *Timing) Upstream() time.Duration { return time.Duration(t.upstream.Load()) }

// Transport wraps a provider transport to observe each attempt's latency
// to the response head, labelled by the call the proxy put in the request
// context, and to add it to the request's Timing.
func (m *Metrics) Transport(next http.RoundTripper) http.RoundTripper {
	if m == nil {
		return next
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := next.RoundTrip(req)
		d := time.Since(start)
		if t, ok := req.Context().Value(timingKey{}).(*Timing); ok {
			t.upstream.Add(int64(d))
		}
		call, ok := proxy.UpstreamCallFrom(req.Context())
		if !ok {
			call = proxy.UpstreamCall{Service: Unknown, Action: Unknown}
		}
		outcome := "error"
		if err == nil {
			outcome = statusClass(resp.StatusCode)
		}
		m.provider.WithLabelValues(call.Service, call.Action, outcome).Observe(d.Seconds())
		return resp, err
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Package tracing sends OpenTelemetry traces over OTLP/HTTP when the
// operator asks for them: it is off unless OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, and then the exporter reads
// the standard OTEL_* variables itself.
//
// A server span covers each request (continuing a client's traceparent),
// and a client span covers each provider call, whose context goes upstream
// in traceparent. Spans carry the service, the action and statuses; never
// a URL's query, a header or a body, so no secret reaches the collector.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/aiproxy/aiproxy/internal/proxy"
)

// Tracer makes aiproxy's spans. The zero value is off: its wrappers return
// what they wrap.
type Tracer struct {
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	shutdown func(context.Context) error
}

// Enabled reports whether the environment asks for tracing.
func Enabled(getenv func(string) string) bool {
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// New returns a Tracer exporting over OTLP/HTTP when Enabled, else an off
// one. version names the service version in the resource.
func New(ctx context.Context, getenv func(string) string, version string) (*Tracer, error) {
	if !Enabled(getenv) {
		return &Tracer{}, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "aiproxy"), attribute.String("service.version", version))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return NewWithProvider(tp, tp.Shutdown), nil
}

// NewWithProvider returns a Tracer on a given provider, for tests.
func NewWithProvider(tp trace.TracerProvider, shutdown func(context.Context) error) *Tracer {
	return &Tracer{tracer: tp.Tracer("github.com/aiproxy/aiproxy"), prop: propagation.TraceContext{}, shutdown: shutdown}
}

func (t *Tracer) on() bool { return t != nil && t.tracer != nil }

// Shutdown flushes and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if !t.on() || t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// Handler wraps the server with a span per request, continuing the
// client's trace when it sent a traceparent.
func (t *Tracer) Handler(next http.Handler) http.Handler {
	if !t.on() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := t.tracer.Start(ctx, r.Method+" "+routeName(r.URL.Path), trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method)))
		defer span.End()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", sw.statusOrOK()))
		if sw.statusOrOK() >= 500 {
			span.SetStatus(codes.Error, strconv.Itoa(sw.statusOrOK()))
		}
	})
}

// routeName names a span by the kind of route, never by its org, key id
// or other values.
func routeName(path string) string {
	switch {
	case len(path) >= len("/api/ai-proxy/") && path[:len("/api/ai-proxy/")] == "/api/ai-proxy/":
		return "/api/ai-proxy"
	case path == "/metrics", path == "/healthz", path == "/readyz":
		return path
	}
	return "other"
}

// Transport wraps a provider transport with a client span per attempt and
// sends its context upstream in traceparent.
func (t *Tracer) Transport(next http.RoundTripper) http.RoundTripper {
	if !t.on() {
		return next
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		call, _ := proxy.UpstreamCallFrom(req.Context())
		ctx, span := t.tracer.Start(req.Context(), "provider "+call.Service+"/"+call.Action,
			trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
				attribute.String("aiproxy.service", call.Service), attribute.String("aiproxy.action", call.Action),
				attribute.String("http.request.method", req.Method), attribute.String("server.address", req.URL.Host)))
		defer span.End()
		out := req.Clone(ctx)
		t.prop.Inject(ctx, propagation.HeaderCarrier(out.Header))
		resp, err := next.RoundTrip(out)
		switch {
		case err != nil:
			span.SetStatus(codes.Error, "provider request failed")
		default:
			span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
			if resp.StatusCode >= 500 {
				span.SetStatus(codes.Error, strconv.Itoa(resp.StatusCode))
			}
		}
		return resp, err
	})
}

// Noop returns a Tracer that makes spans nobody records, for tests of the
// wiring.
func Noop() *Tracer { return NewWithProvider(noop.NewTracerProvider(), nil) }

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// statusWriter remembers the status for the span.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) statusOrOK() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

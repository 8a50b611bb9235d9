package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestOffWithoutEndpoint(t *testing.T) {
	tr, err := New(context.Background(), func(string) string { return "" }, "test")
	if err != nil {
		t.Fatal(err)
	}
	rt := http.DefaultTransport
	if tr.Transport(rt) != rt {
		t.Fatal("an off tracer wrapped the transport")
	}
}

// TestProviderSpanAndTraceparent checks that a provider call continues the
// client's trace, gets a client span, and sends traceparent upstream.
func TestProviderSpanAndTraceparent(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr := NewWithProvider(tp, tp.Shutdown)
	var sent string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent = r.Header.Get("Traceparent")
	}))
	defer upstream.Close()
	client := &http.Client{Transport: tr.Transport(http.DefaultTransport)}
	srv := httptest.NewServer(tr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), "GET", upstream.URL+"/v1/voices?key=secret", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
	})))
	defer srv.Close()
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req, _ := http.NewRequest("POST", srv.URL+"/api/ai-proxy/orgs/acme/services/x/y/", nil)
	req.Header.Set("Traceparent", parent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(sent, "00-4bf92f3577b34da6a3ce929d0e0e4736-") || sent == parent {
		t.Fatalf("upstream traceparent = %q, want the client's trace with a new span", sent)
	}
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want server and provider", len(spans))
	}
	for _, s := range spans {
		for _, a := range s.Attributes() {
			if strings.Contains(a.Value.String(), "secret") || strings.Contains(s.Name(), "acme") {
				t.Fatalf("span %q carries %s=%s", s.Name(), a.Key, a.Value.String())
			}
		}
	}
}

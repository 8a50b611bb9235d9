package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/metrics"
)

// measured records an invoke call in the metrics: its status, cache
// result and refusals, and aiproxy's own overhead (the time to the
// client's response head less the time spent waiting for providers).
func (s *server) measured(h handlerFunc) handlerFunc {
	m := s.cfg.Metrics
	if m == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		start := time.Now()
		ctx, timing := metrics.WithTiming(r.Context())
		hw := &headTimer{ResponseWriter: w}
		err := h(hw, r.WithContext(ctx))
		status, code := hw.status, ""
		var e *aiproxy.Error
		if errors.As(err, &e) {
			status, code = statusOf[e.Code], string(e.Code)
		} else if err != nil {
			status = http.StatusInternalServerError
		}
		service, action := s.metricLabels(r.PathValue("service"), r.PathValue("action"))
		m.Invoke(r.PathValue("org"), service, action, status, code, w.Header().Get("X-Aiproxy-Cache"))
		head := hw.at
		if head.IsZero() {
			head = time.Now()
		}
		m.Overhead(head.Sub(start) - timing.Upstream())
		return err
	}
}

// metricLabels keeps label values to the catalog's slugs.
func (s *server) metricLabels(service, action string) (string, string) {
	svc, ok := s.cfg.Catalog.Service(service)
	if !ok {
		return metrics.Unknown, metrics.Unknown
	}
	if _, ok := svc.Endpoint(action); !ok {
		return svc.Slug, metrics.Unknown
	}
	return svc.Slug, action
}

// countHTTP counts every request by method and status class.
func (s *server) countHTTP(next http.Handler) http.Handler {
	m := s.cfg.Metrics
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw := &headTimer{ResponseWriter: w}
		defer func() { m.HTTP(r.Method, hw.statusOrOK()) }()
		next.ServeHTTP(hw, r)
	})
}

// headTimer notes when and with what status the response head was written.
type headTimer struct {
	http.ResponseWriter
	status int
	at     time.Time
}

func (h *headTimer) WriteHeader(code int) {
	if h.status == 0 {
		h.status, h.at = code, time.Now()
	}
	h.ResponseWriter.WriteHeader(code)
}

func (h *headTimer) Write(p []byte) (int, error) {
	if h.status == 0 {
		h.status, h.at = http.StatusOK, time.Now()
	}
	return h.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the real writer to flush.
func (h *headTimer) Unwrap() http.ResponseWriter { return h.ResponseWriter }

func (h *headTimer) statusOrOK() int {
	if h.status == 0 {
		return http.StatusOK
	}
	return h.status
}

package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[aiproxy.Code]int{
	aiproxy.CodeInvalid:          http.StatusBadRequest,
	aiproxy.CodeUnauthenticated:  http.StatusUnauthorized,
	aiproxy.CodeForbidden:        http.StatusForbidden,
	aiproxy.CodeNotFound:         http.StatusNotFound,
	aiproxy.CodeMethodNotAllowed: http.StatusMethodNotAllowed,
	aiproxy.CodeConflict:         http.StatusConflict,
	aiproxy.CodeTooLarge:         http.StatusRequestEntityTooLarge,
	aiproxy.CodeRateLimited:      http.StatusTooManyRequests,
	aiproxy.CodeQuotaExceeded:    http.StatusTooManyRequests,
	aiproxy.CodeBudgetExceeded:   http.StatusPaymentRequired,
	aiproxy.CodeUpstreamFailed:   http.StatusBadGateway,
	aiproxy.CodeUpstreamTimeout:  http.StatusGatewayTimeout,
	aiproxy.CodeRequestTimeout:   http.StatusRequestTimeout,
	aiproxy.CodeUnavailable:      http.StatusServiceUnavailable,
	aiproxy.CodeInternal:         http.StatusInternalServerError,
}

// StatusClientClosed is logged when a client goes away before its answer.
const StatusClientClosed = 499

// handlerFunc is an HTTP handler that returns its error.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// renderError writes err in the contract's shape: the message under
// "detail" (or "error"), and the code under "code".
func renderError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) int {
	if errors.Is(err, proxy.ErrClientGone) {
		log.Info("client closed request", "path", r.URL.Path, "request_id", requestID(r))
		return StatusClientClosed
	}
	var e *aiproxy.Error
	if !errors.As(err, &e) || e.Code == aiproxy.CodeInternal || statusOf[e.Code] == 0 {
		e = uncoded(r, log, err)
	} else if e.Err != nil {
		log.Warn("request failed", "path", r.URL.Path, "request_id", requestID(r), "code", e.Code, "err", e.Err)
	}
	field := e.Field
	if field == "" {
		field = aiproxy.FieldDetail
	}
	status := statusOf[e.Code]
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if len(e.Extra) == 0 {
		writeJSON(w, status, map[string]string{string(field): e.Message, "code": string(e.Code)})
		return status
	}
	body := make(map[string]any, len(e.Extra)+2)
	for k, v := range e.Extra {
		body[k] = v
	}
	body[string(field)], body["code"] = e.Message, string(e.Code)
	writeJSON(w, status, body)
	return status
}

// msgUnavailable is the answer to a database outage.
const msgUnavailable = "The service is temporarily unavailable. Retry shortly."

// outageRetryAfter is the Retry-After, in seconds, of a database outage:
// long enough not to hammer a database that is coming back, short enough
// for a blip.
const outageRetryAfter = 2

// uncoded turns an error that carries no client-facing code into one: a
// database outage (aiproxy.ErrUnavailable, which the engines attach) is
// 503 unavailable with Retry-After, anything else 500 internal. The cause
// is only logged.
func uncoded(r *http.Request, log *slog.Logger, err error) *aiproxy.Error {
	if errors.Is(err, aiproxy.ErrUnavailable) {
		log.Warn("database unavailable", "path", r.URL.Path, "request_id", requestID(r), "err", err)
		return &aiproxy.Error{Code: aiproxy.CodeUnavailable, Message: msgUnavailable, RetryAfter: outageRetryAfter}
	}
	log.Error("internal error", "path", r.URL.Path, "request_id", requestID(r), "err", err)
	return &aiproxy.Error{Code: aiproxy.CodeInternal, Message: "Internal server error."}
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

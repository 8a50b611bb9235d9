package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// wantStatus is the status table written out independently of statusOf.
var wantStatus = map[aiproxy.Code]int{
	aiproxy.CodeInvalid:          400,
	aiproxy.CodeUnauthenticated:  401,
	aiproxy.CodeForbidden:        403,
	aiproxy.CodeNotFound:         404,
	aiproxy.CodeMethodNotAllowed: 405,
	aiproxy.CodeConflict:         409,
	aiproxy.CodeTooLarge:         413,
	aiproxy.CodeRateLimited:      429,
	aiproxy.CodeQuotaExceeded:    429,
	aiproxy.CodeBudgetExceeded:   402,
	aiproxy.CodeUpstreamFailed:   502,
	aiproxy.CodeUpstreamTimeout:  504,
	aiproxy.CodeRequestTimeout:   408,
	aiproxy.CodeUnavailable:      503,
	aiproxy.CodeInternal:         500,
}

func render(err error) (*httptest.ResponseRecorder, int, *strings.Builder) {
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/x", nil)
	status := renderError(w, r, log, err)
	return w, status, &logs
}

func TestStatusTableCoversEveryCode(t *testing.T) {
	for _, code := range aiproxy.Codes {
		t.Run(string(code), func(t *testing.T) {
			want, ok := wantStatus[code]
			if !ok {
				t.Fatalf("test table lacks code %q", code)
			}
			if got := statusOf[code]; got != want {
				t.Fatalf("statusOf[%q] = %d, want %d", code, got, want)
			}
			w, status, _ := render(aiproxy.Errorf(code, "Message for %s.", code))
			if status != want || w.Code != want {
				t.Fatalf("rendered %d (returned %d), want %d", w.Code, status, want)
			}
			wantMsg := "Message for " + string(code) + "."
			if code == aiproxy.CodeInternal {
				wantMsg = "Internal server error."
			}
			expectBody(t, w.Body.Bytes(), map[string]string{"detail": wantMsg, "code": string(code)})
			if w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("Content-Type = %q", w.Header().Get("Content-Type"))
			}
		})
	}
	if len(statusOf) != len(aiproxy.Codes) {
		t.Fatalf("statusOf has %d entries for %d codes", len(statusOf), len(aiproxy.Codes))
	}
}

func TestRenderError(t *testing.T) {
	secret := "db password hunter2 at /var/lib/x"
	tests := []struct {
		name      string
		err       error
		status    int
		body      map[string]string
		header    map[string]string
		notLogged bool
	}{
		{"uncoded error is internal", errors.New(secret), 500,
			map[string]string{"detail": "Internal server error.", "code": "internal"}, nil, false},
		{"wrapped uncoded error", fmt.Errorf("load: %w", errors.New(secret)), 500,
			map[string]string{"detail": "Internal server error.", "code": "internal"}, nil, false},
		{"internal code hides its message", &aiproxy.Error{Code: aiproxy.CodeInternal, Message: secret}, 500,
			map[string]string{"detail": "Internal server error.", "code": "internal"}, nil, false},
		{"cause is only logged", &aiproxy.Error{Code: aiproxy.CodeUpstreamFailed, Message: aiproxy.MsgUpstreamFailed, Err: errors.New(secret)}, 502,
			map[string]string{"detail": "The upstream external service request failed.", "code": "upstream_failed"}, nil, false},
		{"wrapped coded error", fmt.Errorf("ctx: %w", aiproxy.ErrServiceNotFound("x")), 404,
			map[string]string{"detail": "External proxy service 'x' not found or disabled.", "code": "not_found"}, nil, false},
		{"error field", aiproxy.ErrMissingPathParam("voice_id"), 400,
			map[string]string{"error": "Missing required path parameter: voice_id", "code": "invalid"}, nil, false},
		{"retry after", &aiproxy.Error{Code: aiproxy.CodeRateLimited, Message: aiproxy.MsgRateLimited, RetryAfter: 30}, 429,
			map[string]string{"detail": "Request was throttled.", "code": "rate_limited"}, map[string]string{"Retry-After": "30"}, false},
		{"unknown code is internal", &aiproxy.Error{Code: "bogus", Message: secret}, 500,
			map[string]string{"detail": "Internal server error.", "code": "internal"}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, status, logs := render(tc.err)
			if status != tc.status || w.Code != tc.status {
				t.Fatalf("status %d/%d, want %d", status, w.Code, tc.status)
			}
			expectBody(t, w.Body.Bytes(), tc.body)
			if strings.Contains(w.Body.String(), "hunter2") {
				t.Fatal("the body leaks an internal detail")
			}
			for k, v := range tc.header {
				if w.Header().Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, w.Header().Get(k), v)
				}
			}
			if strings.Contains(tc.err.Error(), "hunter2") && !strings.Contains(logs.String(), "hunter2") {
				t.Errorf("the cause was not logged: %s", logs)
			}
		})
	}
}

func TestRenderClientGone(t *testing.T) {
	w, status, logs := render(fmt.Errorf("send: %w", proxy.ErrClientGone))
	if status != StatusClientClosed {
		t.Fatalf("status %d, want 499", status)
	}
	if w.Body.Len() != 0 || len(w.Header()) != 0 {
		t.Fatalf("wrote %v %q to a gone client", w.Header(), w.Body)
	}
	if !strings.Contains(logs.String(), "client closed request") || strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("logs = %s", logs)
	}
}

// TestPanicRendersInternal checks the middleware's recovery through a real
// handler chain.
func TestPanicRendersInternal(t *testing.T) {
	s := &server{cfg: Config{Now: time.Now}, log: slog.New(slog.DiscardHandler)}
	h := s.middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom hunter2") }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 500 || strings.Contains(w.Body.String(), "hunter2") {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	expectBody(t, w.Body.Bytes(), map[string]string{"detail": "Internal server error.", "code": "internal"})
}

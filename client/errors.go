package client

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Error is an answer of 400 or more from aiproxy. Detail is the message
// (the contract's "detail", or "error" for credential-policy and
// path-parameter cases); Code is aiproxy's machine-readable code, such as
// "not_found" or "upstream_failed". Compare with errors.Is against the
// Err* values, which match by code.
type Error struct {
	Status int
	Code   string
	Detail string
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
	// RequestID is the X-Request-Id of the failed request, for support.
	RequestID string
	// Body is the raw answer when it was not the contract's JSON shape,
	// such as a provider's own 4xx body; at most 64 KiB.
	Body []byte
	// Budget says which budget refused the call and when it resets, for
	// a 402 budget_exceeded (ErrBudgetExceeded); nil for any other error.
	Budget *BudgetRefusal
}

// Error returns the status, code and message.
func (e *Error) Error() string {
	return fmt.Sprintf("aiproxy: %d %s: %s", e.Status, e.Code, e.Detail)
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, client.ErrNotFound) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code != "" && t.Code == e.Code && t.Status == 0
}

// Errors to compare with errors.Is; they match any *Error with their code.
var (
	ErrInvalid          = &Error{Code: "invalid"}
	ErrUnauthenticated  = &Error{Code: "unauthenticated"}
	ErrForbidden        = &Error{Code: "forbidden"}
	ErrNotFound         = &Error{Code: "not_found"}
	ErrMethodNotAllowed = &Error{Code: "method_not_allowed"}
	ErrConflict         = &Error{Code: "conflict"}
	ErrTooLarge         = &Error{Code: "too_large"}
	ErrRateLimited      = &Error{Code: "rate_limited"}
	ErrQuotaExceeded    = &Error{Code: "quota_exceeded"}
	// ErrBudgetExceeded is a 402: a spending budget (or a user token's
	// max_spend) would be passed by the call. The *Error's Budget says
	// which budget and when it resets.
	ErrBudgetExceeded  = &Error{Code: "budget_exceeded"}
	ErrUpstreamFailed  = &Error{Code: "upstream_failed"}
	ErrUpstreamTimeout = &Error{Code: "upstream_timeout"}
	ErrInternal        = &Error{Code: "internal"}
)

// codeByStatus names the code of an answer that carries none, such as a
// provider's own 4xx body passed through verbatim.
var codeByStatus = map[int]string{
	400: "invalid", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
	409: "conflict", 413: "too_large", 422: "invalid", 429: "rate_limited", 502: "upstream_failed", 504: "upstream_timeout",
}

// errorFrom reads an error answer.
func errorFrom(resp *http.Response) *Error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id")}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	var body map[string]any
	if json.Unmarshal(data, &body) == nil {
		e.Detail = firstMessage(body["detail"], body["error"], body["message"])
		if c, ok := body["code"].(string); ok && knownCodes[c] {
			e.Code = c
		}
		if e.Code == ErrBudgetExceeded.Code {
			e.Budget = budgetRefusal(data)
		}
	}
	if e.Code == "" {
		// Not aiproxy's own error: a provider's 4xx passed through verbatim.
		e.Body = data
		e.Code = codeByStatus[resp.StatusCode]
		if e.Code == "" {
			e.Code = "internal"
		}
	}
	if e.Detail == "" {
		e.Detail = http.StatusText(resp.StatusCode)
	}
	return e
}

// knownCodes are aiproxy's own codes; a provider body's "code" is not one.
var knownCodes = func() map[string]bool {
	m := map[string]bool{}
	for _, e := range []*Error{ErrInvalid, ErrUnauthenticated, ErrForbidden, ErrNotFound, ErrMethodNotAllowed, ErrConflict,
		ErrTooLarge, ErrRateLimited, ErrQuotaExceeded, ErrBudgetExceeded, ErrUpstreamFailed, ErrUpstreamTimeout, ErrInternal} {
		m[e.Code] = true
	}
	return m
}()

// firstMessage returns the first value that gives a message.
func firstMessage(vs ...any) string {
	for _, v := range vs {
		if s := message(v); s != "" {
			return s
		}
	}
	return ""
}

// message turns a detail or error value into text: a string as it is, a
// provider's object by its message field, anything else as JSON.
func message(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case map[string]any:
		for _, k := range []string{"message", "detail", "status"} {
			if s, ok := x[k].(string); ok && s != "" {
				return s
			}
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

package aiproxy

import (
	"errors"
	"fmt"
)

// Code is the closed set of machine-readable error codes that aiproxy returns.
// Each code maps to exactly one HTTP status in the HTTP adapter.
type Code string

// The error codes. An error that carries no code is internal, and its text is
// never shown to a client.
const (
	CodeInvalid          Code = "invalid"
	CodeUnauthenticated  Code = "unauthenticated"
	CodeForbidden        Code = "forbidden"
	CodeNotFound         Code = "not_found"
	CodeMethodNotAllowed Code = "method_not_allowed"
	CodeConflict         Code = "conflict"
	CodeTooLarge         Code = "too_large"
	CodeRateLimited      Code = "rate_limited"
	CodeQuotaExceeded    Code = "quota_exceeded"
	// CodeBudgetExceeded is a call refused because a spending budget (of
	// the org, key, user or token) cannot cover it: 402, while rate limits
	// and quotas stay 429.
	CodeBudgetExceeded  Code = "budget_exceeded"
	CodeUpstreamFailed  Code = "upstream_failed"
	CodeUpstreamTimeout Code = "upstream_timeout"
	// CodeRequestTimeout is a client whose request body stalled or ended
	// short of its Content-Length for longer than the body timeout.
	CodeRequestTimeout Code = "request_timeout"
	// CodeUnavailable is aiproxy's own temporary failure: state shared by
	// every replica (Redis) cannot be reached, and the operator chose to
	// refuse calls rather than let limits go unchecked.
	CodeUnavailable Code = "unavailable"
	CodeInternal    Code = "internal"
)

// Codes lists every error code, for tests and documentation.
var Codes = []Code{
	CodeInvalid, CodeUnauthenticated, CodeForbidden, CodeNotFound,
	CodeMethodNotAllowed, CodeConflict, CodeTooLarge, CodeRateLimited,
	CodeQuotaExceeded, CodeBudgetExceeded, CodeUpstreamFailed, CodeUpstreamTimeout, CodeRequestTimeout, CodeUnavailable, CodeInternal,
}

// Field names the JSON key that carries an error's message. The contract uses
// "detail" for most errors and "error" for credential-policy and
// path-parameter errors.
type Field string

// The two message fields of the contract.
const (
	FieldDetail Field = "detail"
	FieldError  Field = "error"
)

// Error is aiproxy's one error type. Message is safe to show a client; Err is
// the underlying cause, which is only logged.
type Error struct {
	Code    Code
	Message string
	// Field is the JSON key for Message; the zero value means FieldDetail.
	Field Field
	// RetryAfter, when positive, is sent as a Retry-After header in seconds.
	RetryAfter int
	// Extra holds more members of the error body, safe to show the client
	// (a refused budget's scope and reset time); the message and code
	// members cannot be replaced.
	Extra map[string]any
	Err   error
}

// Error returns the client-safe message followed by the logged cause.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error with a code and a client-safe formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// CodeInternal when there is none.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrNotFound is returned by stores when a record does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned by stores when a record already exists.
var ErrConflict = errors.New("already exists")

// The contract's exact messages. They are part of the API and must not change.
const (
	MsgNoAuth           = "Authentication credentials were not provided."
	MsgInvalidToken     = "Invalid token."
	MsgPermissionDenied = "You do not have permission to perform this action."
	MsgUpstreamFailed   = "The upstream external service request failed."
	MsgUpstreamTimeout  = "The upstream external service request timed out."
	MsgPolicyNoSource   = "Credential policy does not allow any credential source."
	MsgRateLimited      = "Request was throttled."
	msgServiceNotFound  = "External proxy service '%s' not found or disabled."
	msgNoCredentials    = "No allowed credentials found for external proxy service '%s'."
	msgMissingPathParam = "Missing required path parameter: %s"
)

// ErrServiceNotFound is the contract's 404 for an unknown or disabled service
// or action. name is what the client asked for.
func ErrServiceNotFound(name string) *Error {
	return Errorf(CodeNotFound, msgServiceNotFound, name)
}

// ErrNoCredentials is the contract's 404 when no allowed credential exists.
func ErrNoCredentials(service string) *Error {
	return Errorf(CodeNotFound, msgNoCredentials, service)
}

// ErrMissingPathParam is the contract's 400 for an unfilled path placeholder.
func ErrMissingPathParam(name string) *Error {
	e := Errorf(CodeInvalid, msgMissingPathParam, name)
	e.Field = FieldError
	return e
}

// ErrPolicyNoSource is the contract's 400 when a credential policy allows no
// source at all.
func ErrPolicyNoSource() *Error {
	return &Error{Code: CodeInvalid, Message: MsgPolicyNoSource, Field: FieldError}
}

// ErrUnavailable marks a store's error when the database itself cannot
// serve: it refused or dropped the connection, was shut down, stayed locked
// past its timeout, or cannot write (read-only, disk full). Each engine wraps
// such errors with it, keeping the cause; the HTTP adapter answers them 503
// unavailable with Retry-After instead of 500, since they are temporary.
var ErrUnavailable = errors.New("database unavailable")

// SchemaTooNewError is returned when a database's schema has been migrated
// past the last migration this binary knows, by a newer release: the older
// code could misread or damage what the newer one stores, so it refuses to
// serve unless the operator overrides the check.
type SchemaTooNewError struct {
	// Database is the schema version the database is at; Known is the last
	// version this binary knows.
	Database, Known int64
}

// Error names both versions and the override.
func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("the database schema is at version %d, newer than version %d, the last this aiproxy knows: "+
		"run a release that knows it, or start with --allow-newer-schema (AIPROXY_ALLOW_NEWER_SCHEMA=1) to use it anyway",
		e.Database, e.Known)
}

package aiproxy

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestErrorCode(t *testing.T) {
	cause := errors.New("disk on fire")
	tests := []struct {
		name string
		err  error
		want Code
	}{
		{"nil chain", errors.New("plain"), CodeInternal},
		{"direct", Errorf(CodeNotFound, "x"), CodeNotFound},
		{"wrapped", fmt.Errorf("ctx: %w", Errorf(CodeConflict, "x")), CodeConflict},
		{"with cause", &Error{Code: CodeUpstreamFailed, Err: cause}, CodeUpstreamFailed},
		{"sentinel only", fmt.Errorf("read: %w", ErrNotFound), CodeInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ErrorCode(tc.err); got != tc.want {
				t.Fatalf("ErrorCode = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestErrorUnwrapAndText(t *testing.T) {
	cause := errors.New("disk on fire")
	e := &Error{Code: CodeInternal, Message: "Internal server error.", Err: cause}
	if !errors.Is(e, cause) {
		t.Error("errors.Is does not reach the cause")
	}
	if got := e.Error(); !strings.Contains(got, "disk on fire") || !strings.Contains(got, "internal") {
		t.Errorf("Error() = %q, want code and cause", got)
	}
	if got := Errorf(CodeInvalid, "bad %s", "thing").Error(); got != "invalid: bad thing" {
		t.Errorf("Error() = %q", got)
	}
}

func TestCodesAreDistinctAndComplete(t *testing.T) {
	seen := map[Code]bool{}
	for _, c := range Codes {
		if c == "" || seen[c] {
			t.Errorf("code %q empty or repeated", c)
		}
		seen[c] = true
	}
	// The closed set named in STYLE.md, plus the HTTP-shaped extras.
	for _, c := range []Code{CodeInvalid, CodeUnauthenticated, CodeForbidden, CodeNotFound, CodeConflict,
		CodeRateLimited, CodeQuotaExceeded, CodeUpstreamFailed, CodeUpstreamTimeout, CodeInternal,
		CodeMethodNotAllowed, CodeTooLarge} {
		if !seen[c] {
			t.Errorf("Codes is missing %q", c)
		}
	}
}

// TestContractMessages pins the exact strings of the contract (§8).
func TestContractMessages(t *testing.T) {
	tests := []struct {
		name  string
		err   *Error
		code  Code
		field Field
		msg   string
	}{
		{"service not found", ErrServiceNotFound("unknown"), CodeNotFound, "", "External proxy service 'unknown' not found or disabled."},
		{"no credentials", ErrNoCredentials("elevenlabs"), CodeNotFound, "", "No allowed credentials found for external proxy service 'elevenlabs'."},
		{"missing path param", ErrMissingPathParam("voice_id"), CodeInvalid, FieldError, "Missing required path parameter: voice_id"},
		{"policy no source", ErrPolicyNoSource(), CodeInvalid, FieldError, "Credential policy does not allow any credential source."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err.Code != tc.code || tc.err.Field != tc.field || tc.err.Message != tc.msg {
				t.Fatalf("got %q %q %q; want %q %q %q", tc.err.Code, tc.err.Field, tc.err.Message, tc.code, tc.field, tc.msg)
			}
		})
	}
	for got, want := range map[string]string{
		MsgNoAuth:           "Authentication credentials were not provided.",
		MsgInvalidToken:     "Invalid token.",
		MsgPermissionDenied: "You do not have permission to perform this action.",
		MsgUpstreamFailed:   "The upstream external service request failed.",
	} {
		if got != want {
			t.Errorf("message %q, want %q", got, want)
		}
	}
}

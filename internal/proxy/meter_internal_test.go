package proxy

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// TestErrorDetail pins what the request log keeps of an error: what the
// client was told, never the error's own text when it was not shown.
func TestErrorDetail(t *testing.T) {
	long := strings.Repeat("é", aiproxy.ErrorDetailMax)
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"none", nil, ""},
		{"client gone", fmt.Errorf("copy: %w", ErrClientGone), ""},
		{"coded", aiproxy.Errorf(aiproxy.CodeRateLimited, "Rate limit exceeded."), "Rate limit exceeded."},
		{"coded, wrapped", fmt.Errorf("limit: %w", aiproxy.Errorf(aiproxy.CodeInvalid, "Bad voice.")), "Bad voice."},
		{"internal code hides its message", &aiproxy.Error{Code: aiproxy.CodeInternal, Message: "db password wrong"}, msgInternal},
		{"uncoded hides its text", errors.New("dial tcp 10.0.0.1: secret"), msgInternal},
		{"database away", fmt.Errorf("read: %w", aiproxy.ErrUnavailable), "The service is temporarily unavailable. Retry shortly."},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := errorDetail(c.err); got != c.want {
				t.Fatalf("errorDetail = %q, want %q", got, c.want)
			}
		})
	}
	got := errorDetail(aiproxy.Errorf(aiproxy.CodeInvalid, "%s", long))
	if len(got) > aiproxy.ErrorDetailMax || !utf8.ValidString(got) || !strings.HasPrefix(long, got) || got == "" {
		t.Fatalf("a long message is kept as %d bytes (valid UTF-8: %v)", len(got), utf8.ValidString(got))
	}
}

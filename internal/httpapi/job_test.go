package httpapi

import (
	"encoding/base64"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

func TestJobCursorRoundTrip(t *testing.T) {
	c := aiproxy.JobCursor{CreatedAt: time.UnixMilli(1777626000123).UTC(), ID: "job_0123456789abcdef01234567"}
	got, ok := decodeJobCursor(encodeJobCursor(c))
	if !ok || !got.CreatedAt.Equal(c.CreatedAt) || got.ID != c.ID {
		t.Fatalf("round trip = %+v, %v", got, ok)
	}
	for _, bad := range []string{"", "!!", encodeRaw("nocolon"), encodeRaw("x:job"), encodeRaw("12:")} {
		if _, ok := decodeJobCursor(bad); ok {
			t.Errorf("decodeJobCursor(%q) accepted", bad)
		}
	}
}

func encodeRaw(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestQueryLimitAndResume(t *testing.T) {
	for v, want := range map[string]int{"": 50, "1": 1, "200": 200} {
		if n, err := queryLimit(v); err != nil || n != want {
			t.Errorf("queryLimit(%q) = %d, %v", v, n, err)
		}
	}
	for _, v := range []string{"0", "201", "x", "-1"} {
		if _, err := queryLimit(v); aiproxy.ErrorCode(err) != aiproxy.CodeInvalid {
			t.Errorf("queryLimit(%q) = %v, want invalid", v, err)
		}
	}
	r := httptest.NewRequest("GET", "/?after=7", nil)
	r.Header.Set("Last-Event-ID", "3")
	if n, err := resumePoint(r); err != nil || n != 7 {
		t.Fatalf("after wins over Last-Event-ID: %d, %v", n, err)
	}
	r = httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Last-Event-ID", "x")
	if _, err := resumePoint(r); aiproxy.ErrorCode(err) != aiproxy.CodeInvalid {
		t.Fatalf("bad Last-Event-ID: %v", err)
	}
}

// FuzzJobCursor checks that any cursor text decodes or is refused without
// panicking, and that a decoded one encodes back to a cursor that decodes
// to the same position.
func FuzzJobCursor(f *testing.F) {
	f.Add(encodeJobCursor(aiproxy.JobCursor{CreatedAt: time.UnixMilli(1), ID: "job_1"}))
	f.Add("")
	f.Add("bm9jb2xvbg")
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := decodeJobCursor(s)
		if !ok {
			return
		}
		again, ok := decodeJobCursor(encodeJobCursor(c))
		if !ok || !again.CreatedAt.Equal(c.CreatedAt) || again.ID != c.ID {
			t.Fatalf("%q → %+v → %+v", s, c, again)
		}
	})
}

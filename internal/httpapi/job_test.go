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

func TestQueryRange(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 5, d, 0, 0, 0, 0, time.UTC) }
	for _, c := range []struct {
		query    string
		from, to time.Time
	}{
		{"", time.Time{}, time.Time{}},
		{"from=2026-05-01", day(1), time.Time{}},
		{"to=2026-05-01", time.Time{}, day(2)},
		{"from=2026-05-01&to=2026-05-01", day(1), day(2)},
		{"from=2026-05-01T09:30:00%2B02:00&to=2026-05-03T00:00:00Z", time.Date(2026, 5, 1, 7, 30, 0, 0, time.UTC), day(3)},
	} {
		r := httptest.NewRequest("GET", "/?"+c.query, nil)
		from, to, err := queryRange(r.URL.Query())
		if err != nil || !from.Equal(c.from) || !to.Equal(c.to) {
			t.Errorf("queryRange(%s) = %v, %v, %v; want %v, %v", c.query, from, to, err, c.from, c.to)
		}
	}
	for _, bad := range []string{"from=x", "to=2026-02-30", "from=2026-05-02&to=2026-05-01", "from=2026-05-01T10:00:00Z&to=2026-05-01T10:00:00Z"} {
		r := httptest.NewRequest("GET", "/?"+bad, nil)
		if _, _, err := queryRange(r.URL.Query()); aiproxy.ErrorCode(err) != aiproxy.CodeInvalid {
			t.Errorf("queryRange(%s) = %v, want invalid", bad, err)
		}
	}
}

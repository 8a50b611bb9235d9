package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// The access-log line is the same whether the request was short or long
// enough to be written from a goroutine of its own.
func TestAccessLogLine(t *testing.T) {
	for _, d := range []time.Duration{0, time.Microsecond, 999 * time.Microsecond, time.Millisecond,
		1234567 * time.Microsecond, 20 * time.Minute, 1234567891234 * time.Microsecond, -1500 * time.Microsecond, 42 * time.Nanosecond} {
		var got, want bytes.Buffer
		s := &server{log: slog.New(aiproxy.RequestIDHandler(slog.NewJSONHandler(&got, nil)))}
		r := httptest.NewRequest("GET", "/x", nil)
		s.logRequest("rid", r, &recorder{status: 201, bytes: 7, keyID: "k", user: "u"}, d)
		slog.New(slog.NewJSONHandler(&want, nil)).Info("request", "request_id", "rid", "method", "GET", "path", "/x",
			"status", 201, "bytes", int64(7), "key_id", "k", "user", "u", "duration_ms", float64(d.Microseconds())/1000)
		if field(t, got.Bytes()) != field(t, want.Bytes()) {
			t.Errorf("%v: logged %s, want %s", d, got.String(), want.String())
		}
		if !strings.Contains(got.String(), `"request_id":"rid","method":"GET","path":"/x","status":201,"bytes":7,"key_id":"k","user":"u","duration_ms":`) {
			t.Errorf("%v: line = %s", d, got.String())
		}
	}
}

type panicHandler struct{ slog.Handler }

func (panicHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (panicHandler) Handle(context.Context, slog.Record) error { panic("logger broke") }

// A panic in the logger reaches the request's goroutine on either path.
func TestAccessLogPanic(t *testing.T) {
	for _, d := range []time.Duration{time.Millisecond, 2 * time.Second} {
		s := &server{log: slog.New(panicHandler{slog.DiscardHandler})}
		func() {
			defer func() {
				if v := recover(); v != "logger broke" {
					t.Errorf("%v: recovered %v", d, v)
				}
			}()
			s.logRequest("rid", httptest.NewRequest("GET", "/x", nil), &recorder{}, d)
		}()
	}
}

func field(t *testing.T, line []byte) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return string(m["duration_ms"])
}

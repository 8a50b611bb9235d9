package proxy

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/aiproxy/aiproxy/internal/catalog"
)

// discardWriter is a ResponseWriter that keeps nothing, so that the
// benchmark measures the copy and not a recorder's buffer.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Flush()                      {}

// BenchmarkRespond turns provider answers into Answers and writes them to
// the client, as the pipeline's answer and write stages do: it copies provider answers to the client: small and 1 MB
// JSON (through the credential redactor), 1 MB of audio (byte for byte) and
// a 1 MB stream (flushed per chunk).
func BenchmarkRespond(b *testing.B) {
	cat, err := catalog.Load(catalog.Options{})
	if err != nil {
		b.Fatal(err)
	}
	small := []byte(`{"error":null,"data":{"remaining_quota":6000,"details":{"api":6000}}}`)
	large := bytes.Repeat([]byte(`{"avatar_id":"Abigail_expressive_2024112501","avatar_name":"Abigail (Upper Body)"},`), 1<<20/82)
	audio := bytes.Repeat([]byte{0xff, 0xfb, 0x90, 0x64}, 1<<18)
	for _, bc := range []struct {
		name, service, action, contentType string
		body                               []byte
	}{
		{"small-json", "heygen", "get-remaining-quota", "application/json", small},
		{"1mb-json", "heygen", "list-avatars", "application/json", large},
		{"1mb-audio", "elevenlabs", "tts", "audio/mpeg", audio},
		{"1mb-stream", "elevenlabs", "tts-stream", "audio/mpeg", audio},
	} {
		b.Run(bc.name, func(b *testing.B) {
			svc, _ := cat.Service(bc.service)
			ep, _ := svc.Endpoint(bc.action)
			p := New(Config{Catalog: cat})
			c := &Call{Service: svc, Endpoint: ep, secret: "hg-bench-key-0123456789"}
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.body)))
			for b.Loop() {
				resp := &response{Response: &http.Response{
					StatusCode: http.StatusOK, ContentLength: int64(len(bc.body)),
					Header: http.Header{"Content-Type": {bc.contentType}, "Content-Length": {strconv.Itoa(len(bc.body))}},
					Body:   io.NopCloser(bytes.NewReader(bc.body)),
				}, stop: func() {}}
				a, err := p.up.answer(r.Context(), c, resp)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := a.write(&discardWriter{h: http.Header{}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

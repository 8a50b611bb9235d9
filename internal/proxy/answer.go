package proxy

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// Answer is what a call's client gets: a status, headers and a body that
// may still be streaming from the provider. It is produced apart from
// writing it, so that the provider, the response cache, a job's stored
// status and an idempotent replay all answer the same way. Close it if it
// is not written.
type Answer struct {
	Status int
	Header http.Header
	// Upstream is the provider's status, 0 when no provider was asked.
	Upstream int

	body  io.Reader
	size  int64 // -1 when unknown
	flush bool
	// redact, when set, is a credential to replace in the body as it is
	// read or written (response.go); it is applied once.
	redact string
	close  func()
	// buffered is the whole body once it has been read (Bytes).
	buffered []byte
	isBuffer bool
	// socket, for a WebSocket call, accepts the client's socket and relays
	// it (socket_relay.go) instead of writing a body.
	socket func(w http.ResponseWriter, r *http.Request) (int64, error)
}

// NewAnswer returns an answer with a body held in memory.
func NewAnswer(status int, header http.Header, body []byte) *Answer {
	if header == nil {
		header = http.Header{}
	}
	return &Answer{Status: status, Header: header, body: bytes.NewReader(body), size: int64(len(body)),
		buffered: body, isBuffer: true}
}

// ErrAnswerTooLarge reports a body past the bound given to Bytes.
var ErrAnswerTooLarge = errors.New("answer body too large")

// Bytes reads the whole body, at most max bytes, and keeps it, so that the
// answer can still be written afterwards. A hook that must read a
// provider's answer (a job's id, an idempotency record) calls it.
func (a *Answer) Bytes(max int64) ([]byte, error) {
	if a.isBuffer {
		return a.buffered, nil
	}
	b, err := io.ReadAll(io.LimitReader(newRedactReader(a.body, a.redact), max+1))
	a.redact = ""
	a.Close()
	if err == nil && int64(len(b)) > max {
		err = ErrAnswerTooLarge
	}
	if err != nil {
		return nil, err
	}
	a.body, a.size, a.buffered, a.isBuffer = bytes.NewReader(b), int64(len(b)), b, true
	return b, nil
}

// Close releases the provider exchange behind a streaming body.
func (a *Answer) Close() {
	if a.close != nil {
		a.close()
		a.close = nil
	}
}

// write sends the answer and returns the body bytes written.
func (a *Answer) write(w http.ResponseWriter) (int64, error) {
	h := w.Header()
	for k, v := range a.Header {
		h[k] = v
	}
	if a.size >= 0 {
		h.Set("Content-Length", strconv.FormatInt(a.size, 10))
	}
	w.WriteHeader(a.Status)
	if a.body == nil {
		return 0, nil
	}
	var flush func() error
	if a.flush {
		flush = http.NewResponseController(w).Flush
	}
	if a.redact == "" {
		return copyBuffered(w, a.body, flush)
	}
	return copyRedacted(w, a.body, a.redact, flush) // response.go
}

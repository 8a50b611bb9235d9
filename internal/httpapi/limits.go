package httpapi

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// DefaultMaxHeaderCount is how many header fields a request may carry
// when Config.MaxHeaderCount is 0. Browsers send about twenty; the size of
// the header block is capped by the server's MaxHeaderBytes.
const DefaultMaxHeaderCount = 100

// DefaultBodyReadTimeout is how long a request body may go silent when
// Config.BodyReadTimeout is 0.
const DefaultBodyReadTimeout = 30 * time.Second

// limits refuses requests with too many header fields and bounds every
// silence while a request body is read, so that a slow client cannot hold
// a connection open by trickling its upload. A long upload that keeps
// moving is never cut, and nothing limits the response: streams last as
// long as the provider sends.
func (s *server) limits(next http.Handler) http.Handler {
	maxHeaders := s.cfg.MaxHeaderCount
	if maxHeaders <= 0 {
		maxHeaders = DefaultMaxHeaderCount
	}
	idle := s.cfg.BodyReadTimeout
	if idle <= 0 {
		idle = DefaultBodyReadTimeout
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if headerCount(r.Header) > maxHeaders {
			renderError(w, r, s.log, aiproxy.Errorf(aiproxy.CodeTooLarge, "Too many request header fields (at most %d).", maxHeaders))
			return
		}
		if !plainText(r.URL.Path) {
			renderError(w, r, s.log, aiproxy.Errorf(aiproxy.CodeInvalid, "The request path may not hold control characters or invalid UTF-8."))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			body := &deadlineBody{ReadCloser: r.Body, rc: rc, idle: idle}
			// The deadline runs from the start, not from the handler's
			// first read: a handler that answers without reading (a bad
			// key) leaves net/http to drain the body before it replies,
			// and a body shorter than its Content-Length would hold that
			// drain, and the connection, forever. So the deadline is
			// cleared only once the body has been read to its end; the
			// server sets its own deadlines for the next request.
			body.arm()
			r2 := *r
			r2.Body = body
			r = &r2
		}
		next.ServeHTTP(w, r)
	})
}

// plainText reports whether s is UTF-8 without control characters (C0,
// DEL and C1): what every name, id and path of the API is. A NUL or an
// escape sequence in one is refused before it reaches a store, a log line
// or an operator's terminal.
func plainText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// maxQueryText bounds a query parameter that names something (a service,
// an id, a cursor).
const maxQueryText = 256

// checkQueryText refuses query parameters that cannot name anything: too
// long, not UTF-8, or holding control characters.
func checkQueryText(q url.Values, names ...string) error {
	for _, name := range names {
		if v := q.Get(name); len(v) > maxQueryText || !plainText(v) {
			return aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid %s: at most %d bytes of UTF-8 without control characters.", name, maxQueryText)
		}
	}
	return nil
}

func headerCount(h http.Header) int {
	n := 0
	for _, v := range h {
		n += len(v)
	}
	return n
}

// deadlineBody moves the connection's read deadline forward before every
// read of the body, and clears it once the body is done, so that the
// server's own read of the idle connection (which detects a client that
// went away) is never cut short during a long response.
type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	idle    time.Duration
	set     bool
	off     bool
	cleared bool
}

// arm moves the connection's read deadline to one idle period from now.
func (b *deadlineBody) arm() {
	if !b.off {
		err := b.rc.SetReadDeadline(time.Now().Add(b.idle))
		b.off = errors.Is(err, http.ErrNotSupported)
		b.set = err == nil
	}
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	b.arm()
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		// Only a body read to its end lifts the deadline: after a
		// timeout it must stay, so that net/http's drain of the rest of
		// the body before the answer fails at once instead of waiting.
		b.clear()
	}
	return n, err
}

func (b *deadlineBody) clear() {
	if b.set && !b.cleared {
		b.cleared = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
}

// abortCut ends a response whose provider answer broke off midway by
// dropping the connection, so that the client sees a cut stream (a
// chunked body without its last chunk) instead of a clean but short one.
func abortCut(err error) {
	if err != nil && !errors.Is(err, proxy.ErrClientGone) {
		panic(http.ErrAbortHandler)
	}
}

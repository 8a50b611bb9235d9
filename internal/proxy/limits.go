package proxy

import (
	"errors"
	"io"
	"net/http"
	"os"
	"unicode/utf8"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// DefaultMaxBodyBytes is the upload limit when neither Config.MaxBodyBytes
// nor the endpoint's max_body_bytes sets one: generous for audio and
// video files, yet bounded.
const DefaultMaxBodyBytes = 100 << 20

// MaxJSONDepth is how deeply an envelope's JSON may nest. Provider bodies are shallow; a deeper document
// is an attack on a parser, ours or the provider's.
const MaxJSONDepth = 64

// bodyLimit is the most a client may send to an endpoint: the endpoint's
// own max_body_bytes, else the upload limit for multipart requests and
// the envelope limit for JSON ones.
func (p *reader) bodyLimit(ep *aiproxy.Endpoint, multipart bool) int64 {
	switch {
	case ep.MaxBodyBytes > 0:
		return ep.MaxBodyBytes
	case multipart:
		return p.cfg.MaxBodyBytes
	}
	return p.cfg.MaxEnvelopeBytes
}

// limitBody refuses a request whose declared length is over limit before
// anything is read, and caps what is read of one that did not declare it.
func limitBody(r *http.Request, limit int64) (io.Reader, error) {
	if r.ContentLength > limit {
		return nil, errTooLarge(limit)
	}
	return http.MaxBytesReader(nil, r.Body, limit), nil
}

// multipartError maps a failure to read the multipart envelope: 413 past
// the limit, 400 for anything else.
func multipartError(err error) error {
	if e := uploadError(err); e != err {
		return e
	}
	return invalidf("Invalid multipart/form-data request.")
}

func errTooLarge(limit int64) error {
	return aiproxy.Errorf(aiproxy.CodeTooLarge, "Request body exceeds %d bytes.", limit)
}

// uploadError turns a failure to read the client's upload mid-stream into
// the error the client sees: 413 when it passed the limit, 408 when it
// stalled past the body timeout (the server's read deadline).
func uploadError(err error) error {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return errTooLarge(tooBig.Limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errBodyTimeout
	}
	return err
}

// errBodyTimeout is a request body that stalled, or ended short of its
// Content-Length, for longer than the body timeout.
var errBodyTimeout = aiproxy.Errorf(aiproxy.CodeRequestTimeout, "The request body was not received in time.")

// checkText refuses an envelope that is not UTF-8, as JSON must be (the
// decoder would pass invalid bytes in a raw body on to the provider), or
// that nests deeper than max.
func checkText(data []byte, max int) error {
	if !utf8.Valid(data) {
		return invalidf("Invalid request envelope: the body is not valid UTF-8.")
	}
	return checkDepth(data, max)
}

// checkDepth reports whether JSON text nests objects and arrays at most
// max deep. It only counts brackets outside strings, so it is linear and
// allocation-free; the decoder that follows checks everything else.
func checkDepth(data []byte, max int) error {
	depth, inString, escaped := 0, false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > max {
				return invalidf("Invalid request envelope: JSON nested deeper than %d levels.", max)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

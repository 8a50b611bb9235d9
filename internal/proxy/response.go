package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// redactedMark replaces the credential wherever a provider echoes it.
const redactedMark = "[REDACTED]"

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// smallBufPool holds the 4 KiB buffers a copy starts with, so that a slow
// stream waiting for its next chunk holds 4 KiB rather than 32 KiB: with
// ten thousand clients that is the difference between 40 MB and 320 MB.
var smallBufPool = sync.Pool{New: func() any { b := make([]byte, 4<<10); return &b }}

// answer turns the provider's response into the call's answer (stage 9).
// A provider 401 or 403 means the credential is bad and a provider 5xx
// means it failed: both become the contract's 502, with the provider body
// only logged. Every other status, 429 included, is answered verbatim with
// its allowed headers. Text bodies pass through a redactor that replaces
// the credential wherever the provider echoes it; audio, video and live
// streams pass byte for byte.
func (p *sender) answer(ctx context.Context, c *Call, resp *response) (*Answer, error) {
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || resp.StatusCode >= 500 {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		resp.Close()
		p.log.WarnContext(ctx, "upstream refused", "service", c.Service.Slug, "action", c.Endpoint.Slug,
			"upstream_status", resp.StatusCode, "body", redactString(string(snippet), c.secret))
		return nil, &aiproxy.Error{Code: aiproxy.CodeUpstreamFailed, Message: aiproxy.MsgUpstreamFailed}
	}
	a := &Answer{Status: resp.StatusCode, Upstream: resp.StatusCode, Header: http.Header{},
		body: resp.Body, size: -1, close: resp.Close}
	copyResponseHeaders(a.Header, resp.Header, c.Service)
	redactHeader(a.Header, c.secret)
	if needsRedaction(c.Endpoint.ResponseMode, resp.Response) {
		a.redact = c.secret
	} else if resp.ContentLength >= 0 {
		a.size = resp.ContentLength
	}
	if c.Endpoint.ResponseMode == aiproxy.ResponseStream {
		a.Header.Set("X-Accel-Buffering", "no")
		a.Header.Set("Cache-Control", "no-store")
		a.flush = true
	}
	return a, nil
}

func (p *sender) cutStream(r *http.Request, c *Call, err error) error {
	if r.Context().Err() != nil {
		return ErrClientGone
	}
	p.log.WarnContext(r.Context(), "response cut short", "service", c.service, "action", c.action, "err", redactErr(err, c.secret))
	return err
}

// needsRedaction reports whether a response is text that could echo the
// credential: JSON mode, every error, and text-typed passthrough bodies.
// Audio, video and live streams are copied byte for byte.
func needsRedaction(mode aiproxy.ResponseMode, resp *http.Response) bool {
	if mode == aiproxy.ResponseJSON || resp.StatusCode >= 400 {
		return true
	}
	if mode == aiproxy.ResponseStream {
		return false
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "json") || strings.HasSuffix(mt, "+xml")
}

// copyBuffered copies with a pooled buffer, calling flush after each chunk
// when it is set. It starts with a small buffer and takes a full-size one
// once a read fills the small one, that is once the body flows fast.
func copyBuffered(dst io.Writer, src io.Reader, flush func() error) (int64, error) {
	sp := smallBufPool.Get().(*[]byte)
	defer smallBufPool.Put(sp)
	buf := *sp
	var total int64
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return total, err
			}
			total += int64(n)
			if flush != nil {
				if err := flush(); err != nil {
					return total, err
				}
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
		if n == len(buf) && len(buf) < 32<<10 {
			bp := bufPool.Get().(*[]byte)
			defer bufPool.Put(bp)
			buf = *bp
		}
	}
}

// redactor replaces every occurrence of a secret in a stream. It holds back
// the last len(secret)-1 bytes of each write, since a secret may straddle
// two chunks.
type redactor struct {
	w       io.Writer
	secret  []byte
	pending []byte
	// in and out are reused by every Write, so that a long body is not
	// copied into fresh buffers chunk after chunk.
	in, out []byte
}

func (r *redactor) Write(p []byte) (int, error) {
	if len(r.secret) == 0 {
		return r.w.Write(p)
	}
	// Only unscanned input is held back, never the mark: a held-back piece
	// of the mark could otherwise join the next bytes into a new match.
	r.in = append(append(r.in[:0], r.pending...), p...)
	rest := r.in
	out := r.out[:0]
	for i := bytes.Index(rest, r.secret); i >= 0; i = bytes.Index(rest, r.secret) {
		out = append(append(out, rest[:i]...), redactedMark...)
		rest = rest[i+len(r.secret):]
	}
	keep := min(len(r.secret)-1, len(rest))
	if len(out) == 0 {
		out = rest[:len(rest)-keep] // Nothing to replace: write the input as it is.
	} else {
		out = append(out, rest[:len(rest)-keep]...)
		r.out = out
	}
	if _, err := r.w.Write(out); err != nil {
		return 0, err
	}
	r.pending = append(r.pending[:0], rest[len(rest)-keep:]...)
	return len(p), nil
}

func (r *redactor) flush() error {
	if len(r.pending) == 0 {
		return nil
	}
	_, err := r.w.Write(r.pending)
	r.pending = r.pending[:0]
	return err
}

// redactReader reads a body through a redactor.
type redactReader struct {
	src   io.Reader
	rw    redactor
	out   bytes.Buffer
	chunk []byte
	err   error
}

// copyRedacted copies src to dst with every form of the secret
// (secretForms) replaced, through a chain of redactors that each hold back
// the tail a form could straddle.
func copyRedacted(dst io.Writer, src io.Reader, secret string, flush func() error) (int64, error) {
	forms := secretForms(secret)
	chain := make([]*redactor, len(forms))
	var w io.Writer = dst
	for i, form := range forms {
		chain[i] = &redactor{w: w, secret: []byte(form)}
		w = chain[i]
	}
	n, err := copyBuffered(w, src, flush)
	for i := len(chain) - 1; i >= 0 && err == nil; i-- {
		err = chain[i].flush()
	}
	return n, err
}

// newRedactReader reads src with every form of the secret (secretForms)
// replaced.
func newRedactReader(src io.Reader, secret string) io.Reader {
	if secret == "" {
		return src
	}
	for _, form := range secretForms(secret) {
		r := &redactReader{src: src}
		r.rw = redactor{w: &r.out, secret: []byte(form)}
		src = r
	}
	return src
}

// secretForms are the ways a provider may write the credential back: as it
// is, JSON-escaped (Go escapes <, > and &; PHP and others also escape /),
// and URL-encoded in a query or a path, as a Location header carries it.
// A key of only letters, digits and -._~ has one form.
func secretForms(secret string) []string {
	plain := true
	for i := 0; i < len(secret) && plain; i++ {
		c := secret[i]
		plain = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
	}
	forms := []string{secret}
	if plain {
		return forms
	}
	quoted, _ := json.Marshal(secret)
	escaped := string(quoted[1 : len(quoted)-1])
	for _, f := range []string{escaped, strings.ReplaceAll(escaped, "/", `\/`), url.QueryEscape(secret), url.PathEscape(secret)} {
		if !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	return forms
}

// redactHeader replaces every form of the secret in a header's values: a
// provider may echo it in Location, Content-Disposition or Retry-After as
// well as in a body.
func redactHeader(h http.Header, secret string) {
	if secret == "" {
		return
	}
	for name, values := range h {
		for i, v := range values {
			h[name][i] = redactString(v, secret)
		}
	}
}

func (r *redactReader) Read(p []byte) (int, error) {
	for r.out.Len() == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.chunk == nil {
			r.chunk = make([]byte, 4<<10)
		}
		n, err := r.src.Read(r.chunk)
		if n > 0 {
			_, _ = r.rw.Write(r.chunk[:n])
		}
		if err == io.EOF {
			_ = r.rw.flush()
		}
		r.err = err
	}
	return r.out.Read(p)
}

func redactString(s, secret string) string {
	if secret == "" {
		return s
	}
	for _, form := range secretForms(secret) {
		s = strings.ReplaceAll(s, form, redactedMark)
	}
	return s
}

// redactErr keeps an error's text free of the credential, for logs.
func redactErr(err error, secret string) error {
	if err == nil || secret == "" {
		return err
	}
	if text := redactString(err.Error(), secret); text != err.Error() {
		return errors.New(text)
	}
	return err
}

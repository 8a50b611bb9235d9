package oidc

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/aiproxy/aiproxy/internal/egress"
)

// Limits of the fetches from identity providers.
const (
	// fetchTimeout bounds one discovery or key set fetch, body included.
	fetchTimeout = 5 * time.Second
	// maxBodyBytes caps a discovery document or key set: real ones are a
	// few kilobytes, and a provider (or what answers in its name) must not
	// make aiproxy read more.
	maxBodyBytes = 512 << 10
)

// httpClient returns the client fetches use: the caller's, or an egress
// client (no redirects, no proxy from the environment, no address inside
// the network unless insecure) with fetchTimeout; either way every
// response body is capped at maxBodyBytes. The caller's client is copied,
// never changed.
func httpClient(c *http.Client, allowInsecure bool) *http.Client {
	if c == nil {
		c = egress.NewClient(fetchTimeout, allowInsecure)
	}
	capped := *c
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	capped.Transport = capTransport{base: base, limit: maxBodyBytes}
	return &capped
}

// capTransport caps the bodies of the responses it returns.
type capTransport struct {
	base  http.RoundTripper
	limit int64
}

// RoundTrip sends the request and caps the response's body.
func (t capTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &cappedBody{rc: resp.Body, left: t.limit}
	return resp, nil
}

// errBodyTooLarge is a response body past the cap.
var errBodyTooLarge = errors.New("the identity provider's response is larger than 512 KiB")

// cappedBody fails a read past its limit instead of truncating, so that a
// cut-off document is never parsed as a whole one.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, errBodyTooLarge
	}
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }

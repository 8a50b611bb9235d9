package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Outcome describes a finished invoke call, for logs and metrics.
type Outcome struct {
	Service, Action string
	Source          aiproxy.Source
	UpstreamStatus  int
	// Status is what the client was sent.
	Status int
	// Bytes counts the response body bytes written to the client.
	Bytes int64
	// Err is a failure after the response had started (a cut stream).
	Err error
}

// ErrClientGone reports that the client went away before the answer.
var ErrClientGone = errors.New("client closed request")

var errUpstreamTimeout = errors.New("upstream timeout")

// response is a provider's answer whose body is still to be read. Reading
// it is bounded by the endpoint's timeout between bytes. Close it when done.
type response struct {
	*http.Response
	stop func()
	// BodyError is set when a 200 answer carries the provider's error
	// envelope (HeyGen's "200 with an error body").
	BodyError bool
}

// Close closes the body and ends the exchange.
func (r *response) Close() {
	r.Body.Close()
	r.stop()
}

// ok reports whether the provider did what was asked.
func (r *response) ok() bool { return r.StatusCode < 400 && !r.BodyError }

// exchangeCall performs the upstream exchange of a call. The endpoint's
// timeout bounds the wait for the response head and each silence after it,
// never a long but healthy stream. Failures come back mapped by cause.
//
// The guardrails apply here, so that background calls get them too: the
// call's quota is held, then a concurrency slot and the breaker's
// permission; a retry-safe call is repeated after a transient failure. The
// slot is held until the response is closed. Only the provider's own
// failures count against the breaker: a client that went away or whose
// upload broke says nothing about the provider, and neither does a pool
// with no key left to use.
//
// A credential with a pool of keys has one picked per attempt (pool.go),
// and the key's own slot is held until the response is closed too.
func (p *sender) exchangeCall(ctx context.Context, c *Call) (*response, error) {
	if err := checkUpstreamAuth(c); err != nil {
		return nil, err
	}
	keys, err := c.p.keys.choice(ctx, c.p, c)
	if err != nil {
		return nil, err
	}
	release, err := p.hold(ctx, c)
	if err != nil {
		return nil, err
	}
	timeout := time.Duration(c.Endpoint.Timeout(c.Service)) * time.Second
	xctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(timeout, func() { cancel(errUpstreamTimeout) })
	stop := func() { timer.Stop(); cancel(nil); keys.done() }

	resp, bodyErr, err := p.exchange(xctx, c, keys, time.Now().Add(timeout))
	if err != nil {
		if !isPoolError(err) {
			err = p.upstreamError(ctx, xctx, c, err)
		}
		stop()
		release(false, isPoolError(err) || !providerFault(err))
		return nil, err
	}
	c.upstreamStatus = resp.StatusCode
	resp.Body = &idleReader{r: resp.Body, timer: timer, timeout: timeout}
	r := &response{Response: resp, BodyError: bodyErr}
	c.spent = r.ok()
	r.stop = func() { stop(); release(r.ok(), resp.StatusCode < 500 && !bodyErr) }
	return r, nil
}

// providerFault reports whether a failed exchange was the provider's doing
// (it could not be reached, it broke the connection, it timed out), as
// opposed to the client's (gone, or its upload failed).
func providerFault(err error) bool {
	switch aiproxy.ErrorCode(err) {
	case aiproxy.CodeUpstreamFailed, aiproxy.CodeUpstreamTimeout:
		return true
	}
	return false
}

// exchange sends the call upstream, repeating a retry-safe call after a
// connection error, a 429, 502, 503 or 504, or an error in a 200 body,
// while the deadline allows the backoff. With a pool of keys, an answer
// that refuses the key itself moves the call to another key at once,
// whatever the endpoint (nothing was started), and is no attempt; a retry
// keeps its key.
func (p *sender) exchange(ctx context.Context, c *Call, keys *keyChoice, deadline time.Time) (*http.Response, bool, error) {
	for attempt := 1; ; attempt++ {
		if err := keys.choose(ctx); err != nil {
			return nil, false, err
		}
		resp, err := p.attempt(ctx, c)
		bodyErr := err == nil && inspectBody(c.Service.Upstream.ErrorEnvelope, resp)
		if err == nil && keys.refused(ctx, resp, bodyErr) {
			discard(resp)
			if ctx.Err() != nil {
				return nil, false, ctx.Err()
			}
			attempt--
			continue
		}
		wait, again := p.retryAfter(c, attempt, resp, bodyErr, err)
		if !again || ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			return resp, bodyErr, err
		}
		if resp != nil {
			discard(resp)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, false, ctx.Err()
		case <-t.C:
		}
	}
}

// discard drains a little of an answer that will not be used, so that
// its connection may be kept, and closes it.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// attempt performs one upstream exchange.
func (p *sender) attempt(ctx context.Context, c *Call) (*http.Response, error) {
	body, contentType := c.in.upstreamBody(c.Endpoint)
	req, err := http.NewRequestWithContext(withUpstreamCall(ctx, c), c.Endpoint.HTTPMethod, c.url, body)
	if err != nil {
		return nil, internal("build upstream request", err)
	}
	req.Header = c.header.Clone()
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", p.cfg.UserAgent)
	if tok := c.clientBearer(); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok) // the credential is never sent with it
	} else {
		req.Header.Set(c.Service.Upstream.AuthHeader, c.Service.Upstream.AuthPrefix+c.secret)
	}
	return p.client.Do(req)
}

// clientBearer is the provider session token that a call of a
// client-bearer endpoint forwards instead of the credential: the Bearer the
// client authenticated with, taken only from a live-session principal (an
// aiproxy key or user token is never forwarded). "" means the credential.
func (c *Call) clientBearer() string {
	if c.Endpoint.UpstreamAuth == aiproxy.UpstreamAuthKey || !c.client || c.principal.Kind != aiproxy.KindLiveSession {
		return ""
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(c.inbound.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// checkUpstreamAuth refuses, before anything is held or sent, a call of a
// client_bearer endpoint that has no provider session token to forward.
func checkUpstreamAuth(c *Call) error {
	if c.Endpoint.UpstreamAuth == aiproxy.UpstreamAuthClientBearer && c.clientBearer() == "" {
		return &aiproxy.Error{Code: aiproxy.CodeForbidden, Message: fmt.Sprintf(
			"'%s' of external proxy service '%s' is called with the provider session token as Bearer, which this call lacks.",
			c.Endpoint.Slug, c.Service.Slug)}
	}
	return nil
}

// retryAfter says whether and after how long a failed attempt is repeated.
func (p *sender) retryAfter(c *Call, attempt int, resp *http.Response, bodyErr bool, err error) (time.Duration, bool) {
	rp := p.cfg.Retry
	if !c.Endpoint.RetrySafe || c.Endpoint.StartsJob() || attempt >= rp.Attempts {
		return 0, false
	}
	wait := rp.backoff(attempt)
	switch {
	case err != nil:
		var ae *aiproxy.Error
		return wait, !errors.As(err, &ae) // a connection error, not our own
	case bodyErr:
		return wait, true
	case resp.StatusCode == http.StatusTooManyRequests:
		if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After")); ok {
			return max(ra, wait), ra <= rp.maxRetryAfter()
		}
		return wait, true
	}
	code := resp.StatusCode
	return wait, code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

// parseRetryAfter reads a Retry-After header given in seconds.
func parseRetryAfter(v string) (time.Duration, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// upstreamError maps a failed exchange to an error by its cause.
func (p *sender) upstreamError(ctx, xctx context.Context, c *Call, err error) error {
	switch {
	case ctx.Err() != nil:
		return ErrClientGone
	case errors.Is(context.Cause(xctx), errUpstreamTimeout):
		p.log.WarnContext(ctx, "upstream timeout", "service", c.Service.Slug, "action", c.Endpoint.Slug)
		return &aiproxy.Error{Code: aiproxy.CodeUpstreamTimeout, Message: aiproxy.MsgUpstreamTimeout, Err: err}
	case c.in.err() != nil:
		return c.in.err()
	}
	err = redactErr(err, c.secret)
	p.log.WarnContext(ctx, "upstream request failed", "service", c.Service.Slug, "action", c.Endpoint.Slug, "err", err)
	return &aiproxy.Error{Code: aiproxy.CodeUpstreamFailed, Message: aiproxy.MsgUpstreamFailed, Err: err}
}

// idleReader cancels the exchange when no body byte arrives for timeout.
type idleReader struct {
	r       io.ReadCloser
	timer   *time.Timer
	timeout time.Duration
}

func (i *idleReader) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	if n > 0 {
		i.timer.Reset(i.timeout)
	}
	return n, err
}

func (i *idleReader) Close() error { return i.r.Close() }

func internal(what string, err error) error {
	return &aiproxy.Error{Code: aiproxy.CodeInternal, Message: "Internal server error.", Err: errors.New(what + ": " + err.Error())}
}

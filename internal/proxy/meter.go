package proxy

import (
	"errors"
	"net/http"
	"time"
)

// Metering is shared by every way a client call enters the proxy (Invoke,
// InvokeNative, and the jobs service's job starts and status reads), so
// that what a usage record holds cannot drift between them: a call refused
// before it was prepared is recorded by Refuse, and a prepared call by
// Close, with the status and bytes that Finish noted.

// Refuse meters a client call refused before a Call was prepared for it,
// writes the X-RateLimit-* headers of a rate-limit refusal, and returns err
// for the caller to render. start is when the call arrived.
func (p *Proxy) Refuse(w http.ResponseWriter, r *http.Request, org, service, action string, start time.Time, err error) (Outcome, error) {
	var rl *RateLimitedError
	if errors.As(err, &rl) {
		setRateHeaders(w.Header(), rl.Status)
	}
	p.recordRefusal(r, org, service, action, err, start)
	return Outcome{Service: service, Action: action}, err
}

// Finish notes how a prepared call ended (the status and body bytes sent
// to the client, or the error to be rendered), for the usage record that
// Close writes, and returns its arguments. Call it before Close.
func (c *Call) Finish(out Outcome, err error) (Outcome, error) {
	return c.finish(out, err)
}

// forward performs the upstream exchange of a prepared client call and
// streams the answer, noting its end for metering.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, c *Call) (Outcome, error) {
	resp, err := p.Send(r.Context(), c)
	if err != nil {
		return c.finish(c.outcome(), err)
	}
	defer resp.Close()
	return c.finish(p.Respond(w, r, c, resp))
}

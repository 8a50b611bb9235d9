package proxy

import (
	"context"
	"log/slog"
)

// UpstreamCall names the endpoint an outbound provider request is for. The
// proxy puts it in every upstream request's context, so that a wrapping
// http.RoundTripper (metrics, tracing) can label what it observes without
// parsing URLs.
type UpstreamCall struct {
	Service, Action string
	// Org is the org the call is made for.
	Org string
}

type upstreamCallKey struct{}

// withUpstreamCall returns a context that carries the call's identity.
func withUpstreamCall(ctx context.Context, c *Call) context.Context {
	return context.WithValue(ctx, upstreamCallKey{}, UpstreamCall{Service: c.Service.Slug, Action: c.Endpoint.Slug, Org: c.Org})
}

// UpstreamCallFrom returns the call an upstream request's context names.
func UpstreamCallFrom(ctx context.Context) (UpstreamCall, bool) {
	c, ok := ctx.Value(upstreamCallKey{}).(UpstreamCall)
	return c, ok
}

// LogValue shows a call's identity, never its credential or envelope
// values, so that logging a Call whole is safe.
func (c *Call) LogValue() slog.Value {
	return slog.GroupValue(slog.String("org", c.Org), slog.String("service", c.Service.Slug),
		slog.String("action", c.Endpoint.Slug), slog.String("source", string(c.Source)))
}

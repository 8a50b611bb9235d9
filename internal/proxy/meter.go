package proxy

import (
	"errors"
	"unicode/utf8"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// record meters a finished client call (stage 12): one record per call,
// whether it was refused before reaching the provider, answered by a hook
// or the cache, or forwarded. Background calls are not metered. The units
// of the endpoint's meter, and the cost a hook set (Call.SetCost), count
// only when the provider did what was asked. The record keeps the call's
// X-Request-Id and, for a call aiproxy answered with an error, the message
// the client got, for the request log.
func (p *Proxy) record(c *Call) {
	if p.cfg.Meter == nil || !c.client {
		return
	}
	out := c.outcome()
	rec := aiproxy.UsageRecord{
		At: c.start.UTC(), OrgKey: c.Org, KeyID: c.principal.KeyID, UserID: c.principal.User, Service: out.Service, Action: out.Action,
		Status: c.status, ErrorCode: c.errCode, UpstreamStatus: c.upstreamStatus,
		LatencyMS: p.now().Sub(c.start).Milliseconds(), BytesOut: c.bytes, Cache: c.cacheStatus, Source: c.Source,
		RequestID: c.requestID, ErrorDetail: errorDetail(c.err), SavedMicros: c.saved(),
	}
	if c.Endpoint != nil && c.Endpoint.Meter != "" && c.spent {
		rec.Unit, rec.Units = c.Endpoint.Meter, c.demand[c.Endpoint.Meter]
	}
	if c.spent {
		rec.CostMicros = c.cost
	}
	p.cfg.Meter.Record(rec)
}

// msgInternal is what a client is told of an error that has no code; the
// error itself is only logged.
const msgInternal = "Internal server error."

// errorDetail is the client-safe message of the error a call was answered
// with, as the API renders it, cut to aiproxy.ErrorDetailMax bytes: a coded
// error's message, and for anything else the words the client got instead
// of its text. A client that went away was told nothing.
func errorDetail(err error) string {
	var e *aiproxy.Error
	switch {
	case err == nil, errors.Is(err, ErrClientGone):
		return ""
	case errors.As(err, &e) && e.Code != "" && e.Code != aiproxy.CodeInternal:
		return truncate(e.Message, aiproxy.ErrorDetailMax)
	case errors.Is(err, aiproxy.ErrUnavailable):
		return "The service is temporarily unavailable. Retry shortly."
	}
	return msgInternal
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

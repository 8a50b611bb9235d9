package proxy

import (
	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// record meters a finished client call (stage 12): one record per call,
// whether it was refused before reaching the provider, answered by a hook
// or the cache, or forwarded. Background calls are not metered. The units
// of the endpoint's meter, and the cost a hook set (Call.SetCost), count
// only when the provider did what was asked.
func (p *Proxy) record(c *Call) {
	if p.cfg.Meter == nil || !c.client {
		return
	}
	out := c.outcome()
	rec := aiproxy.UsageRecord{
		At: c.start.UTC(), OrgKey: c.Org, KeyID: c.principal.KeyID, UserID: c.principal.User, Service: out.Service, Action: out.Action,
		Status: c.status, ErrorCode: c.errCode, UpstreamStatus: c.upstreamStatus,
		LatencyMS: p.now().Sub(c.start).Milliseconds(), BytesOut: c.bytes, Cache: c.cacheStatus, Source: c.Source,
	}
	if c.Endpoint != nil && c.Endpoint.Meter != "" && c.spent {
		rec.Unit, rec.Units = c.Endpoint.Meter, c.demand[c.Endpoint.Meter]
	}
	if c.spent {
		rec.CostMicros = c.cost
	}
	p.cfg.Meter.Record(rec)
}

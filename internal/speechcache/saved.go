package speechcache

import (
	"net/http"

	"github.com/aiproxy/aiproxy/internal/proxy"
)

// Pricer prices a call as the provider would have charged it, so that a
// hit's usage record shows what the cache saved. cmd/aiproxy passes the
// budgets' price table (internal/budget), the one that prices every call
// that reaches the provider.
type Pricer interface {
	// Price returns the micro-USD the call would have cost. header is the
	// stored answer's, as the provider sent it to the call that filled the
	// entry: it carries the provider's own count of what that call cost
	// (ElevenLabs' Character-Cost), which a price in credits prices
	// exactly; without one the price is the estimate from the request. ok
	// is false when no price covers the call.
	Price(c *proxy.Call, header http.Header) (micros int64, ok bool)
}

// recordSaved sets a hit's saved cost (proxy.Call.SetSaved): what the call
// would have cost had it gone to the provider, priced now from the stored
// answer's headers. Without a pricer, or for a call no price covers, the
// hit saves 0 as far as usage knows.
func (s *Cache) recordSaved(c *proxy.Call, stored http.Header) {
	if s.pricer == nil {
		return
	}
	if micros, ok := s.pricer.Price(c, stored); ok {
		c.SetSaved(micros)
	}
}

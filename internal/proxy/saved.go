package proxy

// SetSaved sets what a call answered from a hook's own cache
// (AnsweredFromCache) would have cost at the provider, in micro-USD, for
// its usage record's SavedMicros: the speech cache prices each hit so that
// usage shows what it saved. Such a call costs nothing, so the value is
// kept where a spent call keeps its cost (SetCost); a call that reaches
// the provider records it as its cost instead, and one that does not and
// is no cache hit records neither. A negative amount is 0.
func (c *Call) SetSaved(micros int64) { c.cost = max(micros, 0) }

// saved is what the call's usage record counts as saved: the amount set
// by SetSaved on a call answered from a cache, else 0.
func (c *Call) saved() int64 {
	if c.spent || c.cacheStatus != "HIT" {
		return 0
	}
	return c.cost
}

package sandbox

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Per-key limits and failures, so that tests can drive a pool of provider keys: a key may
// have its own cap on requests in flight, its own credits, and be revoked mid-run; the
// sandbox counts what each key was sent and how many jobs it started.

// KeyLimits are limits the sandbox puts on one API key, beside the provider-wide ones of
// Config.
type KeyLimits struct {
	// MaxConcurrent caps the key's requests in flight on any route; the next one is answered
	// 429: HeyGen rate_limit_exceeded with Retry-After: 1 (the v3 envelope under /v3, the v2
	// one elsewhere), ElevenLabs too_many_concurrent_requests. 0 means no cap.
	MaxConcurrent int
	// Latency holds each of the key's accepted requests this long before it is answered,
	// its slot taken, as a slow or busy account would.
	Latency time.Duration
	// Credits, when set, is what the key has left from now on: HeyGen API quota seconds (a
	// non-test render costs 30 per started half minute; beyond them v2 renders are answered
	// 402 insufficient_credit in the v2 envelope, v3 renders as before), ElevenLabs
	// characters (beyond them, 401 quota_exceeded), LiveAvatar credits (a start needs its
	// first minute's; running sessions end NO_CREDITS when they run out). nil keeps the
	// provider's default.
	Credits *int
}

// KeyStats is what the sandbox saw of one key.
type KeyStats struct {
	// Requests counts the requests the key was accepted for.
	Requests int
	// InFlight counts its requests being answered now.
	InFlight int
	// Refused counts its requests answered 429 for its MaxConcurrent.
	Refused int
	// JobStarts counts the HeyGen renders it started (v2 and v3), or the LiveAvatar
	// sessions it started.
	JobStarts int
}

// keyRef names one key of one provider.
type keyRef struct {
	provider Provider
	key      string
}

// keyUsage is one key's limits and counts; Server.mu guards it.
type keyUsage struct {
	maxConcurrent int
	latency       time.Duration
	// creditLimit, when set, replaces the provider's quota: HeyGen seconds or ElevenLabs
	// characters, counted from the key's start like the quota it replaces.
	creditLimit *int
	stats       KeyStats
}

// usageLocked returns key's usage, making it. s.mu must be held.
func (s *Server) usageLocked(provider Provider, key string) *keyUsage {
	if s.perKey == nil {
		s.perKey = map[keyRef]*keyUsage{}
	}
	u := s.perKey[keyRef{provider, key}]
	if u == nil {
		u = &keyUsage{}
		s.perKey[keyRef{provider, key}] = u
	}
	return u
}

// SetKeyLimits puts limits on one key of a provider, replacing those it had.
func (s *Server) SetKeyLimits(provider Provider, key string, l KeyLimits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.usageLocked(provider, key)
	u.maxConcurrent, u.latency, u.creditLimit = l.MaxConcurrent, l.Latency, nil
	if l.Credits != nil {
		used := s.hg.quotaUsed[key]
		switch provider {
		case ElevenLabs:
			used = s.el.charsUsed[key]
		case LiveAvatar:
			s.laSettleLocked(key) // liveavatar_session.go
			used = s.laUsedLocked(key)
		}
		limit := used + max(*l.Credits, 0)
		u.creditLimit = &limit
	}
}

// RevokeKey makes provider refuse key from now on, as a key revoked at the provider: HeyGen
// answers 401 (v1 400112, v2 "Unauthorized"), ElevenLabs 401 invalid_api_key.
func (s *Server) RevokeKey(provider Provider, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys[provider], key)
}

// KeyStats returns what the sandbox saw of one key.
func (s *Server) KeyStats(provider Provider, key string) KeyStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.perKey[keyRef{provider, key}]; u != nil {
		return u.stats
	}
	return KeyStats{}
}

// admitKey counts an accepted key's request and holds one of its slots until the call
// ends, after the key's Latency, or answers 429 when its MaxConcurrent are all taken.
func (s *Server) admitKey(provider Provider, c *call) error {
	s.mu.Lock()
	u := s.usageLocked(provider, c.key)
	if u.maxConcurrent > 0 && u.stats.InFlight >= u.maxConcurrent {
		u.stats.Refused++
		s.mu.Unlock()
		return keyBusy(provider, c.path, u.maxConcurrent)
	}
	u.stats.Requests++
	u.stats.InFlight++
	latency := u.latency
	s.mu.Unlock()
	c.release = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		u.stats.InFlight--
	}
	if latency > 0 {
		sleepCtx(c.r, latency) // a client gone meanwhile gets nothing anyway
	}
	return nil
}

// keyBusy is a provider's 429 for a key over its concurrency cap.
func keyBusy(provider Provider, path string, limit int) *apiError {
	if provider == ElevenLabs {
		return tooManyConcurrent(limit)
	}
	if provider == LiveAvatar {
		return laError(http.StatusTooManyRequests, 4290, "Too many concurrent requests").withHeader("Retry-After", "1")
	}
	msg := "Too many concurrent requests for this API key (at most " + strconv.Itoa(limit) + "). Please retry later."
	e := v2Error(http.StatusTooManyRequests, "rate_limit_exceeded", msg) // on v1 paths too
	if isV3(path) {
		e = v3Error(http.StatusTooManyRequests, "rate_limit_exceeded", msg, "")
	}
	return e.withHeader("Retry-After", "1")
}

// hgQuotaLocked is key's HeyGen API quota in seconds: its own credits, if set, else every
// key's. s.mu must be held.
func (s *Server) hgQuotaLocked(key string) int {
	if u := s.perKey[keyRef{HeyGen, key}]; u != nil && u.creditLimit != nil {
		return *u.creditLimit
	}
	return hgQuotaSeconds
}

// hgHasCreditsLocked reports whether key was given credits of its own, which v2 renders
// then spend. s.mu must be held.
func (s *Server) hgHasCreditsLocked(key string) bool {
	u := s.perKey[keyRef{HeyGen, key}]
	return u != nil && u.creditLimit != nil
}

// elCharacterLimitLocked is key's ElevenLabs character quota: its own credits, if set, else
// every key's. s.mu must be held.
func (s *Server) elCharacterLimitLocked(key string) int {
	if u := s.perKey[keyRef{ElevenLabs, key}]; u != nil && u.creditLimit != nil {
		return *u.creditLimit
	}
	return s.characterLimit()
}

// countStartLocked counts a render key started. s.mu must be held.
func (s *Server) countStartLocked(key string) {
	s.usageLocked(HeyGen, key).stats.JobStarts++
}

// keyLimitsJSON is the body of POST /_sandbox/keys/limits.
type keyLimitsJSON struct {
	Provider      Provider        `json:"provider"`
	Key           string          `json:"key"`
	MaxConcurrent int             `json:"max_concurrent"`
	Credits       *int            `json:"credits"`
	Latency       json.RawMessage `json:"latency"`
}

// keyStatsJSON is the answer of GET /_sandbox/keys/stats.
type keyStatsJSON struct {
	Requests  int `json:"requests"`
	InFlight  int `json:"in_flight"`
	Refused   int `json:"refused"`
	JobStarts int `json:"job_starts"`
}

// serveKeyControl answers the control routes of single keys; it reports false for a path
// that is not one of them.
func (s *Server) serveKeyControl(w http.ResponseWriter, r *http.Request) bool {
	switch r.Method + " " + r.URL.Path {
	case "POST /_sandbox/keys/revoke":
		var kj keyJSON
		if s.decodeKey(w, r, &kj, &kj.Provider, &kj.Key) {
			s.RevokeKey(kj.Provider, kj.Key)
			w.WriteHeader(http.StatusNoContent)
		}
	case "POST /_sandbox/keys/limits":
		var lj keyLimitsJSON
		if !s.decodeKey(w, r, &lj, &lj.Provider, &lj.Key) {
			return true
		}
		latency, err := parseDelay(lj.Latency)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return true
		}
		s.SetKeyLimits(lj.Provider, lj.Key, KeyLimits{MaxConcurrent: lj.MaxConcurrent, Credits: lj.Credits, Latency: latency})
		w.WriteHeader(http.StatusNoContent)
	case "GET /_sandbox/keys/stats":
		q := r.URL.Query()
		p := Provider(q.Get("provider"))
		if q.Get("key") == "" || !knownProvider(p) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want ?provider=heygen|elevenlabs|liveavatar&key=..."})
			return true
		}
		writeJSON(w, http.StatusOK, keyStatsJSON(s.KeyStats(p, q.Get("key"))))
	default:
		return false
	}
	return true
}

// decodeKey decodes a control body that names a provider and a key, answering 400 when it
// does not; it reports whether v is good.
func (s *Server) decodeKey(w http.ResponseWriter, r *http.Request, v any, provider *Provider, key *string) bool {
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(v)
	if err == nil && (*key == "" || !knownProvider(*provider)) {
		err = errors.New(`want {"provider":"heygen"|"elevenlabs"|"liveavatar","key":"...",...}`)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return false
	}
	return true
}

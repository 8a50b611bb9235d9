package proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// maxCachedBody bounds a response the cache reads whole; a larger one is
// an error rather than an unbounded read.
const maxCachedBody = 32 << 20

// cached answers a call of a cacheable endpoint from the response cache,
// filling a miss with one provider call for every concurrent caller of the
// same key. A stale entry is refreshed by a background call on the same
// credential.
func (p *sender) cached(ctx context.Context, c *Call) (*Answer, error) {
	ttl := time.Duration(c.Endpoint.CacheTTLSeconds) * time.Second
	fill := func(ctx context.Context) ([]byte, bool, error) { return p.fetch(ctx, c) }
	refresh := func(ctx context.Context) ([]byte, bool, error) {
		nc := &Call{Org: c.Org, Service: c.Service, Endpoint: c.Endpoint, Envelope: c.Envelope, in: &input{env: c.in.env},
			p: c.p, url: c.url, header: c.header, secret: c.secret, Source: c.Source, resolved: true, start: p.now()}
		return p.fetch(ctx, nc)
	}
	// The fill outlives a caller that goes away: others may share it.
	val, status, err := p.cfg.Cache.Get(context.WithoutCancel(ctx), cacheKey(c), ttl, p.cfg.CacheStale, fill, refresh)
	c.cacheStatus = status
	if err != nil {
		return nil, err
	}
	e, err := decodeEntry(val)
	if err != nil {
		return nil, internal("decode cache entry", err)
	}
	return p.entryAnswer(c, e, status)
}

// cacheKey identifies a cached answer by everything that shapes it: the
// endpoint, the upstream URL with its query, the forwarded headers and the
// credential actually used (hashed, never stored), so that tenants with
// different provider accounts never share an entry.
func cacheKey(c *Call) string {
	h := sha256.New()
	for _, part := range []string{c.Service.Slug, c.Endpoint.Slug, c.url, c.secret} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	for _, k := range sortedKeys(c.header) {
		h.Write([]byte(k + ":" + c.header.Get(k) + "\x00"))
	}
	return "resp:" + hex.EncodeToString(h.Sum(nil))
}

// cacheEntry is a provider answer as the cache keeps it: allowed headers
// only, the body already redacted.
type cacheEntry struct {
	Status int         `json:"status"`
	Header http.Header `json:"header"`
	Body   []byte      `json:"-"`
}

// encode writes the entry as one JSON line followed by the raw body.
func (e cacheEntry) encode() []byte {
	head, _ := json.Marshal(e)
	out := make([]byte, 0, len(head)+1+len(e.Body))
	return append(append(append(out, head...), '\n'), e.Body...)
}

func decodeEntry(b []byte) (cacheEntry, error) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return cacheEntry{}, errors.New("no header line")
	}
	var e cacheEntry
	if err := json.Unmarshal(b[:i], &e); err != nil {
		return cacheEntry{}, err
	}
	e.Body = b[i+1:]
	return e, nil
}

// fetch performs the provider call of a fill and reads the answer whole.
// Only a clean 200 may be stored; any other answer is shared with the
// callers waiting for it and then forgotten.
func (p *sender) fetch(ctx context.Context, c *Call) ([]byte, bool, error) {
	resp, err := p.exchangeCall(ctx, c)
	if err != nil {
		return nil, false, err
	}
	defer resp.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCachedBody+1))
	if err == nil && len(body) > maxCachedBody {
		err = errors.New("response too large to cache")
	}
	if err != nil {
		p.log.Warn("cache fill failed", "service", c.Service.Slug, "action", c.Endpoint.Slug, "err", redactErr(err, c.secret))
		return nil, false, &aiproxy.Error{Code: aiproxy.CodeUpstreamFailed, Message: aiproxy.MsgUpstreamFailed, Err: err}
	}
	e := cacheEntry{Status: resp.StatusCode, Header: http.Header{}}
	copyResponseHeaders(e.Header, resp.Header, c.Service)
	redactHeader(e.Header, c.secret)
	e.Body = []byte(redactString(string(body), c.secret))
	return e.encode(), resp.StatusCode == http.StatusOK && !resp.BodyError, nil
}

// entryAnswer is the answer of a cached or shared provider answer, mapped
// as a live one is.
func (p *sender) entryAnswer(c *Call, e cacheEntry, status string) (*Answer, error) {
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Status >= 500 {
		p.log.Warn("upstream refused", "service", c.Service.Slug, "action", c.Endpoint.Slug,
			"upstream_status", e.Status, "body", string(e.Body[:min(len(e.Body), 2048)]))
		return nil, &aiproxy.Error{Code: aiproxy.CodeUpstreamFailed, Message: aiproxy.MsgUpstreamFailed}
	}
	a := NewAnswer(e.Status, e.Header, e.Body)
	a.Upstream = e.Status
	a.Header.Set(CacheHeader, status)
	return a, nil
}

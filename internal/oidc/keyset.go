package oidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// keyMaxAge is how long fetched keys are used without asking the issuer
// again: after it, the next token refetches (within the cooldown), so
// that a key the issuer withdrew stops verifying even when no token
// names a new one.
const keyMaxAge = time.Hour

// keySet is one issuer's JSON Web Key Set, behind go-oidc's verifier (it
// implements oidc.KeySet). go-oidc's RemoteKeySet refetches on every
// unknown key id with no cooldown and never drops keys by age, so this
// set keeps its own cache: a token whose key is not cached, or a cache
// older than keyMaxAge, triggers a fetch at most once per cooldown; one
// fetch runs at a time and the tokens waiting share it; a failed fetch
// keeps the last good keys.
type keySet struct {
	issuer   string
	url      string
	algs     []string
	client   *http.Client
	now      func() time.Time
	cooldown time.Duration
	log      *slog.Logger

	// fetching holds the one fetch in flight; a waiter gives up with its
	// context.
	fetching chan struct{}

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetched time.Time // the last good fetch
	tried   time.Time // the last attempt, good or not
}

var _ oidc.KeySet = (*keySet)(nil)

func newKeySet(issuer, url string, algs []string, client *http.Client, now func() time.Time, cooldown time.Duration, log *slog.Logger) *keySet {
	return &keySet{issuer: issuer, url: url, algs: algs, client: client, now: now, cooldown: cooldown, log: log,
		fetching: make(chan struct{}, 1)}
}

// errUnknownKey is a token signed by no key of the issuer's key set.
var errUnknownKey = errors.New("no key of the issuer's key set verifies the signature")

// VerifySignature verifies a compact JWS with the cached keys, refetching
// them first when the token names a key the cache lacks or the cache is
// old (within the cooldown), and returns the payload. go-oidc has already
// checked the algorithm against the issuer's list.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, joseAlgorithms(k.algs))
	if err != nil {
		return nil, fmt.Errorf("parse token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("a token must carry exactly one signature")
	}
	header := jws.Signatures[0].Header
	keys, fresh := k.cached()
	known := hasKey(keys, header)
	if !fresh || !known {
		// A token whose key is cached does not wait for another's fetch
		// of an old set: the cached key verifies it meanwhile.
		if err := k.refresh(ctx, !known); err != nil {
			return nil, err
		}
		keys, _ = k.cached()
	}
	return verifyWith(jws, keys, header)
}

// cached returns the keys and whether they are younger than keyMaxAge.
func (k *keySet) cached() ([]jose.JSONWebKey, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys, !k.fetched.IsZero() && k.now().Sub(k.fetched) < keyMaxAge
}

// hasKey reports whether keys hold a key for a signature's header: the
// key with its kid, or any key when it names none.
func hasKey(keys []jose.JSONWebKey, h jose.Header) bool {
	return slices.ContainsFunc(keys, func(key jose.JSONWebKey) bool { return keyFits(key, h) })
}

// keyFits reports whether a key may verify a signature: the same kid (or
// no kid in the token) and, when the key names its algorithm, the same.
func keyFits(key jose.JSONWebKey, h jose.Header) bool {
	return (h.KeyID == "" || key.KeyID == h.KeyID) && (key.Algorithm == "" || key.Algorithm == h.Algorithm)
}

// verifyWith verifies a signature with the keys that fit it.
func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, h jose.Header) ([]byte, error) {
	for _, key := range keys {
		if !keyFits(key, h) {
			continue
		}
		if payload, err := jws.Verify(key); err == nil {
			return payload, nil
		}
	}
	return nil, fmt.Errorf("%w (kid %q)", errUnknownKey, h.KeyID)
}

// refresh fetches the key set unless an attempt was made within the
// cooldown. When another fetch is in flight it waits for it, or returns at
// once unless wait is set. A failed fetch keeps the keys it had and is
// only logged: the verification that follows fails when no key fits. The
// fetch is detached from the request's cancellation, so that a client
// that goes away does not spend the cooldown on a fetch that never
// finished; the client's timeout bounds it.
func (k *keySet) refresh(ctx context.Context, wait bool) error {
	if wait {
		select {
		case k.fetching <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	} else {
		select {
		case k.fetching <- struct{}{}:
		default:
			return nil
		}
	}
	defer func() { <-k.fetching }()
	k.mu.Lock()
	now := k.now()
	due := k.tried.IsZero() || now.Sub(k.tried) >= k.cooldown
	if due {
		k.tried = now
	}
	k.mu.Unlock()
	if !due {
		return nil
	}
	keys, err := k.fetch(context.WithoutCancel(ctx))
	if err != nil {
		k.log.Warn("oidc: key set fetch failed; the last good keys are kept",
			"issuer", k.issuer, "jwks_url", k.url, "retry_in", k.cooldown, "err", err)
		return nil
	}
	k.mu.Lock()
	k.keys, k.fetched = keys, k.now()
	k.mu.Unlock()
	return nil
}

// fetch GETs and parses the key set.
func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	// Past any cache in between: a refetch is for a key just published.
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read key set: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("key set answered %d", resp.StatusCode)
	}
	return parseKeySet(body, k.algs)
}

// parseKeySet reads a JWK Set and keeps the public signing keys usable
// with algs. Keys of other types, uses or algorithms are skipped, as RFC
// 7517 asks, rather than failing the set; a secret (oct) key is never
// kept. A set with no usable key is an error, so that the last good keys
// stay.
func parseKeySet(body []byte, algs []string) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("key set: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var key jose.JSONWebKey
		if err := json.Unmarshal(raw, &key); err != nil {
			continue // a key type go-jose does not know, or a broken key
		}
		if usableKey(key, algs) {
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("key set holds no usable public signing key")
	}
	return keys, nil
}

// usableKey reports whether a key can verify one of algs: a public RSA,
// EC or Ed25519 key, for signatures, with no algorithm or one of algs.
func usableKey(key jose.JSONWebKey, algs []string) bool {
	switch key.Key.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return false
	}
	return (key.Use == "" || key.Use == "sig") && (key.Algorithm == "" || slices.Contains(algs, key.Algorithm))
}

// joseAlgorithms converts algorithm names for go-jose.
func joseAlgorithms(algs []string) []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(algs))
	for i, a := range algs {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}

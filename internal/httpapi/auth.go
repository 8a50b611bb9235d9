package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// KeyReader finds API keys and records their use.
type KeyReader interface {
	Key(ctx context.Context, id string) (aiproxy.APIKey, error)
	TouchKey(ctx context.Context, id string, at time.Time) error
}

// authSchemes are the Authorization schemes that carry an aiproxy key; all
// of them mean the same thing.
var authSchemes = []string{"Api-Key", "Token", "Api-Token", "Bearer"}

// dummyHash is compared against when a key ID is unknown, so that an
// unknown key costs as much time as a wrong secret.
var dummyHash = aiproxy.HashKeySecret("aiproxy-dummy-secret")

// touchEvery limits last-used writes to one per key per interval.
const touchEvery = time.Minute

type authenticator struct {
	keys    KeyReader
	now     func() time.Time
	mu      sync.Mutex
	touched map[string]time.Time
	cache   keyCache
}

func errNoAuth() error {
	return &aiproxy.Error{Code: aiproxy.CodeUnauthenticated, Message: aiproxy.MsgNoAuth}
}

func errInvalidToken() error {
	return &aiproxy.Error{Code: aiproxy.CodeUnauthenticated, Message: aiproxy.MsgInvalidToken}
}

func errForbidden() error {
	return &aiproxy.Error{Code: aiproxy.CodeForbidden, Message: aiproxy.MsgPermissionDenied}
}

// bearerKey returns the key from an Authorization header, or "" when the
// header is absent or uses another scheme.
func bearerKey(h string) string {
	scheme, key, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		return ""
	}
	for _, s := range authSchemes {
		if strings.EqualFold(scheme, s) {
			return strings.TrimSpace(key)
		}
	}
	return ""
}

// authenticate returns who the request acts as.
func (a *authenticator) authenticate(r *http.Request) (aiproxy.Principal, error) {
	full := bearerKey(r.Header.Get("Authorization"))
	if full == "" {
		return aiproxy.Principal{}, errNoAuth()
	}
	id, secret, ok := aiproxy.ParseKey(full)
	if !ok {
		return aiproxy.Principal{}, errInvalidToken()
	}
	k, err := a.key(r.Context(), id)
	if errors.Is(err, aiproxy.ErrNotFound) {
		aiproxy.SecretMatches(secret, dummyHash)
		return aiproxy.Principal{}, errInvalidToken()
	}
	if err != nil {
		return aiproxy.Principal{}, err
	}
	if !aiproxy.SecretMatches(secret, k.SecretHash) || k.Revoked() || k.Expired(a.now()) {
		return aiproxy.Principal{}, errInvalidToken()
	}
	a.touch(k.ID)
	return k.Principal(), nil
}

// touch records a key's use at most once per touchEvery, off the request
// path.
func (a *authenticator) touch(id string) {
	now := a.now()
	a.mu.Lock()
	last, seen := a.touched[id]
	if seen && now.Sub(last) < touchEvery {
		a.mu.Unlock()
		return
	}
	a.touched[id] = now
	a.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.keys.TouchKey(ctx, id, now.UTC())
	}()
}

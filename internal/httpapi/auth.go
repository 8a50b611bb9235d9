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
	tokens  TokenReader
	signIns SignInVerifier
	live    LiveSessionVerifier
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

// TokenReader finds user tokens and spends single-use ones.
type TokenReader interface {
	UserToken(ctx context.Context, id string) (aiproxy.UserToken, error)
	SpendUserToken(ctx context.Context, id string, at time.Time) (bool, error)
}

// SignInVerifier verifies a JWT from an identity provider that an org
// trusts, for a request to that org, and says who it signs in. Every
// refusal is the contract's "Invalid token.".
type SignInVerifier interface {
	VerifySignIn(ctx context.Context, org, raw string) (aiproxy.Principal, error)
}

// LiveSessionVerifier recognises a provider session token that aiproxy
// minted (a live avatar session's), presented as Bearer on a native route
// of its service, and says who it acts as: a principal that may only
// start, keep alive and stop that one session. ok is false when the token
// is not one it minted, and the token is then tried as anything else.
type LiveSessionVerifier interface {
	VerifyLiveSession(ctx context.Context, service, raw string) (p aiproxy.Principal, ok bool, err error)
}

// HeaderUser is the header in which an org key (the org's backend
// vouching) names the user a call is made for. It is ignored for every
// other principal: a user token or sign-in carries its own user.
const HeaderUser = "X-AIProxy-User"

// queryTokenParam is the query parameter that may carry a user token on
// the routes a browser loads without headers (an <audio src>, an
// EventSource): it is read, then removed before anything else sees the
// request, and the access log never records queries.
const queryTokenParam = "access_token"

// authenticate returns who the request acts as. fromQuery is a user token
// taken from the query string, or "".
func (a *authenticator) authenticate(r *http.Request, fromQuery string) (aiproxy.Principal, error) {
	full := bearerKey(r.Header.Get("Authorization"))
	if full == "" && aiproxy.LooksLikeUserToken(fromQuery) {
		full = fromQuery // never a key: a URL ends up in histories and logs
	}
	if full == "" {
		return aiproxy.Principal{}, errNoAuth()
	}
	switch {
	case aiproxy.LooksLikeUserToken(full):
		return a.userToken(r.Context(), full)
	}
	if p, ok, err := a.liveSession(r, full); ok {
		return p, err
	}
	switch {
	case looksLikeJWT(full):
		return a.signIn(r.Context(), r.PathValue("org"), full)
	}
	p, err := a.apiKey(r.Context(), full)
	if err != nil {
		return p, err
	}
	if u := r.Header.Get(HeaderUser); u != "" && p.OrgKey != "" {
		if !aiproxy.ValidUser(u) {
			return aiproxy.Principal{}, aiproxy.Errorf(aiproxy.CodeInvalid,
				"%s must be 1 to 128 characters, without spaces or control characters.", HeaderUser)
		}
		p.User = u
	}
	return p, nil
}

// apiKey checks an aiproxy key.
func (a *authenticator) apiKey(ctx context.Context, full string) (aiproxy.Principal, error) {
	id, secret, ok := aiproxy.ParseKey(full)
	if !ok {
		return aiproxy.Principal{}, errInvalidToken()
	}
	k, err := a.key(ctx, id)
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
	p := k.Principal()
	p.Kind = aiproxy.KindKey
	return p, nil
}

// userToken checks a user token: its secret, its life, and the key that
// minted it, which must still be valid. A single-use token is spent here,
// atomically, so that two racing requests cannot both use it.
func (a *authenticator) userToken(ctx context.Context, full string) (aiproxy.Principal, error) {
	id, secret, ok := aiproxy.ParseUserToken(full)
	if !ok || a.tokens == nil {
		return aiproxy.Principal{}, errInvalidToken()
	}
	t, err := a.tokens.UserToken(ctx, id)
	if errors.Is(err, aiproxy.ErrNotFound) {
		aiproxy.SecretMatches(secret, dummyHash)
		return aiproxy.Principal{}, errInvalidToken()
	}
	if err != nil {
		return aiproxy.Principal{}, err
	}
	now := a.now()
	if !aiproxy.SecretMatches(secret, t.SecretHash) || !t.Valid(now) {
		return aiproxy.Principal{}, errInvalidToken()
	}
	k, err := a.key(ctx, t.KeyID)
	if errors.Is(err, aiproxy.ErrNotFound) || (err == nil && (k.Revoked() || k.Expired(now) || k.OrgKey != t.OrgKey)) {
		return aiproxy.Principal{}, errInvalidToken()
	}
	if err != nil {
		return aiproxy.Principal{}, err
	}
	if t.SingleUse {
		spent, err := a.tokens.SpendUserToken(ctx, t.ID, now.UTC())
		if err != nil {
			return aiproxy.Principal{}, err
		}
		if !spent {
			return aiproxy.Principal{}, errInvalidToken()
		}
	}
	return t.Principal(), nil
}

// signIn checks a JWT from an org's identity provider. Without a
// verifier, or on a route without an org, a JWT is an invalid token.
func (a *authenticator) signIn(ctx context.Context, org, raw string) (aiproxy.Principal, error) {
	if a.signIns == nil || org == "" {
		return aiproxy.Principal{}, errInvalidToken()
	}
	p, err := a.signIns.VerifySignIn(ctx, org, raw)
	if err != nil {
		return aiproxy.Principal{}, err
	}
	p.Kind = aiproxy.KindSignIn
	return p, nil
}

// liveSession checks a Bearer that is no aiproxy key against the live
// sessions aiproxy minted, only on the native routes (the provider's own
// paths, where its web SDK sends the session token).
func (a *authenticator) liveSession(r *http.Request, full string) (aiproxy.Principal, bool, error) {
	svc := r.PathValue("service")
	if a.live == nil || svc == "" || r.PathValue("path") == "" || strings.HasPrefix(full, "aip_") {
		return aiproxy.Principal{}, false, nil
	}
	return a.live.VerifyLiveSession(r.Context(), svc, full)
}

// looksLikeJWT reports whether a credential is shaped like a compact JWS:
// three dot-separated base64url parts, the first a JSON object.
func looksLikeJWT(s string) bool {
	if !strings.HasPrefix(s, "eyJ") || strings.Count(s, ".") != 2 {
		return false
	}
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == ""
}

// queryToken takes a user token from the query string of a GET on a route
// that allows it, and returns it with a copy of the request whose URL no
// longer carries it. Anything but a user token there is ignored: a
// long-lived key must never travel in a URL.
func queryToken(r *http.Request) (string, *http.Request) {
	if isUpgrade(r) {
		return socketToken(r) // socket.go
	}
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || !strings.Contains(r.URL.RawQuery, queryTokenParam) {
		return "", r
	}
	q := r.URL.Query()
	tok := q.Get(queryTokenParam)
	if !q.Has(queryTokenParam) {
		return "", r
	}
	q.Del(queryTokenParam)
	c := r.Clone(r.Context())
	c.URL.RawQuery = q.Encode()
	c.RequestURI = ""
	if !aiproxy.LooksLikeUserToken(tok) {
		tok = ""
	}
	return tok, c
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

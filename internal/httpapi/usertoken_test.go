package httpapi

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// fakeTokens is a TokenReader over a map, spending single-use tokens as
// the stores do.
type fakeTokens struct {
	mu     sync.Mutex
	tokens map[string]aiproxy.UserToken
}

func (f *fakeTokens) UserToken(_ context.Context, id string) (aiproxy.UserToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tokens[id]
	if !ok {
		return t, aiproxy.ErrNotFound
	}
	return t, nil
}

func (f *fakeTokens) SpendUserToken(_ context.Context, id string, at time.Time) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tokens[id]
	if !ok || !t.UsedAt.IsZero() || !t.RevokedAt.IsZero() {
		return false, nil
	}
	t.UsedAt = at
	f.tokens[id] = t
	return true, nil
}

// fakeSignIns accepts one JWT for one org.
type fakeSignIns struct{ org, jwt, user string }

func (f fakeSignIns) VerifySignIn(_ context.Context, org, raw string) (aiproxy.Principal, error) {
	if org != f.org || raw != f.jwt {
		return aiproxy.Principal{}, errInvalidToken()
	}
	return aiproxy.Principal{OrgKey: org, Role: aiproxy.RoleInvoke, User: f.user}, nil
}

type tokenFixture struct {
	a     *authenticator
	keys  *fakeKeys
	toks  *fakeTokens
	now   *time.Time
	key   string // the minting key, full
	token func(mod func(*aiproxy.UserToken)) string
}

func newTokenFixture(t *testing.T) *tokenFixture {
	t.Helper()
	fullKey, keyID, keyHash, err := aiproxy.NewKeySecret()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	f := &tokenFixture{now: &now, key: fullKey,
		keys: &fakeKeys{key: aiproxy.APIKey{ID: keyID, OrgKey: "acme", Role: aiproxy.RoleInvoke, SecretHash: keyHash},
			touches: make(chan time.Time, 100)},
		toks: &fakeTokens{tokens: map[string]aiproxy.UserToken{}}}
	f.a = &authenticator{keys: f.keys, tokens: f.toks, now: func() time.Time { return *f.now }, touched: map[string]time.Time{},
		signIns: fakeSignIns{org: "acme", jwt: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", user: "sam"}}
	f.token = func(mod func(*aiproxy.UserToken)) string {
		full, id, hash, err := aiproxy.NewUserTokenSecret()
		if err != nil {
			t.Fatal(err)
		}
		tok := aiproxy.UserToken{ID: id, OrgKey: "acme", User: "alice", KeyID: keyID, SecretHash: hash,
			Services: []string{"heygen"}, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
		if mod != nil {
			mod(&tok)
		}
		f.toks.tokens[id] = tok
		return full
	}
	return f
}

func (f *tokenFixture) auth(t *testing.T, header, query string, extra ...string) (aiproxy.Principal, error) {
	t.Helper()
	r := httptest.NewRequest("GET", "/api/ai-proxy/orgs/acme/me/", nil)
	r.SetPathValue("org", "acme")
	if header != "" {
		r.Header.Set("Authorization", header)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		r.Header.Set(extra[i], extra[i+1])
	}
	return f.a.authenticate(r, query)
}

func isInvalidToken(err error) bool {
	var e *aiproxy.Error
	return errors.As(err, &e) && e.Code == aiproxy.CodeUnauthenticated && e.Message == aiproxy.MsgInvalidToken
}

// TestUserTokenAuthentication walks a user token's life: it acts for its
// user with its grants and never as an admin; it stops at its expiry, on
// revocation, when its key is revoked and, if single-use, after one use.
func TestUserTokenAuthentication(t *testing.T) {
	f := newTokenFixture(t)
	tok := f.token(nil)
	for _, scheme := range []string{"Token ", "Bearer ", "Api-Key "} {
		p, err := f.auth(t, scheme+tok, "")
		if err != nil || p.Kind != aiproxy.KindUserToken || p.User != "alice" || p.OrgKey != "acme" || !p.Member() ||
			p.CanAdminOrg("acme") || !p.CanUseService("heygen") || p.CanUseService("elevenlabs") {
			t.Fatalf("%s: principal %+v, %v", scheme, p, err)
		}
	}
	// The header an org key names a user in does not change a token's user.
	if p, err := f.auth(t, "Token "+tok, "", HeaderUser, "bob"); err != nil || p.User != "alice" {
		t.Errorf("token with %s: bob = %+v, %v", HeaderUser, p, err)
	}
	// From the query string, when the route allows it.
	if p, err := f.auth(t, "", tok); err != nil || p.User != "alice" {
		t.Errorf("query token = %+v, %v", p, err)
	}

	*f.now = f.now.Add(10*time.Minute - time.Nanosecond)
	if _, err := f.auth(t, "Token "+tok, ""); err != nil {
		t.Errorf("a token just before its expiry: %v", err)
	}
	*f.now = f.now.Add(time.Nanosecond)
	if _, err := f.auth(t, "Token "+tok, ""); !isInvalidToken(err) {
		t.Errorf("an expired token: %v", err)
	}

	cases := map[string]string{
		"revoked":     f.token(func(u *aiproxy.UserToken) { u.RevokedAt = *f.now }),
		"wrong org":   f.token(func(u *aiproxy.UserToken) { u.OrgKey = "other" }),
		"unknown key": f.token(func(u *aiproxy.UserToken) { u.KeyID = "0000000000000000" }),
		"unknown id":  "aipt_0000000000000000_" + tok[len(tok)-52:],
		"bad secret":  tok[:len(tok)-1] + map[bool]string{true: "b", false: "a"}[strings.HasSuffix(tok, "a")],
		"malformed":   "aipt_x",
	}
	*f.now = f.now.Add(-5 * time.Minute)
	for name, c := range cases {
		if _, err := f.auth(t, "Token "+c, ""); !isInvalidToken(err) {
			t.Errorf("%s: %v, want Invalid token.", name, err)
		}
	}
	live := f.token(nil)
	f.keys.key.RevokedAt = *f.now
	f.a.forget(f.keys.key.ID)
	if _, err := f.auth(t, "Token "+live, ""); !isInvalidToken(err) {
		t.Errorf("a token of a revoked key: %v", err)
	}
}

// TestSingleUseTokenRace has 20 requests race with one single-use token:
// exactly one is let in.
func TestSingleUseTokenRace(t *testing.T) {
	f := newTokenFixture(t)
	tok := f.token(func(u *aiproxy.UserToken) { u.SingleUse = true })
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, invalid := 0, 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.auth(t, "Token "+tok, "")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case isInvalidToken(err):
				invalid++
			}
		}()
	}
	wg.Wait()
	if ok != 1 || invalid != 19 {
		t.Fatalf("%d let in, %d refused; want 1 and 19", ok, invalid)
	}
}

// TestOrgKeyNamesUser checks X-AIProxy-User: an org key may name a user
// (and stays an org-wide principal), a malformed name is refused, and a
// platform key's header is ignored.
func TestOrgKeyNamesUser(t *testing.T) {
	f := newTokenFixture(t)
	p, err := f.auth(t, "Api-Key "+f.key, "", HeaderUser, "alice@example.edu")
	if err != nil || p.User != "alice@example.edu" || p.Member() || p.Kind != aiproxy.KindKey {
		t.Fatalf("org key naming a user = %+v, %v", p, err)
	}
	_, err = f.auth(t, "Api-Key "+f.key, "", HeaderUser, "two words")
	if aiproxy.ErrorCode(err) != aiproxy.CodeInvalid {
		t.Errorf("malformed user header: %v", err)
	}
	// A key in the query string is never read.
	if _, err := f.auth(t, "", f.key); aiproxy.ErrorCode(err) != aiproxy.CodeUnauthenticated {
		t.Errorf("a key passed as a query token: %v", err)
	}
}

// TestSignIn routes a JWT to the org's verifier, and refuses it on a route
// without an org or without a verifier.
func TestSignIn(t *testing.T) {
	f := newTokenFixture(t)
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
	p, err := f.auth(t, "Bearer "+jwt, "", HeaderUser, "mallory")
	if err != nil || p.Kind != aiproxy.KindSignIn || p.User != "sam" || !p.Member() {
		t.Fatalf("sign-in = %+v, %v", p, err)
	}
	if _, err := f.auth(t, "Bearer "+jwt[:len(jwt)-1]+"x", ""); !isInvalidToken(err) {
		t.Errorf("a JWT the verifier refuses: %v", err)
	}
	r := httptest.NewRequest("GET", "/api/ai-proxy/admin/orgs/", nil)
	r.Header.Set("Authorization", "Bearer "+jwt)
	if _, err := f.a.authenticate(r, ""); !isInvalidToken(err) {
		t.Errorf("a JWT on a route without an org: %v", err)
	}
	f.a.signIns = nil
	if _, err := f.auth(t, "Bearer "+jwt, ""); !isInvalidToken(err) {
		t.Errorf("a JWT without a verifier: %v", err)
	}
}

// TestQueryTokenStripped checks that a query token is taken out of the
// request before anything else sees it, and only on a GET.
func TestQueryTokenStripped(t *testing.T) {
	r := httptest.NewRequest("GET", "/x?a=1&access_token=aipt_abc&b=2", nil)
	tok, c := queryToken(r)
	if tok != "aipt_abc" || strings.Contains(c.URL.RawQuery, "access_token") || c.URL.Query().Get("a") != "1" || c.URL.Query().Get("b") != "2" {
		t.Errorf("queryToken = %q, %q", tok, c.URL.RawQuery)
	}
	if !strings.Contains(r.URL.RawQuery, "access_token") {
		t.Error("the inbound request was changed")
	}
	r = httptest.NewRequest("GET", "/x?access_token=aip_key", nil)
	if tok, c := queryToken(r); tok != "" || strings.Contains(c.URL.RawQuery, "aip_key") {
		t.Errorf("an API key in the query: %q, %q", tok, c.URL.RawQuery)
	}
	r = httptest.NewRequest("POST", "/x?access_token=aipt_abc", nil)
	if tok, _ := queryToken(r); tok != "" {
		t.Errorf("a POST's query token was read: %q", tok)
	}
}

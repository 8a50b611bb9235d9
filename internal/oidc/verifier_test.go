package oidc

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

func TestVerifyMapsClaims(t *testing.T) {
	clk := newClock()
	key := newECKey(t, "k1")
	ti := newTestIssuer(t, key)
	cfg := ti.issuerFor("acme")
	cfg.AdminGroups = []string{"it-admins", "teachers"}
	cfg.UserPrefix = "school:"
	v := newTestVerifier(t, clk, cfg)

	now := clk.Now()
	id, err := v.Verify(t.Context(), "acme", sign(t, key, ti.claimsAt(now, nil)))
	if err != nil {
		t.Fatal(err)
	}
	want := Identity{Org: "acme", User: "school:u-123", Email: "ada@school.example", Groups: []string{"staff", "teachers"},
		Admin: true, Issuer: ti.URL, Subject: "u-123", ExpiresAt: now.Add(10 * time.Minute)}
	if !identityEqual(id, want) {
		t.Fatalf("identity = %+v\nwant       %+v", id, want)
	}
	p := id.Principal()
	if p.Kind != aiproxy.KindSignIn || p.OrgKey != "acme" || p.User != "school:u-123" || p.Role != aiproxy.RoleAdmin || p.KeyID != "" {
		t.Fatalf("principal = %+v", p)
	}

	// Not in an admin group: an invoke member.
	id, err = v.Verify(t.Context(), "acme", sign(t, key, ti.claimsAt(now, map[string]any{"groups": []string{"staff"}})))
	if err != nil {
		t.Fatal(err)
	}
	if id.Admin || id.Principal().Role != aiproxy.RoleInvoke || !id.Principal().Member() {
		t.Fatalf("a staff member mapped to admin: %+v", id)
	}
}

func identityEqual(a, b Identity) bool {
	return a.Org == b.Org && a.User == b.User && a.Email == b.Email && slices.Equal(a.Groups, b.Groups) &&
		a.Admin == b.Admin && a.Issuer == b.Issuer && a.Subject == b.Subject && a.ExpiresAt.Equal(b.ExpiresAt)
}

// TestVerifyClaimMapping checks configured claim names, nested paths,
// an audience list, a single-string groups claim and an RSA key.
func TestVerifyClaimMapping(t *testing.T) {
	clk := newClock()
	key := newRSAKey(t, "rsa-1")
	ti := newTestIssuer(t, key)
	cfg := ti.issuerFor("acme")
	cfg.Audiences = []string{"other", "aiproxy-web"}
	cfg.UserClaim = "ext.uid"
	cfg.EmailClaim = "https://school.example/mail"
	cfg.GroupsClaim = "realm_access.roles"
	cfg.AdminGroups = []string{"admin"}
	v := newTestVerifier(t, clk, cfg)

	tok := sign(t, key, ti.claimsAt(clk.Now(), map[string]any{
		"aud":                         []string{"aiproxy-web", "account"},
		"ext":                         map[string]any{"uid": "ada.l"},
		"https://school.example/mail": "ada@school.example",
		"realm_access":                map[string]any{"roles": "admin"},
		"email":                       "not-this@example.com",
	}))
	id, err := v.Verify(t.Context(), "acme", tok)
	if err != nil {
		t.Fatal(err)
	}
	if id.User != "ada.l" || id.Email != "ada@school.example" || !slices.Equal(id.Groups, []string{"admin"}) || !id.Admin || id.Subject != "u-123" {
		t.Fatalf("identity = %+v", id)
	}
	// A user claim that is not a string is no user, even when sub is one.
	tok = sign(t, key, ti.claimsAt(clk.Now(), map[string]any{"aud": "aiproxy-web", "ext": map[string]any{"uid": 42}}))
	_, err = v.Verify(t.Context(), "acme", tok)
	wantRefused(t, err, errNoUser)
}

// TestVerifyRefuses checks each rule on its own: every token differs from
// a valid one by one claim.
func TestVerifyRefuses(t *testing.T) {
	clk := newClock()
	key := newECKey(t, "k1")
	ti := newTestIssuer(t, key)
	cfg := ti.issuerFor("acme")
	cfg.RequiredClaims = map[string]string{"azp": "school-web", "email_verified": "true"}
	v := newTestVerifier(t, clk, cfg)
	now := clk.Now()
	base := map[string]any{"azp": "school-web", "email_verified": true}
	with := func(changes map[string]any) map[string]any {
		m := map[string]any{}
		for k, val := range base {
			m[k] = val
		}
		for k, val := range changes {
			m[k] = val
		}
		return ti.claimsAt(now, m)
	}
	if _, err := v.Verify(t.Context(), "acme", sign(t, key, with(nil))); err != nil {
		t.Fatalf("the valid token was refused: %v", err)
	}
	for _, tc := range []struct {
		name    string
		changes map[string]any
		cause   error
	}{
		{"wrong audience", map[string]any{"aud": "someone-else"}, errAudience},
		{"no audience", map[string]any{"aud": nil}, errAudience},
		{"audience list without ours", map[string]any{"aud": []string{"a", "b"}}, errAudience},
		{"expired beyond the leeway", map[string]any{"iat": now.Add(-20 * time.Minute).Unix(), "exp": now.Add(-61 * time.Second).Unix()}, errExpired},
		{"no exp", map[string]any{"exp": nil}, errNoExpiry},
		{"exp not a number", map[string]any{"exp": "tomorrow"}, errSignature}, // go-oidc's own decoding refuses it
		{"nbf in the future", map[string]any{"nbf": now.Add(2 * time.Minute).Unix()}, errNotYetValid},
		{"iat in the future", map[string]any{"iat": now.Add(2 * time.Minute).Unix(), "exp": now.Add(5 * time.Minute).Unix()}, errIssuedInFuture},
		{"lifetime longer than max_lifetime", map[string]any{"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(60 * time.Minute).Unix()}, errLifetime},
		{"lifetime from now without iat", map[string]any{"iat": nil, "exp": now.Add(61 * time.Minute).Unix()}, errLifetime},
		{"required claim missing", map[string]any{"azp": nil}, errRequiredClaim},
		{"required claim with another value", map[string]any{"azp": "other-app"}, errRequiredClaim},
		{"required boolean false", map[string]any{"email_verified": false}, errRequiredClaim},
		{"no user claim", map[string]any{"sub": nil}, errNoUser},
		{"empty user claim", map[string]any{"sub": ""}, errNoUser},
		{"user id with a space", map[string]any{"sub": "ada lovelace"}, errBadUser},
		{"sub not a string", map[string]any{"sub": 42}, errSignature}, // go-oidc decodes sub as a string
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), "acme", sign(t, key, with(tc.changes)))
			wantRefused(t, err, tc.cause)
		})
	}
}

func TestVerifyLeeway(t *testing.T) {
	clk := newClock()
	key := newECKey(t, "k1")
	ti := newTestIssuer(t, key)
	v := newTestVerifier(t, clk, ti.issuerFor("acme"))
	now := clk.Now()
	for name, c := range map[string]map[string]any{
		"expired within the leeway": {"iat": now.Add(-10 * time.Minute).Unix(), "exp": now.Add(-59 * time.Second).Unix()},
		"nbf within the leeway":     {"nbf": now.Add(59 * time.Second).Unix()},
		"iat within the leeway":     {"iat": now.Add(59 * time.Second).Unix(), "exp": now.Add(10 * time.Minute).Unix()},
		"lifetime just at the max":  {"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()},
	} {
		if _, err := v.Verify(t.Context(), "acme", sign(t, key, ti.claimsAt(now, c))); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
	}
}

// TestVerifyRefusesSymmetricAndUnsigned checks that a token the verifier
// could check with public material is refused: HS256 with the issuer's
// public key as the HMAC secret (the classic algorithm confusion), and
// alg none.
func TestVerifyRefusesSymmetricAndUnsigned(t *testing.T) {
	clk := newClock()
	key := newRSAKey(t, "rsa-1")
	ti := newTestIssuer(t, key)
	v := newTestVerifier(t, clk, ti.issuerFor("acme"))
	claims := ti.claimsAt(clk.Now(), nil)
	if _, err := v.Verify(t.Context(), "acme", sign(t, key, claims)); err != nil {
		t.Fatalf("the RS256 token was refused: %v", err)
	}

	der, err := x509.MarshalPKIXPublicKey(key.pub)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	b64 := base64.RawURLEncoding.EncodeToString
	for name, tok := range map[string]string{
		"HS256 keyed with the public key": sign(t, signingKey{priv: der, kid: "rsa-1", alg: "HS256"}, claims),
		"alg none":                        b64([]byte(`{"alg":"none","kid":"rsa-1"}`)) + "." + b64(payload) + ".",
		"alg none with a signature":       b64([]byte(`{"alg":"none"}`)) + "." + b64(payload) + "." + b64([]byte("sig")),
		"alg None":                        b64([]byte(`{"alg":"None"}`)) + "." + b64(payload) + ".",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), "acme", tok)
			wantRefused(t, err, errSignature)
		})
	}
}

// TestVerifyAlgorithmAllowList checks that an issuer's algorithm list is
// enforced: an RS256 token for an issuer that accepts ES256 only is
// refused, even though its key set holds the RSA key.
func TestVerifyAlgorithmAllowList(t *testing.T) {
	clk := newClock()
	rsaKey, ecKey := newRSAKey(t, "rsa-1"), newECKey(t, "ec-1")
	ti := newTestIssuer(t, rsaKey, ecKey)
	cfg := ti.issuerFor("acme")
	cfg.Algorithms = []string{"ES256"}
	v := newTestVerifier(t, clk, cfg)
	claims := ti.claimsAt(clk.Now(), nil)
	if _, err := v.Verify(t.Context(), "acme", sign(t, ecKey, claims)); err != nil {
		t.Fatalf("the ES256 token was refused: %v", err)
	}
	_, err := v.Verify(t.Context(), "acme", sign(t, rsaKey, claims))
	wantRefused(t, err, errSignature)
}

func TestVerifyOrgScoping(t *testing.T) {
	clk := newClock()
	keyA, keyP := newECKey(t, "a"), newECKey(t, "p")
	orgIssuer, platform := newTestIssuer(t, keyA), newTestIssuer(t, keyP)
	pcfg := platform.issuerFor("")
	pcfg.OrgClaim = "tenant.org"
	v := newTestVerifier(t, clk, orgIssuer.issuerFor("acme"), pcfg)
	now := clk.Now()

	if _, err := v.Verify(t.Context(), "acme", sign(t, keyA, orgIssuer.claimsAt(now, nil))); err != nil {
		t.Fatalf("acme's issuer on acme: %v", err)
	}
	_, err := v.Verify(t.Context(), "globex", sign(t, keyA, orgIssuer.claimsAt(now, nil)))
	wantRefused(t, err, errWrongOrg)
	if n := orgIssuer.keyFetches.Load(); n != 1 {
		t.Errorf("key set fetched %d times, want 1 (the wrong org is refused before any fetch)", n)
	}

	tenant := func(org any) map[string]any {
		return platform.claimsAt(now, map[string]any{"tenant": map[string]any{"org": org}})
	}
	id, err := v.Verify(t.Context(), "globex", sign(t, keyP, tenant("globex")))
	if err != nil || id.Org != "globex" {
		t.Fatalf("platform issuer, matching org claim: %+v, %v", id, err)
	}
	for name, c := range map[string]map[string]any{
		"another org":     tenant("acme"),
		"org not string":  tenant(7),
		"no org claim":    platform.claimsAt(now, nil),
		"empty org claim": tenant(""),
	} {
		_, err := v.Verify(t.Context(), "globex", sign(t, keyP, c))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		wantRefused(t, err, errOrgClaim)
	}
	// An org that is no org key is refused, whatever the claim says.
	_, err = v.Verify(t.Context(), "", sign(t, keyP, tenant("")))
	wantRefused(t, err, errBadOrg)
}

func TestVerifyUnknownIssuer(t *testing.T) {
	clk := newClock()
	key := newECKey(t, "k1")
	known, stranger := newTestIssuer(t, key), newTestIssuer(t, key)
	v := newTestVerifier(t, clk, known.issuerFor("acme"))
	_, err := v.Verify(t.Context(), "acme", sign(t, key, stranger.claimsAt(clk.Now(), nil)))
	wantRefused(t, err, errUnknownIssuer)
	// The same issuer with a trailing slash is another issuer.
	_, err = v.Verify(t.Context(), "acme", sign(t, key, known.claimsAt(clk.Now(), map[string]any{"iss": known.URL + "/"})))
	wantRefused(t, err, errUnknownIssuer)
	if n := stranger.discoveries.Load() + known.discoveries.Load(); n != 0 {
		t.Fatalf("%d discoveries for tokens of unknown issuers", n)
	}
	for _, junk := range []string{"", "aip_0123_abc", "a.b.c", "e30.e30.", "not a token"} {
		_, err := v.Verify(t.Context(), "acme", junk)
		wantRefused(t, err, errMalformed)
	}
}

// TestVerifyRefusalShowsOnlyTheContractMessage checks what the client
// would read: the message is the contract's, whatever the cause.
func TestVerifyRefusalShowsOnlyTheContractMessage(t *testing.T) {
	clk := newClock()
	key := newECKey(t, "k1")
	ti := newTestIssuer(t, key)
	v := newTestVerifier(t, clk, ti.issuerFor("acme"))
	_, err := v.Verify(t.Context(), "acme", sign(t, key, ti.claimsAt(clk.Now(), map[string]any{"aud": "x"})))
	var e *aiproxy.Error
	if !errors.As(err, &e) || e.Message != "Invalid token." || e.Err == nil {
		t.Fatalf("err = %#v", err)
	}
}

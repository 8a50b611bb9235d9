package oidc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/egress"
)

// Issuer is one identity provider aiproxy trusts, as the operator's file
// writes it (docs/oidc.md). Load and New fill the defaults that the
// comments state; a zero value of a field means its default.
type Issuer struct {
	// Org is the org key whose sign-ins this issuer serves. Empty means
	// every org (platform-wide): then OrgClaim is required and the claim
	// must name the org of the request.
	Org string
	// URL is the issuer identifier: the token's iss, exactly, and the base
	// of the discovery document. https only, unless insecure issuers are
	// allowed (Options.AllowInsecure, for tests and the demo).
	URL string
	// Audiences are the aud values accepted: a token must name at least
	// one. Required.
	Audiences []string
	// Algorithms are the signing algorithms accepted; default RS256 and
	// ES256. Only asymmetric ones may be listed (RS*, PS*, ES*, EdDSA):
	// HMAC and none are refused.
	Algorithms []string
	// JWKSURL, when set, is the key set's URL and discovery is skipped.
	JWKSURL string
	// UserClaim is the claim holding the user id; default "sub". Like every
	// claim name here it may be a dotted path into nested objects.
	UserClaim string
	// EmailClaim is the claim holding the email address; default "email".
	EmailClaim string
	// GroupsClaim is the claim holding the groups (a list of strings or one
	// string); default "groups".
	GroupsClaim string
	// AdminGroups are the groups whose members are the org's admins;
	// default none.
	AdminGroups []string
	// RequiredClaims maps claims to the value each must have: a string
	// equal to it, a list of strings holding it, or a boolean or number
	// written the same way.
	RequiredClaims map[string]string
	// UserPrefix is prefixed to every user id from this issuer, so that
	// users of two issuers, or of an issuer and minted tokens, cannot
	// collide; default none.
	UserPrefix string
	// Leeway is the clock skew tolerated on exp, nbf and iat; default 60 s,
	// at most 5 minutes.
	Leeway time.Duration
	// MaxLifetime refuses a token that lives longer: exp-iat, or exp-now
	// when iat is missing; default 1 h, at most 24 h.
	MaxLifetime time.Duration
	// OrgClaim is the claim that must equal the request's org. Required
	// when Org is empty; optional otherwise (then it must equal Org).
	OrgClaim string
}

// Defaults and bounds of an Issuer's fields.
const (
	// DefaultLeeway is the clock skew tolerated when an Issuer sets none,
	// Envoy's default.
	DefaultLeeway = 60 * time.Second
	// MaxLeeway is the most clock skew an Issuer may tolerate.
	MaxLeeway = 5 * time.Minute
	// DefaultMaxLifetime is the longest token lifetime accepted when an
	// Issuer sets none.
	DefaultMaxLifetime = time.Hour
	// MaxMaxLifetime is the most an Issuer's MaxLifetime may be.
	MaxMaxLifetime = 24 * time.Hour
)

// defaultAlgorithms are the signing algorithms an Issuer accepts when it
// lists none (Issuer.Algorithms).
var defaultAlgorithms = []string{"RS256", "ES256"}

// asymmetricAlgorithms are the algorithms an Issuer may list: those of
// public keys, which a key set can publish without giving anyone the
// power to sign.
var asymmetricAlgorithms = []string{
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
}

// issuerJSON is an Issuer as the file writes it: durations are strings
// ("90s", "1h").
type issuerJSON struct {
	Org            string            `json:"org"`
	Issuer         string            `json:"issuer"`
	Audiences      []string          `json:"audiences"`
	Algorithms     []string          `json:"algorithms"`
	JWKSURL        string            `json:"jwks_url"`
	UserClaim      string            `json:"user_claim"`
	EmailClaim     string            `json:"email_claim"`
	GroupsClaim    string            `json:"groups_claim"`
	AdminGroups    []string          `json:"admin_groups"`
	RequiredClaims map[string]string `json:"required_claims"`
	UserPrefix     string            `json:"user_prefix"`
	Leeway         string            `json:"leeway"`
	MaxLifetime    string            `json:"max_lifetime"`
	OrgClaim       string            `json:"org_claim"`
}

// UnmarshalJSON reads an Issuer as the file writes it; unknown fields are
// refused, so that a misspelt rule is not silently ignored.
func (is *Issuer) UnmarshalJSON(data []byte) error {
	var j issuerJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	leeway, err := parseDuration("leeway", j.Leeway)
	if err != nil {
		return err
	}
	lifetime, err := parseDuration("max_lifetime", j.MaxLifetime)
	if err != nil {
		return err
	}
	*is = Issuer{
		Org: j.Org, URL: j.Issuer, Audiences: j.Audiences, Algorithms: j.Algorithms, JWKSURL: j.JWKSURL,
		UserClaim: j.UserClaim, EmailClaim: j.EmailClaim, GroupsClaim: j.GroupsClaim, AdminGroups: j.AdminGroups,
		RequiredClaims: j.RequiredClaims, UserPrefix: j.UserPrefix, Leeway: leeway, MaxLifetime: lifetime, OrgClaim: j.OrgClaim,
	}
	return nil
}

// parseDuration reads a duration field; empty means the default (zero).
func parseDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a duration such as \"90s\" or \"1h\"", field, s)
	}
	return d, nil
}

// file is the operator's issuers file.
type file struct {
	Issuers []Issuer `json:"issuers"`
}

// Load reads an issuers file ({"issuers": [...]}, docs/oidc.md), fills
// the defaults, and checks every entry, reporting every problem at once
// in one error. Insecure issuers are refused: a file is for production.
func Load(r io.Reader) ([]Issuer, error) { return load(r, false) }

// LoadInsecure is Load for a development identity provider: issuers may
// use http and addresses inside aiproxy's network (Options.AllowInsecure).
func LoadInsecure(r io.Reader) ([]Issuer, error) { return load(r, true) }

func load(r io.Reader, allowInsecure bool) ([]Issuer, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("oidc issuers: %w", err)
	}
	if dec.More() {
		return nil, errors.New("oidc issuers: the file holds more than one JSON value")
	}
	issuers := WithDefaults(f.Issuers)
	if err := Validate(issuers, allowInsecure); err != nil {
		return nil, err
	}
	return issuers, nil
}

// LoadFile is Load on the file at path; with allowInsecure, LoadInsecure.
func LoadFile(path string, allowInsecure bool) ([]Issuer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("oidc issuers: %w", err)
	}
	defer f.Close()
	issuers, err := load(f, allowInsecure)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return issuers, nil
}

// WithDefaults returns a copy of issuers with every zero field that has a
// default set to it.
func WithDefaults(issuers []Issuer) []Issuer {
	out := make([]Issuer, len(issuers))
	for i, is := range issuers {
		if len(is.Algorithms) == 0 {
			is.Algorithms = slices.Clone(defaultAlgorithms)
		}
		is.UserClaim = cmpOr(is.UserClaim, "sub")
		is.EmailClaim = cmpOr(is.EmailClaim, "email")
		is.GroupsClaim = cmpOr(is.GroupsClaim, "groups")
		if is.Leeway == 0 {
			is.Leeway = DefaultLeeway
		}
		if is.MaxLifetime == 0 {
			is.MaxLifetime = DefaultMaxLifetime
		}
		out[i] = is
	}
	return out
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Validate checks issuers (with their defaults filled) and returns one
// error listing every problem, or nil. allowInsecure accepts http URLs
// and hosts inside the network, for tests and the demo.
func Validate(issuers []Issuer, allowInsecure bool) error {
	var problems []error
	seen := map[string]int{}
	for i, is := range issuers {
		for _, p := range is.problems(allowInsecure) {
			problems = append(problems, fmt.Errorf("issuers[%d] (%s): %s", i, is.URL, p))
		}
		key := strings.TrimSuffix(is.URL, "/")
		if first, dup := seen[key]; dup && key != "" {
			problems = append(problems, fmt.Errorf("issuers[%d] (%s): the issuer is already listed at issuers[%d]: an issuer serves one org, or every org with org_claim", i, is.URL, first))
		} else {
			seen[key] = i
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("oidc issuers: %w", errors.Join(problems...))
}

// problems lists what is wrong with one issuer.
func (is Issuer) problems(allowInsecure bool) []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if is.Org != "" && !aiproxy.ValidOrgKey(is.Org) {
		add("org: %q is not an org key", is.Org)
	}
	if is.Org == "" && is.OrgClaim == "" {
		add("org_claim: required for a platform-wide issuer (no org), so that a token names its org")
	}
	if err := checkEndpoint(is.URL, allowInsecure); err != nil {
		add("issuer: %v", err)
	}
	if is.JWKSURL != "" {
		if err := checkEndpoint(is.JWKSURL, allowInsecure); err != nil {
			add("jwks_url: %v", err)
		}
	}
	if len(is.Audiences) == 0 || slices.Contains(is.Audiences, "") {
		add("audiences: at least one non-empty audience is required")
	}
	for _, alg := range is.Algorithms {
		if !slices.Contains(asymmetricAlgorithms, alg) {
			add("algorithms: %q is refused: use asymmetric algorithms only (%s)", alg, strings.Join(asymmetricAlgorithms, ", "))
		}
	}
	claims := map[string]string{"user_claim": is.UserClaim, "email_claim": is.EmailClaim, "groups_claim": is.GroupsClaim}
	if is.OrgClaim != "" {
		claims["org_claim"] = is.OrgClaim
	}
	for field, c := range claims {
		if !validClaimPath(c) {
			add("%s: %q is not a claim name or a dotted path", field, c)
		}
	}
	for c, want := range is.RequiredClaims {
		if !validClaimPath(c) || want == "" {
			add("required_claims: %q must be a claim name or dotted path with a non-empty value", c)
		}
	}
	if slices.Contains(is.AdminGroups, "") {
		add("admin_groups: a group name is empty")
	}
	if is.UserPrefix != "" && (!aiproxy.ValidUser(is.UserPrefix) || len(is.UserPrefix) > 64) {
		add("user_prefix: %q must be at most 64 printable characters without spaces", is.UserPrefix)
	}
	if is.Leeway < 0 || is.Leeway > MaxLeeway {
		add("leeway: %s is out of range: 0 to %s", is.Leeway, MaxLeeway)
	}
	if is.MaxLifetime < 0 || is.MaxLifetime > MaxMaxLifetime {
		add("max_lifetime: %s is out of range: up to %s", is.MaxLifetime, MaxMaxLifetime)
	}
	return p
}

// checkEndpoint checks an issuer or key set URL: absolute https (or http
// when insecure URLs are allowed), no user information, query or
// fragment, and a host outside the network unless insecure.
func checkEndpoint(raw string, allowInsecure bool) error {
	if raw == "" {
		return errors.New("required")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must be an absolute URL without user information, query or fragment", raw)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowInsecure:
	default:
		return fmt.Errorf("%q must use https", raw)
	}
	if allowInsecure {
		return nil
	}
	if err := egress.CheckURL(u); err != nil {
		return fmt.Errorf("%q: %v", raw, err)
	}
	return nil
}

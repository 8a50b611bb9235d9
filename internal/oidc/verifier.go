package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// DefaultRefetchCooldown is how often, at most, a key set is fetched
// again for tokens that name a key it lacks.
const DefaultRefetchCooldown = 30 * time.Second

// Options are a Verifier's settings; the zero value of each field means
// the default its comment states.
type Options struct {
	// HTTPClient fetches discovery documents and key sets. nil means an
	// egress-guarded client (no redirects, no address inside the network)
	// with a 5 s timeout. Whichever client, response bodies are capped at
	// 512 KiB.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives discovery and key set failures; nil discards them.
	Logger *slog.Logger
	// RefetchCooldown is the least time between two fetches of one
	// issuer's key set; default DefaultRefetchCooldown.
	RefetchCooldown time.Duration
	// AllowInsecure accepts http issuer and key set URLs and, with the
	// default client, connections to loopback and private addresses: for
	// tests and the demo, never for production.
	AllowInsecure bool
}

// Identity is who a verified token says its bearer is, in aiproxy's
// terms.
type Identity struct {
	// Org is the org the token was verified for.
	Org string
	// User is the user id: the issuer's UserPrefix and the user claim.
	User string
	// Email is the email claim, or "".
	Email string
	// Groups are the groups claim's strings.
	Groups []string
	// Admin is set when one of Groups is one of the issuer's AdminGroups.
	Admin bool
	// Issuer is the token's issuer.
	Issuer string
	// Subject is the token's sub claim, which may differ from User when
	// the user comes from another claim.
	Subject string
	// ExpiresAt is when the token expires (without the leeway).
	ExpiresAt time.Time
}

// Principal returns who a request signed in with this identity acts as:
// a sign-in for the org's user, with the admin role for members of an
// admin group and the invoke role otherwise.
func (id Identity) Principal() aiproxy.Principal {
	role := aiproxy.RoleInvoke
	if id.Admin {
		role = aiproxy.RoleAdmin
	}
	return aiproxy.Principal{Kind: aiproxy.KindSignIn, OrgKey: id.Org, Role: role, User: id.User, ExpiresAt: id.ExpiresAt}
}

// Verifier verifies sign-in tokens against the issuers it was built with.
// It is safe for concurrent use.
type Verifier struct {
	providers map[string]*provider
	now       func() time.Time
}

// New returns a Verifier for issuers (their defaults filled, then checked
// as Validate does). It makes no network call: each issuer is discovered
// on the first token that names it, so that an issuer that is down when
// aiproxy starts delays nothing but its own sign-ins.
func New(issuers []Issuer, opts Options) (*Verifier, error) {
	issuers = WithDefaults(issuers)
	if err := Validate(issuers, opts.AllowInsecure); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.RefetchCooldown <= 0 {
		opts.RefetchCooldown = DefaultRefetchCooldown
	}
	client := httpClient(opts.HTTPClient, opts.AllowInsecure)
	v := &Verifier{providers: make(map[string]*provider, len(issuers)), now: opts.Now}
	for _, is := range issuers {
		v.providers[is.URL] = newProvider(is, client, opts)
	}
	return v, nil
}

// The causes of a refusal, kept in the error for the log.
var (
	errMalformed      = errors.New("not a well-formed JWT")
	errUnknownIssuer  = errors.New("the token's issuer is not configured")
	errBadOrg         = errors.New("the org is not a valid org key")
	errWrongOrg       = errors.New("the issuer does not serve this org")
	errSignature      = errors.New("go-oidc refused the token (signature, algorithm, issuer or a standard claim's type)")
	errAudience       = errors.New("the token names none of the issuer's audiences")
	errNoExpiry       = errors.New("the token has no exp")
	errExpired        = errors.New("the token has expired")
	errNotYetValid    = errors.New("the token is not valid yet (nbf)")
	errIssuedInFuture = errors.New("the token was issued in the future (iat)")
	errLifetime       = errors.New("the token lives longer than the issuer's max_lifetime")
	errRequiredClaim  = errors.New("a required claim is missing or has another value")
	errOrgClaim       = errors.New("the org claim does not name this org")
	errNoUser         = errors.New("the user claim is missing or empty")
	errBadUser        = errors.New("the user id is not acceptable")
)

// refused is the error every refusal returns: the contract's "Invalid
// token." for the client, the cause for the log.
func refused(cause error) error {
	return &aiproxy.Error{Code: aiproxy.CodeUnauthenticated, Message: aiproxy.MsgInvalidToken, Err: cause}
}

// Verify verifies a sign-in token for a request to org and returns the
// identity it carries. The issuer is picked by the token's iss; it must
// serve org (or serve every org and name org in its org claim). Every
// refusal is an *aiproxy.Error with CodeUnauthenticated and the message
// "Invalid token.", whose cause is only for the log.
func (v *Verifier) Verify(ctx context.Context, org, rawJWT string) (Identity, error) {
	iss, err := unverifiedIssuer(rawJWT)
	if err != nil {
		return Identity{}, refused(fmt.Errorf("%w: %v", errMalformed, err))
	}
	p, ok := v.providers[iss]
	if !ok {
		return Identity{}, refused(fmt.Errorf("%w: %.200q", errUnknownIssuer, iss))
	}
	if !aiproxy.ValidOrgKey(org) {
		return Identity{}, refused(fmt.Errorf("%w: %.100q", errBadOrg, org))
	}
	if p.cfg.Org != "" && p.cfg.Org != org {
		return Identity{}, refused(fmt.Errorf("%w: %s serves %s, not %s", errWrongOrg, iss, p.cfg.Org, org))
	}
	idv, err := p.idTokenVerifier(ctx)
	if err != nil {
		return Identity{}, refused(fmt.Errorf("issuer %s: %w", iss, err))
	}
	tok, err := idv.Verify(ctx, rawJWT)
	if err != nil {
		return Identity{}, refused(fmt.Errorf("issuer %s: %w: %v", iss, errSignature, err))
	}
	var payload json.RawMessage
	if err := tok.Claims(&payload); err != nil {
		return Identity{}, refused(fmt.Errorf("issuer %s: %w: %v", iss, errMalformed, err))
	}
	c, err := decodeClaims(payload)
	if err != nil {
		return Identity{}, refused(fmt.Errorf("issuer %s: %w: %v", iss, errMalformed, err))
	}
	id, err := p.cfg.identity(c, org, v.now())
	if err != nil {
		return Identity{}, refused(fmt.Errorf("issuer %s: %w", iss, err))
	}
	return id, nil
}

// identity checks a verified token's claims against the issuer's rules
// and maps them to an Identity.
func (is Issuer) identity(c claims, org string, now time.Time) (Identity, error) {
	if !slices.ContainsFunc(c.stringList("aud"), func(a string) bool { return slices.Contains(is.Audiences, a) }) {
		return Identity{}, errAudience
	}
	exp, err := is.checkTimes(c, now)
	if err != nil {
		return Identity{}, err
	}
	for name, want := range is.RequiredClaims {
		if !c.has(name, want) {
			return Identity{}, fmt.Errorf("%w: %s", errRequiredClaim, name)
		}
	}
	if is.OrgClaim != "" && c.str(is.OrgClaim) != org {
		return Identity{}, fmt.Errorf("%w: %s", errOrgClaim, is.OrgClaim)
	}
	user := c.str(is.UserClaim)
	if user == "" {
		return Identity{}, fmt.Errorf("%w: %s", errNoUser, is.UserClaim)
	}
	if user = is.UserPrefix + user; !aiproxy.ValidUser(user) {
		return Identity{}, fmt.Errorf("%w: %.140q", errBadUser, user)
	}
	groups := c.stringList(is.GroupsClaim)
	return Identity{
		Org:       org,
		User:      user,
		Email:     c.str(is.EmailClaim),
		Groups:    groups,
		Admin:     slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(is.AdminGroups, g) }),
		Issuer:    is.URL,
		Subject:   c.str("sub"),
		ExpiresAt: exp,
	}, nil
}

// checkTimes checks exp (required), nbf and iat against now with the
// issuer's leeway, and the token's lifetime (exp-iat, or exp-now without
// iat) against its MaxLifetime. It returns the expiry.
func (is Issuer) checkTimes(c claims, now time.Time) (time.Time, error) {
	exp, ok, err := c.numericDate("exp")
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if !ok {
		return time.Time{}, errNoExpiry
	}
	if now.After(exp.Add(is.Leeway)) {
		return time.Time{}, fmt.Errorf("%w at %s", errExpired, exp.UTC().Format(time.RFC3339))
	}
	nbf, ok, err := c.numericDate("nbf")
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if ok && nbf.After(now.Add(is.Leeway)) {
		return time.Time{}, fmt.Errorf("%w: %s", errNotYetValid, nbf.UTC().Format(time.RFC3339))
	}
	iat, hasIat, err := c.numericDate("iat")
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if hasIat && iat.After(now.Add(is.Leeway)) {
		return time.Time{}, fmt.Errorf("%w: %s", errIssuedInFuture, iat.UTC().Format(time.RFC3339))
	}
	from := now
	if hasIat {
		from = iat
	}
	if life := exp.Sub(from); life > is.MaxLifetime {
		return time.Time{}, fmt.Errorf("%w: %s > %s", errLifetime, life, is.MaxLifetime)
	}
	return exp, nil
}

package admin

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// TokenStores is the storage user tokens need: the tokens, and the keys
// that mint them.
type TokenStores interface {
	aiproxy.UserTokenStore
	Key(ctx context.Context, id string) (aiproxy.APIKey, error)
	Org(ctx context.Context, key string) (aiproxy.Org, error)
}

// TokenCatalog finds services, to check the grants a token asks for.
type TokenCatalog interface {
	Service(slug string) (*aiproxy.Service, bool)
}

// UserTokens mints, lists and revokes user tokens: short-lived credentials
// an org's backend hands a browser so that it acts for one user with at
// most the backend key's grants.
type UserTokens struct {
	store   TokenStores
	catalog TokenCatalog
	now     func() time.Time
	audit   Auditor
	// DefaultTTL and MaxTTL bound a token's life; zero means
	// aiproxy.DefaultUserTokenTTL and aiproxy.MaxUserTokenTTL.
	DefaultTTL, MaxTTL time.Duration
}

// NewUserTokens returns the user token operations. now may be nil.
func NewUserTokens(store TokenStores, catalog TokenCatalog, audit Auditor, now func() time.Time) *UserTokens {
	if now == nil {
		now = time.Now
	}
	return &UserTokens{store: store, catalog: catalog, audit: audit, now: now}
}

// MintRequest is what a minting key asks for. Zero fields mean the
// defaults: every service and action the key may use, the default TTL, no
// spending cap of its own, many uses.
type MintRequest struct {
	User     string
	Services []string
	Actions  []string
	TTL      time.Duration
	// MaxSpendMicros caps what the token may spend in its life, in
	// micro-USD; 0 means no cap of its own.
	MaxSpendMicros int64
	SingleUse      bool
}

// maxGrants bounds the services and actions one token may list.
const maxGrants = 100

// Mint makes a user token for a user of an org, with the principal in ctx
// as its minter. Only a key may mint (never a user token or a sign-in),
// and only for its own org; the token's grants are the request's, which
// must lie within the key's. It returns the full token, shown once.
func (u *UserTokens) Mint(ctx context.Context, org string, req MintRequest) (string, aiproxy.UserToken, error) {
	p, ok := aiproxy.PrincipalFrom(ctx)
	if !ok || (p.Kind != "" && p.Kind != aiproxy.KindKey) || p.KeyID == "" || p.OrgKey != org {
		return "", aiproxy.UserToken{}, aiproxy.Errorf(aiproxy.CodeForbidden, "Only an API key of the org may mint user tokens.")
	}
	if !aiproxy.ValidUser(req.User) {
		return "", aiproxy.UserToken{}, aiproxy.Errorf(aiproxy.CodeInvalid,
			"user is required: 1 to 128 characters, without spaces or control characters.")
	}
	o, err := u.store.Org(ctx, org)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return "", aiproxy.UserToken{}, orgNotFound(org)
	}
	if err != nil {
		return "", aiproxy.UserToken{}, fmt.Errorf("read org: %w", err)
	}
	ttl, err := u.ttl(req.TTL, o.Settings)
	if err != nil {
		return "", aiproxy.UserToken{}, err
	}
	if req.MaxSpendMicros < 0 {
		return "", aiproxy.UserToken{}, aiproxy.Errorf(aiproxy.CodeInvalid, "max_spend must not be negative.")
	}
	services, err := u.narrowServices(p, req.Services)
	if err != nil {
		return "", aiproxy.UserToken{}, err
	}
	actions, err := u.checkActions(p, services, req.Actions)
	if err != nil {
		return "", aiproxy.UserToken{}, err
	}
	full, id, hash, err := aiproxy.NewUserTokenSecret()
	if err != nil {
		return "", aiproxy.UserToken{}, fmt.Errorf("make user token: %w", err)
	}
	now := u.now().UTC()
	t := aiproxy.UserToken{ID: id, OrgKey: org, User: req.User, KeyID: p.KeyID, SecretHash: hash,
		Services: services, Actions: actions, MaxSpendMicros: req.MaxSpendMicros, SingleUse: req.SingleUse,
		TestOnly: p.TestOnly, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := u.store.CreateUserToken(ctx, t); err != nil {
		if errors.Is(err, aiproxy.ErrNotFound) {
			return "", aiproxy.UserToken{}, orgNotFound(org)
		}
		return "", aiproxy.UserToken{}, fmt.Errorf("store user token: %w", err)
	}
	return full, t, nil
}

// Lifetimes returns the default and the longest life of a user token of
// an org with these settings: the org's within the deployment's.
func (u *UserTokens) Lifetimes(org aiproxy.OrgSettings) (def, longest time.Duration) {
	def, longest = u.DefaultTTL, u.MaxTTL
	if longest <= 0 {
		longest = aiproxy.MaxUserTokenTTL
	}
	if org.UserTokenMaxTTL > 0 {
		longest = min(longest, org.UserTokenMaxTTL)
	}
	if def <= 0 {
		def = aiproxy.DefaultUserTokenTTL
	}
	if org.UserTokenTTL > 0 {
		def = org.UserTokenTTL
	}
	return min(def, longest), longest
}

// ttl applies the default and the bounds to a requested lifetime.
func (u *UserTokens) ttl(asked time.Duration, org aiproxy.OrgSettings) (time.Duration, error) {
	def, maxTTL := u.Lifetimes(org)
	if asked == 0 {
		return def, nil
	}
	if asked < aiproxy.MinUserTokenTTL || asked > maxTTL {
		return 0, aiproxy.Errorf(aiproxy.CodeInvalid, "ttl_seconds must be between %d and %d.",
			int(aiproxy.MinUserTokenTTL.Seconds()), int(maxTTL.Seconds()))
	}
	return asked, nil
}

// narrowServices returns the services a token may use: those asked for,
// each of which the key must hold, or without any asked for, the key's.
func (u *UserTokens) narrowServices(p aiproxy.Principal, asked []string) ([]string, error) {
	if len(asked) > maxGrants {
		return nil, aiproxy.Errorf(aiproxy.CodeInvalid, "A token may list at most %d services.", maxGrants)
	}
	if len(asked) == 0 {
		return slices.Clone(p.Services), nil
	}
	out := make([]string, 0, len(asked))
	for _, s := range asked {
		if _, ok := u.catalog.Service(s); !ok {
			return nil, aiproxy.Errorf(aiproxy.CodeInvalid, "Unknown service %q in services.", s)
		}
		if !p.CanUseService(s) {
			return nil, aiproxy.Errorf(aiproxy.CodeForbidden, "This key may not use service %q, so it cannot grant it.", s)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out, nil
}

// checkActions validates the "service/action" grants a token asks for:
// each must name a catalog endpoint of a service the token may use, and
// one the key may call.
func (u *UserTokens) checkActions(p aiproxy.Principal, services, asked []string) ([]string, error) {
	if len(asked) > maxGrants {
		return nil, aiproxy.Errorf(aiproxy.CodeInvalid, "A token may list at most %d actions.", maxGrants)
	}
	narrowed := aiproxy.Principal{Services: services}
	out := make([]string, 0, len(asked))
	for _, a := range asked {
		svc, action, ok := strings.Cut(a, "/")
		if !ok || svc == "" || action == "" {
			return nil, aiproxy.Errorf(aiproxy.CodeInvalid, "Each action must be \"service/action\"; got %q.", a)
		}
		s, found := u.catalog.Service(svc)
		if found {
			_, found = s.Endpoint(action)
		}
		if !found {
			return nil, aiproxy.Errorf(aiproxy.CodeInvalid, "Unknown action %q.", a)
		}
		if !narrowed.CanUseService(svc) || !p.CanUseAction(svc, action) {
			return nil, aiproxy.Errorf(aiproxy.CodeForbidden, "This key may not call %q, so it cannot grant it.", a)
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out, nil
}

// List returns an org's live tokens, of one user or of all with user "".
func (u *UserTokens) List(ctx context.Context, org, user string) ([]aiproxy.UserToken, error) {
	return u.store.UserTokens(ctx, org, user, u.now().UTC())
}

// Revoke revokes an org's token; another org's is not found.
func (u *UserTokens) Revoke(ctx context.Context, org, id string) (aiproxy.UserToken, error) {
	err := u.store.RevokeUserToken(ctx, org, id, u.now().UTC())
	if errors.Is(err, aiproxy.ErrNotFound) {
		return aiproxy.UserToken{}, aiproxy.Errorf(aiproxy.CodeNotFound, "User token %q not found.", id)
	}
	if err != nil {
		return aiproxy.UserToken{}, fmt.Errorf("revoke user token: %w", err)
	}
	t, err := u.store.UserToken(ctx, id)
	if err != nil {
		return aiproxy.UserToken{}, fmt.Errorf("read user token: %w", err)
	}
	return t, record(ctx, u.audit, u.now(), aiproxy.AuditUserTokenRevoked, org, id, "user="+t.User)
}

// MicrosFromUSD converts a spending cap in US dollars to micro-USD,
// refusing what is negative, not finite or beyond a million dollars.
func MicrosFromUSD(usd float64) (int64, error) {
	if math.IsNaN(usd) || usd < 0 || usd > 1e6 {
		return 0, aiproxy.Errorf(aiproxy.CodeInvalid, "max_spend must be a number of US dollars between 0 and 1000000.")
	}
	return int64(math.Round(usd * 1e6)), nil
}

// SetOrgSettings replaces an org's settings: the default and the longest
// life of its user tokens, each 0 (the deployment's) or between
// aiproxy.MinUserTokenTTL and aiproxy.MaxUserTokenTTL, the default no
// longer than the longest. The deployment's own ceiling still applies at
// minting.
func (s *Service) SetOrgSettings(ctx context.Context, org string, set aiproxy.OrgSettings) (aiproxy.Org, error) {
	var problems []string
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"user_token_ttl_seconds", set.UserTokenTTL}, {"user_token_max_ttl_seconds", set.UserTokenMaxTTL}} {
		if d.v != 0 && (d.v < aiproxy.MinUserTokenTTL || d.v > aiproxy.MaxUserTokenTTL || d.v%time.Second != 0) {
			problems = append(problems, fmt.Sprintf("%s must be 0 (the deployment's) or whole seconds from %d to %d",
				d.name, int(aiproxy.MinUserTokenTTL.Seconds()), int(aiproxy.MaxUserTokenTTL.Seconds())))
		}
	}
	if set.UserTokenTTL != 0 && set.UserTokenMaxTTL != 0 && set.UserTokenTTL > set.UserTokenMaxTTL {
		problems = append(problems, "user_token_ttl_seconds must not be longer than user_token_max_ttl_seconds")
	}
	if len(problems) > 0 {
		return aiproxy.Org{}, aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid settings: %s.", strings.Join(problems, "; "))
	}
	err := s.store.SetOrgSettings(ctx, org, set)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return aiproxy.Org{}, orgNotFound(org)
	}
	if err != nil {
		return aiproxy.Org{}, fmt.Errorf("set org settings: %w", err)
	}
	detail := fmt.Sprintf("user_token_ttl_seconds=%d user_token_max_ttl_seconds=%d",
		int(set.UserTokenTTL.Seconds()), int(set.UserTokenMaxTTL.Seconds()))
	if err := s.record(ctx, aiproxy.AuditOrgSettings, org, org, detail); err != nil {
		return aiproxy.Org{}, err
	}
	return s.Org(ctx, org)
}

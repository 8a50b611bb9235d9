package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// userFlags configure end users: the life of the user tokens org keys
// mint, and the identity providers whose sign-ins aiproxy accepts.
type userFlags struct {
	tokenTTL    time.Duration
	tokenMaxTTL time.Duration
	oidcConfig  string
	envErr      error
}

func (f *userFlags) register(fs *flag.FlagSet, e env) {
	v := newEnvValues(e)
	fs.DurationVar(&f.tokenTTL, "user-token-ttl", v.duration("AIPROXY_USER_TOKEN_TTL", aiproxy.DefaultUserTokenTTL),
		"life of a user token minted without ttl_seconds [AIPROXY_USER_TOKEN_TTL]")
	fs.DurationVar(&f.tokenMaxTTL, "user-token-max-ttl", v.duration("AIPROXY_USER_TOKEN_MAX_TTL", aiproxy.MaxUserTokenTTL),
		"longest life a user token may ask for, at most 1h [AIPROXY_USER_TOKEN_MAX_TTL]")
	fs.StringVar(&f.oidcConfig, "oidc-config", e("AIPROXY_OIDC_CONFIG"),
		"JSON file of the identity providers (OIDC issuers) whose JWTs sign users in; see docs/oidc.md [AIPROXY_OIDC_CONFIG]")
	f.envErr = v.err()
}

func (f *userFlags) validate() error {
	errs := []error{f.envErr}
	if f.tokenMaxTTL < aiproxy.MinUserTokenTTL || f.tokenMaxTTL > aiproxy.MaxUserTokenTTL {
		errs = append(errs, fmt.Errorf("--user-token-max-ttl must be between %v and %v", aiproxy.MinUserTokenTTL, aiproxy.MaxUserTokenTTL))
	}
	if f.tokenTTL < aiproxy.MinUserTokenTTL || f.tokenTTL > f.tokenMaxTTL {
		errs = append(errs, fmt.Errorf("--user-token-ttl must be between %v and --user-token-max-ttl", aiproxy.MinUserTokenTTL))
	}
	return errors.Join(errs...)
}

// userTokens returns the user token operations on the app's store.
func (a *app) userTokens() *admin.UserTokens {
	t := admin.NewUserTokens(a.db, a.catalog, a.db, nil)
	t.DefaultTTL, t.MaxTTL = a.users.tokenTTL, a.users.tokenMaxTTL
	return t
}

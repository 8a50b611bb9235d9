package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/httpapi"
	"github.com/aiproxy/aiproxy/internal/oidc"
)

// userFlags configure end users: the life of the user tokens org keys
// mint, and the identity providers whose sign-ins aiproxy accepts.
type userFlags struct {
	tokenTTL    time.Duration
	tokenMaxTTL time.Duration
	oidcConfig  string
	// oidcInsecure lets issuers use http and private addresses, for a
	// development IdP on this machine.
	oidcInsecure bool
	// issuers is the parsed --oidc-config, set by validate.
	issuers []oidc.Issuer
	envErr  error
}

func (f *userFlags) register(fs *flag.FlagSet, e env) {
	v := newEnvValues(e)
	fs.DurationVar(&f.tokenTTL, "user-token-ttl", v.duration("AIPROXY_USER_TOKEN_TTL", aiproxy.DefaultUserTokenTTL),
		"life of a user token minted without ttl_seconds [AIPROXY_USER_TOKEN_TTL]")
	fs.DurationVar(&f.tokenMaxTTL, "user-token-max-ttl", v.duration("AIPROXY_USER_TOKEN_MAX_TTL", aiproxy.MaxUserTokenTTL),
		"longest life a user token may ask for, at most 1h [AIPROXY_USER_TOKEN_MAX_TTL]")
	fs.StringVar(&f.oidcConfig, "oidc-config", e("AIPROXY_OIDC_CONFIG"),
		"JSON file of the identity providers (OIDC issuers) whose JWTs sign users in; see docs/oidc.md [AIPROXY_OIDC_CONFIG]")
	fs.BoolVar(&f.oidcInsecure, "oidc-insecure", v.bool("AIPROXY_OIDC_INSECURE", false),
		"let --oidc-config issuers use http and addresses inside this network: only for a development identity provider [AIPROXY_OIDC_INSECURE]")
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
	if f.oidcConfig != "" {
		issuers, err := oidc.LoadFile(f.oidcConfig, f.oidcInsecure)
		if err != nil {
			errs = append(errs, fmt.Errorf("--oidc-config: %w", err))
		}
		f.issuers = issuers
	}
	return errors.Join(errs...)
}

// signIns returns the verifier of the configured identity providers, or
// nil when there are none.
func (f *userFlags) signIns(log *slog.Logger) (httpapi.SignInVerifier, error) {
	if len(f.issuers) == 0 {
		return nil, nil
	}
	v, err := oidc.New(f.issuers, oidc.Options{Logger: log, AllowInsecure: f.oidcInsecure})
	if err != nil {
		return nil, fmt.Errorf("identity providers: %w", err)
	}
	return signIns{v}, nil
}

// signIns adapts the OIDC verifier to the authenticator.
type signIns struct{ v *oidc.Verifier }

func (s signIns) VerifySignIn(ctx context.Context, org, raw string) (aiproxy.Principal, error) {
	id, err := s.v.Verify(ctx, org, raw)
	if err != nil {
		return aiproxy.Principal{}, err
	}
	return id.Principal(), nil
}

// userTokens returns the user token operations on the app's store.
func (a *app) userTokens() *admin.UserTokens {
	t := admin.NewUserTokens(a.db, a.catalog, a.db, nil)
	t.DefaultTTL, t.MaxTTL = a.users.tokenTTL, a.users.tokenMaxTTL
	return t
}

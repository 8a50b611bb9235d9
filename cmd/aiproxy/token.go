package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/client"
)

// runToken is the token group: user tokens minted, listed and revoked over
// HTTP with the org's API key, as an org's backend does.
func runToken(ctx context.Context, args []string, e env, s stdio) error {
	return subcommand(ctx, "token", args, e, s, map[string]func(context.Context, []string, env, stdio) error{
		"mint": tokenMint, "list": tokenList, "revoke": tokenRevoke,
	})
}

// grantList collects a comma-separated list of grants; the flag may also
// be repeated.
type grantList []string

func (l *grantList) String() string { return strings.Join(*l, ",") }

func (l *grantList) Set(v string) error {
	*l = append(*l, splitList(v)...) // speech.go
	return nil
}

func tokenMint(ctx context.Context, args []string, e env, s stdio) error {
	var f clientFlags
	fs := newFlagSet("token mint", "token mint --user USER [--services a,b] [--actions s/a,...] [--ttl 10m] [--max-spend 1.50] [--single-use] [flags]", s)
	f.register(fs, e)
	var services, actions grantList
	user := fs.String("user", "", "the org's name for the end user the token acts for (required)")
	fs.Var(&services, "services", "services the token may call, comma-separated (default: all the key may call)")
	fs.Var(&actions, "actions", "SERVICE/ACTION pairs the token may call, comma-separated (default: all of its services)")
	ttl := fs.Duration("ttl", 0, "the token's life, 10s to 1h, in whole seconds (default: the server's, 10m)")
	maxSpend := fs.Float64("max-spend", 0, "the most the token may spend in its life, in US dollars (default: no cap of its own)")
	singleUse := fs.Bool("single-use", false, "the token is valid for one request")
	if _, err := parsePositional(fs, args, 0); err != nil {
		return err
	}
	if *user == "" {
		fs.Usage()
		return fmt.Errorf("--user is required")
	}
	if *ttl < 0 || *maxSpend < 0 {
		return fmt.Errorf("--ttl and --max-spend must not be negative")
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	t, err := c.MintUserToken(ctx, client.MintUserTokenRequest{User: *user, Services: services, Actions: actions,
		TTL: *ttl, MaxSpend: *maxSpend, SingleUse: *singleUse})
	if err != nil {
		return clientFailure(err, f.json, s)
	}
	if f.json {
		return writeJSONTo(s.out, t)
	}
	fmt.Fprintf(s.err, "minted user token %s for %s, %s, expires %s; it is shown once, below:\n",
		t.ID, termSafe(t.User), describeGrants(t.Grants), t.ExpiresAt.Local().Format(time.RFC3339))
	fmt.Fprintln(s.out, t.Token)
	return nil
}

func tokenList(ctx context.Context, args []string, e env, s stdio) error {
	var f clientFlags
	fs := newFlagSet("token list", "token list [--user USER] [flags]", s)
	f.register(fs, e)
	user := fs.String("user", "", "only this user's tokens")
	if _, err := parsePositional(fs, args, 0); err != nil {
		return err
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	list, err := c.ListUserTokens(ctx, *user)
	if err != nil {
		return clientFailure(err, f.json, s)
	}
	if f.json {
		return writeJSONTo(s.out, list)
	}
	return table(s.out, "ID\tUSER\tSTATE\tGRANTS\tMAX SPEND\tSINGLE USE\tEXPIRES", func(row func(...any)) {
		for _, t := range list {
			spend := "-"
			if t.MaxSpend != nil {
				spend = fmt.Sprintf("$%.2f", *t.MaxSpend)
			}
			row(t.ID, t.User, tokenState(t), describeGrants(t.Grants), spend, yesNo(t.SingleUse), t.ExpiresAt.Local().Format(time.RFC3339))
		}
	})
}

// tokenState says whether a listed (unexpired) token still works.
func tokenState(t client.UserToken) string {
	switch {
	case t.RevokedAt != nil:
		return "revoked"
	case t.SingleUse && t.UsedAt != nil:
		return "used"
	}
	return "live"
}

func tokenRevoke(ctx context.Context, args []string, e env, s stdio) error {
	var f clientFlags
	fs := newFlagSet("token revoke", "token revoke ID [flags]", s)
	f.register(fs, e)
	pos, err := parsePositional(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	t, err := c.RevokeUserToken(ctx, pos[0])
	if err != nil {
		return clientFailure(err, f.json, s)
	}
	if f.json {
		return writeJSONTo(s.out, t)
	}
	fmt.Fprintf(s.out, "revoked user token %s of %s\n", t.ID, termSafe(t.User))
	return nil
}

// clientFailure reports a failed call: as JSON on stdout too with --json,
// and as one line for people.
func clientFailure(err error, asJSON bool, s stdio) error {
	if asJSON {
		printErrorJSON(s.out, err)
	}
	return apiError(err)
}

// describeGrants says in a few words what a token may call.
func describeGrants(g client.Grants) string {
	var parts []string
	if len(g.Services) > 0 {
		parts = append(parts, "services "+strings.Join(g.Services, ","))
	}
	if len(g.Actions) > 0 {
		parts = append(parts, "actions "+strings.Join(g.Actions, ","))
	}
	if len(parts) == 0 {
		return "all services"
	}
	return strings.Join(parts, "; ")
}

package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/httpapi"
)

func runAudit(ctx context.Context, args []string, e env, s stdio) error {
	return subcommand(ctx, "audit", args, e, s, map[string]func(context.Context, []string, env, stdio) error{
		"list": auditList,
	})
}

// auditList prints the audit log, newest first: one org's events with
// --org, every event without.
func auditList(ctx context.Context, args []string, e env, s stdio) error {
	var f adminFlags
	fs := newFlagSet("audit list", "audit list [--org ORG] [--limit N] [--before ID] [--json]", s)
	f.register(fs, e, false)
	org := fs.String("org", "", orgFilter)
	limit := fs.Int("limit", 100, "at most this many events")
	before := fs.Int64("before", 0, "only events older than this id, to page")
	if _, err := parseMixed(fs, args); err != nil {
		return err
	}
	noteEveryOrg(s, "audit list", *org, e)
	return withAdmin(ctx, &f, e, false, func(a *adminEnv) error {
		events, err := a.svc.AuditEvents(ctx, aiproxy.AuditFilter{OrgKey: *org, Limit: *limit, Before: *before})
		if err != nil {
			return err
		}
		rows := make([]httpapi.AuditJSON, 0, len(events))
		for _, ev := range events {
			rows = append(rows, httpapi.ToAuditJSON(ev))
		}
		return a.print(s, rows, "ID\tAT\tACTOR\tACTION\tORG\tTARGET\tDETAIL", func(row func(...any)) {
			for _, ev := range events {
				row(ev.ID, ev.At.Format(time.RFC3339), ev.Actor, ev.Action, dash(ev.OrgKey), ev.Target, ev.Detail)
			}
		})
	})
}

// noteEveryOrg tells the user, on stderr, that a report without --org
// spans every org although AIPROXY_ORG is set: the variable names the org
// of the commands that act on one, never a report's filter.
func noteEveryOrg(s stdio, command, org string, e env) {
	if org == "" && e("AIPROXY_ORG") != "" {
		fmt.Fprintf(s.err, "aiproxy %s: every org (AIPROXY_ORG does not filter reports; give --org %s for that org only)\n",
			command, termSafe(e("AIPROXY_ORG")))
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// keyLifeFlags are key create's lifecycle flags.
type keyLifeFlags struct {
	expires  string
	services string
}

func (k *keyLifeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&k.expires, "expires", "", "expiry: a duration such as 720h, or an RFC 3339 time (default: never)")
	fs.StringVar(&k.services, "services", "", "comma-separated services the key may use (default: all)")
}

func (k *keyLifeFlags) options(testOnly bool) (admin.KeyOptions, error) {
	opts := admin.KeyOptions{TestOnly: testOnly}
	if k.expires != "" {
		if d, err := time.ParseDuration(k.expires); err == nil {
			opts.ExpiresAt = time.Now().Add(d)
		} else if t, err := time.Parse(time.RFC3339, k.expires); err == nil {
			opts.ExpiresAt = t
		} else {
			return opts, fmt.Errorf("--expires %q: want a duration such as 720h or an RFC 3339 time", k.expires)
		}
	}
	for _, svc := range strings.Split(k.services, ",") {
		if svc = strings.TrimSpace(svc); svc != "" {
			opts.Services = append(opts.Services, svc)
		}
	}
	return opts, nil
}

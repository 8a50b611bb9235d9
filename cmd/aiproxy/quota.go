package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/httpapi"
)

// The guardrail management commands: quota, usage and access. They open
// the database directly, like the other management commands; a running
// server sees a change within a few seconds.

type verbs = map[string]func(context.Context, []string, env, stdio) error

func runQuota(ctx context.Context, args []string, e env, s stdio) error {
	return subcommand(ctx, "quota", args, e, s, verbs{"set": quotaSet, "list": quotaList, "delete": quotaDelete})
}

func runUsage(ctx context.Context, args []string, e env, s stdio) error {
	return subcommand(ctx, "usage", args, e, s, verbs{"report": usageReport})
}

func runAccess(ctx context.Context, args []string, e env, s stdio) error {
	return subcommand(ctx, "access", args, e, s, verbs{
		"enable":  func(ctx context.Context, a []string, e env, s stdio) error { return accessSet(ctx, a, e, s, true) },
		"disable": func(ctx context.Context, a []string, e env, s stdio) error { return accessSet(ctx, a, e, s, false) },
		"list":    accessList,
	})
}

// withGuardrails runs a guardrail command on the guardrails service.
func withGuardrails(ctx context.Context, f *adminFlags, e env, fn func(*admin.Guardrails) error) error {
	return withMgmt(ctx, f, e, false, func(m *mgmt) error {
		g := admin.NewGuardrails(m.db, m.cat, nil, nil)
		g.SetAuditor(m.db)
		return fn(g)
	})
}

// quotaFlags name one quota.
type quotaFlags struct {
	adminFlags
	service, metric, period string
}

func (q *quotaFlags) register(name, synopsis string, e env, s stdio) *flag.FlagSet {
	fs := newFlagSet(name, synopsis, s)
	q.adminFlags.register(fs, e, false)
	fs.StringVar(&q.org, "org", e("AIPROXY_ORG"), orgActOn)
	fs.StringVar(&q.service, "service", "", "the service the quota caps; empty caps every service together")
	fs.StringVar(&q.metric, "metric", "", "requests, characters or renders")
	fs.StringVar(&q.period, "period", "", "day or month (UTC)")
	return fs
}

func (q *quotaFlags) needOrg() error {
	if q.org == "" {
		return errors.New("give --org ORG")
	}
	return nil
}

func quotaSet(ctx context.Context, args []string, e env, s stdio) error {
	var q quotaFlags
	fs := q.register("quota set", "quota set --org ORG [--service SERVICE] --metric METRIC --period day|month --limit N", e, s)
	limit := fs.Int64("limit", -1, "the most the org may spend per period")
	if _, err := parseMixed(fs, args); err != nil {
		return err
	}
	if err := q.needOrg(); err != nil {
		return err
	}
	return withGuardrails(ctx, &q.adminFlags, e, func(g *admin.Guardrails) error {
		got, err := g.SetQuota(ctx, aiproxy.Quota{OrgKey: q.org, Service: q.service, Metric: aiproxy.Metric(q.metric),
			Period: aiproxy.Period(q.period), Limit: *limit})
		if err != nil {
			return err
		}
		fmt.Fprintf(s.err, "set quota for org %s: %s, limit %d\n", q.org, got.Name(), got.Limit)
		return nil
	})
}

func quotaDelete(ctx context.Context, args []string, e env, s stdio) error {
	var q quotaFlags
	fs := q.register("quota delete", "quota delete --org ORG [--service SERVICE] --metric METRIC --period day|month", e, s)
	if _, err := parseMixed(fs, args); err != nil {
		return err
	}
	if err := q.needOrg(); err != nil {
		return err
	}
	return withGuardrails(ctx, &q.adminFlags, e, func(g *admin.Guardrails) error {
		return g.DeleteQuota(ctx, q.org, q.service, aiproxy.Metric(q.metric), aiproxy.Period(q.period))
	})
}

func quotaList(ctx context.Context, args []string, e env, s stdio) error {
	var q quotaFlags
	fs := q.register("quota list", "quota list --org ORG [--json]", e, s)
	if _, err := parseMixed(fs, args); err != nil {
		return err
	}
	if err := q.needOrg(); err != nil {
		return err
	}
	return withGuardrails(ctx, &q.adminFlags, e, func(g *admin.Guardrails) error {
		list, err := g.Quotas(ctx, q.org)
		if err != nil {
			return err
		}
		rows := make([]httpapi.QuotaJSON, 0, len(list))
		for _, u := range list {
			rows = append(rows, httpapi.ToQuotaJSON(u))
		}
		a := &adminEnv{json: q.json}
		return a.print(s, rows, "SERVICE\tMETRIC\tPERIOD\tUSED\tLIMIT", func(row func(...any)) {
			for _, u := range list {
				row(orAll(u.Service), u.Metric, u.Period, u.Used, u.Limit)
			}
		})
	})
}

func orAll(service string) string {
	if service == "" {
		return "*"
	}
	return service
}

func usageReport(ctx context.Context, args []string, e env, s stdio) error {
	var f adminFlags
	fs := newFlagSet("usage report", "usage report [--org ORG] [--service SERVICE] [--user USER] [--group-by action|user|key|action,user,...] "+
		"[--from YYYY-MM-DD] [--to YYYY-MM-DD] [--format table|json|csv]", s)
	f.register(fs, e, false)
	org := fs.String("org", "", orgFilter)
	service := fs.String("service", "", "only this service")
	user := fs.String("user", "", "only the calls made for this user")
	groupBy := fs.String("group-by", "", "split each day's row of an org and service by action, user, key or several (action,user)")
	from := fs.String("from", "", "first UTC day")
	to := fs.String("to", "", "last UTC day")
	format := fs.String("format", "table", "table, json or csv")
	if _, err := parseMixed(fs, args); err != nil {
		return err
	}
	if f.json {
		*format = "json"
	}
	noteEveryOrg(s, "usage report", *org, e)
	filter, err := httpapi.UsageFilterFrom(httpapi.UsageQuery{Org: *org, Service: *service, User: *user,
		From: *from, To: *to, GroupBy: *groupBy})
	if err != nil {
		return fmt.Errorf("%s", err.(*aiproxy.Error).Message)
	}
	return withGuardrails(ctx, &f, e, func(g *admin.Guardrails) error {
		list, err := g.Usage(ctx, filter)
		if err != nil {
			return err
		}
		rows := make([]httpapi.UsageRowJSON, 0, len(list))
		for _, r := range list {
			rows = append(rows, httpapi.ToUsageRowJSON(r, filter.GroupBy))
		}
		switch *format {
		case "csv":
			return httpapi.WriteUsageCSV(s.out, filter.GroupBy, rows)
		case "json":
			return writeJSONTo(s.out, rows)
		case "table":
			return usageTable(s, filter.GroupBy, rows)
		}
		return fmt.Errorf("--format %q: use table, json or csv", *format)
	})
}

// usageTable prints a report as a table, with an action, a user and a key
// column when the report is split by them ("-" for none), then the cost in US
// dollars and what the speech cache saved, and a TOTAL row under a report
// of more than one row.
func usageTable(s stdio, by aiproxy.UsageGroups, rows []httpapi.UsageRowJSON) error {
	header := "DAY\tORG\tSERVICE"
	if by.Has(aiproxy.GroupByAction) {
		header += "\tACTION"
	}
	if by.Has(aiproxy.GroupByUser) {
		header += "\tUSER"
	}
	if by.Has(aiproxy.GroupByKey) {
		header += "\tKEY"
	}
	a := &adminEnv{}
	return a.print(s, rows, header+"\tREQUESTS\tERRORS\tCACHE HITS\tUNITS\tCOST\tSAVED", func(row func(...any)) {
		total := httpapi.UsageRowJSON{Units: map[string]int64{}}
		var cost, saved int64 // micro-USD, so that the sum is exact
		for _, r := range rows {
			cells := []any{r.Day, r.Org, r.Service}
			for _, v := range []httpapi.SplitValue{r.Action, r.User, r.KeyID} {
				if v.Split {
					cells = append(cells, orDash(v.Value))
				}
			}
			row(append(cells, r.Requests, r.Errors, r.CacheHits, unitsText(r.Units), costText(r.CostUSD), costText(r.SavedUSD))...)
			total.Requests, total.Errors, total.CacheHits = total.Requests+r.Requests, total.Errors+r.Errors, total.CacheHits+r.CacheHits
			for u, n := range r.Units {
				total.Units[u] += n
			}
			cost, saved = cost+microsOf(r.CostUSD), saved+microsOf(r.SavedUSD)
		}
		if len(rows) < 2 {
			return
		}
		cells := []any{"TOTAL", "-", "-"}
		for _, split := range []bool{by.Has(aiproxy.GroupByAction), by.Has(aiproxy.GroupByUser), by.Has(aiproxy.GroupByKey)} {
			if split {
				cells = append(cells, "-")
			}
		}
		row(append(cells, total.Requests, total.Errors, total.CacheHits, unitsText(total.Units),
			costText(float64(cost)/1e6), costText(float64(saved)/1e6))...)
	})
}

// microsOf is US dollars, exact to the micro-dollar as reports give them,
// as micro-USD.
func microsOf(usd float64) int64 { return int64(math.Round(usd * 1e6)) }

// costText is US dollars as "$1.50": cents, and the micro-dollars below
// them when there are any ("$0.0005").
func costText(usd float64) string {
	text := strconv.FormatFloat(usd, 'f', -1, 64)
	whole, frac, _ := strings.Cut(text, ".")
	for len(frac) < 2 {
		frac += "0"
	}
	return "$" + whole + "." + frac
}

// orDash is text, or "-" for none.
func orDash(text string) string {
	if text == "" {
		return "-"
	}
	return text
}

func unitsText(units map[string]int64) string {
	parts := make([]string, 0, len(units))
	for _, u := range sortStrings(keysOfInt(units)) {
		parts = append(parts, fmt.Sprintf("%s=%d", u, units[u]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func keysOfInt(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func accessSet(ctx context.Context, args []string, e env, s stdio, enabled bool) error {
	var f adminFlags
	verb := map[bool]string{true: "enable", false: "disable"}[enabled]
	fs := newFlagSet("access "+verb, "access "+verb+" --org ORG SERVICE[/ENDPOINT]", s)
	f.register(fs, e, true)
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || f.org == "" {
		fs.Usage()
		return errUsage
	}
	service, endpoint, _ := strings.Cut(pos[0], "/")
	return withGuardrails(ctx, &f, e, func(g *admin.Guardrails) error {
		if err := g.SetAccess(ctx, f.org, service, endpoint, enabled); err != nil {
			return err
		}
		fmt.Fprintf(s.err, "%sd %s for org %s\n", verb, pos[0], f.org)
		return nil
	})
}

func accessList(ctx context.Context, args []string, e env, s stdio) error {
	var f adminFlags
	fs := newFlagSet("access list", "access list --org ORG [--json]", s)
	f.register(fs, e, true)
	if _, err := parseMixed(fs, args); err != nil {
		return err
	}
	if f.org == "" {
		return errors.New("give --org ORG")
	}
	return withGuardrails(ctx, &f, e, func(g *admin.Guardrails) error {
		rules, err := g.Access(ctx, f.org)
		if err != nil {
			return err
		}
		rows := make([]httpapi.AccessRuleJSON, 0, len(rules))
		for _, r := range rules {
			rows = append(rows, httpapi.ToAccessRuleJSON(r))
		}
		a := &adminEnv{json: f.json}
		return a.print(s, rows, "DISABLED", func(row func(...any)) {
			for _, r := range rules {
				row(strings.TrimSuffix(r.Service+"/"+r.Endpoint, "/"))
			}
		})
	})
}

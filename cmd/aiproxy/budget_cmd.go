package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/client"
)

// runBudget is the budget group: an org's spending budgets set, listed,
// deleted and read over HTTP with the org's admin key. Amounts are US
// dollars on the command line and in tables, micro-USD in --json output
// (as the API has them).
func runBudget(ctx context.Context, args []string, e env, s stdio) error {
	return subcommand(ctx, "budget", args, e, s, map[string]func(context.Context, []string, env, stdio) error{
		"set": budgetSet, "list": budgetList, "delete": budgetDelete, "status": budgetStatus,
	})
}

func budgetSet(ctx context.Context, args []string, e env, s stdio) error {
	var f clientFlags
	fs := newFlagSet("budget set",
		"budget set --scope org|key|user|token [--subject ID] --window day|week|month|lifetime --limit DOLLARS [--alert 0.8,0.95] [--alert-only] [--id ID] [flags]", s)
	f.register(fs, e)
	scope := fs.String("scope", "", "whom the budget caps: org, key, user or token (required)")
	subject := fs.String("subject", "", "the key id, user or token id it caps; without it, a key, user or token budget is the default for each one")
	window := fs.String("window", "", "the calendar window, in UTC: day, week (from Monday), month or lifetime (required)")
	limit := fs.String("limit", "", "the cap in US dollars, e.g. 5.00 or 0.25, to the micro-dollar (required)")
	var alerts alertList
	fs.Var(&alerts, "alert", "fractions of the limit at which an alert goes to the audit log, comma-separated (default: the server's, 0.8,0.95)")
	alertOnly := fs.Bool("alert-only", false, "count and alert but never refuse a call")
	id := fs.String("id", "", "replace the budget with this id instead of creating one")
	if _, err := parsePositional(fs, args, 0); err != nil {
		return err
	}
	var missing []string
	for name, v := range map[string]string{"--scope": *scope, "--window": *window, "--limit": *limit} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		fs.Usage()
		return fmt.Errorf("%s required", strings.Join(sortStrings(missing), ", ")+plural(len(missing), " is", " are"))
	}
	micros, err := parseDollars(*limit)
	if err != nil {
		return fmt.Errorf("--limit: %w", err)
	}
	b := client.Budget{ID: *id, Scope: *scope, Subject: *subject, Window: *window, LimitMicros: micros, AlertThresholds: alerts}
	if *alertOnly {
		b.Enforcement = client.BudgetAlertOnly
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	if b, err = c.SetBudget(ctx, b); err != nil {
		return clientFailure(err, f.json, s)
	}
	if f.json {
		return writeJSONTo(s.out, b)
	}
	fmt.Fprintf(s.out, "set budget %s: %s, %s, %s, alerts at %s, %s\n", b.ID, termSafe(budgetSubject(b.Scope, b.Subject)),
		b.Window, dollars(b.LimitMicros), percents(b.AlertThresholds), enforcement(b.Enforcement))
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func budgetList(ctx context.Context, args []string, e env, s stdio) error {
	var f clientFlags
	fs := newFlagSet("budget list", "budget list [flags]", s)
	f.register(fs, e)
	if _, err := parsePositional(fs, args, 0); err != nil {
		return err
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	list, err := c.Budgets(ctx)
	if err != nil {
		return clientFailure(err, f.json, s)
	}
	if f.json {
		return writeJSONTo(s.out, list)
	}
	return table(s.out, "ID\tSCOPE\tSUBJECT\tWINDOW\tLIMIT\tALERTS\tENFORCEMENT", func(row func(...any)) {
		for _, b := range list {
			row(b.ID, b.Scope, subjectCell(b.Scope, b.Subject), b.Window, dollars(b.LimitMicros), percents(b.AlertThresholds), enforcement(b.Enforcement))
		}
	})
}

func budgetDelete(ctx context.Context, args []string, e env, s stdio) error {
	var f clientFlags
	fs := newFlagSet("budget delete", "budget delete ID [flags]", s)
	f.register(fs, e)
	pos, err := parsePositional(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	if err := c.DeleteBudget(ctx, pos[0]); err != nil {
		return clientFailure(err, f.json, s)
	}
	if f.json {
		return writeJSONTo(s.out, map[string]any{"id": pos[0], "deleted": true})
	}
	fmt.Fprintf(s.out, "deleted budget %s and its counters\n", termSafe(pos[0]))
	return nil
}

func budgetStatus(ctx context.Context, args []string, e env, s stdio) error {
	var f clientFlags
	fs := newFlagSet("budget status", "budget status [flags]", s)
	f.register(fs, e)
	if _, err := parsePositional(fs, args, 0); err != nil {
		return err
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	list, err := c.BudgetStatus(ctx)
	if err != nil {
		return clientFailure(err, f.json, s)
	}
	if f.json {
		return writeJSONTo(s.out, list)
	}
	if !withAmounts(list) {
		// A member's view: its own budgets, without amounts.
		return table(s.out, "SCOPE\tWINDOW\tUSED\tZONE\tRESETS", func(row func(...any)) {
			for _, st := range list {
				row(st.Scope, st.Window, percent(st.Percent), st.Zone, resets(st.ResetsAt))
			}
		})
	}
	return table(s.out, "ID\tSCOPE\tSUBJECT\tWINDOW\tSPENT\tHELD\tLIMIT\tLEFT\tUSED\tZONE\tRESETS", func(row func(...any)) {
		for _, st := range list {
			row(st.ID, st.Scope, subjectCell(st.Scope, st.Subject), st.Window, dollarsOf(st.SpentMicros), dollarsOf(st.ReservedMicros),
				dollarsOf(st.LimitMicros), dollarsOf(st.RemainingMicros), percent(st.Percent), st.Zone, resets(st.ResetsAt))
		}
	})
}

// withAmounts says whether a status carries amounts (an admin's or a
// key's view) rather than percentages only (a member's).
func withAmounts(list []client.BudgetStatus) bool {
	for _, st := range list {
		if st.LimitMicros != nil {
			return true
		}
	}
	return false
}

// alertList collects comma-separated alert thresholds, fractions of the
// limit; the flag may also be repeated.
type alertList []float64

func (l *alertList) String() string {
	parts := make([]string, len(*l))
	for i, f := range *l {
		parts[i] = strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strings.Join(parts, ",")
}

func (l *alertList) Set(v string) error {
	for _, item := range splitList(v) {
		f, err := strconv.ParseFloat(item, 64)
		if err != nil {
			return fmt.Errorf("%q is not a fraction such as 0.8", item)
		}
		*l = append(*l, f)
	}
	return nil
}

// parseDollars reads an amount in US dollars ("5", "5.00", "$0.25",
// "0.000001") as integer micro-USD, exactly: no float rounds it.
func parseDollars(s string) (int64, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "$")
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" {
		whole = "0"
	}
	if s == "" || s == "." || !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("%q is not an amount in dollars such as 5.00", s)
	}
	if len(frac) > 6 {
		return 0, fmt.Errorf("%q has more than six decimals (a micro-dollar)", s)
	}
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || n > (1<<63-1)/1_000_000-1 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	f, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	return n*1_000_000 + f, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// dollars formats micro-USD exactly: cents when the amount is whole cents
// ("$5.00"), else every decimal it has ("$0.0012").
func dollars(micros int64) string {
	sign := ""
	if micros < 0 {
		sign, micros = "-", -micros
	}
	whole, frac := micros/1_000_000, micros%1_000_000
	if frac%10_000 == 0 {
		return fmt.Sprintf("%s$%d.%02d", sign, whole, frac/10_000)
	}
	return fmt.Sprintf("%s$%d.%s", sign, whole, strings.TrimRight(fmt.Sprintf("%06d", frac), "0"))
}

// dollarsOf formats an amount the server may leave out.
func dollarsOf(micros *int64) string {
	if micros == nil {
		return "-"
	}
	return dollars(*micros)
}

// percent formats a status's share of its limit.
func percent(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) + "%" }

// percents formats alert thresholds as percentages: "80%, 95%".
func percents(fractions []float64) string {
	if len(fractions) == 0 {
		return "-"
	}
	parts := make([]string, len(fractions))
	for i, f := range fractions {
		parts[i] = percent(float64(int64(f*1000+0.5)) / 10)
	}
	return strings.Join(parts, ", ")
}

// enforcement names what a budget does at its limit.
func enforcement(e string) string {
	if e == client.BudgetAlertOnly {
		return "alert only"
	}
	return e
}

// resets says when a window ends, or that a lifetime budget never does.
func resets(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.Local().Format(time.RFC3339)
}

// subjectCell is a table's SUBJECT: "-" for the org, "(each user)" for a
// default budget, else the subject.
func subjectCell(scope, subject string) string {
	switch {
	case scope == client.BudgetScopeOrg:
		return "-"
	case subject == "":
		return "(each " + scope + ")"
	}
	return subject
}

// budgetSubject names a budget's subject in a sentence: "the org",
// "each user", "user alice".
func budgetSubject(scope, subject string) string {
	switch {
	case scope == client.BudgetScopeOrg:
		return "the org"
	case subject == "":
		return "each " + scope
	}
	return scope + " " + subject
}

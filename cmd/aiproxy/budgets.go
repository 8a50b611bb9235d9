package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/budget"
	"github.com/aiproxy/aiproxy/internal/redis"
)

// budgetFlags configure spending budgets: extra prices over the shipped
// table, and where the counters live.
type budgetFlags struct {
	prices string
	ledger string
}

func (f *budgetFlags) register(fs *flag.FlagSet, e env) {
	fs.StringVar(&f.prices, "budget-prices", e("AIPROXY_BUDGET_PRICES"),
		"JSON price file laid over the shipped price table (deployment prices and org flat prices); see docs/budgets.md [AIPROXY_BUDGET_PRICES]")
	fs.StringVar(&f.ledger, "budget-ledger", envOr(e, "AIPROXY_BUDGET_LEDGER", "store"),
		"where budget counters live: store (the database, the default) or redis (the --redis-url server; it must persist) [AIPROXY_BUDGET_LEDGER]")
}

func (f *budgetFlags) validate(redisURL string) error {
	var errs []error
	switch f.ledger {
	case "store":
	case "redis":
		if redisURL == "" {
			errs = append(errs, errors.New("--budget-ledger redis needs --redis-url"))
		}
	default:
		errs = append(errs, fmt.Errorf("--budget-ledger must be store or redis, not %q", f.ledger))
	}
	if f.prices != "" {
		if _, err := f.pricer(); err != nil {
			errs = append(errs, fmt.Errorf("--budget-prices: %w", err))
		}
	}
	return errors.Join(errs...)
}

// pricer returns the shipped price table with the deployment's file laid
// over it.
func (f *budgetFlags) pricer() (*budget.Pricer, error) {
	tables := []*budget.PriceTable{budget.DefaultPrices()}
	if f.prices != "" {
		file, err := os.Open(f.prices)
		if err != nil {
			return nil, err
		}
		defer file.Close()
		t, err := budget.LoadPrices(file)
		if err != nil {
			return nil, err
		}
		tables = append(tables, t)
	}
	return budget.NewPricer(tables...)
}

// budgets is the budget enforcement and management of a server.
type budgets struct {
	enforcer *budget.Enforcer
	admin    *budget.Admin
	// pricer is the price table the enforcer prices calls with; the
	// speech cache prices its hits with it too.
	pricer *budget.Pricer
}

// build returns the budgets on the store, with the counters in the store
// or in Redis.
func (f *budgetFlags) build(store aiproxy.Store, rc *redis.Client, log *slog.Logger) (*budgets, error) {
	pricer, err := f.pricer()
	if err != nil {
		return nil, fmt.Errorf("budget prices: %w", err)
	}
	var ledger aiproxy.BudgetLedger = store
	if f.ledger == "redis" && rc != nil {
		ledger = rc.BudgetLedger()
	}
	enf := budget.New(budget.Config{Budgets: store, Ledger: ledger, Pricer: pricer, Tokens: store,
		Alerter: auditAlerter{store: store, log: log}, Logger: log})
	adm := budget.NewAdmin(budget.AdminConfig{Store: store, Ledger: ledger, Tokens: store, Enforcer: enf, Audit: store})
	return &budgets{enforcer: enf, admin: adm, pricer: pricer}, nil
}

// finishJob settles or releases what a finished job held.
func (b *budgets) finishJob(ctx context.Context, j aiproxy.Job) {
	if err := b.enforcer.FinishJob(ctx, j); err != nil {
		slog.Default().Error("budget: settle a finished job", "job", j.ID, "err", err)
	}
}

// auditAlerter writes budget alerts to the audit log, where org admins
// read them (GET /orgs/{org}/audit/) and operators watch for them.
type auditAlerter struct {
	store interface {
		AppendAudit(ctx context.Context, e aiproxy.AuditEvent) error
	}
	log *slog.Logger
}

func (a auditAlerter) BudgetAlert(ctx context.Context, al budget.Alert) {
	detail := fmt.Sprintf("threshold=%g spent_micros=%d limit_micros=%d scope=%s window=%s",
		al.Threshold, al.SpentMicros, al.LimitMicros, al.Budget.Scope, al.Budget.Window)
	if al.Subject != "" {
		detail += fmt.Sprintf(" subject=%q", al.Subject)
	}
	e := aiproxy.AuditEvent{At: al.At.UTC(), Actor: "aiproxy", Action: aiproxy.AuditBudgetAlert, OrgKey: al.OrgKey,
		Target: al.Budget.ID, Detail: detail}
	if err := a.store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		a.log.Error("budget: record an alert", "org", al.OrgKey, "budget", al.Budget.ID, "err", err)
	}
}

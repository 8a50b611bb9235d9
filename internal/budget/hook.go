package budget

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// Config configures an Enforcer. Budgets, Ledger and Pricer are required.
type Config struct {
	// Budgets reads the orgs' budget definitions (the SQL store).
	Budgets BudgetReader
	// Ledger keeps the counters and holds: the SQL store, or Redis.
	Ledger aiproxy.BudgetLedger
	Pricer *Pricer
	// Tokens reads user tokens for their own caps; nil leaves those caps
	// unenforced.
	Tokens TokenReader
	// Alerter receives threshold alerts; nil sends none.
	Alerter Alerter
	// Logger receives failures to settle or release; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CacheTTL is how long an org's budget definitions are reused; 0
	// means 1s. A change made through this process's Admin applies at
	// once; one made elsewhere within CacheTTL.
	CacheTTL time.Duration
	// CallHold is how long a call's hold lives if its process dies before
	// settling it; 0 means 15 minutes.
	CallHold time.Duration
	// JobHold is how long a job's hold lives if nobody settles it; 0
	// means 6 hours (three times the jobs' default deadline).
	JobHold time.Duration
}

// Enforcer enforces budgets on the call pipeline: a proxy.Hooks whose hook
// reserves a call's price on every budget that applies before the
// provider is asked, and settles the actual cost after. It also prices
// every call of a priced endpoint, budgeted or not, and sets the call's
// cost (proxy.Call.SetCost) for its usage record. It is safe for
// concurrent use.
type Enforcer struct {
	cfg  Config
	log  *slog.Logger
	defs *definitions
	// calls holds each priced call's quote and hold between Before and
	// After.
	calls sync.Map // *proxy.Call → held
}

var _ proxy.Hooks = (*Enforcer)(nil)

// held is a priced call's quote between Before and After, and the id of
// its hold when a budget applies ("" when none does).
type held struct {
	id    string
	quote Quote
}

// maxAnswer bounds a job start's answer read for its job id.
const maxAnswer = 4 << 20

// finishTimeout bounds settling or releasing a call's hold once the call
// has ended, whether or not its client is still there.
const finishTimeout = 10 * time.Second

// New returns an Enforcer.
func New(cfg Config) *Enforcer {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = time.Second
	}
	if cfg.CallHold <= 0 {
		cfg.CallHold = 15 * time.Minute
	}
	if cfg.JobHold <= 0 {
		cfg.JobHold = 6 * time.Hour
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Enforcer{cfg: cfg, log: log,
		defs: &definitions{budgets: cfg.Budgets, tokens: cfg.Tokens, ttl: cfg.CacheTTL, now: cfg.Now}}
}

// Hook claims the endpoints whose calls may cost money (Pricer.Claims);
// free endpoints never reach a budget.
func (e *Enforcer) Hook(ep *aiproxy.Endpoint) proxy.Hook {
	if !e.cfg.Pricer.Claims(ep) {
		return nil
	}
	return hook{e}
}

// Forget drops an org's cached budget definitions, so that a change
// applies to its next call.
func (e *Enforcer) Forget(org string) { e.defs.forget(org) }

// JobHoldID is the id of the hold a job's start leaves for the job's end:
// the service and the provider's job id, which the job record keeps.
func JobHoldID(service, providerJobID string) string { return "job:" + service + ":" + providerJobID }

type hook struct{ e *Enforcer }

// Before prices the call and reserves its price on every budget that
// applies to its caller, all or nothing: a budget that cannot cover it is
// the 402 naming it; a call that cannot be priced is refused when a
// blocking budget applies; a ledger that cannot be reached is a 503. A
// call no budget applies to is priced all the same, in memory, for its
// usage record: it costs no ledger call.
func (h hook) Before(ctx context.Context, c *proxy.Call) (*proxy.Answer, error) {
	return nil, h.e.reserve(ctx, c)
}

// After settles the call's hold with what it cost, releases it when the
// call failed, and for a job start leaves it for the job's end, under
// JobHoldID. It sets the call's cost: what a call settles at, a job
// start's estimate, 0 for a call that failed or cost nothing.
func (h hook) After(ctx context.Context, c *proxy.Call, a *proxy.Answer, err error) (*proxy.Answer, error) {
	v, ok := h.e.calls.LoadAndDelete(c)
	if !ok {
		return a, err
	}
	if v.(held).id == "" {
		c.SetCost(v.(held).cost(c, a, err))
		return a, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	return h.e.finish(ctx, c, v.(held), a, err)
}

func (e *Enforcer) reserve(ctx context.Context, c *proxy.Call) error {
	pr, ok := c.Principal()
	if !ok {
		return nil
	}
	targets, err := e.defs.targets(ctx, c.Org, pr)
	if err != nil {
		return errUnavailable(err)
	}
	if c.IsSocket() {
		return e.reserveSocket(ctx, c, pr, targets) // socket.go
	}
	q, err := e.cfg.Pricer.Quote(Call{Org: c.Org, Service: c.Service.Slug, Endpoint: c.Endpoint, Body: c.UpstreamBody()})
	if len(targets) == 0 {
		if err == nil && !q.Free && q.Micros > 0 {
			e.calls.Store(c, held{quote: q}) // for its cost alone
		}
		return nil
	}
	if errors.Is(err, ErrUnpriced) {
		if blocks(targets) {
			return errUnpriced(c.Service.Slug, c.Endpoint.Slug)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if q.Free || q.Micros <= 0 {
		return nil
	}
	now := e.cfg.Now()
	hold := aiproxy.BudgetHold{ID: "call:" + randomID(), OrgKey: c.Org, Memo: q.Memo(), CreatedAt: now,
		ExpiresAt: now.Add(e.cfg.CallHold)}
	for _, tg := range targets {
		hold.Charges = append(hold.Charges, aiproxy.BudgetCharge{BudgetCounterKey: tg.counterKey(now),
			Scope: tg.budget.Scope, Window: tg.budget.Window, Amount: q.Micros, Limit: tg.budget.LimitMicros,
			Enforcement: tg.budget.Enforcement})
	}
	err = e.cfg.Ledger.ReserveBudget(ctx, hold)
	var be *aiproxy.BudgetExceededError
	switch {
	case errors.As(err, &be):
		return errExceeded(be, c.Org, q, pr.Member())
	case err != nil:
		return errUnavailable(err)
	}
	e.calls.Store(c, held{id: hold.ID, quote: q})
	return nil
}

// blocks reports whether a blocking budget is among the targets.
func blocks(targets []target) bool {
	for _, tg := range targets {
		if tg.budget.Enforcement.Blocks() {
			return true
		}
	}
	return false
}

// cost is what a call that no budget held for cost, for its usage
// record: nothing when it failed, the provider's own count when it sends
// one (Quote.Actual), and a job start's estimate, since a job's length is
// known only when it ends (its answer is not read here for a job id: the
// job hook reads it). A budget settles a job at its actual length; its
// usage record keeps the estimate.
func (h held) cost(c *proxy.Call, a *proxy.Answer, err error) int64 {
	switch {
	case failed(a, err):
		return 0
	case c.Endpoint.Job != nil, h.quote.SessionPath != "":
		return h.quote.Micros
	}
	return h.quote.Actual(a.Header)
}

// failed reports whether a call failed: the provider bills it nothing.
func failed(a *proxy.Answer, err error) bool { return err != nil || a == nil || a.Status >= 400 }

// finish ends a call's hold with the call's outcome, and sets the call's
// cost to what it charged the budgets: the settled cost, a job start's
// estimate, or 0 when the hold was released.
func (e *Enforcer) finish(ctx context.Context, c *proxy.Call, h held, a *proxy.Answer, err error) (*proxy.Answer, error) {
	if failed(a, err) {
		e.release(ctx, h.id)
		return a, err
	}
	if c.Endpoint.Job == nil && h.quote.SessionPath == "" {
		actual := h.quote.Actual(a.Header)
		e.settle(ctx, c.Org, h.id, actual)
		c.SetCost(actual)
		return a, nil
	}
	body, rerr := a.Bytes(maxAnswer)
	if rerr != nil {
		e.release(ctx, h.id)
		return nil, &aiproxy.Error{Code: aiproxy.CodeUpstreamFailed, Message: aiproxy.MsgUpstreamFailed, Err: rerr}
	}
	doc, _ := aiproxy.DecodeJSON(body)
	idPath, holdID := h.quote.SessionPath, SessionHoldID // session.go: kept until the session ends
	if c.Endpoint.Job != nil {
		idPath, holdID = c.Endpoint.Job.IDPath, JobHoldID
	}
	jobID := aiproxy.LookupJSONString(doc, idPath)
	if jobID == "" {
		e.release(ctx, h.id) // no job or session started: nothing to pay for
		return a, nil
	}
	to := holdID(c.Service.Slug, jobID)
	switch rerr := e.cfg.Ledger.RenameBudgetHold(ctx, h.id, to, e.cfg.Now().Add(e.cfg.JobHold)); {
	case errors.Is(rerr, aiproxy.ErrConflict):
		// The provider answered a repeat with a job already held for.
		e.release(ctx, h.id)
		return a, nil
	case rerr != nil:
		e.log.Error("budget: keep a job's hold", "hold", h.id, "job_hold", to, "err", rerr)
	}
	c.SetCost(h.quote.Micros)
	return a, nil
}

// settle settles a hold and sends the alerts it calls for; a failure is
// logged, never the client's: the provider has answered.
func (e *Enforcer) settle(ctx context.Context, org, id string, actual int64) {
	settled, err := e.cfg.Ledger.SettleBudget(ctx, id, actual)
	if err != nil {
		e.log.Error("budget: settle a hold", "hold", id, "actual_micros", actual, "err", err)
		return
	}
	e.alert(ctx, org, settled)
}

func (e *Enforcer) release(ctx context.Context, id string) {
	if err := e.cfg.Ledger.ReleaseBudget(ctx, id); err != nil && !errors.Is(err, aiproxy.ErrNotFound) {
		e.log.Error("budget: release a hold", "hold", id, "err", err)
	}
}

// SettleJob ends the hold of a job that has finished: a failed job is
// released (providers bill successful jobs only); a completed one is
// settled at its actual cost, priced from the provider's final status
// answer (its length in seconds, at the rate held) or, when the answer
// has none, at what was held. A job without a hold (no budget applied)
// is not an error. holdID is JobHoldID(job.Service, job.ProviderJobID).
func (e *Enforcer) SettleJob(ctx context.Context, holdID string, statusBody []byte, failed bool) error {
	h, err := e.cfg.Ledger.BudgetHold(ctx, holdID)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if failed {
		if err := e.cfg.Ledger.ReleaseBudget(ctx, holdID); err != nil && !errors.Is(err, aiproxy.ErrNotFound) {
			return err
		}
		return nil
	}
	var held int64
	if len(h.Charges) > 0 {
		held = h.Charges[0].Amount
	}
	actual := QuoteFromMemo(h.Memo, held).JobActual(statusBody)
	settled, err := e.cfg.Ledger.SettleBudget(ctx, holdID, actual)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return nil // settled meanwhile, by another replica
	}
	if err != nil {
		return err
	}
	e.alert(ctx, h.OrgKey, settled)
	return nil
}

// FinishJob ends the hold of a job from its record, for the job tracker
// (which keeps aiproxy.Job and cannot import this package): a completed
// job is settled from its last status answer, a failed one released, a
// running one left alone. It is SettleJob with the job's hold id.
func (e *Enforcer) FinishJob(ctx context.Context, j aiproxy.Job) error {
	if !j.State.Terminal() {
		return nil
	}
	return e.SettleJob(ctx, JobHoldID(j.Service, j.ProviderJobID), j.StatusBody, j.State == aiproxy.JobFailed)
}

// Sweep releases the holds of calls and jobs whose holder died.
func (e *Enforcer) Sweep(ctx context.Context) (int, error) {
	return e.cfg.Ledger.SweepBudgetHolds(ctx, e.cfg.Now())
}

// RunSweeper sweeps every interval until ctx ends, logging failures. Any
// number of replicas may run it.
func (e *Enforcer) RunSweeper(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := e.Sweep(ctx); err != nil {
				e.log.Error("budget: sweep expired holds", "err", err)
			} else if n > 0 {
				e.log.Warn("budget: released the holds of calls or jobs nobody settled", "holds", n)
			}
		}
	}
}

// randomID returns 24 random hex digits.
func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

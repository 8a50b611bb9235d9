package aiproxy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// A budget caps what an org, one of its keys, its users or a user token
// may spend in micro-USD (1 USD = 1,000,000) per calendar window. Every
// budget that applies to a call is checked at once: the call reserves its
// estimated cost on each counter before the provider is asked, all or
// nothing, and settles the actual cost afterwards (docs/budgets.md).

// BudgetScope is whose spending a budget caps.
type BudgetScope string

// The budget scopes, from the broadest to the most specific.
const (
	// BudgetScopeOrg caps the whole org; its subject is "".
	BudgetScopeOrg BudgetScope = "org"
	// BudgetScopeKey caps the calls made with one aiproxy key (a user
	// token counts towards the key that minted it).
	BudgetScopeKey BudgetScope = "key"
	// BudgetScopeUser caps one end user of the org.
	BudgetScopeUser BudgetScope = "user"
	// BudgetScopeToken caps one user token.
	BudgetScopeToken BudgetScope = "token"
)

// BudgetScopes lists the scopes from the most specific to the broadest,
// the order in which a refusal names the exhausted one.
var BudgetScopes = []BudgetScope{BudgetScopeToken, BudgetScopeUser, BudgetScopeKey, BudgetScopeOrg}

// ValidBudgetScope reports whether s is a known scope.
func ValidBudgetScope(s BudgetScope) bool { return s.rank() >= 0 }

// rank orders the scopes from the most specific (0) to the broadest; -1
// for an unknown scope.
func (s BudgetScope) rank() int {
	for i, k := range BudgetScopes {
		if k == s {
			return i
		}
	}
	return -1
}

// BudgetWindow is the calendar period a budget's counter covers, in UTC.
type BudgetWindow string

// The budget windows. A week starts on Monday at 00:00 UTC. A lifetime
// window never resets.
const (
	BudgetDay      BudgetWindow = "day"
	BudgetWeek     BudgetWindow = "week"
	BudgetMonth    BudgetWindow = "month"
	BudgetLifetime BudgetWindow = "lifetime"
)

// ValidBudgetWindow reports whether w is a known window.
func ValidBudgetWindow(w BudgetWindow) bool {
	return w == BudgetDay || w == BudgetWeek || w == BudgetMonth || w == BudgetLifetime
}

// LifetimeStart is the window start of every lifetime counter.
var LifetimeStart = time.Unix(0, 0).UTC()

// Bounds returns the UTC start of the window that holds t and the start of
// the next one, when the counter resets. A lifetime window starts at
// LifetimeStart and never ends: end is the zero time.
func (w BudgetWindow) Bounds(t time.Time) (start, end time.Time) {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch w {
	case BudgetDay:
		return day, day.AddDate(0, 0, 1)
	case BudgetWeek:
		back := (int(day.Weekday()) + 6) % 7 // days since Monday
		start = day.AddDate(0, 0, -back)
		return start, start.AddDate(0, 0, 7)
	case BudgetMonth:
		start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0)
	}
	return LifetimeStart, time.Time{}
}

// ResetsAt returns when a window that started at start ends: the zero time
// for a lifetime window.
func (w BudgetWindow) ResetsAt(start time.Time) time.Time {
	_, end := w.Bounds(start)
	return end
}

// Adjective names the window in a sentence: "daily", "weekly", "monthly"
// or "lifetime".
func (w BudgetWindow) Adjective() string {
	switch w {
	case BudgetDay:
		return "daily"
	case BudgetWeek:
		return "weekly"
	case BudgetMonth:
		return "monthly"
	}
	return string(w)
}

// BudgetEnforcement says what happens when a budget runs out.
type BudgetEnforcement string

// The enforcement modes. A blocking budget refuses a call it cannot cover;
// an alert-only budget counts and alerts but never refuses.
const (
	EnforceBlock     BudgetEnforcement = "block"
	EnforceAlertOnly BudgetEnforcement = "alert_only"
)

// Blocks reports whether the enforcement refuses calls; "" means block.
func (e BudgetEnforcement) Blocks() bool { return e != EnforceAlertOnly }

// DefaultAlertThresholds returns the fractions of a budget at which alerts
// fire when a budget names none: 80% and 95%.
func DefaultAlertThresholds() []float64 { return []float64{0.8, 0.95} }

// MaxBudgetMicros bounds a budget's limit and a call's cost (one billion
// USD), so that no sum of counters can overflow.
const MaxBudgetMicros int64 = 1e15

// Budget is one spending cap of an org.
type Budget struct {
	// ID names the budget ("bud_" and hex digits when aiproxy makes it).
	ID     string
	OrgKey string
	Scope  BudgetScope
	// Subject is whom the budget caps within its scope: a key id, a user
	// id or a token id, and "" for the org scope. For the key, user and
	// token scopes, "" is the org's default that applies to each key,
	// user or token separately; a budget naming a subject replaces the
	// default of the same window for that subject.
	Subject string
	Window  BudgetWindow
	// LimitMicros is the cap in micro-USD.
	LimitMicros int64
	// AlertThresholds are the fractions of the limit at which an alert
	// fires once per window; nil means DefaultAlertThresholds.
	AlertThresholds []float64
	Enforcement     BudgetEnforcement
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Thresholds returns the budget's alert thresholds, or the defaults.
func (b Budget) Thresholds() []float64 {
	if len(b.AlertThresholds) == 0 {
		return DefaultAlertThresholds()
	}
	return b.AlertThresholds
}

// Default reports whether the budget is a scope's default, applying to
// each key, user or token without a budget of its own.
func (b Budget) Default() bool { return b.Scope != BudgetScopeOrg && b.Subject == "" }

// Validate reports every problem with the budget at once, as a CodeInvalid
// error whose message is safe to show; nil when it is acceptable.
func (b Budget) Validate() error {
	var probs []string
	if b.OrgKey == "" {
		probs = append(probs, "org is required")
	}
	if !ValidBudgetScope(b.Scope) {
		probs = append(probs, fmt.Sprintf("scope %q must be one of org, key, user, token", b.Scope))
	}
	if b.Scope == BudgetScopeOrg && b.Subject != "" {
		probs = append(probs, "subject must be empty for the org scope")
	}
	if len(b.Subject) > 128 || strings.ContainsFunc(b.Subject, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		probs = append(probs, "subject must be at most 128 printable characters without spaces")
	}
	if !ValidBudgetWindow(b.Window) {
		probs = append(probs, fmt.Sprintf("window %q must be one of day, week, month, lifetime", b.Window))
	}
	if b.LimitMicros < 0 || b.LimitMicros > MaxBudgetMicros {
		probs = append(probs, fmt.Sprintf("limit_micros must be between 0 and %d", MaxBudgetMicros))
	}
	if b.Enforcement != EnforceBlock && b.Enforcement != EnforceAlertOnly {
		probs = append(probs, fmt.Sprintf("enforcement %q must be block or alert_only", b.Enforcement))
	}
	if len(b.AlertThresholds) > 10 {
		probs = append(probs, "at most 10 alert thresholds")
	}
	for i, t := range b.AlertThresholds {
		if math.IsNaN(t) || t <= 0 || t > 1 {
			probs = append(probs, fmt.Sprintf("alert threshold %v must be above 0 and at most 1", t))
		} else if i > 0 && t <= b.AlertThresholds[i-1] {
			probs = append(probs, "alert thresholds must increase")
		}
	}
	if len(probs) == 0 {
		return nil
	}
	return Errorf(CodeInvalid, "Invalid budget: %s.", strings.Join(probs, "; "))
}

// TokenBudgetID is the budget id of the counters that hold a user token's
// own lifetime cap (UserToken.MaxSpendMicros); their subject is the
// token's id. No stored budget has this id.
const TokenBudgetID = "token_max_spend"

// BudgetCounterKey names one counter: a budget, the subject it counts
// (the budget's own subject, or the key, user or token a default budget
// applies to; "" for an org budget) and the start of its window.
type BudgetCounterKey struct {
	BudgetID    string
	Subject     string
	WindowStart time.Time
}

// BudgetCharge is what one reservation asks of one counter.
type BudgetCharge struct {
	BudgetCounterKey
	// Scope and Window describe the budget, for the refusal and alerts.
	Scope  BudgetScope
	Window BudgetWindow
	// Amount is the micro-USD to reserve.
	Amount int64
	// Limit is the budget's limit: a blocking charge is refused when the
	// counter's spent plus reserved plus Amount would pass it.
	Limit       int64
	Enforcement BudgetEnforcement
}

// ResetsAt returns when the charge's counter resets; zero for lifetime.
func (c BudgetCharge) ResetsAt() time.Time { return c.Window.ResetsAt(c.WindowStart) }

// SortBudgetCharges puts charges in the order every ledger visits them:
// the most specific scope first, then by budget id and subject. A refusal
// therefore names the most specific exhausted budget, and two reservations
// never take the same counters in opposite orders.
func SortBudgetCharges(cs []BudgetCharge) {
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if ra, rb := a.Scope.rank(), b.Scope.rank(); ra != rb {
			return ra < rb
		}
		if a.BudgetID != b.BudgetID {
			return a.BudgetID < b.BudgetID
		}
		if a.Subject != b.Subject {
			return a.Subject < b.Subject
		}
		return a.WindowStart.Before(b.WindowStart)
	})
}

// BudgetHold is one reservation on one or more counters: a call's
// estimated cost, held until the call (or the job it started) ends.
type BudgetHold struct {
	// ID names the hold: random for a call, derived from the provider's
	// job id once the call started a job, so that the job's end can
	// settle it after a restart.
	ID     string
	OrgKey string
	// Charges are the counters the hold reserved on, and how much.
	Charges []BudgetCharge
	// Memo is what the reserver needs to settle the hold later (a job's
	// price per second of video); the ledger keeps it as given.
	Memo      string
	CreatedAt time.Time
	// ExpiresAt is when a sweep releases the hold if it was neither
	// settled nor released: its holder died.
	ExpiresAt time.Time
	// Expired is set once a sweep has released the hold's reservation.
	// An expired hold can still be settled for BudgetHoldGrace, so that a
	// job that outlived its hold still records what it cost.
	Expired bool
}

// BudgetHoldGrace is how long an expired hold is kept for a late
// settlement before a sweep removes it.
const BudgetHoldGrace = 7 * 24 * time.Hour

// MaxBudgetHoldID bounds a hold id's length.
const MaxBudgetHoldID = 400

// Validate checks what every ledger requires of a new hold: an id, an
// expiry, and charges of valid amounts on distinct counters.
func (h BudgetHold) Validate() error {
	switch {
	case h.ID == "" || len(h.ID) > MaxBudgetHoldID:
		return fmt.Errorf("budget hold: id must be 1 to %d bytes", MaxBudgetHoldID)
	case len(h.Charges) == 0:
		return errors.New("budget hold: no charges")
	case h.ExpiresAt.IsZero():
		return errors.New("budget hold: no expiry")
	}
	seen := make(map[BudgetCounterKey]bool, len(h.Charges))
	for _, c := range h.Charges {
		if c.BudgetID == "" || c.Amount < 0 || c.Amount > MaxBudgetMicros || c.Limit < 0 {
			return fmt.Errorf("budget hold: invalid charge on budget %q", c.BudgetID)
		}
		k := c.BudgetCounterKey
		k.WindowStart = k.WindowStart.UTC()
		if seen[k] {
			return fmt.Errorf("budget hold: two charges on one counter of budget %q", c.BudgetID)
		}
		seen[k] = true
	}
	return nil
}

// BudgetCounter is one counter as stored: what its window has spent, and
// what running calls and jobs hold on it.
type BudgetCounter struct {
	BudgetCounterKey
	Spent    int64
	Reserved int64
}

// BudgetSettlement is what settling a hold did to one of its counters.
type BudgetSettlement struct {
	Charge BudgetCharge
	// Spent is the counter's spent after the settlement; Added is what the
	// settlement added to it, so that Spent-Added is what it was before.
	Spent, Added int64
}

// BudgetExceededError is a reservation refused because a blocking budget
// cannot cover it. It names the first exhausted counter in the order of
// SortBudgetCharges, the most specific.
type BudgetExceededError struct {
	Charge BudgetCharge
	// Spent and Reserved are the counter's values when it refused.
	Spent, Reserved int64
}

// Available returns what the counter had left, never below zero.
func (e *BudgetExceededError) Available() int64 {
	return max(0, e.Charge.Limit-e.Spent-e.Reserved)
}

// ResetsAt returns when the exhausted counter resets; zero for lifetime.
func (e *BudgetExceededError) ResetsAt() time.Time { return e.Charge.ResetsAt() }

// Error describes the exhausted budget.
func (e *BudgetExceededError) Error() string {
	return fmt.Sprintf("budget exceeded: %s budget %s (subject %q): %d of %d micro-USD left, %d required",
		e.Charge.Scope, e.Charge.BudgetID, e.Charge.Subject, e.Available(), e.Charge.Limit, e.Charge.Amount)
}

// BudgetStatus is where one budget's counter stands in the window that
// holds now.
type BudgetStatus struct {
	Budget Budget
	// Subject is whose counter it is: the budget's own subject, or the
	// key, user or token a default budget applies to.
	Subject     string
	WindowStart time.Time
	// ResetsAt is when the window ends; zero for a lifetime budget.
	ResetsAt       time.Time
	SpentMicros    int64
	ReservedMicros int64
}

// RemainingMicros is what the budget has left, never below zero.
func (s BudgetStatus) RemainingMicros() int64 {
	return max(0, s.Budget.LimitMicros-s.SpentMicros-s.ReservedMicros)
}

// Percent is the share of the limit spent or held, in percent, to one
// decimal; a limit of zero is 100% used.
func (s BudgetStatus) Percent() float64 {
	if s.Budget.LimitMicros <= 0 {
		return 100
	}
	return math.Round(float64(s.SpentMicros+s.ReservedMicros)/float64(s.Budget.LimitMicros)*1000) / 10
}

// BudgetZone summarises how much of a budget is used, for a user who may
// see no amounts.
type BudgetZone string

// The zones: below the first alert threshold, past it, past the last
// one, and at or past the limit.
const (
	ZoneOK        BudgetZone = "ok"
	ZoneWarning   BudgetZone = "warning"
	ZoneCritical  BudgetZone = "critical"
	ZoneExhausted BudgetZone = "exhausted"
)

// Zone returns the status's zone by the budget's alert thresholds.
func (s BudgetStatus) Zone() BudgetZone {
	used := s.SpentMicros + s.ReservedMicros
	limit := s.Budget.LimitMicros
	if used >= limit {
		return ZoneExhausted
	}
	ts := s.Budget.Thresholds()
	switch frac := float64(used) / float64(limit); {
	case len(ts) > 1 && frac >= ts[len(ts)-1]:
		return ZoneCritical
	case frac >= ts[0]:
		return ZoneWarning
	}
	return ZoneOK
}

// BudgetStore keeps budget definitions.
type BudgetStore interface {
	// SetBudget creates or replaces the budget with b.ID. A replaced
	// budget keeps its CreatedAt and its counters. It returns ErrNotFound
	// when the org does not exist, and ErrConflict when another budget of
	// the org has the same scope, subject and window.
	SetBudget(ctx context.Context, b Budget) error
	// Budget returns one budget of an org, or ErrNotFound.
	Budget(ctx context.Context, org, id string) (Budget, error)
	// Budgets returns an org's budgets ordered by scope, subject, window
	// and id.
	Budgets(ctx context.Context, org string) ([]Budget, error)
	// DeleteBudget removes a budget of an org and its counters, or
	// returns ErrNotFound.
	DeleteBudget(ctx context.Context, org, id string) error
}

// BudgetLedger keeps budget counters and the holds on them. Every method
// is atomic: with any number of callers (and replicas) racing, no blocking
// counter's spent plus reserved passes its limit through a reservation.
type BudgetLedger interface {
	// ReserveBudget adds each charge's amount to its counter's reserved,
	// creating counters on first use, all or nothing. A blocking charge
	// that would take its counter's spent plus reserved past its limit
	// refuses the whole hold with a *BudgetExceededError naming the first
	// such charge in the order of SortBudgetCharges, and nothing changes.
	// An id already held is ErrConflict.
	ReserveBudget(ctx context.Context, h BudgetHold) error
	// SettleBudget replaces a hold with the actual cost: each counter's
	// reserved loses the charge's amount (unless a sweep released it
	// already) and its spent gains actualMicros, which may take it past
	// its limit, since the spend happened. The hold is gone afterwards.
	// An unknown hold (settled, released or swept long ago) is
	// ErrNotFound and changes nothing.
	SettleBudget(ctx context.Context, id string, actualMicros int64) ([]BudgetSettlement, error)
	// ReleaseBudget gives a hold back: nothing was spent. An unknown hold
	// is ErrNotFound.
	ReleaseBudget(ctx context.Context, id string) error
	// RenameBudgetHold gives a hold a new id and expiry (a call's hold
	// becomes its job's). ErrNotFound for an unknown hold, ErrConflict
	// when the new id is taken.
	RenameBudgetHold(ctx context.Context, from, to string, expires time.Time) error
	// BudgetHold returns a hold, or ErrNotFound.
	BudgetHold(ctx context.Context, id string) (BudgetHold, error)
	// BudgetCounters returns the counters with these keys, in the same
	// order; a counter never used is returned with zeros.
	BudgetCounters(ctx context.Context, keys []BudgetCounterKey) ([]BudgetCounter, error)
	// BudgetSubjects returns every counter of one budget's window (one per
	// subject that used it), ordered by subject.
	BudgetSubjects(ctx context.Context, budgetID string, windowStart time.Time) ([]BudgetCounter, error)
	// SweepBudgetHolds releases the reservations of holds that expired at
	// or before now and are still held, marking them expired, and removes
	// expired holds older than BudgetHoldGrace. It returns how many holds
	// it released.
	SweepBudgetHolds(ctx context.Context, now time.Time) (int, error)
}

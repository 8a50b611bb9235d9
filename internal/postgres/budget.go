package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var (
	_ aiproxy.BudgetStore  = (*DB)(nil)
	_ aiproxy.BudgetLedger = (*DB)(nil)
)

// SetBudget creates or replaces a budget. An id that belongs to another
// org is aiproxy.ErrConflict, as is a second budget with the same scope,
// subject and window.
func (db *DB) SetBudget(ctx context.Context, b aiproxy.Budget) error {
	tag, err := db.pool.Exec(ctx, `
		INSERT INTO budgets AS b (id, org_key, scope, subject, window_kind, limit_micros, alert_thresholds,
		                          enforcement, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (id) DO UPDATE SET scope = excluded.scope, subject = excluded.subject,
		    window_kind = excluded.window_kind, limit_micros = excluded.limit_micros,
		    alert_thresholds = excluded.alert_thresholds, enforcement = excluded.enforcement,
		    updated_at = excluded.updated_at
		WHERE b.org_key = excluded.org_key`,
		b.ID, b.OrgKey, string(b.Scope), b.Subject, string(b.Window), b.LimitMicros, nonNilFloats(b.AlertThresholds),
		string(b.Enforcement), instant(b.CreatedAt), instant(b.UpdatedAt))
	switch {
	case isForeignKeyViolation(err):
		return fmt.Errorf("set budget: org %q: %w", b.OrgKey, aiproxy.ErrNotFound)
	case isUniqueViolation(err):
		return fmt.Errorf("set budget: %s budget %q per %s: %w", b.Scope, b.Subject, b.Window, aiproxy.ErrConflict)
	case err != nil:
		return fmt.Errorf("set budget: %w", err)
	case tag.RowsAffected() == 0:
		return fmt.Errorf("set budget: id %q belongs to another org: %w", b.ID, aiproxy.ErrConflict)
	}
	return nil
}

const budgetColumns = `id, org_key, scope, subject, window_kind, limit_micros, alert_thresholds, enforcement,
	created_at, updated_at`

// Budget returns one budget of an org, or aiproxy.ErrNotFound.
func (db *DB) Budget(ctx context.Context, org, id string) (aiproxy.Budget, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+budgetColumns+` FROM budgets WHERE org_key = $1 AND id = $2`, org, id)
	if err != nil {
		return aiproxy.Budget{}, fmt.Errorf("budget %q of org %q: %w", id, org, err)
	}
	b, err := pgx.CollectExactlyOneRow(rows, scanBudget)
	if errors.Is(err, pgx.ErrNoRows) {
		err = aiproxy.ErrNotFound
	}
	if err != nil {
		return b, fmt.Errorf("budget %q of org %q: %w", id, org, err)
	}
	return b, nil
}

// Budgets returns an org's budgets ordered by scope, subject, window and
// id.
func (db *DB) Budgets(ctx context.Context, org string) ([]aiproxy.Budget, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+budgetColumns+` FROM budgets WHERE org_key = $1
		ORDER BY scope, subject, window_kind, id`, org)
	if err != nil {
		return nil, fmt.Errorf("budgets of org %q: %w", org, err)
	}
	out, err := pgx.CollectRows(rows, scanBudget)
	if err != nil {
		return nil, fmt.Errorf("budgets of org %q: %w", org, err)
	}
	return out, nil
}

// DeleteBudget removes a budget and its counters, or returns
// aiproxy.ErrNotFound.
func (db *DB) DeleteBudget(ctx context.Context, org, id string) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM budgets WHERE org_key = $1 AND id = $2`, org, id)
		if err == nil {
			err = affectedOne(tag)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM budget_counters WHERE budget_id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete budget %q: %w", id, err)
	}
	return nil
}

func scanBudget(row pgx.CollectableRow) (aiproxy.Budget, error) {
	var (
		b                      aiproxy.Budget
		scope, window, enforce string
		created, updated       time.Time
	)
	err := row.Scan(&b.ID, &b.OrgKey, &scope, &b.Subject, &window, &b.LimitMicros, &b.AlertThresholds, &enforce,
		&created, &updated)
	if len(b.AlertThresholds) == 0 {
		b.AlertThresholds = nil
	}
	b.Scope, b.Window, b.Enforcement = aiproxy.BudgetScope(scope), aiproxy.BudgetWindow(window), aiproxy.BudgetEnforcement(enforce)
	b.CreatedAt, b.UpdatedAt = created.UTC(), updated.UTC()
	return b, err
}

// ReserveBudget reserves every charge of a hold, all or nothing. Each
// counter is raised by one conditional upsert that holds the counter's row
// lock until the transaction ends, so reservations racing on any number of
// replicas never pass a limit; the counters are visited in the order of
// aiproxy.SortBudgetCharges, so two reservations cannot deadlock.
func (db *DB) ReserveBudget(ctx context.Context, h aiproxy.BudgetHold) error {
	if err := h.Validate(); err != nil {
		return err
	}
	charges := append([]aiproxy.BudgetCharge(nil), h.Charges...)
	aiproxy.SortBudgetCharges(charges)
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO budget_holds (id, org_key, memo, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5)`, h.ID, h.OrgKey, h.Memo, instant(h.CreatedAt), instant(h.ExpiresAt))
		if isUniqueViolation(err) {
			return fmt.Errorf("hold %q: %w", h.ID, aiproxy.ErrConflict)
		}
		if err != nil {
			return err
		}
		for i, c := range charges {
			if err := reserveCharge(ctx, tx, c); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO budget_hold_charges (hold_id, seq, budget_id, subject,
				window_start, scope, window_kind, amount, limit_micros, enforcement)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, h.ID, i, c.BudgetID, c.Subject,
				c.WindowStart.UTC(), string(c.Scope), string(c.Window), c.Amount, c.Limit, string(c.Enforcement))
			if err != nil {
				return err
			}
		}
		return nil
	})
	var be *aiproxy.BudgetExceededError
	switch {
	case errors.As(err, &be):
		return be
	case err != nil:
		return fmt.Errorf("reserve budget: %w", err)
	}
	return nil
}

// reserveCharge raises one counter's reserved, creating the counter on
// first use, unless a blocking charge would pass its limit.
func reserveCharge(ctx context.Context, tx pgx.Tx, c aiproxy.BudgetCharge) error {
	free := !c.Enforcement.Blocks()
	var spent, reserved int64
	err := tx.QueryRow(ctx, `
		INSERT INTO budget_counters AS c (budget_id, subject, window_start, spent, reserved)
		SELECT $1::text, $2::text, $3::timestamptz, 0, $4::bigint WHERE $5::boolean OR $4::bigint <= $6::bigint
		ON CONFLICT (budget_id, subject, window_start) DO UPDATE SET reserved = c.reserved + excluded.reserved
		WHERE $5::boolean OR c.spent + c.reserved + excluded.reserved <= $6::bigint
		RETURNING c.spent, c.reserved`,
		c.BudgetID, c.Subject, c.WindowStart.UTC(), c.Amount, free, c.Limit).Scan(&spent, &reserved)
	if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	// The counter stands where it was: read it for the refusal.
	err = tx.QueryRow(ctx, `SELECT coalesce(max(spent), 0), coalesce(max(reserved), 0) FROM budget_counters
		WHERE budget_id = $1 AND subject = $2 AND window_start = $3`,
		c.BudgetID, c.Subject, c.WindowStart.UTC()).Scan(&spent, &reserved)
	if err != nil {
		return err
	}
	return &aiproxy.BudgetExceededError{Charge: c, Spent: spent, Reserved: reserved}
}

// SettleBudget replaces a hold with the actual cost on each of its
// counters and removes it.
func (db *DB) SettleBudget(ctx context.Context, id string, actualMicros int64) ([]aiproxy.BudgetSettlement, error) {
	out, err := db.finish(ctx, id, max(0, actualMicros), true)
	if err != nil {
		return nil, fmt.Errorf("settle budget hold %q: %w", id, err)
	}
	return out, nil
}

// ReleaseBudget gives a hold back and removes it.
func (db *DB) ReleaseBudget(ctx context.Context, id string) error {
	if _, err := db.finish(ctx, id, 0, false); err != nil {
		return fmt.Errorf("release budget hold %q: %w", id, err)
	}
	return nil
}

// finish ends a hold: its reservation leaves each counter (unless a sweep
// took it already) and, when settle, actual joins each counter's spent.
// The hold's row is locked first, so that a racing settlement, release or
// sweep of the same hold waits and then finds it gone or changed.
func (db *DB) finish(ctx context.Context, id string, actual int64, settle bool) ([]aiproxy.BudgetSettlement, error) {
	var out []aiproxy.BudgetSettlement
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		h, err := readHold(ctx, tx, id, true)
		if err != nil {
			return err
		}
		for _, c := range h.Charges {
			back := c.Amount
			if h.Expired {
				back = 0
			}
			var spent int64
			err := tx.QueryRow(ctx, `UPDATE budget_counters SET reserved = greatest(0, reserved - $1), spent = spent + $2
				WHERE budget_id = $3 AND subject = $4 AND window_start = $5 RETURNING spent`,
				back, actual, c.BudgetID, c.Subject, c.WindowStart).Scan(&spent)
			if errors.Is(err, pgx.ErrNoRows) {
				continue // the budget was deleted with its counters
			}
			if err != nil {
				return err
			}
			if settle {
				out = append(out, aiproxy.BudgetSettlement{Charge: c, Spent: spent, Added: actual})
			}
		}
		_, err = tx.Exec(ctx, `DELETE FROM budget_holds WHERE id = $1`, id)
		return err
	})
	return out, err
}

// RenameBudgetHold gives a hold a new id and expiry.
func (db *DB) RenameBudgetHold(ctx context.Context, from, to string, expires time.Time) error {
	if to == "" || len(to) > aiproxy.MaxBudgetHoldID {
		return fmt.Errorf("rename budget hold: new id must be 1 to %d bytes", aiproxy.MaxBudgetHoldID)
	}
	tag, err := db.pool.Exec(ctx, `UPDATE budget_holds SET id = $1, expires_at = $2 WHERE id = $3`,
		to, instant(expires), from)
	if isUniqueViolation(err) {
		return fmt.Errorf("rename budget hold %q to %q: %w", from, to, aiproxy.ErrConflict)
	}
	if err == nil {
		err = affectedOne(tag)
	}
	if err != nil {
		return fmt.Errorf("rename budget hold %q: %w", from, err)
	}
	return nil
}

// BudgetHold returns a hold, or aiproxy.ErrNotFound.
func (db *DB) BudgetHold(ctx context.Context, id string) (aiproxy.BudgetHold, error) {
	var h aiproxy.BudgetHold
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead},
		func(tx pgx.Tx) error {
			var err error
			h, err = readHold(ctx, tx, id, false)
			return err
		})
	if err != nil {
		return h, fmt.Errorf("budget hold %q: %w", id, err)
	}
	return h, nil
}

// readHold reads a hold with its charges in their order; lock takes the
// hold's row lock.
func readHold(ctx context.Context, tx pgx.Tx, id string, lock bool) (aiproxy.BudgetHold, error) {
	h := aiproxy.BudgetHold{ID: id}
	q := `SELECT org_key, memo, created_at, expires_at, expired FROM budget_holds WHERE id = $1`
	if lock {
		q += ` FOR UPDATE`
	}
	var created, expires time.Time
	err := tx.QueryRow(ctx, q, id).Scan(&h.OrgKey, &h.Memo, &created, &expires, &h.Expired)
	if errors.Is(err, pgx.ErrNoRows) {
		return h, aiproxy.ErrNotFound
	}
	if err != nil {
		return h, err
	}
	h.CreatedAt, h.ExpiresAt = created.UTC(), expires.UTC()
	rows, err := tx.Query(ctx, `SELECT budget_id, subject, window_start, scope, window_kind, amount,
		limit_micros, enforcement FROM budget_hold_charges WHERE hold_id = $1 ORDER BY seq`, id)
	if err != nil {
		return h, err
	}
	h.Charges, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (aiproxy.BudgetCharge, error) {
		var (
			c                      aiproxy.BudgetCharge
			scope, window, enforce string
		)
		err := r.Scan(&c.BudgetID, &c.Subject, &c.WindowStart, &scope, &window, &c.Amount, &c.Limit, &enforce)
		c.WindowStart = c.WindowStart.UTC()
		c.Scope, c.Window, c.Enforcement = aiproxy.BudgetScope(scope), aiproxy.BudgetWindow(window), aiproxy.BudgetEnforcement(enforce)
		return c, err
	})
	return h, err
}

// BudgetCounters returns the counters with these keys, zero for a counter
// never used.
func (db *DB) BudgetCounters(ctx context.Context, keys []aiproxy.BudgetCounterKey) ([]aiproxy.BudgetCounter, error) {
	out := make([]aiproxy.BudgetCounter, len(keys))
	for i, k := range keys {
		out[i].BudgetCounterKey = k
		err := db.pool.QueryRow(ctx, `SELECT spent, reserved FROM budget_counters
			WHERE budget_id = $1 AND subject = $2 AND window_start = $3`,
			k.BudgetID, k.Subject, k.WindowStart.UTC()).Scan(&out[i].Spent, &out[i].Reserved)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("budget counters: %w", err)
		}
	}
	return out, nil
}

// BudgetSubjects returns every counter of one budget's window, by
// subject.
func (db *DB) BudgetSubjects(ctx context.Context, budgetID string, windowStart time.Time) ([]aiproxy.BudgetCounter, error) {
	rows, err := db.pool.Query(ctx, `SELECT subject, spent, reserved FROM budget_counters
		WHERE budget_id = $1 AND window_start = $2 ORDER BY subject`, budgetID, windowStart.UTC())
	if err != nil {
		return nil, fmt.Errorf("budget subjects of %q: %w", budgetID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (aiproxy.BudgetCounter, error) {
		c := aiproxy.BudgetCounter{BudgetCounterKey: aiproxy.BudgetCounterKey{BudgetID: budgetID, WindowStart: windowStart.UTC()}}
		err := r.Scan(&c.Subject, &c.Spent, &c.Reserved)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("budget subjects of %q: %w", budgetID, err)
	}
	return out, nil
}

// SweepBudgetHolds releases expired holds, each in a short transaction of
// its own that locks the hold and then its counters in the order every
// reservation takes them, so that a sweep never deadlocks with racing
// reservations. Holds a settlement or another replica's sweep has locked
// are skipped: they are being finished. Expired holds past the grace
// period are then removed.
func (db *DB) SweepBudgetHolds(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		swept, err := db.sweepOne(ctx, now)
		if err != nil {
			return total, fmt.Errorf("sweep budget holds: %w", err)
		}
		if !swept {
			break
		}
		total++
	}
	_, err := db.pool.Exec(ctx, `DELETE FROM budget_holds WHERE expired AND expires_at <= $1`,
		instant(now.Add(-aiproxy.BudgetHoldGrace)))
	if err != nil {
		return total, fmt.Errorf("sweep budget holds: %w", err)
	}
	return total, nil
}

// sweepOne releases one expired hold; false when none is left.
func (db *DB) sweepOne(ctx context.Context, now time.Time) (bool, error) {
	swept := false
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var id string
		err := tx.QueryRow(ctx, `SELECT id FROM budget_holds WHERE NOT expired AND expires_at <= $1
			ORDER BY expires_at LIMIT 1 FOR UPDATE SKIP LOCKED`, instant(now)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		h, err := readHold(ctx, tx, id, false)
		if err != nil {
			return err
		}
		for _, c := range h.Charges {
			_, err := tx.Exec(ctx, `UPDATE budget_counters SET reserved = greatest(0, reserved - $1)
				WHERE budget_id = $2 AND subject = $3 AND window_start = $4`, c.Amount, c.BudgetID, c.Subject, c.WindowStart)
			if err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `UPDATE budget_holds SET expired = true WHERE id = $1`, id)
		swept = err == nil
		return err
	})
	return swept, err
}

// instant is a time's stored form where the column is NOT NULL: the same
// instant at millisecond precision, and the Unix epoch for the zero time.
func instant(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t.Truncate(time.Millisecond).UTC()
}

// nonNilFloats returns fs, or an empty slice for nil, because pgx binds a
// nil slice as NULL and alert_thresholds is NOT NULL.
func nonNilFloats(fs []float64) []float64 {
	if fs == nil {
		return []float64{}
	}
	return fs
}

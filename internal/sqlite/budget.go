package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var (
	_ aiproxy.BudgetStore  = (*DB)(nil)
	_ aiproxy.BudgetLedger = (*DB)(nil)
)

// sweepBatch is how many expired holds one sweep transaction releases, so
// that the writer is never held long.
const sweepBatch = 500

// SetBudget creates or replaces a budget. An id that belongs to another
// org is aiproxy.ErrConflict, as is a second budget with the same scope,
// subject and window.
func (db *DB) SetBudget(ctx context.Context, b aiproxy.Budget) error {
	thresholds, err := json.Marshal(nonNilFloats(b.AlertThresholds))
	if err != nil {
		return fmt.Errorf("set budget: %w", err)
	}
	res, err := db.write.ExecContext(ctx, `
		INSERT INTO budgets (id, org_key, scope, subject, window_kind, limit_micros, alert_thresholds,
		                     enforcement, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET scope = excluded.scope, subject = excluded.subject,
		    window_kind = excluded.window_kind, limit_micros = excluded.limit_micros,
		    alert_thresholds = excluded.alert_thresholds, enforcement = excluded.enforcement,
		    updated_at = excluded.updated_at
		WHERE budgets.org_key = excluded.org_key`,
		b.ID, b.OrgKey, string(b.Scope), b.Subject, string(b.Window), b.LimitMicros, string(thresholds),
		string(b.Enforcement), unixMillis(b.CreatedAt), unixMillis(b.UpdatedAt))
	switch {
	case isForeignKeyViolation(err):
		return fmt.Errorf("set budget: org %q: %w", b.OrgKey, aiproxy.ErrNotFound)
	case isUniqueViolation(err):
		return fmt.Errorf("set budget: %s budget %q per %s: %w", b.Scope, b.Subject, b.Window, aiproxy.ErrConflict)
	case err != nil:
		return fmt.Errorf("set budget: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("set budget: id %q belongs to another org: %w", b.ID, aiproxy.ErrConflict)
	}
	return nil
}

const budgetColumns = `id, org_key, scope, subject, window_kind, limit_micros, alert_thresholds, enforcement,
	created_at, updated_at`

// Budget returns one budget of an org, or aiproxy.ErrNotFound.
func (db *DB) Budget(ctx context.Context, org, id string) (aiproxy.Budget, error) {
	b, err := scanBudget(db.read.QueryRowContext(ctx,
		`SELECT `+budgetColumns+` FROM budgets WHERE org_key = ? AND id = ?`, org, id))
	if errors.Is(err, sql.ErrNoRows) {
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
	rows, err := db.read.QueryContext(ctx, `SELECT `+budgetColumns+` FROM budgets WHERE org_key = ?
		ORDER BY scope, subject, window_kind, id`, org)
	if err != nil {
		return nil, fmt.Errorf("budgets of org %q: %w", org, err)
	}
	defer rows.Close()
	var out []aiproxy.Budget
	for rows.Next() {
		b, err := scanBudget(rows)
		if err != nil {
			return nil, fmt.Errorf("budgets of org %q: %w", org, err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("budgets of org %q: %w", org, err)
	}
	return out, nil
}

// DeleteBudget removes a budget and its counters, or returns
// aiproxy.ErrNotFound.
func (db *DB) DeleteBudget(ctx context.Context, org, id string) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete budget: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM budgets WHERE org_key = ? AND id = ?`, org, id)
	if err == nil {
		err = affectedOne(res)
	}
	if err == nil {
		_, err = tx.ExecContext(ctx, `DELETE FROM budget_counters WHERE budget_id = ?`, id)
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return fmt.Errorf("delete budget %q: %w", id, err)
	}
	return nil
}

func scanBudget(row interface{ Scan(...any) error }) (aiproxy.Budget, error) {
	var (
		b                                  aiproxy.Budget
		scope, window, thresholds, enforce string
		created, updated                   int64
	)
	err := row.Scan(&b.ID, &b.OrgKey, &scope, &b.Subject, &window, &b.LimitMicros, &thresholds, &enforce,
		&created, &updated)
	if err != nil {
		return b, err
	}
	if err := json.Unmarshal([]byte(thresholds), &b.AlertThresholds); err != nil {
		return b, fmt.Errorf("alert thresholds of budget %q: %w", b.ID, err)
	}
	if len(b.AlertThresholds) == 0 {
		b.AlertThresholds = nil
	}
	b.Scope, b.Window, b.Enforcement = aiproxy.BudgetScope(scope), aiproxy.BudgetWindow(window), aiproxy.BudgetEnforcement(enforce)
	b.CreatedAt, b.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return b, nil
}

// ReserveBudget reserves every charge of a hold, all or nothing. The
// writer connection serialises reservations and each counter is raised by
// one conditional upsert, so racing callers never pass a limit.
func (db *DB) ReserveBudget(ctx context.Context, h aiproxy.BudgetHold) error {
	if err := h.Validate(); err != nil {
		return err
	}
	charges := append([]aiproxy.BudgetCharge(nil), h.Charges...)
	aiproxy.SortBudgetCharges(charges)
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("reserve budget: %w", err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO budget_holds (id, org_key, memo, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?)`, h.ID, h.OrgKey, h.Memo, unixMillis(h.CreatedAt), unixMillis(h.ExpiresAt))
	if isUniqueViolation(err) {
		return fmt.Errorf("reserve budget: hold %q: %w", h.ID, aiproxy.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("reserve budget: %w", err)
	}
	for i, c := range charges {
		if err := reserveCharge(ctx, tx, c); err != nil {
			var be *aiproxy.BudgetExceededError
			if errors.As(err, &be) {
				return err
			}
			return fmt.Errorf("reserve budget: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO budget_hold_charges (hold_id, seq, budget_id, subject,
			window_start, scope, window_kind, amount, limit_micros, enforcement)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, h.ID, i, c.BudgetID, c.Subject, c.WindowStart.UnixMilli(),
			string(c.Scope), string(c.Window), c.Amount, c.Limit, string(c.Enforcement))
		if err != nil {
			return fmt.Errorf("reserve budget: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("reserve budget: %w", err)
	}
	return nil
}

// reserveCharge raises one counter's reserved, creating the counter on
// first use, unless a blocking charge would pass its limit.
func reserveCharge(ctx context.Context, tx *sql.Tx, c aiproxy.BudgetCharge) error {
	free := !c.Enforcement.Blocks()
	var spent, reserved int64
	err := tx.QueryRowContext(ctx, `
		INSERT INTO budget_counters (budget_id, subject, window_start, spent, reserved)
		SELECT ?1, ?2, ?3, 0, ?4 WHERE ?5 OR ?4 <= ?6
		ON CONFLICT (budget_id, subject, window_start) DO UPDATE SET reserved = reserved + excluded.reserved
		WHERE ?5 OR budget_counters.spent + budget_counters.reserved + excluded.reserved <= ?6
		RETURNING spent, reserved`,
		c.BudgetID, c.Subject, c.WindowStart.UnixMilli(), c.Amount, free, c.Limit).Scan(&spent, &reserved)
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	// The counter stands where it was: read it for the refusal.
	err = tx.QueryRowContext(ctx, `SELECT spent, reserved FROM budget_counters
		WHERE budget_id = ? AND subject = ? AND window_start = ?`,
		c.BudgetID, c.Subject, c.WindowStart.UnixMilli()).Scan(&spent, &reserved)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
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
func (db *DB) finish(ctx context.Context, id string, actual int64, settle bool) ([]aiproxy.BudgetSettlement, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	h, err := readHold(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	var out []aiproxy.BudgetSettlement
	for _, c := range h.Charges {
		back := c.Amount
		if h.Expired {
			back = 0
		}
		var spent int64
		err := tx.QueryRowContext(ctx, `UPDATE budget_counters SET reserved = max(0, reserved - ?), spent = spent + ?
			WHERE budget_id = ? AND subject = ? AND window_start = ? RETURNING spent`,
			back, actual, c.BudgetID, c.Subject, c.WindowStart.UnixMilli()).Scan(&spent)
		if errors.Is(err, sql.ErrNoRows) {
			continue // the budget was deleted with its counters
		}
		if err != nil {
			return nil, err
		}
		if settle {
			out = append(out, aiproxy.BudgetSettlement{Charge: c, Spent: spent, Added: actual})
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM budget_holds WHERE id = ?`, id); err != nil {
		return nil, err
	}
	return out, tx.Commit()
}

// RenameBudgetHold gives a hold a new id and expiry.
func (db *DB) RenameBudgetHold(ctx context.Context, from, to string, expires time.Time) error {
	if to == "" || len(to) > aiproxy.MaxBudgetHoldID {
		return fmt.Errorf("rename budget hold: new id must be 1 to %d bytes", aiproxy.MaxBudgetHoldID)
	}
	res, err := db.write.ExecContext(ctx, `UPDATE budget_holds SET id = ?, expires_at = ? WHERE id = ?`,
		to, expires.UnixMilli(), from)
	if isUniqueViolation(err) {
		return fmt.Errorf("rename budget hold %q to %q: %w", from, to, aiproxy.ErrConflict)
	}
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("rename budget hold %q: %w", from, err)
	}
	return nil
}

// BudgetHold returns a hold, or aiproxy.ErrNotFound.
func (db *DB) BudgetHold(ctx context.Context, id string) (aiproxy.BudgetHold, error) {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return aiproxy.BudgetHold{}, fmt.Errorf("budget hold %q: %w", id, err)
	}
	defer tx.Rollback()
	h, err := readHold(ctx, tx, id)
	if err != nil {
		return h, fmt.Errorf("budget hold %q: %w", id, err)
	}
	return h, nil
}

// readHold reads a hold with its charges in their order.
func readHold(ctx context.Context, tx *sql.Tx, id string) (aiproxy.BudgetHold, error) {
	h := aiproxy.BudgetHold{ID: id}
	var created, expires int64
	err := tx.QueryRowContext(ctx, `SELECT org_key, memo, created_at, expires_at, expired FROM budget_holds
		WHERE id = ?`, id).Scan(&h.OrgKey, &h.Memo, &created, &expires, &h.Expired)
	if errors.Is(err, sql.ErrNoRows) {
		return h, aiproxy.ErrNotFound
	}
	if err != nil {
		return h, err
	}
	h.CreatedAt, h.ExpiresAt = time.UnixMilli(created).UTC(), time.UnixMilli(expires).UTC()
	rows, err := tx.QueryContext(ctx, `SELECT budget_id, subject, window_start, scope, window_kind, amount,
		limit_micros, enforcement FROM budget_hold_charges WHERE hold_id = ? ORDER BY seq`, id)
	if err != nil {
		return h, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			c                      aiproxy.BudgetCharge
			start                  int64
			scope, window, enforce string
		)
		if err := rows.Scan(&c.BudgetID, &c.Subject, &start, &scope, &window, &c.Amount, &c.Limit, &enforce); err != nil {
			return h, err
		}
		c.WindowStart = time.UnixMilli(start).UTC()
		c.Scope, c.Window, c.Enforcement = aiproxy.BudgetScope(scope), aiproxy.BudgetWindow(window), aiproxy.BudgetEnforcement(enforce)
		h.Charges = append(h.Charges, c)
	}
	return h, rows.Err()
}

// BudgetCounters returns the counters with these keys, zero for a counter
// never used.
func (db *DB) BudgetCounters(ctx context.Context, keys []aiproxy.BudgetCounterKey) ([]aiproxy.BudgetCounter, error) {
	out := make([]aiproxy.BudgetCounter, len(keys))
	for i, k := range keys {
		out[i].BudgetCounterKey = k
		err := db.read.QueryRowContext(ctx, `SELECT spent, reserved FROM budget_counters
			WHERE budget_id = ? AND subject = ? AND window_start = ?`,
			k.BudgetID, k.Subject, k.WindowStart.UnixMilli()).Scan(&out[i].Spent, &out[i].Reserved)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("budget counters: %w", err)
		}
	}
	return out, nil
}

// BudgetSubjects returns every counter of one budget's window, by
// subject.
func (db *DB) BudgetSubjects(ctx context.Context, budgetID string, windowStart time.Time) ([]aiproxy.BudgetCounter, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT subject, spent, reserved FROM budget_counters
		WHERE budget_id = ? AND window_start = ? ORDER BY subject`, budgetID, windowStart.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("budget subjects of %q: %w", budgetID, err)
	}
	defer rows.Close()
	var out []aiproxy.BudgetCounter
	for rows.Next() {
		c := aiproxy.BudgetCounter{BudgetCounterKey: aiproxy.BudgetCounterKey{BudgetID: budgetID, WindowStart: windowStart.UTC()}}
		if err := rows.Scan(&c.Subject, &c.Spent, &c.Reserved); err != nil {
			return nil, fmt.Errorf("budget subjects of %q: %w", budgetID, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("budget subjects of %q: %w", budgetID, err)
	}
	return out, nil
}

// SweepBudgetHolds releases expired holds in batches, each its own short
// transaction, and removes expired holds past the grace period.
func (db *DB) SweepBudgetHolds(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		n, err := db.sweepBatch(ctx, now)
		total += n
		if err != nil {
			return total, fmt.Errorf("sweep budget holds: %w", err)
		}
		if n < sweepBatch {
			break
		}
	}
	_, err := db.write.ExecContext(ctx, `DELETE FROM budget_holds WHERE expired = 1 AND expires_at <= ?`,
		now.Add(-aiproxy.BudgetHoldGrace).UnixMilli())
	if err != nil {
		return total, fmt.Errorf("sweep budget holds: %w", err)
	}
	return total, nil
}

func (db *DB) sweepBatch(ctx context.Context, now time.Time) (int, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT id FROM budget_holds WHERE expired = 0 AND expires_at <= ?
		ORDER BY expires_at LIMIT ?`, now.UnixMilli(), sweepBatch)
	if err != nil {
		return 0, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, id := range ids {
		_, err := tx.ExecContext(ctx, `UPDATE budget_counters AS c
			SET reserved = max(0, c.reserved - h.amount)
			FROM budget_hold_charges AS h
			WHERE h.hold_id = ? AND c.budget_id = h.budget_id AND c.subject = h.subject
			  AND c.window_start = h.window_start`, id)
		if err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE budget_holds SET expired = 1 WHERE id = ?`, id); err != nil {
			return 0, err
		}
	}
	return len(ids), tx.Commit()
}

// unixMillis is a time's stored form where the column is NOT NULL: UTC
// unix milliseconds, and 0 for the zero time.
func unixMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// nonNilFloats returns fs, or an empty slice for nil, so that it encodes
// as [] rather than null.
func nonNilFloats(fs []float64) []float64 {
	if fs == nil {
		return []float64{}
	}
	return fs
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.LiveSessionStore = (*DB)(nil)

const liveSessionColumns = `id, service, org_key, user_id, key_id, source, mode, sandbox, max_duration_s,
	reserved_minutes, token_hash, state, created_at, started_at, last_alive_at, stopped_at, end_reason,
	stopped_by, duration_s, credits, reconciled_at, expires_at`

func scanLiveSession(row interface{ Scan(...any) error }) (aiproxy.LiveSession, error) {
	var s aiproxy.LiveSession
	var src, state string
	var sandbox int
	var maxDur int64
	var created int64
	var started, alive, stopped, reconciled, expires sql.NullInt64
	err := row.Scan(&s.ID, &s.Service, &s.OrgKey, &s.User, &s.KeyID, &src, &s.Mode, &sandbox, &maxDur,
		&s.ReservedMinutes, &s.TokenHash, &state, &created, &started, &alive, &stopped, &s.EndReason,
		&s.StoppedBy, &s.DurationSeconds, &s.Credits, &reconciled, &expires)
	if err != nil {
		return s, err
	}
	s.Source, s.State, s.Sandbox = aiproxy.Source(src), aiproxy.LiveSessionState(state), sandbox != 0
	s.MaxDuration = time.Duration(maxDur) * time.Second
	s.CreatedAt = fromMillis(sql.NullInt64{Int64: created, Valid: true})
	s.StartedAt, s.LastKeepAlive, s.StoppedAt = fromMillis(started), fromMillis(alive), fromMillis(stopped)
	s.ReconciledAt, s.ExpiresAt = fromMillis(reconciled), fromMillis(expires)
	return s, nil
}

// ClaimLiveSession stores a claim unless a cap is full. The writer's
// transaction begins IMMEDIATE, so racing claims run one after another and
// each counts the claims of those before it.
func (db *DB) ClaimLiveSession(ctx context.Context, s aiproxy.LiveSession, caps aiproxy.LiveSessionCaps, now time.Time) (aiproxy.LiveSessionCapScope, error) {
	full := aiproxy.LiveCapNone
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM live_sessions WHERE state = 'claimed' AND expires_at <= ?`, now.UnixMilli()); err != nil {
			return err
		}
		var org, cred int
		err := tx.QueryRowContext(ctx, `
			SELECT coalesce(sum(org_key = ?1), 0), coalesce(sum(source = ?3 AND (?3 = 'platform' OR org_key = ?1)), 0)
			FROM live_sessions WHERE service = ?2 AND state IN ('claimed', 'created', 'started')`,
			s.OrgKey, s.Service, string(s.Source)).Scan(&org, &cred)
		if err != nil {
			return err
		}
		switch {
		case caps.PerOrg > 0 && org >= caps.PerOrg:
			full = aiproxy.LiveCapOrg
			return nil
		case caps.PerCredential > 0 && cred >= caps.PerCredential:
			full = aiproxy.LiveCapCredential
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO live_sessions (id, service, org_key, user_id, key_id, source, mode, sandbox,
			max_duration_s, reserved_minutes, state, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'claimed', ?, ?)`,
			s.ID, s.Service, s.OrgKey, s.User, s.KeyID, string(s.Source), s.Mode, boolInt(s.Sandbox),
			int64(s.MaxDuration/time.Second), s.ReservedMinutes, s.CreatedAt.UnixMilli(), millis(s.ExpiresAt))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("claim live session: %w", err)
	}
	return full, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// RecordLiveSession turns a claim into the minted session.
func (db *DB) RecordLiveSession(ctx context.Context, claimID string, s aiproxy.LiveSession) error {
	res, err := db.write.ExecContext(ctx, `UPDATE live_sessions SET id = ?, user_id = ?, key_id = ?, source = ?, mode = ?,
		sandbox = ?, max_duration_s = ?, reserved_minutes = ?, token_hash = ?, state = 'created', created_at = ?, expires_at = NULL
		WHERE id = ? AND state = 'claimed'`,
		s.ID, s.User, s.KeyID, string(s.Source), s.Mode, boolInt(s.Sandbox), int64(s.MaxDuration/time.Second),
		s.ReservedMinutes, s.TokenHash, s.CreatedAt.UnixMilli(), claimID)
	if err != nil {
		return fmt.Errorf("record live session %q: %w", s.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("record live session %q: claim %q: %w", s.ID, claimID, aiproxy.ErrNotFound)
	}
	return nil
}

// BindLiveSession gives a legacy token's row the id of the session the
// token created.
func (db *DB) BindLiveSession(ctx context.Context, tokenID, sessionID string) error {
	res, err := db.write.ExecContext(ctx, `UPDATE live_sessions SET id = ? WHERE id = ? AND state = 'created'`, sessionID, tokenID)
	if err != nil {
		return fmt.Errorf("bind live session %q to %q: %w", tokenID, sessionID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("bind live session %q: %w", tokenID, aiproxy.ErrNotFound)
	}
	return nil
}

// ReleaseLiveSession removes a claim.
func (db *DB) ReleaseLiveSession(ctx context.Context, claimID string) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM live_sessions WHERE id = ? AND state = 'claimed'`, claimID); err != nil {
		return fmt.Errorf("release live session claim %q: %w", claimID, err)
	}
	return nil
}

// LiveSession returns one session.
func (db *DB) LiveSession(ctx context.Context, id string) (aiproxy.LiveSession, error) {
	return db.oneLiveSession(ctx, `id = ? AND state <> 'claimed'`, id)
}

// LiveSessionByToken returns the session of a token hash.
func (db *DB) LiveSessionByToken(ctx context.Context, hash []byte) (aiproxy.LiveSession, error) {
	return db.oneLiveSession(ctx, `token_hash = ?`, hash)
}

func (db *DB) oneLiveSession(ctx context.Context, where string, arg any) (aiproxy.LiveSession, error) {
	row := db.write.QueryRowContext(ctx, `SELECT `+liveSessionColumns+` FROM live_sessions WHERE `+where, arg)
	s, err := scanLiveSession(row)
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("live session: %w", aiproxy.ErrNotFound)
	}
	if err != nil {
		return s, fmt.Errorf("live session: %w", err)
	}
	return s, nil
}

// LiveSessions lists an org's sessions, newest first.
func (db *DB) LiveSessions(ctx context.Context, f aiproxy.LiveSessionFilter) ([]aiproxy.LiveSession, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+liveSessionColumns+` FROM live_sessions
		WHERE org_key = ? AND (? = '' OR user_id = ?) AND (? = '' OR state = ?) AND state <> 'claimed'
		ORDER BY created_at DESC, id LIMIT ?`,
		f.OrgKey, f.User, f.User, string(f.State), string(f.State), limit)
	if err != nil {
		return nil, fmt.Errorf("live sessions of %q: %w", f.OrgKey, err)
	}
	defer rows.Close()
	var out []aiproxy.LiveSession
	for rows.Next() {
		s, err := scanLiveSession(rows)
		if err != nil {
			return nil, fmt.Errorf("live sessions of %q: %w", f.OrgKey, err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// MarkLiveSessionStarted records a session's start.
func (db *DB) MarkLiveSessionStarted(ctx context.Context, id string, at time.Time) error {
	return db.markLive(ctx, id, `UPDATE live_sessions SET state = 'started', started_at = coalesce(started_at, ?1),
		last_alive_at = ?1 WHERE id = ?2 AND state IN ('created', 'started')`, at)
}

// MarkLiveSessionAlive records a keep-alive, and frees a reaper's hold on
// the session (a reaper that found it in use at the provider lets go).
func (db *DB) MarkLiveSessionAlive(ctx context.Context, id string, at time.Time) error {
	return db.markLive(ctx, id, `UPDATE live_sessions SET last_alive_at = ?1, held_until = NULL WHERE id = ?2 AND state IN ('created', 'started')`, at)
}

func (db *DB) markLive(ctx context.Context, id, query string, at time.Time) error {
	res, err := db.write.ExecContext(ctx, query, at.UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("live session %q: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("live session %q: %w", id, aiproxy.ErrNotFound)
	}
	return nil
}

// StopLiveSession records that a live session stopped.
func (db *DB) StopLiveSession(ctx context.Context, id string, at time.Time, reason, by string) (bool, error) {
	res, err := db.write.ExecContext(ctx, `UPDATE live_sessions SET state = 'stopped', stopped_at = ?, end_reason = ?, stopped_by = ?
		WHERE id = ? AND state IN ('created', 'started')`, at.UnixMilli(), reason, by, id)
	if err != nil {
		return false, fmt.Errorf("stop live session %q: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ClaimDueLiveSessions holds the sessions that are the reaper's. Each is
// held by a conditional update, so racing replicas never both get one.
func (db *DB) ClaimDueLiveSessions(ctx context.Context, due aiproxy.LiveSessionDue, now, until time.Time, limit int) ([]aiproxy.LiveSession, error) {
	var out []aiproxy.LiveSession
	n := now.UnixMilli()
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM live_sessions WHERE state = 'claimed' AND expires_at <= ?`, n); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `UPDATE live_sessions SET held_until = ?1
			WHERE id IN (SELECT id FROM live_sessions WHERE (held_until IS NULL OR held_until <= ?2) AND (
				(state = 'started' AND started_at + max_duration_s * 1000 <= ?2)
				OR (state = 'started' AND ?4 > 0 AND coalesce(last_alive_at, started_at) + ?4 <= ?2)
				OR (state = 'created' AND created_at + ?3 <= ?2)
				OR (state = 'stopped' AND reconciled_at IS NULL AND stopped_at + ?5 <= ?2))
				ORDER BY created_at LIMIT ?6)
			RETURNING `+liveSessionColumns,
			until.UnixMilli(), n, due.StartGrace.Milliseconds(), due.Idle.Milliseconds(), due.SettleAfter.Milliseconds(), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			s, err := scanLiveSession(rows)
			if err != nil {
				return err
			}
			out = append(out, s)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("claim due live sessions: %w", err)
	}
	return out, nil
}

// ReconcileLiveSession records the provider's account of a stopped session.
func (db *DB) ReconcileLiveSession(ctx context.Context, id string, durationSeconds int64, credits float64, at time.Time) error {
	res, err := db.write.ExecContext(ctx, `UPDATE live_sessions SET duration_s = ?, credits = ?, reconciled_at = ?, held_until = NULL
		WHERE id = ? AND state = 'stopped'`, durationSeconds, credits, at.UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("reconcile live session %q: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("reconcile live session %q: %w", id, aiproxy.ErrNotFound)
	}
	return nil
}

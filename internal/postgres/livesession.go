package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.LiveSessionStore = (*DB)(nil)

// liveSessionLock is the advisory lock that serializes live-session claims
// (one per token minted), so that the count and the insert of racing
// claims, from any replica, never interleave.
const liveSessionLock = 0x6c69766573657373 // "livesess"

const liveSessionColumns = `id, service, org_key, user_id, key_id, source, mode, sandbox, max_duration_s,
	reserved_minutes, token_hash, state, created_at, started_at, last_alive_at, stopped_at, end_reason,
	stopped_by, duration_s, credits, reconciled_at, expires_at`

func scanLiveSession(row pgx.Row) (aiproxy.LiveSession, error) {
	var s aiproxy.LiveSession
	var src, state string
	var maxDur int64
	var created time.Time
	var started, alive, stopped, reconciled, expires pgtype.Timestamptz
	err := row.Scan(&s.ID, &s.Service, &s.OrgKey, &s.User, &s.KeyID, &src, &s.Mode, &s.Sandbox, &maxDur,
		&s.ReservedMinutes, &s.TokenHash, &state, &created, &started, &alive, &stopped, &s.EndReason,
		&s.StoppedBy, &s.DurationSeconds, &s.Credits, &reconciled, &expires)
	if err != nil {
		return s, err
	}
	s.Source, s.State = aiproxy.Source(src), aiproxy.LiveSessionState(state)
	s.MaxDuration = time.Duration(maxDur) * time.Second
	s.CreatedAt = created.UTC()
	s.StartedAt, s.LastKeepAlive, s.StoppedAt = fromTimestamp(started), fromTimestamp(alive), fromTimestamp(stopped)
	s.ReconciledAt, s.ExpiresAt = fromTimestamp(reconciled), fromTimestamp(expires)
	return s, nil
}

// ClaimLiveSession stores a claim unless a cap is full, under a
// transaction advisory lock.
func (db *DB) ClaimLiveSession(ctx context.Context, s aiproxy.LiveSession, caps aiproxy.LiveSessionCaps, now time.Time) (aiproxy.LiveSessionCapScope, error) {
	full := aiproxy.LiveCapNone
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(liveSessionLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM live_sessions WHERE state = 'claimed' AND expires_at <= $1`, now); err != nil {
			return err
		}
		var org, cred int
		err := tx.QueryRow(ctx, `
			SELECT count(*) FILTER (WHERE org_key = $1),
			       count(*) FILTER (WHERE source = $3 AND ($3 = 'platform' OR org_key = $1))
			FROM live_sessions WHERE service = $2 AND state IN ('claimed', 'created', 'started')`,
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
		_, err = tx.Exec(ctx, `INSERT INTO live_sessions (id, service, org_key, user_id, key_id, source, mode, sandbox,
			max_duration_s, reserved_minutes, state, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'claimed', $11, $12)`,
			s.ID, s.Service, s.OrgKey, s.User, s.KeyID, string(s.Source), s.Mode, s.Sandbox,
			int64(s.MaxDuration/time.Second), s.ReservedMinutes, instant(s.CreatedAt), timestamp(s.ExpiresAt))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("claim live session: %w", err)
	}
	return full, nil
}

// RecordLiveSession turns a claim into the minted session.
func (db *DB) RecordLiveSession(ctx context.Context, claimID string, s aiproxy.LiveSession) error {
	tag, err := db.pool.Exec(ctx, `UPDATE live_sessions SET id = $1, user_id = $2, key_id = $3, source = $4, mode = $5,
		sandbox = $6, max_duration_s = $7, reserved_minutes = $8, token_hash = $9, state = 'created', created_at = $10,
		expires_at = NULL WHERE id = $11 AND state = 'claimed'`,
		s.ID, s.User, s.KeyID, string(s.Source), s.Mode, s.Sandbox, int64(s.MaxDuration/time.Second),
		s.ReservedMinutes, s.TokenHash, instant(s.CreatedAt), claimID)
	if err != nil {
		return fmt.Errorf("record live session %q: %w", s.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("record live session %q: claim %q: %w", s.ID, claimID, aiproxy.ErrNotFound)
	}
	return nil
}

// ReleaseLiveSession removes a claim.
func (db *DB) ReleaseLiveSession(ctx context.Context, claimID string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM live_sessions WHERE id = $1 AND state = 'claimed'`, claimID); err != nil {
		return fmt.Errorf("release live session claim %q: %w", claimID, err)
	}
	return nil
}

// LiveSession returns one session.
func (db *DB) LiveSession(ctx context.Context, id string) (aiproxy.LiveSession, error) {
	return db.oneLiveSession(ctx, `id = $1 AND state <> 'claimed'`, id)
}

// LiveSessionByToken returns the session of a token hash.
func (db *DB) LiveSessionByToken(ctx context.Context, hash []byte) (aiproxy.LiveSession, error) {
	return db.oneLiveSession(ctx, `token_hash = $1`, hash)
}

func (db *DB) oneLiveSession(ctx context.Context, where string, arg any) (aiproxy.LiveSession, error) {
	row := db.pool.QueryRow(ctx, `SELECT `+liveSessionColumns+` FROM live_sessions WHERE `+where, arg)
	s, err := scanLiveSession(row)
	if errors.Is(err, pgx.ErrNoRows) {
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
	rows, err := db.pool.Query(ctx, `SELECT `+liveSessionColumns+` FROM live_sessions
		WHERE org_key = $1 AND ($2 = '' OR user_id = $2) AND ($3 = '' OR state = $3) AND state <> 'claimed'
		ORDER BY created_at DESC, id LIMIT $4`, f.OrgKey, f.User, string(f.State), limit)
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
	return db.markLive(ctx, id, `UPDATE live_sessions SET state = 'started', started_at = coalesce(started_at, $1),
		last_alive_at = $1 WHERE id = $2 AND state IN ('created', 'started')`, at)
}

// MarkLiveSessionAlive records a keep-alive, and frees a reaper's hold on
// the session (a reaper that found it in use at the provider lets go).
func (db *DB) MarkLiveSessionAlive(ctx context.Context, id string, at time.Time) error {
	return db.markLive(ctx, id, `UPDATE live_sessions SET last_alive_at = $1, held_until = NULL WHERE id = $2 AND state IN ('created', 'started')`, at)
}

// BindLiveSession gives a legacy token's row the id of the session the
// token created.
func (db *DB) BindLiveSession(ctx context.Context, tokenID, sessionID string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE live_sessions SET id = $1 WHERE id = $2 AND state = 'created'`, sessionID, tokenID)
	if err != nil {
		return fmt.Errorf("bind live session %q to %q: %w", tokenID, sessionID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("bind live session %q: %w", tokenID, aiproxy.ErrNotFound)
	}
	return nil
}

func (db *DB) markLive(ctx context.Context, id, query string, at time.Time) error {
	tag, err := db.pool.Exec(ctx, query, instant(at), id)
	if err != nil {
		return fmt.Errorf("live session %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("live session %q: %w", id, aiproxy.ErrNotFound)
	}
	return nil
}

// StopLiveSession records that a live session stopped.
func (db *DB) StopLiveSession(ctx context.Context, id string, at time.Time, reason, by string) (bool, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE live_sessions SET state = 'stopped', stopped_at = $1, end_reason = $2, stopped_by = $3
		WHERE id = $4 AND state IN ('created', 'started')`, instant(at), reason, by, id)
	if err != nil {
		return false, fmt.Errorf("stop live session %q: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ClaimDueLiveSessions holds the sessions that are the reaper's. Rows are
// locked with SKIP LOCKED and held by a conditional update, so racing
// replicas never both get one.
func (db *DB) ClaimDueLiveSessions(ctx context.Context, due aiproxy.LiveSessionDue, now, until time.Time, limit int) ([]aiproxy.LiveSession, error) {
	now = instant(now)
	if _, err := db.pool.Exec(ctx, `DELETE FROM live_sessions WHERE state = 'claimed' AND expires_at <= $1`, now); err != nil {
		return nil, fmt.Errorf("claim due live sessions: %w", err)
	}
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	rows, err := db.pool.Query(ctx, `UPDATE live_sessions SET held_until = $1
		WHERE id IN (SELECT id FROM live_sessions WHERE (held_until IS NULL OR held_until <= $2) AND (
			(state = 'started' AND started_at + make_interval(secs => max_duration_s) <= $2)
			OR (state = 'started' AND $4::bigint > 0 AND coalesce(last_alive_at, started_at) + $4::bigint * interval '1 millisecond' <= $2)
			OR (state = 'created' AND created_at + $3::bigint * interval '1 millisecond' <= $2)
			OR (state = 'stopped' AND reconciled_at IS NULL AND stopped_at + $5::bigint * interval '1 millisecond' <= $2))
			ORDER BY created_at LIMIT $6 FOR UPDATE SKIP LOCKED)
		AND (held_until IS NULL OR held_until <= $2)
		RETURNING `+liveSessionColumns,
		instant(until), now, ms(due.StartGrace), ms(due.Idle), ms(due.SettleAfter), limit)
	if err != nil {
		return nil, fmt.Errorf("claim due live sessions: %w", err)
	}
	defer rows.Close()
	var out []aiproxy.LiveSession
	for rows.Next() {
		s, err := scanLiveSession(rows)
		if err != nil {
			return nil, fmt.Errorf("claim due live sessions: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim due live sessions: %w", err)
	}
	return out, nil
}

// ReconcileLiveSession records the provider's account of a stopped session.
func (db *DB) ReconcileLiveSession(ctx context.Context, id string, durationSeconds int64, credits float64, at time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE live_sessions SET duration_s = $1, credits = $2, reconciled_at = $3, held_until = NULL
		WHERE id = $4 AND state = 'stopped'`, durationSeconds, credits, instant(at), id)
	if err != nil {
		return fmt.Errorf("reconcile live session %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("reconcile live session %q: %w", id, aiproxy.ErrNotFound)
	}
	return nil
}

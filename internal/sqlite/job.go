package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var (
	_ aiproxy.JobStore         = (*DB)(nil)
	_ aiproxy.WebhookStore     = (*DB)(nil)
	_ aiproxy.IdempotencyStore = (*DB)(nil)
)

const jobColumns = `id, org_key, service, action, status_action, provider_job_id, source, credential_org,
	credential_name, state, provider_status, result_urls, error, status_body, callback_id, idempotency_key,
	attempts, version, created_at, updated_at, completed_at, checked_at, next_check_at, deadline_at, urls_expire_at,
	user_id, key_id, credential_key_id, details`

// inTx runs fn in a write transaction, committing when it returns nil.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// CreateJob stores a new job with its creation event (queued for the org's
// webhook endpoints) and completes done in the same transaction.
func (db *DB) CreateJob(ctx context.Context, j aiproxy.Job, ev aiproxy.JobEvent, done *aiproxy.IdempotencyRecord) error {
	urls, err := json.Marshal(nonNilMap(j.ResultURLs))
	if err != nil {
		return fmt.Errorf("create job %q: %w", j.ID, err)
	}
	details, err := json.Marshal(toDetailsRow(j.Details))
	if err != nil {
		return fmt.Errorf("create job %q: %w", j.ID, err)
	}
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO jobs (`+jobColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			j.ID, j.OrgKey, j.Service, j.Action, j.StatusAction, j.ProviderJobID, string(j.Source),
			orgKey(j.CredentialOrg), j.CredentialName, string(j.State), j.ProviderStatus, string(urls), j.Error,
			j.StatusBody, j.CallbackID, j.IdempotencyKey, j.Attempts,
			millis(j.CreatedAt), millis(j.UpdatedAt), millis(j.CompletedAt), millis(j.CheckedAt),
			millis(j.NextCheckAt), millis(j.DeadlineAt), millis(j.URLsExpireAt), j.User, j.KeyID, j.CredentialKeyID,
			string(details))
		if err != nil {
			return err
		}
		if err := insertEvent(ctx, tx, ev); err != nil {
			return err
		}
		if j.RunSlotID != "" {
			if _, err := tx.ExecContext(ctx, `DELETE FROM job_slots WHERE id = ?`, j.RunSlotID); err != nil {
				return err
			}
		}
		if done != nil {
			return completeIdempotency(ctx, tx, *done)
		}
		return nil
	})
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("create job %q: %w", j.ID, aiproxy.ErrConflict)
	case isForeignKeyViolation(err):
		return fmt.Errorf("create job %q: org %q: %w", j.ID, j.OrgKey, aiproxy.ErrNotFound)
	case err != nil:
		return fmt.Errorf("create job %q: %w", j.ID, err)
	}
	return nil
}

// insertEvent stores an event and queues it for every endpoint of its org
// that subscribes to its type.
func insertEvent(ctx context.Context, tx *sql.Tx, ev aiproxy.JobEvent) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO job_events (id, org_key, job_id, type, data, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, ev.ID, ev.OrgKey, ev.JobID, ev.Type, nonNil(ev.Data), millis(ev.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	// The delivery id is derived from the event and endpoint ids, which
	// are unique together.
	_, err = tx.ExecContext(ctx, `INSERT INTO webhook_deliveries
		(id, org_key, event_id, event_type, endpoint_id, state, next_attempt_at, created_at, updated_at)
		SELECT 'dlv_' || substr(?, 5) || '_' || substr(e.id, 5), e.org_key, ?, ?, e.id, 'pending', ?, ?, ?
		FROM webhook_endpoints e, json_each(e.events) t
		WHERE e.org_key = ? AND t.value = ?`,
		ev.ID, ev.ID, ev.Type, millis(ev.CreatedAt), millis(ev.CreatedAt), millis(ev.CreatedAt), ev.OrgKey, ev.Type)
	if err != nil {
		return fmt.Errorf("queue deliveries: %w", err)
	}
	return nil
}

// Job returns one job by id, or aiproxy.ErrNotFound.
func (db *DB) Job(ctx context.Context, id string) (aiproxy.Job, error) {
	j, err := scanJob(db.read.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return aiproxy.Job{}, fmt.Errorf("job %q: %w", id, aiproxy.ErrNotFound)
	}
	if err != nil {
		return aiproxy.Job{}, fmt.Errorf("job %q: %w", id, err)
	}
	return j, nil
}

// JobByProviderID returns a service's job with a provider id, or
// aiproxy.ErrNotFound.
func (db *DB) JobByProviderID(ctx context.Context, service, providerID string) (aiproxy.Job, error) {
	j, err := scanJob(db.read.QueryRowContext(ctx,
		`SELECT `+jobColumns+` FROM jobs WHERE service = ? AND provider_job_id = ?`, service, providerID))
	if errors.Is(err, sql.ErrNoRows) {
		return aiproxy.Job{}, fmt.Errorf("job %s/%q: %w", service, providerID, aiproxy.ErrNotFound)
	}
	if err != nil {
		return aiproxy.Job{}, fmt.Errorf("job %s/%q: %w", service, providerID, err)
	}
	return j, nil
}

// Jobs lists an org's jobs, newest first, ties broken by id; with a user
// in the filter, only that user's, through the index jobs_by_org_user; with
// an avatar, through jobs_by_org_avatar. A query scans the org's rows in
// that order for titles and scripts that contain it.
func (db *DB) Jobs(ctx context.Context, f aiproxy.JobFilter) ([]aiproxy.Job, error) {
	where, args := jobWhere(f)
	if f.Before != nil {
		where = append(where, "(created_at < ? OR (created_at = ? AND id < ?))")
		at := millis(f.Before.CreatedAt)
		args = append(args, at, at, f.Before.ID)
	}
	args = append(args, limitOr(f.Limit))
	return db.queryJobs(ctx, `SELECT `+jobColumns+` FROM jobs WHERE `+strings.Join(where, " AND ")+`
		ORDER BY created_at DESC, id DESC LIMIT ?`, args...)
}

// jobWhere is the condition of a job listing's filter, less its page.
func jobWhere(f aiproxy.JobFilter) ([]string, []any) {
	where := []string{"org_key = ?"}
	args := []any{f.OrgKey}
	for _, c := range [][2]string{{"user_id", f.User}, {"state", string(f.State)}, {"service", f.Service},
		{"action", f.Action}, {"json_extract(details, '$.avatar_id')", f.AvatarID}} {
		if c[1] != "" {
			where = append(where, c[0]+" = ?")
			args = append(args, c[1])
		}
	}
	if f.Query != "" {
		where = append(where, `(instr(lower(json_extract(details, '$.title')), lower(?)) > 0
			OR instr(lower(json_extract(details, '$.script')), lower(?)) > 0)`)
		args = append(args, f.Query, f.Query)
	}
	if !f.From.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, millis(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, millis(f.To))
	}
	return where, args
}

// JobTotals adds up the jobs of f in one pass over the org's index.
func (db *DB) JobTotals(ctx context.Context, f aiproxy.JobFilter) (aiproxy.JobTotals, error) {
	where, args := jobWhere(f)
	var t aiproxy.JobTotals
	err := db.read.QueryRowContext(ctx, `SELECT count(*),
		coalesce(sum(state = 'completed'), 0), coalesce(sum(state = 'failed'), 0),
		coalesce(sum(CASE WHEN state = 'completed' THEN json_extract(details, '$.duration_seconds') END), 0.0)
		FROM jobs WHERE `+strings.Join(where, " AND "), args...).Scan(&t.Jobs, &t.Completed, &t.Failed, &t.Seconds)
	if err != nil {
		return aiproxy.JobTotals{}, fmt.Errorf("job totals: %w", err)
	}
	return t, nil
}

func limitOr(n int) int {
	if n <= 0 {
		return 50
	}
	return n
}

// UpdateJob stores j when the stored version is j.Version, with ev, and
// ends any lease on it.
func (db *DB) UpdateJob(ctx context.Context, j aiproxy.Job, ev *aiproxy.JobEvent) error {
	urls, err := json.Marshal(nonNilMap(j.ResultURLs))
	if err != nil {
		return fmt.Errorf("update job %q: %w", j.ID, err)
	}
	details, err := json.Marshal(toDetailsRow(j.Details))
	if err != nil {
		return fmt.Errorf("update job %q: %w", j.ID, err)
	}
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ?, provider_status = ?, result_urls = ?,
			error = ?, status_body = ?, attempts = ?, version = version + 1, updated_at = ?, completed_at = ?,
			checked_at = ?, next_check_at = ?, deadline_at = ?, urls_expire_at = ?, details = ?,
			lease_owner = '', lease_expires_at = NULL
			WHERE id = ? AND version = ?`,
			string(j.State), j.ProviderStatus, string(urls), j.Error, j.StatusBody, j.Attempts,
			millis(j.UpdatedAt), millis(j.CompletedAt), millis(j.CheckedAt), millis(j.NextCheckAt),
			millis(j.DeadlineAt), millis(j.URLsExpireAt), string(details), j.ID, j.Version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(err, aiproxy.ErrConflict)
		}
		if ev != nil {
			return insertEvent(ctx, tx, *ev)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update job %q: %w", j.ID, err)
	}
	return nil
}

// DueJobs returns unfinished jobs whose next check is due, soonest first.
func (db *DB) DueJobs(ctx context.Context, now time.Time, limit int) ([]aiproxy.Job, error) {
	return db.queryJobs(ctx, `SELECT `+jobColumns+` FROM jobs
		WHERE state IN ('pending', 'processing') AND next_check_at <= ?
		ORDER BY next_check_at, id LIMIT ?`, millis(now), limitOr(limit))
}

func (db *DB) queryJobs(ctx context.Context, query string, args ...any) ([]aiproxy.Job, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	defer rows.Close()
	var out []aiproxy.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("list jobs: %w", err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return out, nil
}

// JobEvents returns an org's events after a sequence number, oldest first.
func (db *DB) JobEvents(ctx context.Context, org string, after int64, limit int) ([]aiproxy.JobEvent, error) {
	return db.queryEvents(ctx, `SELECT `+eventColumns+` FROM job_events
		WHERE seq > ? AND (? = '' OR org_key = ?) ORDER BY seq LIMIT ?`, after, org, org, limitOr(limit))
}

// EventsOfJob returns one job's events, oldest first, through
// job_events_by_job.
func (db *DB) EventsOfJob(ctx context.Context, jobID string, limit int) ([]aiproxy.JobEvent, error) {
	return db.queryEvents(ctx, `SELECT `+eventColumns+` FROM job_events
		WHERE job_id = ? ORDER BY seq LIMIT ?`, jobID, limitOr(limit))
}

func (db *DB) queryEvents(ctx context.Context, query string, args ...any) ([]aiproxy.JobEvent, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	var out []aiproxy.JobEvent
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}

const eventColumns = `seq, id, org_key, job_id, type, data, created_at`

// JobEvent returns one event by id, or aiproxy.ErrNotFound.
func (db *DB) JobEvent(ctx context.Context, id string) (aiproxy.JobEvent, error) {
	ev, err := scanEvent(db.read.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM job_events WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return aiproxy.JobEvent{}, fmt.Errorf("event %q: %w", id, aiproxy.ErrNotFound)
	}
	if err != nil {
		return aiproxy.JobEvent{}, fmt.Errorf("event %q: %w", id, err)
	}
	return ev, nil
}

func scanEvent(s scanner) (aiproxy.JobEvent, error) {
	var (
		ev      aiproxy.JobEvent
		created sql.NullInt64
	)
	if err := s.Scan(&ev.Seq, &ev.ID, &ev.OrgKey, &ev.JobID, &ev.Type, &ev.Data, &created); err != nil {
		return aiproxy.JobEvent{}, err
	}
	ev.CreatedAt = fromMillis(created)
	return ev, nil
}

// scanJob reads the columns of jobColumns into a job.
func scanJob(s scanner) (aiproxy.Job, error) {
	var (
		j                                          aiproxy.Job
		source, state, urls                        string
		credOrg                                    sql.NullString
		created, updated, completed, checked, next sql.NullInt64
		deadline, expires                          sql.NullInt64
		details                                    string
	)
	err := s.Scan(&j.ID, &j.OrgKey, &j.Service, &j.Action, &j.StatusAction, &j.ProviderJobID, &source, &credOrg,
		&j.CredentialName, &state, &j.ProviderStatus, &urls, &j.Error, &j.StatusBody, &j.CallbackID,
		&j.IdempotencyKey, &j.Attempts, &j.Version, &created, &updated, &completed, &checked, &next,
		&deadline, &expires, &j.User, &j.KeyID, &j.CredentialKeyID, &details)
	if err != nil {
		return aiproxy.Job{}, err
	}
	if err := json.Unmarshal([]byte(urls), &j.ResultURLs); err != nil {
		return aiproxy.Job{}, fmt.Errorf("decode result_urls: %w", err)
	}
	var d detailsRow
	if err := json.Unmarshal([]byte(details), &d); err != nil {
		return aiproxy.Job{}, fmt.Errorf("decode details: %w", err)
	}
	j.Details = d.details()
	j.Source, j.State, j.CredentialOrg = aiproxy.Source(source), aiproxy.JobState(state), credOrg.String
	j.CreatedAt, j.UpdatedAt, j.CompletedAt = fromMillis(created), fromMillis(updated), fromMillis(completed)
	j.CheckedAt, j.NextCheckAt = fromMillis(checked), fromMillis(next)
	j.DeadlineAt, j.URLsExpireAt = fromMillis(deadline), fromMillis(expires)
	return j, nil
}

// detailsRow is a job's details as the details column keeps them.
type detailsRow struct {
	Title           string  `json:"title,omitempty"`
	Script          string  `json:"script,omitempty"`
	AvatarID        string  `json:"avatar_id,omitempty"`
	VoiceID         string  `json:"voice_id,omitempty"`
	DurationSeconds float64 `json:"duration_seconds,omitempty"`
	ThumbnailURL    string  `json:"thumbnail_url,omitempty"`
}

func toDetailsRow(d aiproxy.JobDetails) detailsRow {
	return detailsRow{Title: d.Title, Script: d.Script, AvatarID: d.AvatarID, VoiceID: d.VoiceID,
		DurationSeconds: d.DurationSeconds, ThumbnailURL: d.ThumbnailURL}
}

func (d detailsRow) details() aiproxy.JobDetails {
	return aiproxy.JobDetails{Title: d.Title, Script: d.Script, AvatarID: d.AvatarID, VoiceID: d.VoiceID,
		DurationSeconds: d.DurationSeconds, ThumbnailURL: d.ThumbnailURL}
}

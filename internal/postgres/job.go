package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

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

// CreateJob stores a new job with its creation event (queued for the org's
// webhook endpoints) and completes done in the same transaction.
func (db *DB) CreateJob(ctx context.Context, j aiproxy.Job, ev aiproxy.JobEvent, done *aiproxy.IdempotencyRecord) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO jobs (`+jobColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 1,
				$18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)`,
			j.ID, j.OrgKey, j.Service, j.Action, j.StatusAction, j.ProviderJobID, string(j.Source),
			orgKey(j.CredentialOrg), j.CredentialName, string(j.State), j.ProviderStatus, nonNilMap(j.ResultURLs),
			j.Error, j.StatusBody, j.CallbackID, j.IdempotencyKey, j.Attempts,
			timestamp(j.CreatedAt), timestamp(j.UpdatedAt), timestamp(j.CompletedAt), timestamp(j.CheckedAt),
			timestamp(j.NextCheckAt), timestamp(j.DeadlineAt), timestamp(j.URLsExpireAt), j.User, j.KeyID, j.CredentialKeyID,
			toDetailsRow(j.Details))
		if err != nil {
			return err
		}
		if err := db.insertEvent(ctx, tx, ev); err != nil {
			return err
		}
		if j.RunSlotID != "" {
			if _, err := tx.Exec(ctx, `DELETE FROM job_slots WHERE id = $1`, j.RunSlotID); err != nil {
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
//
// An identity column hands out seq values when rows are inserted, not when
// they commit, so two concurrent writers could commit seq 11 before seq 10
// and a reader of "events after 10" would never see 10. Writers therefore
// take a transaction advisory lock first: events commit in seq order.
func (db *DB) insertEvent(ctx context.Context, tx pgx.Tx, ev aiproxy.JobEvent) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, db.eventLock); err != nil {
		return fmt.Errorf("lock events: %w", err)
	}
	_, err := tx.Exec(ctx, `INSERT INTO job_events (id, org_key, job_id, type, data, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		ev.ID, ev.OrgKey, ev.JobID, ev.Type, nonNil(ev.Data), timestamp(ev.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	// The delivery id is derived from the event and endpoint ids, which
	// are unique together.
	_, err = tx.Exec(ctx, `INSERT INTO webhook_deliveries
		(id, org_key, event_id, event_type, endpoint_id, state, next_attempt_at, created_at, updated_at)
		SELECT 'dlv_' || substr($1::text, 5) || '_' || substr(e.id, 4), e.org_key, $1, $2, e.id, 'pending', $3, $3, $3
		FROM webhook_endpoints e
		WHERE e.org_key = $4 AND e.events @> jsonb_build_array($2::text)`,
		ev.ID, ev.Type, timestamp(ev.CreatedAt), ev.OrgKey)
	if err != nil {
		return fmt.Errorf("queue deliveries: %w", err)
	}
	return nil
}

// Job returns one job by id, or aiproxy.ErrNotFound.
func (db *DB) Job(ctx context.Context, id string) (aiproxy.Job, error) {
	j, err := scanJob(db.pool.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
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
	j, err := scanJob(db.pool.QueryRow(ctx,
		`SELECT `+jobColumns+` FROM jobs WHERE service = $1 AND provider_job_id = $2`, service, providerID))
	if errors.Is(err, pgx.ErrNoRows) {
		return aiproxy.Job{}, fmt.Errorf("job %s/%q: %w", service, providerID, aiproxy.ErrNotFound)
	}
	if err != nil {
		return aiproxy.Job{}, fmt.Errorf("job %s/%q: %w", service, providerID, err)
	}
	return j, nil
}

// Jobs lists an org's jobs, newest first, ties broken by id; with a user
// in the filter, only that user's, through the index jobs_by_org_user.
func (db *DB) Jobs(ctx context.Context, f aiproxy.JobFilter) ([]aiproxy.Job, error) {
	where, args := jobWhere(f)
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Before != nil {
		at := arg(timestamp(f.Before.CreatedAt))
		where = append(where, "(created_at < "+at+" OR (created_at = "+at+" AND id < "+arg(f.Before.ID)+"))")
	}
	return db.queryJobs(ctx, `SELECT `+jobColumns+` FROM jobs WHERE `+strings.Join(where, " AND ")+`
		ORDER BY created_at DESC, id DESC LIMIT `+arg(limitOr(f.Limit)), args...)
}

// jobWhere is the condition of a job listing's filter, less its page, and
// its arguments ($1 onwards).
func jobWhere(f aiproxy.JobFilter) ([]string, []any) {
	where := []string{"org_key = $1"}
	args := []any{f.OrgKey}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	for _, c := range [][2]string{{"user_id", f.User}, {"state", string(f.State)}, {"service", f.Service},
		{"action", f.Action}, {"(details ->> 'avatar_id')", f.AvatarID}} {
		if c[1] != "" {
			where = append(where, c[0]+" = "+arg(c[1]))
		}
	}
	if f.Query != "" {
		q := arg(f.Query)
		where = append(where, "(strpos(lower(details ->> 'title'), lower("+q+")) > 0 OR strpos(lower(details ->> 'script'), lower("+q+")) > 0)")
	}
	if !f.From.IsZero() {
		where = append(where, "created_at >= "+arg(timestamp(f.From)))
	}
	if !f.To.IsZero() {
		where = append(where, "created_at < "+arg(timestamp(f.To)))
	}
	return where, args
}

// JobTotals adds up the jobs of f in one pass over the org's index.
func (db *DB) JobTotals(ctx context.Context, f aiproxy.JobFilter) (aiproxy.JobTotals, error) {
	where, args := jobWhere(f)
	var t aiproxy.JobTotals
	err := db.pool.QueryRow(ctx, `SELECT count(*),
		count(*) FILTER (WHERE state = 'completed'), count(*) FILTER (WHERE state = 'failed'),
		coalesce(sum((details ->> 'duration_seconds')::double precision) FILTER (WHERE state = 'completed'), 0)
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
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE jobs SET state = $1, provider_status = $2, result_urls = $3,
			error = $4, status_body = $5, attempts = $6, version = version + 1, updated_at = $7,
			completed_at = $8, checked_at = $9, next_check_at = $10, deadline_at = $11, urls_expire_at = $12,
			details = $15, lease_owner = '', lease_expires_at = NULL
			WHERE id = $13 AND version = $14`,
			string(j.State), j.ProviderStatus, nonNilMap(j.ResultURLs), j.Error, j.StatusBody, j.Attempts,
			timestamp(j.UpdatedAt), timestamp(j.CompletedAt), timestamp(j.CheckedAt), timestamp(j.NextCheckAt),
			timestamp(j.DeadlineAt), timestamp(j.URLsExpireAt), j.ID, j.Version, toDetailsRow(j.Details))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return aiproxy.ErrConflict
		}
		if ev != nil {
			return db.insertEvent(ctx, tx, *ev)
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
		WHERE state IN ('pending', 'processing') AND next_check_at <= $1
		ORDER BY next_check_at, id LIMIT $2`, timestamp(now), limitOr(limit))
}

func (db *DB) queryJobs(ctx context.Context, query string, args ...any) ([]aiproxy.Job, error) {
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (aiproxy.Job, error) { return scanJob(r) })
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return out, nil
}

const eventColumns = `seq, id, org_key, job_id, type, data, created_at`

// JobEvents returns an org's events after a sequence number, oldest first.
func (db *DB) JobEvents(ctx context.Context, org string, after int64, limit int) ([]aiproxy.JobEvent, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+eventColumns+` FROM job_events
		WHERE seq > $1 AND ($2 = '' OR org_key = $2) ORDER BY seq LIMIT $3`, after, org, limitOr(limit))
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (aiproxy.JobEvent, error) { return scanEvent(r) })
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}

// EventsOfJob returns one job's events, oldest first, through
// job_events_by_job.
func (db *DB) EventsOfJob(ctx context.Context, jobID string, limit int) ([]aiproxy.JobEvent, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+eventColumns+` FROM job_events
		WHERE job_id = $1 ORDER BY seq LIMIT $2`, jobID, limitOr(limit))
	if err != nil {
		return nil, fmt.Errorf("list events of job %q: %w", jobID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (aiproxy.JobEvent, error) { return scanEvent(r) })
	if err != nil {
		return nil, fmt.Errorf("list events of job %q: %w", jobID, err)
	}
	return out, nil
}

// JobEvent returns one event by id, or aiproxy.ErrNotFound.
func (db *DB) JobEvent(ctx context.Context, id string) (aiproxy.JobEvent, error) {
	ev, err := scanEvent(db.pool.QueryRow(ctx, `SELECT `+eventColumns+` FROM job_events WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return aiproxy.JobEvent{}, fmt.Errorf("event %q: %w", id, aiproxy.ErrNotFound)
	}
	if err != nil {
		return aiproxy.JobEvent{}, fmt.Errorf("event %q: %w", id, err)
	}
	return ev, nil
}

func scanEvent(row pgx.Row) (aiproxy.JobEvent, error) {
	var (
		ev      aiproxy.JobEvent
		created pgtype.Timestamptz
	)
	if err := row.Scan(&ev.Seq, &ev.ID, &ev.OrgKey, &ev.JobID, &ev.Type, &ev.Data, &created); err != nil {
		return aiproxy.JobEvent{}, err
	}
	ev.CreatedAt = fromTimestamp(created)
	return ev, nil
}

// scanJob reads the columns of jobColumns into a job; pgx decodes the jsonb
// result URLs straight into the map.
func scanJob(row pgx.Row) (aiproxy.Job, error) {
	var (
		j                                          aiproxy.Job
		source, state                              string
		credOrg                                    pgtype.Text
		created, updated, completed, checked, next pgtype.Timestamptz
		deadline, expires                          pgtype.Timestamptz
		details                                    detailsRow
	)
	err := row.Scan(&j.ID, &j.OrgKey, &j.Service, &j.Action, &j.StatusAction, &j.ProviderJobID, &source, &credOrg,
		&j.CredentialName, &state, &j.ProviderStatus, &j.ResultURLs, &j.Error, &j.StatusBody, &j.CallbackID,
		&j.IdempotencyKey, &j.Attempts, &j.Version, &created, &updated, &completed, &checked, &next,
		&deadline, &expires, &j.User, &j.KeyID, &j.CredentialKeyID, &details)
	if err != nil {
		return aiproxy.Job{}, err
	}
	j.Details = details.details()
	j.Source, j.State, j.CredentialOrg = aiproxy.Source(source), aiproxy.JobState(state), credOrg.String
	j.CreatedAt, j.UpdatedAt, j.CompletedAt = fromTimestamp(created), fromTimestamp(updated), fromTimestamp(completed)
	j.CheckedAt, j.NextCheckAt = fromTimestamp(checked), fromTimestamp(next)
	j.DeadlineAt, j.URLsExpireAt = fromTimestamp(deadline), fromTimestamp(expires)
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

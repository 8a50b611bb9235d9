-- Data that grows with the business: usage rollups, named work leases,
-- and the indexes the pruner needs to find old rows without scanning.
-- Times are UTC unix milliseconds.

-- +goose Up

-- Usage summed per hour or day (bucket), org, service, action, key, end
-- user (user_id, '' until aiproxy knows end users) and unit. The latency
-- columns are a histogram: lat_le_N counts calls slower than the previous
-- bound and no slower than N ms (aiproxy.LatencyBounds). cost_micros stays
-- 0 until aiproxy knows prices. Rows are only ever added to, by the
-- builder that advances usage_rollup_state.
CREATE TABLE usage_rollups (
    bucket       TEXT NOT NULL CHECK (bucket IN ('hour', 'day')),
    start_at     INTEGER NOT NULL,
    org_key      TEXT NOT NULL,
    service      TEXT NOT NULL,
    action       TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    user_id      TEXT NOT NULL DEFAULT '',
    unit         TEXT NOT NULL,
    requests     INTEGER NOT NULL,
    errors       INTEGER NOT NULL,
    cache_hits   INTEGER NOT NULL,
    bytes_out    INTEGER NOT NULL,
    latency_ms   INTEGER NOT NULL,
    units        INTEGER NOT NULL,
    cost_micros  INTEGER NOT NULL DEFAULT 0,
    lat_le_10    INTEGER NOT NULL DEFAULT 0,
    lat_le_25    INTEGER NOT NULL DEFAULT 0,
    lat_le_50    INTEGER NOT NULL DEFAULT 0,
    lat_le_100   INTEGER NOT NULL DEFAULT 0,
    lat_le_250   INTEGER NOT NULL DEFAULT 0,
    lat_le_500   INTEGER NOT NULL DEFAULT 0,
    lat_le_1000  INTEGER NOT NULL DEFAULT 0,
    lat_le_2500  INTEGER NOT NULL DEFAULT 0,
    lat_le_5000  INTEGER NOT NULL DEFAULT 0,
    lat_le_10000 INTEGER NOT NULL DEFAULT 0,
    lat_le_30000 INTEGER NOT NULL DEFAULT 0,
    lat_inf      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, start_at, org_key, service, action, key_id, user_id, unit)
) STRICT, WITHOUT ROWID;

CREATE INDEX usage_rollups_by_org ON usage_rollups (bucket, org_key, start_at);

-- The watermark: every usage_events row with an id up to last_id is in the
-- rollups, and no other. SQLite has one writer, so ids commit in order;
-- the pruner never deletes the row with the highest id, so ids never
-- restart below the watermark.
CREATE TABLE usage_rollup_state (
    name    TEXT PRIMARY KEY NOT NULL,
    last_id INTEGER NOT NULL
) STRICT;
INSERT INTO usage_rollup_state (name, last_id) VALUES ('usage', 0);

-- Named leases on background work (the rollup builder, the pruner), so
-- that one replica at a time does it.
CREATE TABLE work_leases (
    name       TEXT PRIMARY KEY NOT NULL,
    owner      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

-- The audit log stays append-only, except that rows older than the cutoff
-- an operator's retention set here may be deleted by the pruner.
CREATE TABLE audit_retention (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    before_at INTEGER NOT NULL
) STRICT;
DROP TRIGGER audit_events_no_delete;
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN old.at >= coalesce((SELECT before_at FROM audit_retention WHERE id = 1), -9223372036854775808)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
-- +goose StatementEnd

-- What the pruner looks rows up by.
CREATE INDEX job_events_by_job ON job_events (job_id);
CREATE INDEX job_events_by_created ON job_events (created_at);
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (updated_at) WHERE state <> 'pending';
CREATE INDEX jobs_finished ON jobs (completed_at) WHERE state IN ('completed', 'failed');
CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);
CREATE INDEX idempotency_keys_by_job ON idempotency_keys (job_id) WHERE job_id <> '';
CREATE INDEX provider_webhooks_by_received ON provider_webhooks (received_at);

-- +goose Down
DROP INDEX provider_webhooks_by_received;
DROP INDEX idempotency_keys_by_job;
DROP INDEX idempotency_keys_by_expiry;
DROP INDEX jobs_finished;
DROP INDEX webhook_deliveries_finished;
DROP INDEX job_events_by_created;
DROP INDEX job_events_by_job;
DROP TRIGGER audit_events_no_delete;
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
-- +goose StatementEnd
DROP TABLE audit_retention;
DROP TABLE work_leases;
DROP TABLE usage_rollup_state;
DROP TABLE usage_rollups;

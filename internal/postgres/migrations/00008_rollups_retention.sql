-- Data that grows with the business: usage rollups, named work leases,
-- and the indexes the pruner needs to find old rows without scanning.
-- Times are timestamptz at millisecond precision, as in 00001_init.sql.

-- +goose Up

-- Usage summed per hour or day (bucket), org, service, action, key, end
-- user (user_id, '' until aiproxy knows end users) and unit. The latency
-- columns are a histogram: lat_le_N counts calls slower than the previous
-- bound and no slower than N ms (aiproxy.LatencyBounds). cost_micros stays
-- 0 until aiproxy knows prices. Rows are only ever added to, by the
-- builder that advances usage_rollup_state.
CREATE TABLE usage_rollups (
    bucket       text COLLATE "C" NOT NULL CHECK (bucket IN ('hour', 'day')),
    start_at     timestamptz NOT NULL,
    org_key      text COLLATE "C" NOT NULL,
    service      text COLLATE "C" NOT NULL,
    action       text COLLATE "C" NOT NULL,
    key_id       text COLLATE "C" NOT NULL,
    user_id      text COLLATE "C" NOT NULL DEFAULT '',
    unit         text COLLATE "C" NOT NULL,
    requests     bigint NOT NULL,
    errors       bigint NOT NULL,
    cache_hits   bigint NOT NULL,
    bytes_out    bigint NOT NULL,
    latency_ms   bigint NOT NULL,
    units        bigint NOT NULL,
    cost_micros  bigint NOT NULL DEFAULT 0,
    lat_le_10    bigint NOT NULL DEFAULT 0,
    lat_le_25    bigint NOT NULL DEFAULT 0,
    lat_le_50    bigint NOT NULL DEFAULT 0,
    lat_le_100   bigint NOT NULL DEFAULT 0,
    lat_le_250   bigint NOT NULL DEFAULT 0,
    lat_le_500   bigint NOT NULL DEFAULT 0,
    lat_le_1000  bigint NOT NULL DEFAULT 0,
    lat_le_2500  bigint NOT NULL DEFAULT 0,
    lat_le_5000  bigint NOT NULL DEFAULT 0,
    lat_le_10000 bigint NOT NULL DEFAULT 0,
    lat_le_30000 bigint NOT NULL DEFAULT 0,
    lat_inf      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, start_at, org_key, service, action, key_id, user_id, unit)
);

CREATE INDEX usage_rollups_by_org ON usage_rollups (bucket, org_key, start_at);

-- The watermark: every usage_events row with an id up to last_id is in the
-- rollups, and no other. Usage writers take a transaction advisory lock
-- (internal/postgres/usage.go), so ids commit in order.
CREATE TABLE usage_rollup_state (
    name    text COLLATE "C" PRIMARY KEY,
    last_id bigint NOT NULL
);
INSERT INTO usage_rollup_state (name, last_id) VALUES ('usage', 0);

-- Named leases on background work (the rollup builder, the pruner), so
-- that one replica at a time does it.
CREATE TABLE work_leases (
    name       text COLLATE "C" PRIMARY KEY,
    owner      text COLLATE "C" NOT NULL,
    expires_at timestamptz NOT NULL
);

-- The audit log stays append-only, except that rows older than the cutoff
-- an operator's retention set here may be deleted by the pruner.
CREATE TABLE audit_retention (
    id        integer PRIMARY KEY CHECK (id = 1),
    before_at timestamptz NOT NULL
);

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.at < (SELECT before_at FROM audit_retention WHERE id = 1) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only';
END
$$;
-- +goose StatementEnd

-- What the pruner looks rows up by (and the foreign keys check on delete).
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
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END
$$;
-- +goose StatementEnd
DROP TABLE audit_retention;
DROP TABLE work_leases;
DROP TABLE usage_rollup_state;
DROP TABLE usage_rollups;

-- Guardrails: test-only keys, quotas with their counters, per-org access
-- rules and the append-only usage log. Times are timestamptz at millisecond
-- precision, as in 00001_init.sql; text keys sort in the "C" collation.

-- +goose Up
ALTER TABLE api_keys ADD COLUMN test_only boolean NOT NULL DEFAULT false;

-- A quota caps one metric of one org per period; service '' means all
-- services together.
CREATE TABLE quotas (
    org_key    text COLLATE "C" NOT NULL REFERENCES orgs (key) ON DELETE CASCADE,
    service    text COLLATE "C" NOT NULL,
    metric     text COLLATE "C" NOT NULL CHECK (metric IN ('requests', 'characters', 'renders')),
    period     text COLLATE "C" NOT NULL CHECK (period IN ('day', 'month')),
    max_units  bigint NOT NULL CHECK (max_units >= 0),
    updated_at timestamptz,
    PRIMARY KEY (org_key, service, metric, period)
);

-- One counter per quota and window; window_start is the UTC start of the
-- day or month. Counters of removed quotas are harmless and kept. A
-- reservation raises a counter with one conditional upsert, whose row lock
-- serialises racing replicas.
CREATE TABLE quota_counters (
    org_key      text COLLATE "C" NOT NULL,
    service      text COLLATE "C" NOT NULL,
    metric       text COLLATE "C" NOT NULL,
    period       text COLLATE "C" NOT NULL,
    window_start timestamptz NOT NULL,
    used         bigint NOT NULL CHECK (used >= 0),
    PRIMARY KEY (org_key, service, metric, period, window_start)
);

-- A row turns a service (endpoint '') or one endpoint off for an org.
CREATE TABLE access_rules (
    org_key  text COLLATE "C" NOT NULL REFERENCES orgs (key) ON DELETE CASCADE,
    service  text COLLATE "C" NOT NULL,
    endpoint text COLLATE "C" NOT NULL,
    PRIMARY KEY (org_key, service, endpoint)
);

-- Append-only: rows are inserted, never updated. No bodies, no secrets.
CREATE TABLE usage_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL,
    org_key         text COLLATE "C" NOT NULL,
    key_id          text NOT NULL,
    service         text COLLATE "C" NOT NULL,
    action          text NOT NULL,
    status          integer NOT NULL,
    error_code      text NOT NULL,
    upstream_status integer NOT NULL,
    latency_ms      bigint NOT NULL,
    bytes_out       bigint NOT NULL,
    unit            text COLLATE "C" NOT NULL,
    units           bigint NOT NULL,
    cache           text NOT NULL,
    source          text NOT NULL
);

CREATE INDEX usage_events_by_org ON usage_events (org_key, at);
CREATE INDEX usage_events_by_at ON usage_events (at);

-- +goose Down
DROP TABLE usage_events;
DROP TABLE access_rules;
DROP TABLE quota_counters;
DROP TABLE quotas;
ALTER TABLE api_keys DROP COLUMN test_only;

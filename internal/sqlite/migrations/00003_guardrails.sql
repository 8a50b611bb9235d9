-- Guardrails: test-only keys, quotas with their counters, per-org access
-- rules and the append-only usage log. Times are UTC unix milliseconds.

-- +goose Up
ALTER TABLE api_keys ADD COLUMN test_only INTEGER NOT NULL DEFAULT 0 CHECK (test_only IN (0, 1));

-- A quota caps one metric of one org per period; service '' means all
-- services together.
CREATE TABLE quotas (
    org_key    TEXT NOT NULL REFERENCES orgs (key) ON DELETE CASCADE,
    service    TEXT NOT NULL,
    metric     TEXT NOT NULL CHECK (metric IN ('requests', 'characters', 'renders')),
    period     TEXT NOT NULL CHECK (period IN ('day', 'month')),
    max_units  INTEGER NOT NULL CHECK (max_units >= 0),
    updated_at INTEGER,
    PRIMARY KEY (org_key, service, metric, period)
) STRICT;

-- One counter per quota and window; window_start is the UTC start of the
-- day or month. Counters of removed quotas are harmless and kept.
CREATE TABLE quota_counters (
    org_key      TEXT NOT NULL,
    service      TEXT NOT NULL,
    metric       TEXT NOT NULL,
    period       TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    used         INTEGER NOT NULL CHECK (used >= 0),
    PRIMARY KEY (org_key, service, metric, period, window_start)
) STRICT;

-- A row turns a service (endpoint '') or one endpoint off for an org.
CREATE TABLE access_rules (
    org_key  TEXT NOT NULL REFERENCES orgs (key) ON DELETE CASCADE,
    service  TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    PRIMARY KEY (org_key, service, endpoint)
) STRICT;

-- Append-only: rows are inserted, never updated. No bodies, no secrets.
CREATE TABLE usage_events (
    id              INTEGER PRIMARY KEY,
    at              INTEGER NOT NULL,
    org_key         TEXT NOT NULL,
    key_id          TEXT NOT NULL,
    service         TEXT NOT NULL,
    action          TEXT NOT NULL,
    status          INTEGER NOT NULL,
    error_code      TEXT NOT NULL,
    upstream_status INTEGER NOT NULL,
    latency_ms      INTEGER NOT NULL,
    bytes_out       INTEGER NOT NULL,
    unit            TEXT NOT NULL,
    units           INTEGER NOT NULL,
    cache           TEXT NOT NULL,
    source          TEXT NOT NULL
) STRICT;

CREATE INDEX usage_events_by_org ON usage_events (org_key, at);
CREATE INDEX usage_events_by_at ON usage_events (at);

-- +goose Down
DROP TABLE usage_events;
DROP TABLE access_rules;
DROP TABLE quota_counters;
DROP TABLE quotas;
ALTER TABLE api_keys DROP COLUMN test_only;

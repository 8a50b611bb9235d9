-- Async jobs: job records, their events, the webhook outbox and its log,
-- idempotency records and the provider webhooks already seen. Times are UTC
-- unix milliseconds; NULL is the zero time.

-- +goose Up
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY NOT NULL,
    org_key          TEXT NOT NULL REFERENCES orgs (key),
    service          TEXT NOT NULL,
    action           TEXT NOT NULL,
    status_action    TEXT NOT NULL,
    provider_job_id  TEXT NOT NULL CHECK (provider_job_id <> ''),
    -- The credential that started the job; every status call reuses it.
    source           TEXT NOT NULL CHECK (source IN ('tenant', 'platform')),
    credential_org   TEXT,
    credential_name  TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'processing', 'completed', 'failed')),
    provider_status  TEXT NOT NULL DEFAULT '',
    result_urls      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(result_urls)),
    error            TEXT NOT NULL DEFAULT '',
    -- The provider's last status response body, verbatim.
    status_body      BLOB,
    callback_id      TEXT NOT NULL DEFAULT '',
    idempotency_key  TEXT NOT NULL DEFAULT '',
    attempts         INTEGER NOT NULL DEFAULT 0,
    version          INTEGER NOT NULL DEFAULT 1,
    created_at       INTEGER,
    updated_at       INTEGER,
    completed_at     INTEGER,
    checked_at       INTEGER,
    next_check_at    INTEGER,
    deadline_at      INTEGER,
    urls_expire_at   INTEGER,
    CHECK ((source = 'platform') = (credential_org IS NULL))
) STRICT;

-- A provider id names one job: the ownership check looks jobs up by it.
CREATE UNIQUE INDEX jobs_by_provider_id ON jobs (service, provider_job_id);
CREATE INDEX jobs_by_org ON jobs (org_key, created_at, id);
CREATE INDEX jobs_due ON jobs (next_check_at) WHERE state IN ('pending', 'processing');

-- Every change of a job, in order; seq orders the server-sent event stream.
CREATE TABLE job_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    org_key    TEXT NOT NULL,
    job_id     TEXT NOT NULL REFERENCES jobs (id),
    type       TEXT NOT NULL,
    data       BLOB NOT NULL,
    created_at INTEGER
) STRICT;

CREATE INDEX job_events_by_org ON job_events (org_key, seq);

CREATE TABLE webhook_endpoints (
    id         TEXT PRIMARY KEY NOT NULL,
    org_key    TEXT NOT NULL REFERENCES orgs (key),
    url        TEXT NOT NULL,
    -- The signing secret sealed by the vault; never the plaintext.
    sealed     BLOB NOT NULL,
    events     TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(events)),
    created_at INTEGER
) STRICT;

CREATE INDEX webhook_endpoints_by_org ON webhook_endpoints (org_key, created_at, id);

-- The outbox: one row per event and endpoint, which is also the delivery log.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY NOT NULL,
    org_key         TEXT NOT NULL,
    event_id        TEXT NOT NULL REFERENCES job_events (id),
    event_type      TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    next_attempt_at INTEGER,
    created_at      INTEGER,
    updated_at      INTEGER,
    delivered_at    INTEGER,
    UNIQUE (event_id, endpoint_id)
) STRICT;

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_org ON webhook_deliveries (org_key, created_at, id);

CREATE TABLE idempotency_keys (
    org_key      TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('started', 'done')),
    status       INTEGER NOT NULL DEFAULT 0,
    content_type TEXT NOT NULL DEFAULT '',
    body         BLOB,
    job_id       TEXT NOT NULL DEFAULT '',
    created_at   INTEGER,
    locked_until INTEGER,
    expires_at   INTEGER,
    PRIMARY KEY (org_key, key)
) STRICT;

CREATE TABLE provider_webhooks (
    service     TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    received_at INTEGER,
    PRIMARY KEY (service, event_id)
) STRICT;

-- +goose Down
DROP TABLE provider_webhooks;
DROP TABLE idempotency_keys;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE job_events;
DROP TABLE jobs;

-- Async jobs: job records, their events, the webhook outbox and its log,
-- idempotency records and the provider webhooks already seen. Times are
-- timestamptz at millisecond precision, NULL for the zero time, as in
-- 00001_init.sql; ids and keys sort in the "C" collation.

-- +goose Up
CREATE TABLE jobs (
    id               text COLLATE "C" PRIMARY KEY,
    org_key          text COLLATE "C" NOT NULL REFERENCES orgs (key),
    service          text COLLATE "C" NOT NULL,
    action           text COLLATE "C" NOT NULL,
    status_action    text NOT NULL,
    provider_job_id  text COLLATE "C" NOT NULL CHECK (provider_job_id <> ''),
    -- The credential that started the job; every status call reuses it.
    source           text NOT NULL CHECK (source IN ('tenant', 'platform')),
    credential_org   text COLLATE "C",
    credential_name  text NOT NULL,
    state            text NOT NULL CHECK (state IN ('pending', 'processing', 'completed', 'failed')),
    provider_status  text NOT NULL DEFAULT '',
    result_urls      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(result_urls) = 'object'),
    error            text NOT NULL DEFAULT '',
    -- The provider's last status response body, verbatim.
    status_body      bytea,
    callback_id      text NOT NULL DEFAULT '',
    idempotency_key  text NOT NULL DEFAULT '',
    attempts         integer NOT NULL DEFAULT 0,
    version          bigint NOT NULL DEFAULT 1,
    created_at       timestamptz,
    updated_at       timestamptz,
    completed_at     timestamptz,
    checked_at       timestamptz,
    next_check_at    timestamptz,
    deadline_at      timestamptz,
    urls_expire_at   timestamptz,
    CHECK ((source = 'platform') = (credential_org IS NULL))
);

-- A provider id names one job: the ownership check looks jobs up by it.
CREATE UNIQUE INDEX jobs_by_provider_id ON jobs (service, provider_job_id);
CREATE INDEX jobs_by_org ON jobs (org_key, created_at, id);
CREATE INDEX jobs_due ON jobs (next_check_at) WHERE state IN ('pending', 'processing');

-- Every change of a job, in order; seq orders the server-sent event stream.
-- Writers serialise on a transaction advisory lock (see insertEvent), so
-- that seq values become visible in increasing order.
CREATE TABLE job_events (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         text COLLATE "C" NOT NULL UNIQUE,
    org_key    text COLLATE "C" NOT NULL,
    job_id     text COLLATE "C" NOT NULL REFERENCES jobs (id),
    type       text NOT NULL,
    data       bytea NOT NULL,
    created_at timestamptz
);

CREATE INDEX job_events_by_org ON job_events (org_key, seq);

CREATE TABLE webhook_endpoints (
    id         text COLLATE "C" PRIMARY KEY,
    org_key    text COLLATE "C" NOT NULL REFERENCES orgs (key),
    url        text NOT NULL,
    -- The signing secret sealed by the vault; never the plaintext.
    sealed     bytea NOT NULL,
    events     jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(events) = 'array'),
    created_at timestamptz
);

CREATE INDEX webhook_endpoints_by_org ON webhook_endpoints (org_key, created_at, id);

-- The outbox: one row per event and endpoint, which is also the delivery log.
CREATE TABLE webhook_deliveries (
    id              text COLLATE "C" PRIMARY KEY,
    org_key         text COLLATE "C" NOT NULL,
    event_id        text COLLATE "C" NOT NULL REFERENCES job_events (id),
    event_type      text NOT NULL,
    endpoint_id     text COLLATE "C" NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    state           text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_status     integer NOT NULL DEFAULT 0,
    last_error      text NOT NULL DEFAULT '',
    next_attempt_at timestamptz,
    created_at      timestamptz,
    updated_at      timestamptz,
    delivered_at    timestamptz,
    UNIQUE (event_id, endpoint_id)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_org ON webhook_deliveries (org_key, created_at, id);

CREATE TABLE idempotency_keys (
    org_key      text COLLATE "C" NOT NULL,
    key          text COLLATE "C" NOT NULL,
    fingerprint  text NOT NULL,
    state        text NOT NULL CHECK (state IN ('started', 'done')),
    status       integer NOT NULL DEFAULT 0,
    content_type text NOT NULL DEFAULT '',
    body         bytea,
    job_id       text NOT NULL DEFAULT '',
    created_at   timestamptz,
    locked_until timestamptz,
    expires_at   timestamptz,
    PRIMARY KEY (org_key, key)
);

CREATE TABLE provider_webhooks (
    service     text COLLATE "C" NOT NULL,
    event_id    text COLLATE "C" NOT NULL,
    received_at timestamptz,
    PRIMARY KEY (service, event_id)
);

-- +goose Down
DROP TABLE provider_webhooks;
DROP TABLE idempotency_keys;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE job_events;
DROP TABLE jobs;

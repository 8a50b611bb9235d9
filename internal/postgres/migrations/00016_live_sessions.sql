-- Live avatar sessions aiproxy minted (internal/livesession): who owns
-- each, its state, its times and, once over, the provider's duration and
-- credits. The session token is kept only as its SHA-256. A row is first
-- a claim (state 'claimed', with expires_at) that holds room under the
-- caps while the token is minted; claims serialize on a transaction-scoped
-- advisory lock. held_until is the reaper's hold, so that of several
-- replicas one stops each session.

-- +goose Up
CREATE TABLE live_sessions (
    id               text COLLATE "C" PRIMARY KEY,
    service          text COLLATE "C" NOT NULL,
    org_key          text COLLATE "C" NOT NULL REFERENCES orgs (key) ON DELETE CASCADE,
    user_id          text COLLATE "C" NOT NULL DEFAULT '',
    key_id           text COLLATE "C" NOT NULL DEFAULT '',
    source           text NOT NULL CHECK (source IN ('tenant', 'platform')),
    mode             text NOT NULL DEFAULT '',
    sandbox          boolean NOT NULL DEFAULT false,
    max_duration_s   bigint NOT NULL DEFAULT 0,
    reserved_minutes bigint NOT NULL DEFAULT 0,
    token_hash       bytea,
    state            text NOT NULL CHECK (state IN ('claimed', 'created', 'started', 'stopped')),
    created_at       timestamptz NOT NULL,
    started_at       timestamptz,
    last_alive_at    timestamptz,
    stopped_at       timestamptz,
    end_reason       text NOT NULL DEFAULT '',
    stopped_by       text NOT NULL DEFAULT '',
    duration_s       bigint NOT NULL DEFAULT 0,
    credits          double precision NOT NULL DEFAULT 0,
    reconciled_at    timestamptz,
    expires_at       timestamptz,
    held_until       timestamptz
);
CREATE UNIQUE INDEX live_sessions_by_token ON live_sessions (token_hash) WHERE token_hash IS NOT NULL;
CREATE INDEX live_sessions_by_org ON live_sessions (org_key, created_at);
CREATE INDEX live_sessions_live ON live_sessions (service, source, org_key) WHERE state IN ('claimed', 'created', 'started');
CREATE INDEX live_sessions_unreconciled ON live_sessions (stopped_at) WHERE state = 'stopped' AND reconciled_at IS NULL;

-- +goose Down
DROP TABLE live_sessions;

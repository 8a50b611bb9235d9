-- Live avatar sessions aiproxy minted (internal/livesession): who owns
-- each, its state, its times (UTC unix milliseconds) and, once over, the
-- provider's duration and credits. The session token is kept only as its
-- SHA-256. A row is first a claim (state 'claimed', with expires_at) that
-- holds room under the caps while the token is minted; held_until is the
-- reaper's hold, so that of several replicas one stops each session.

-- +goose Up
CREATE TABLE live_sessions (
    id               TEXT PRIMARY KEY NOT NULL,
    service          TEXT NOT NULL,
    org_key          TEXT NOT NULL REFERENCES orgs (key) ON DELETE CASCADE,
    user_id          TEXT NOT NULL DEFAULT '',
    key_id           TEXT NOT NULL DEFAULT '',
    source           TEXT NOT NULL CHECK (source IN ('tenant', 'platform')),
    mode             TEXT NOT NULL DEFAULT '',
    sandbox          INTEGER NOT NULL DEFAULT 0,
    max_duration_s   INTEGER NOT NULL DEFAULT 0,
    reserved_minutes INTEGER NOT NULL DEFAULT 0,
    token_hash       BLOB,
    state            TEXT NOT NULL CHECK (state IN ('claimed', 'created', 'started', 'stopped')),
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    last_alive_at    INTEGER,
    stopped_at       INTEGER,
    end_reason       TEXT NOT NULL DEFAULT '',
    stopped_by       TEXT NOT NULL DEFAULT '',
    duration_s       INTEGER NOT NULL DEFAULT 0,
    credits          REAL NOT NULL DEFAULT 0,
    reconciled_at    INTEGER,
    expires_at       INTEGER,
    held_until       INTEGER
) STRICT;
CREATE UNIQUE INDEX live_sessions_by_token ON live_sessions (token_hash) WHERE token_hash IS NOT NULL;
CREATE INDEX live_sessions_by_org ON live_sessions (org_key, created_at);
CREATE INDEX live_sessions_live ON live_sessions (service, source, org_key) WHERE state IN ('claimed', 'created', 'started');
CREATE INDEX live_sessions_unreconciled ON live_sessions (stopped_at) WHERE state = 'stopped' AND reconciled_at IS NULL;

-- +goose Down
DROP TABLE live_sessions;

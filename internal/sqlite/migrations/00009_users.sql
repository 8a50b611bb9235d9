-- End users: the tokens an org's backend mints for one of its users, and
-- the user (and, on jobs, the aiproxy key) behind each object, job and
-- usage record, '' where there was none. Times are UTC unix milliseconds.

-- +goose Up

-- Only the hash of a token's secret is stored. services and actions are
-- JSON arrays, like api_keys.services; '[]' means everything the minting
-- key may. A token always has an expiry, so that DeleteExpiredUserTokens
-- finds every token in the end.
CREATE TABLE user_tokens (
    id               TEXT PRIMARY KEY NOT NULL,
    org_key          TEXT NOT NULL REFERENCES orgs (key),
    user_id          TEXT NOT NULL CHECK (user_id <> ''),
    key_id           TEXT NOT NULL REFERENCES api_keys (id),
    secret_hash      BLOB NOT NULL,
    services         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(services)),
    actions          TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(actions)),
    max_spend_micros INTEGER NOT NULL DEFAULT 0,
    single_use       INTEGER NOT NULL DEFAULT 0 CHECK (single_use IN (0, 1)),
    test_only        INTEGER NOT NULL DEFAULT 0 CHECK (test_only IN (0, 1)),
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    revoked_at       INTEGER,
    used_at          INTEGER
) STRICT;

CREATE INDEX user_tokens_by_user ON user_tokens (org_key, user_id, created_at, id);
CREATE INDEX user_tokens_by_expiry ON user_tokens (expires_at);

ALTER TABLE provider_objects ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE usage_events ADD COLUMN user_id TEXT NOT NULL DEFAULT '';

-- An org's jobs of one user, newest first, read backwards.
CREATE INDEX jobs_by_org_user ON jobs (org_key, user_id, created_at, id);

-- +goose Down
DROP INDEX jobs_by_org_user;
ALTER TABLE usage_events DROP COLUMN user_id;
ALTER TABLE jobs DROP COLUMN key_id;
ALTER TABLE jobs DROP COLUMN user_id;
ALTER TABLE provider_objects DROP COLUMN user_id;
DROP TABLE user_tokens;

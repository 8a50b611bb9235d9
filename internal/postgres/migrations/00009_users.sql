-- End users: the tokens an org's backend mints for one of its users, and
-- the user (and, on jobs, the aiproxy key) behind each object, job and
-- usage record, '' where there was none. Times are timestamptz at
-- millisecond precision, as in 00001_init.sql; ids and keys sort in the
-- "C" collation.

-- +goose Up

-- Only the hash of a token's secret is stored. services and actions are
-- JSON arrays, like api_keys.services; '[]' means everything the minting
-- key may. A token always has an expiry, so that DeleteExpiredUserTokens
-- finds every token in the end. Spending a single-use token is one
-- conditional UPDATE, whose row lock makes a racing spender wait and then
-- find it used.
CREATE TABLE user_tokens (
    id               text COLLATE "C" PRIMARY KEY,
    org_key          text COLLATE "C" NOT NULL REFERENCES orgs (key),
    user_id          text COLLATE "C" NOT NULL CHECK (user_id <> ''),
    key_id           text COLLATE "C" NOT NULL REFERENCES api_keys (id),
    secret_hash      bytea NOT NULL,
    services         jsonb NOT NULL DEFAULT '[]',
    actions          jsonb NOT NULL DEFAULT '[]',
    max_spend_micros bigint NOT NULL DEFAULT 0,
    single_use       boolean NOT NULL DEFAULT false,
    test_only        boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    revoked_at       timestamptz,
    used_at          timestamptz
);

CREATE INDEX user_tokens_by_user ON user_tokens (org_key, user_id, created_at, id);
CREATE INDEX user_tokens_by_expiry ON user_tokens (expires_at);

ALTER TABLE provider_objects ADD COLUMN user_id text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN user_id text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN key_id text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE usage_events ADD COLUMN user_id text COLLATE "C" NOT NULL DEFAULT '';

-- An org's jobs of one user, newest first, read backwards.
CREATE INDEX jobs_by_org_user ON jobs (org_key, user_id, created_at, id);

-- +goose Down
DROP INDEX jobs_by_org_user;
ALTER TABLE usage_events DROP COLUMN user_id;
ALTER TABLE jobs DROP COLUMN key_id;
ALTER TABLE jobs DROP COLUMN user_id;
ALTER TABLE provider_objects DROP COLUMN user_id;
DROP TABLE user_tokens;

-- Times are timestamptz, written at millisecond precision so that both
-- engines return the same instants; NULL is the zero time.
-- Every identifier and name column uses the "C" collation, so that ORDER BY
-- sorts by bytes exactly as SQLite does, whatever the database's locale.
-- A platform row (an API key or credential that belongs to no org) has a NULL
-- org_key, so the foreign key to orgs does not apply to it; the store maps
-- the domain's empty org key to NULL and back, and looks rows up by
-- coalesce(org_key, '') so that one indexed predicate serves both kinds.

-- +goose Up
CREATE TABLE orgs (
    key        text COLLATE "C" PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz
);

CREATE TABLE api_keys (
    id           text COLLATE "C" PRIMARY KEY,
    org_key      text COLLATE "C" REFERENCES orgs (key) CHECK (org_key <> ''),
    name         text NOT NULL,
    role         text NOT NULL,
    -- Only the hash of the key's secret is stored, never the secret.
    secret_hash  bytea NOT NULL,
    created_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

CREATE INDEX api_keys_by_org ON api_keys ((coalesce(org_key, '')), created_at, id);

CREATE TABLE credentials (
    source     text NOT NULL CHECK (source IN ('tenant', 'platform')),
    org_key    text COLLATE "C" REFERENCES orgs (key) CHECK (org_key <> ''),
    name       text COLLATE "C" NOT NULL,
    -- The vault-sealed value; the plaintext is never stored.
    sealed     bytea NOT NULL,
    -- A JSON object of masked previews, e.g. {"key": "****abcd"}.
    masked     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(masked) = 'object'),
    created_at timestamptz,
    updated_at timestamptz,
    -- A tenant credential belongs to an org; a platform one to none.
    CHECK ((source = 'platform') = (org_key IS NULL))
);

-- One credential per source, org and name. coalesce makes platform rows,
-- whose org_key is NULL, collide with each other as they must (UNIQUE NULLS
-- NOT DISTINCT would too, but needs PostgreSQL 15).
CREATE UNIQUE INDEX credentials_identity ON credentials (source, (coalesce(org_key, '')), name);

-- +goose Down
DROP TABLE credentials;
DROP TABLE api_keys;
DROP TABLE orgs;

-- Times are UTC unix milliseconds in INTEGER columns; NULL is the zero time.
-- A platform row (an API key or credential that belongs to no org) has a NULL
-- org_key, so the foreign key to orgs does not apply to it; the store maps
-- the domain's empty org key to NULL and back.

-- +goose Up
CREATE TABLE orgs (
    key        TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    created_at INTEGER
) STRICT;

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    org_key      TEXT REFERENCES orgs (key) CHECK (org_key <> ''),
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    -- Only the hash of the key's secret is stored, never the secret.
    secret_hash  BLOB NOT NULL,
    created_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
) STRICT;

CREATE INDEX api_keys_by_org ON api_keys (org_key, created_at, id);

CREATE TABLE credentials (
    source     TEXT NOT NULL CHECK (source IN ('tenant', 'platform')),
    org_key    TEXT REFERENCES orgs (key),
    name       TEXT NOT NULL,
    -- The vault-sealed value; the plaintext is never stored.
    sealed     BLOB NOT NULL,
    -- A JSON object of masked previews, e.g. {"key": "****abcd"}.
    masked     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(masked)),
    created_at INTEGER,
    updated_at INTEGER,
    -- A tenant credential belongs to an org; a platform one to none.
    CHECK ((source = 'platform') = (org_key IS NULL))
) STRICT;

-- One credential per source, org and name. ifnull makes platform rows, whose
-- org_key is NULL, collide with each other as they must.
CREATE UNIQUE INDEX credentials_identity ON credentials (source, ifnull(org_key, ''), name);

-- +goose Down
DROP TABLE credentials;
DROP TABLE api_keys;
DROP TABLE orgs;

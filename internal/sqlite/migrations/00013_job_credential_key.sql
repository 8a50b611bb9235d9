-- A job remembers which key of its credential's pool started it, so that
-- every later status read goes to the same provider account; '' for a
-- credential that holds one key (and for every job started before key
-- pools), whose reads follow the credential as before.

-- +goose Up
ALTER TABLE jobs ADD COLUMN credential_key_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE jobs DROP COLUMN credential_key_id;

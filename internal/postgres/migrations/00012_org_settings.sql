-- Settings an org's admins choose within the deployment's bounds: the
-- default and the longest life of the user tokens its keys mint, in
-- seconds; 0 means the deployment's own.

-- +goose Up
ALTER TABLE orgs ADD COLUMN user_token_ttl_seconds INTEGER NOT NULL DEFAULT 0 CHECK (user_token_ttl_seconds >= 0);
ALTER TABLE orgs ADD COLUMN user_token_max_ttl_seconds INTEGER NOT NULL DEFAULT 0 CHECK (user_token_max_ttl_seconds >= 0);

-- +goose Down
ALTER TABLE orgs DROP COLUMN user_token_max_ttl_seconds;
ALTER TABLE orgs DROP COLUMN user_token_ttl_seconds;

-- The studio: what a job is about (its details, read from the start request
-- and the final status), found again by avatar; and the request log, which
-- reads the raw usage records of an org newest first with the X-Request-Id
-- and the client-safe error message of each call.
--
-- A job list by avatar reads jobs_by_org_avatar; by title or script it
-- scans the org's rows (jobs_by_org). The request log pages through
-- usage_events_by_org (org_key, at), whose rowid is the id that breaks
-- ties, so no other index is needed here.

-- +goose Up
ALTER TABLE jobs ADD COLUMN details TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details));
CREATE INDEX jobs_by_org_avatar ON jobs (org_key, json_extract(details, '$.avatar_id'), created_at, id);
ALTER TABLE usage_events ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
ALTER TABLE usage_events ADD COLUMN error_detail TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE usage_events DROP COLUMN error_detail;
ALTER TABLE usage_events DROP COLUMN request_id;
DROP INDEX jobs_by_org_avatar;
ALTER TABLE jobs DROP COLUMN details;

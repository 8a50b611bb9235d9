-- Key lifecycle and the audit log: keys may expire and may be limited to
-- some services; every admin action is appended to audit_events, which
-- triggers keep append-only. Times are UTC unix milliseconds.

-- +goose Up
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
-- A JSON array of service slugs; '[]' means every service of the org.
ALTER TABLE api_keys ADD COLUMN services TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(services));

-- Who did what, when, to what. Never a secret: details name roles, masked
-- previews and limits, not values.
CREATE TABLE audit_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    org_key TEXT NOT NULL DEFAULT '',
    target  TEXT NOT NULL,
    detail  TEXT NOT NULL
) STRICT;

CREATE INDEX audit_events_by_org ON audit_events (org_key, id);

-- +goose StatementBegin
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_events;
ALTER TABLE api_keys DROP COLUMN services;
ALTER TABLE api_keys DROP COLUMN expires_at;

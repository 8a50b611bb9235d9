-- Key lifecycle and the audit log: keys may expire and may be limited to
-- some services; every admin action is appended to audit_events, which a
-- trigger keeps append-only. Times are timestamptz at millisecond
-- precision, as in 00001_init.sql.

-- +goose Up
ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;
-- A JSON array of service slugs; '[]' means every service of the org.
ALTER TABLE api_keys ADD COLUMN services jsonb NOT NULL DEFAULT '[]';

-- Who did what, when, to what. Never a secret: details name roles, masked
-- previews and limits, not values.
CREATE TABLE audit_events (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL,
    actor   text COLLATE "C" NOT NULL,
    action  text COLLATE "C" NOT NULL,
    org_key text COLLATE "C" NOT NULL DEFAULT '',
    target  text COLLATE "C" NOT NULL,
    detail  text NOT NULL
);

CREATE INDEX audit_events_by_org ON audit_events (org_key, id);

-- +goose StatementBegin
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- +goose Down
DROP TABLE audit_events;
DROP FUNCTION audit_events_append_only();
ALTER TABLE api_keys DROP COLUMN services;
ALTER TABLE api_keys DROP COLUMN expires_at;

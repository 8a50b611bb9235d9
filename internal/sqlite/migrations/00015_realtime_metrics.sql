-- Real time: quotas may also count the seconds of audio sent to a live
-- transcription socket and the started minutes of live avatar sessions.
-- SQLite cannot change a CHECK constraint in place, so the quotas table is
-- rebuilt with the wider list (foreign keys are deferred by goose's
-- transaction; nothing references quotas).

-- +goose Up
CREATE TABLE quotas_new (
    org_key    TEXT NOT NULL REFERENCES orgs (key) ON DELETE CASCADE,
    service    TEXT NOT NULL,
    metric     TEXT NOT NULL CHECK (metric IN ('requests', 'characters', 'renders', 'audio_seconds', 'live_minutes')),
    period     TEXT NOT NULL CHECK (period IN ('day', 'month')),
    max_units  INTEGER NOT NULL CHECK (max_units >= 0),
    updated_at INTEGER,
    PRIMARY KEY (org_key, service, metric, period)
) STRICT;
INSERT INTO quotas_new SELECT org_key, service, metric, period, max_units, updated_at FROM quotas;
DROP TABLE quotas;
ALTER TABLE quotas_new RENAME TO quotas;

-- +goose Down
DELETE FROM quotas WHERE metric IN ('audio_seconds', 'live_minutes');
CREATE TABLE quotas_old (
    org_key    TEXT NOT NULL REFERENCES orgs (key) ON DELETE CASCADE,
    service    TEXT NOT NULL,
    metric     TEXT NOT NULL CHECK (metric IN ('requests', 'characters', 'renders')),
    period     TEXT NOT NULL CHECK (period IN ('day', 'month')),
    max_units  INTEGER NOT NULL CHECK (max_units >= 0),
    updated_at INTEGER,
    PRIMARY KEY (org_key, service, metric, period)
) STRICT;
INSERT INTO quotas_old SELECT org_key, service, metric, period, max_units, updated_at FROM quotas;
DROP TABLE quotas;
ALTER TABLE quotas_old RENAME TO quotas;

-- Provider objects created through aiproxy (videos, assets, voices, speech
-- history, …) and the org that created each, so that orgs sharing the
-- platform's provider account reach only their own. provider_id is folded
-- to lower case (aiproxy.ObjectKey). The first record of an object stays.
-- Jobs already stored are objects too: the backfill records their provider
-- ids as kind 'job'.

-- +goose Up
CREATE TABLE provider_objects (
    service      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    provider_id  TEXT NOT NULL CHECK (provider_id <> ''),
    org_key      TEXT NOT NULL REFERENCES orgs (key),
    source       TEXT NOT NULL CHECK (source IN ('tenant', 'platform')),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (service, kind, provider_id)
) STRICT;
CREATE INDEX provider_objects_by_id ON provider_objects (service, provider_id);
INSERT OR IGNORE INTO provider_objects (service, kind, provider_id, org_key, source, created_at)
    SELECT service, 'job', lower(provider_job_id), org_key, source, coalesce(created_at, 0) FROM jobs;

-- +goose Down
DROP TABLE provider_objects;

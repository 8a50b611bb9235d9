-- Provider objects created through aiproxy (videos, assets, voices, speech
-- history, …) and the org that created each, so that orgs sharing the
-- platform's provider account reach only their own. provider_id is folded
-- to lower case (aiproxy.ObjectKey). The first record of an object stays.
-- Jobs already stored are objects too: the backfill records their provider
-- ids as kind 'job'.

-- +goose Up
CREATE TABLE provider_objects (
    service      text COLLATE "C" NOT NULL,
    kind         text COLLATE "C" NOT NULL,
    provider_id  text COLLATE "C" NOT NULL CHECK (provider_id <> ''),
    org_key      text COLLATE "C" NOT NULL REFERENCES orgs (key),
    source       text NOT NULL CHECK (source IN ('tenant', 'platform')),
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (service, kind, provider_id)
);
CREATE INDEX provider_objects_by_id ON provider_objects (service, provider_id);
INSERT INTO provider_objects (service, kind, provider_id, org_key, source, created_at)
    SELECT service, 'job', lower(provider_job_id), org_key, source, coalesce(created_at, 'epoch')
    FROM jobs
    ON CONFLICT DO NOTHING;

-- +goose Down
DROP TABLE provider_objects;

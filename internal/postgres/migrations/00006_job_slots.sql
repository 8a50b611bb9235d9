-- Running-job caps: a job start holds a slot while its provider call is in
-- flight, before its job row exists; the caps count running jobs (pending
-- or processing) plus unexpired slots. A slot is deleted once its job is
-- stored or its start failed, and stops counting at expires_at if its
-- holder died. Claims serialize on a transaction-scoped advisory lock.

-- +goose Up
CREATE TABLE job_slots (
    id          text COLLATE "C" PRIMARY KEY,
    org_key     text COLLATE "C" NOT NULL,
    service     text COLLATE "C" NOT NULL,
    source      text NOT NULL CHECK (source IN ('tenant', 'platform')),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX job_slots_by_org ON job_slots (org_key, service);
CREATE INDEX job_slots_by_service ON job_slots (service, source);
CREATE INDEX jobs_running_by_org ON jobs (org_key, service) WHERE state IN ('pending', 'processing');
CREATE INDEX jobs_running_by_service ON jobs (service, source) WHERE state IN ('pending', 'processing');

-- +goose Down
DROP INDEX jobs_running_by_service;
DROP INDEX jobs_running_by_org;
DROP TABLE job_slots;

-- Real time: quotas may also count the seconds of audio sent to a live
-- transcription socket and the started minutes of live avatar sessions.

-- +goose Up
ALTER TABLE quotas DROP CONSTRAINT quotas_metric_check;
ALTER TABLE quotas ADD CONSTRAINT quotas_metric_check
    CHECK (metric IN ('requests', 'characters', 'renders', 'audio_seconds', 'live_minutes'));

-- +goose Down
DELETE FROM quotas WHERE metric IN ('audio_seconds', 'live_minutes');
ALTER TABLE quotas DROP CONSTRAINT quotas_metric_check;
ALTER TABLE quotas ADD CONSTRAINT quotas_metric_check CHECK (metric IN ('requests', 'characters', 'renders'));

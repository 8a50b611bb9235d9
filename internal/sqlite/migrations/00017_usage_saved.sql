-- Usage records carry what the speech cache saved: for a call answered
-- from the cache, what the provider would have charged for it, in micro-USD
-- (1 USD = 1,000,000), priced as cost_micros (00011) is; 0 for every other
-- call and every record written before this migration. The rollups sum it
-- into their own saved_micros, as they sum cost_micros.

-- +goose Up

ALTER TABLE usage_events ADD COLUMN saved_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_rollups ADD COLUMN saved_micros INTEGER NOT NULL DEFAULT 0;

-- +goose Down

ALTER TABLE usage_rollups DROP COLUMN saved_micros;
ALTER TABLE usage_events DROP COLUMN saved_micros;

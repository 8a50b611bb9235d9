-- Usage records carry their cost: what each call cost in micro-USD
-- (1 USD = 1,000,000), priced by aiproxy's price table; 0 for a free call,
-- a failed one, and every record written before this migration. The
-- rollups' cost_micros (00008) sums it from here on.

-- +goose Up

ALTER TABLE usage_events ADD COLUMN cost_micros INTEGER NOT NULL DEFAULT 0;

-- +goose Down

ALTER TABLE usage_events DROP COLUMN cost_micros;

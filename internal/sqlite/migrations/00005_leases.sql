-- Leases: a replica that takes a due job or webhook delivery holds it until
-- lease_expires_at (UTC unix milliseconds), so that one replica at a time
-- tracks a job or sends a delivery; a dead holder's lease simply expires.
-- The next update of the row ends the lease.

-- +goose Up
ALTER TABLE jobs ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN lease_expires_at INTEGER;
ALTER TABLE webhook_deliveries ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_deliveries ADD COLUMN lease_expires_at INTEGER;

-- +goose Down
ALTER TABLE webhook_deliveries DROP COLUMN lease_expires_at;
ALTER TABLE webhook_deliveries DROP COLUMN lease_owner;
ALTER TABLE jobs DROP COLUMN lease_expires_at;
ALTER TABLE jobs DROP COLUMN lease_owner;

-- Leases: a replica that takes a due job or webhook delivery holds it until
-- lease_expires_at, so that one replica at a time tracks a job or sends a
-- delivery; a dead holder's lease simply expires. Claims lock the rows they
-- take with FOR UPDATE SKIP LOCKED, so concurrent claims never wait for or
-- take each other's rows. The next update of the row ends the lease.

-- +goose Up
ALTER TABLE jobs ADD COLUMN lease_owner text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN lease_expires_at timestamptz;
ALTER TABLE webhook_deliveries ADD COLUMN lease_owner text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE webhook_deliveries ADD COLUMN lease_expires_at timestamptz;

-- +goose Down
ALTER TABLE webhook_deliveries DROP COLUMN lease_expires_at;
ALTER TABLE webhook_deliveries DROP COLUMN lease_owner;
ALTER TABLE jobs DROP COLUMN lease_expires_at;
ALTER TABLE jobs DROP COLUMN lease_owner;

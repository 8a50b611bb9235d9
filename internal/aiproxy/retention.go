package aiproxy

import (
	"context"
	"time"
)

// RetentionKind names a kind of stored data that is removed once it is old
// enough; the operator chooses how long each kind is kept.
type RetentionKind string

// The kinds of data retention applies to.
const (
	// RetainUsage is raw usage records, by call time. Only records that the
	// rollups already hold are removed, so reports keep their numbers.
	RetainUsage RetentionKind = "usage"
	// RetainUsageHourly and RetainUsageDaily are the hour and day rollups,
	// by the end of their bucket.
	RetainUsageHourly RetentionKind = "usage_hourly"
	RetainUsageDaily  RetentionKind = "usage_daily"
	// RetainJobEvents is the events of finished jobs, by creation time;
	// an event with a pending delivery stays, and an event goes with its
	// finished deliveries.
	RetainJobEvents RetentionKind = "job_events"
	// RetainDeliveries is delivered or failed webhook deliveries, by their
	// last update; pending ones stay.
	RetainDeliveries RetentionKind = "webhook_deliveries"
	// RetainJobs is finished jobs, by completion time, with their events
	// and deliveries; a job that a pending delivery, a lease or an
	// unexpired idempotency record still needs stays.
	RetainJobs RetentionKind = "jobs"
	// RetainIdempotency is idempotency records, by expiry; a record that
	// has not expired stays whatever the cutoff.
	RetainIdempotency RetentionKind = "idempotency"
	// RetainUserTokens is user tokens, by expiry; a token that has not
	// expired stays whatever the cutoff. Revoked and spent tokens go with
	// the others once expired.
	RetainUserTokens RetentionKind = "user_tokens"
	// RetainProviderWebhooks is the provider webhook ids seen, by receipt.
	RetainProviderWebhooks RetentionKind = "provider_webhooks"
	// RetainAudit is the audit log, by time. It is kept unless the
	// operator sets a retention for it.
	RetainAudit RetentionKind = "audit"
)

// RetentionKinds lists every kind, in the order a pruner visits them:
// dependents before what they depend on.
var RetentionKinds = []RetentionKind{
	RetainUsage, RetainUsageHourly, RetainUsageDaily, RetainDeliveries, RetainJobEvents, RetainJobs,
	RetainIdempotency, RetainUserTokens, RetainProviderWebhooks, RetainAudit,
}

// ValidRetentionKind reports whether k is a known kind.
func ValidRetentionKind(k RetentionKind) bool {
	for _, v := range RetentionKinds {
		if v == k {
			return true
		}
	}
	return false
}

// RetentionStore removes old data in small batches.
type RetentionStore interface {
	// Prune removes up to limit rows of kind older than before, never one
	// that is still needed at now (see each kind), and returns how many
	// rows of that kind it removed. A batch is one short transaction, so
	// that pruning never holds the database for long: call it again until
	// it returns fewer than limit.
	Prune(ctx context.Context, kind RetentionKind, before, now time.Time, limit int) (int, error)
}

package aiproxy

import (
	"context"
	"io"
)

// Store is every store contract in one: what a storage engine provides.
// Both engines implement it, and each checks so at compile time, so that a
// method that drifts from its contract fails the build instead of quietly
// turning a feature off. Only the wiring in cmd/ holds a Store; every
// other package declares the few methods it needs.
type Store interface {
	OrgStore
	KeyStore
	CredentialStore
	AuditStore
	AccessStore
	QuotaStore
	UsageStore
	UsageRollupStore
	JobStore
	WebhookStore
	IdempotencyStore
	JobSlotStore
	ObjectStore
	RetentionStore
	WorkLeaseStore
	ResealStore
	BudgetStore
	BudgetLedger
	UserTokenStore
	LiveSessionStore
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// SchemaVersion returns the version of the newest applied migration.
	SchemaVersion(ctx context.Context) (int64, error)
	io.Closer
}

// ResealStore rewrites sealed secrets during a master-key rotation. Each
// write is conditional: it changes the row only while the row still holds
// the old blob, so that a value set meanwhile is left alone, and it reports
// whether the row changed.
type ResealStore interface {
	// ResealCredential replaces c's sealed value with c.Sealed while the row
	// still holds old.
	ResealCredential(ctx context.Context, c Credential, old []byte) (bool, error)
	// ResealWebhookSecret replaces an endpoint's sealed signing secret with
	// e.Sealed while the row still holds old.
	ResealWebhookSecret(ctx context.Context, e WebhookEndpoint, old []byte) (bool, error)
}

package aiproxy

import (
	"context"
	"time"
)

// AuditAction names what an admin did.
type AuditAction string

// The audited actions.
const (
	AuditOrgCreated         AuditAction = "org.created"
	AuditKeyCreated         AuditAction = "key.created"
	AuditKeyRevoked         AuditAction = "key.revoked"
	AuditCredentialSet      AuditAction = "credential.set"
	AuditCredentialDeleted  AuditAction = "credential.deleted"
	AuditCredentialResealed AuditAction = "credential.resealed"
	AuditQuotaSet           AuditAction = "quota.set"
	AuditQuotaDeleted       AuditAction = "quota.deleted"
	AuditAccessChanged      AuditAction = "access.changed"
	AuditWebhookCreated     AuditAction = "webhook.created"
	AuditWebhookDeleted     AuditAction = "webhook.deleted"
	// AuditUserTokenRevoked is a user token revoked before its expiry.
	AuditUserTokenRevoked AuditAction = "user_token.revoked"
	// AuditOrgSettings is a change of an org's settings.
	AuditOrgSettings AuditAction = "org.settings"
	// AuditBudgetSet and AuditBudgetDeleted are changes of a spending
	// budget; AuditBudgetAlert is a budget crossing an alert threshold.
	AuditBudgetSet     AuditAction = "budget.set"
	AuditBudgetDeleted AuditAction = "budget.deleted"
	AuditBudgetAlert   AuditAction = "budget.alert"
)

// ActorCLI is the actor of actions taken with the aiproxy command on the
// server's machine, which holds no API key.
const ActorCLI = "cli"

// AuditEvent is one admin action as the audit log keeps it: who (the API
// key id, or ActorCLI), what, when, on what, and details that never hold a
// secret (a credential's masked preview at most).
type AuditEvent struct {
	// ID orders the log; the store assigns it.
	ID     int64
	At     time.Time
	Actor  string
	Action AuditAction
	// OrgKey is the org acted on; "" for platform-wide actions.
	OrgKey string
	// Target names the object: a key id, a credential or service name.
	Target string
	// Detail is a short, secret-free description, such as "role=admin".
	Detail string
}

// AuditFilter selects audit events, newest first.
type AuditFilter struct {
	// OrgKey limits the events to one org; "" means every org and the
	// platform's own.
	OrgKey string
	// Before, when above zero, returns events with a smaller ID (paging).
	Before int64
	// Limit caps the events returned; 0 means 100.
	Limit int
}

// AuditStore keeps the audit log. It is append-only: nothing updates or
// deletes an event.
type AuditStore interface {
	// AppendAudit adds one event, filling its ID.
	AppendAudit(ctx context.Context, e AuditEvent) error
	// AuditEvents lists events newest first.
	AuditEvents(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
}

// ActorFrom names who acts in a context: the principal's key id, or
// ActorCLI when no request carries one.
func ActorFrom(ctx context.Context) string {
	if p, ok := PrincipalFrom(ctx); ok && p.KeyID != "" {
		return p.KeyID
	}
	return ActorCLI
}

package admin

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Auditor keeps the audit log of admin actions.
type Auditor interface {
	AppendAudit(ctx context.Context, e aiproxy.AuditEvent) error
	AuditEvents(ctx context.Context, f aiproxy.AuditFilter) ([]aiproxy.AuditEvent, error)
}

// SetAuditor makes the service append every change it makes to a; nil
// turns auditing off. Call it before the service is shared.
func (s *Service) SetAuditor(a Auditor) { s.audit = a }

// SetAuditor makes the guardrail operations append every change they make
// to a. Call it before they are shared.
func (g *Guardrails) SetAuditor(a Auditor) { g.audit = a }

// AuditEvents reads the audit log, newest first: one org's events, or with
// OrgKey "" every event.
func (s *Service) AuditEvents(ctx context.Context, f aiproxy.AuditFilter) ([]aiproxy.AuditEvent, error) {
	if s.audit == nil {
		return nil, aiproxy.Errorf(aiproxy.CodeNotFound, "This server keeps no audit log.")
	}
	if f.OrgKey != "" {
		if _, err := s.Org(ctx, f.OrgKey); err != nil {
			return nil, err
		}
	}
	return s.audit.AuditEvents(ctx, f)
}

func (s *Service) record(ctx context.Context, action aiproxy.AuditAction, org, target, detail string) error {
	return record(ctx, s.audit, s.now(), action, org, target, detail)
}

// record appends one event. The change it describes has been made; a
// failure to record it is returned so that the operator knows the log
// lacks it.
func record(ctx context.Context, a Auditor, now time.Time, action aiproxy.AuditAction, org, target, detail string) error {
	if a == nil {
		return nil
	}
	e := aiproxy.AuditEvent{At: now.UTC(), Actor: aiproxy.ActorFrom(ctx), Action: action, OrgKey: org,
		Target: target, Detail: detail}
	if err := a.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		return fmt.Errorf("%s done, but not recorded in the audit log: %w", action, err)
	}
	return nil
}

// keyDetail describes a new key without its secret.
func keyDetail(k aiproxy.APIKey) string {
	parts := []string{"role=" + string(k.Role)}
	if k.Name != "" {
		parts = append(parts, fmt.Sprintf("name=%q", k.Name))
	}
	if k.TestOnly {
		parts = append(parts, "test_only")
	}
	if !k.ExpiresAt.IsZero() {
		parts = append(parts, "expires="+k.ExpiresAt.Format(time.RFC3339))
	}
	if len(k.Services) > 0 {
		parts = append(parts, "services="+strings.Join(k.Services, ","))
	}
	return strings.Join(parts, " ")
}

// credentialDetail describes a credential by its source and masked
// preview, never its value.
func credentialDetail(c aiproxy.Credential) string {
	parts := []string{"source=" + string(c.Source)}
	fields := make([]string, 0, len(c.Masked))
	for f := range c.Masked {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		parts = append(parts, f+"="+c.Masked[f])
	}
	return strings.Join(parts, " ")
}

func quotaTarget(service string, m aiproxy.Metric, p aiproxy.Period) string {
	if service == "" {
		service = "*"
	}
	return fmt.Sprintf("%s %s/%s", service, m, p)
}

func accessTarget(service, endpoint string) string {
	if endpoint == "" {
		return service
	}
	return service + "/" + endpoint
}

// KeyOptions are the optional settings of a new key.
type KeyOptions struct {
	// TestOnly keys start provider jobs only in test mode.
	TestOnly bool
	// ExpiresAt, when set, must be in the future.
	ExpiresAt time.Time
	// Services, when set, are the only services the key may use.
	Services []string
}

// CreateKeyWith is CreateKey with options: expiry, a service allow-list,
// test-only.
func (s *Service) CreateKeyWith(ctx context.Context, org, name string, role aiproxy.Role, opts KeyOptions) (string, aiproxy.APIKey, error) {
	return s.createKey(ctx, org, name, role, opts)
}

func (s *Service) checkKeyOptions(opts KeyOptions) error {
	now := s.now()
	if !opts.ExpiresAt.IsZero() && !opts.ExpiresAt.After(now) {
		return aiproxy.Errorf(aiproxy.CodeInvalid, "A key's expiry must be in the future.")
	}
	if opts.ExpiresAt.After(now.Add(MaxKeyLifetime)) {
		return aiproxy.Errorf(aiproxy.CodeInvalid, "A key's expiry may be at most %d years ahead; give none for a key that does not expire.",
			int(MaxKeyLifetime.Hours()/24/365))
	}
	for i, slug := range opts.Services {
		if !s.hasService(slug) {
			return aiproxy.ErrServiceNotFound(slug)
		}
		if slices.Contains(opts.Services[:i], slug) {
			return aiproxy.Errorf(aiproxy.CodeInvalid, "services names %q twice.", slug)
		}
	}
	return nil
}

func (s *Service) hasService(slug string) bool {
	for _, svc := range s.catalog.Services() {
		if svc.Slug == slug {
			return true
		}
	}
	return false
}

// WebhookAdmin manages an org's webhook endpoints, as the jobs service
// does.
type WebhookAdmin interface {
	CreateWebhook(ctx context.Context, org, url string, events []string) (aiproxy.WebhookEndpoint, string, error)
	Webhooks(ctx context.Context, org string) ([]aiproxy.WebhookEndpoint, error)
	DeleteWebhook(ctx context.Context, org, id string) error
	Deliveries(ctx context.Context, f aiproxy.DeliveryFilter) ([]aiproxy.WebhookDelivery, error)
}

// AuditedWebhooks records the webhook endpoints created and deleted
// through w in the audit log.
func AuditedWebhooks(w WebhookAdmin, a Auditor, now func() time.Time) WebhookAdmin {
	if now == nil {
		now = time.Now
	}
	return &auditedWebhooks{WebhookAdmin: w, audit: a, now: now}
}

type auditedWebhooks struct {
	WebhookAdmin
	audit Auditor
	now   func() time.Time
}

func (w *auditedWebhooks) CreateWebhook(ctx context.Context, org, url string, events []string) (aiproxy.WebhookEndpoint, string, error) {
	e, secret, err := w.WebhookAdmin.CreateWebhook(ctx, org, url, events)
	if err != nil {
		return e, secret, err
	}
	detail := "url=" + redactURL(url)
	if len(events) > 0 {
		detail += " events=" + strings.Join(events, ",")
	}
	return e, secret, record(ctx, w.audit, w.now(), aiproxy.AuditWebhookCreated, org, e.ID, detail)
}

func (w *auditedWebhooks) DeleteWebhook(ctx context.Context, org, id string) error {
	if err := w.WebhookAdmin.DeleteWebhook(ctx, org, id); err != nil {
		return err
	}
	return record(ctx, w.audit, w.now(), aiproxy.AuditWebhookDeleted, org, id, "")
}

// redactURL keeps a webhook URL's scheme, host and path but drops its
// user info and query, where tokens hide.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid)"
	}
	u.User, u.RawQuery, u.Fragment, u.RawFragment, u.ForceQuery = nil, "", "", "", false
	return u.String()
}

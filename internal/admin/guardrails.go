package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// GuardrailStores is the storage the guardrail operations need.
type GuardrailStores interface {
	aiproxy.OrgStore
	aiproxy.QuotaStore
	aiproxy.UsageStore
	aiproxy.AccessStore
}

// Guardrails manages quotas, per-org access and usage reports. It is safe
// for concurrent use.
type Guardrails struct {
	store    GuardrailStores
	catalog  Catalog
	now      func() time.Time
	onChange func(org string)
	// audit, when set, receives every change (audit.go).
	audit Auditor
}

// NewGuardrails returns the guardrail operations. now may be nil for
// time.Now; onChange, if set, is called after an org's quotas or access
// rules change, so that caches in this process forget them.
func NewGuardrails(store GuardrailStores, catalog Catalog, now func() time.Time, onChange func(org string)) *Guardrails {
	if now == nil {
		now = time.Now
	}
	if onChange == nil {
		onChange = func(string) {}
	}
	return &Guardrails{store: store, catalog: catalog, now: now, onChange: onChange}
}

func (g *Guardrails) checkOrg(ctx context.Context, org string) error {
	_, err := g.store.Org(ctx, org)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return orgNotFound(org)
	}
	return err
}

// service returns a catalog service by slug, disabled ones included.
func (g *Guardrails) service(slug string) (*aiproxy.Service, error) {
	for _, s := range g.catalog.Services() {
		if s.Slug == slug {
			return s, nil
		}
	}
	return nil, aiproxy.ErrServiceNotFound(slug)
}

// SetQuota creates or replaces an org's quota. service "" caps every
// service together.
func (g *Guardrails) SetQuota(ctx context.Context, q aiproxy.Quota) (aiproxy.Quota, error) {
	switch {
	case !aiproxy.ValidMetric(q.Metric):
		return q, aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid quota metric %q: use requests, characters or renders.", q.Metric)
	case !aiproxy.ValidPeriod(q.Period):
		return q, aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid quota period %q: use day or month.", q.Period)
	case q.Limit < 0 || q.Limit > MaxQuotaLimit:
		return q, aiproxy.Errorf(aiproxy.CodeInvalid, "A quota limit must be between 0 and %d.", MaxQuotaLimit)
	}
	if err := g.checkMetered(q.Service, q.Metric); err != nil {
		return q, err
	}
	if err := g.checkScope(ctx, q.Service); err != nil {
		return q, err
	}
	if err := g.checkOrg(ctx, q.OrgKey); err != nil {
		return q, err
	}
	q.UpdatedAt = g.now().UTC()
	if err := g.store.PutQuota(ctx, q); err != nil {
		return q, fmt.Errorf("set quota: %w", err)
	}
	g.onChange(q.OrgKey)
	return q, record(ctx, g.audit, g.now(), aiproxy.AuditQuotaSet, q.OrgKey, quotaTarget(q.Service, q.Metric, q.Period),
		fmt.Sprintf("limit=%d", q.Limit))
}

// DeleteQuota removes an org's quota.
func (g *Guardrails) DeleteQuota(ctx context.Context, org, service string, m aiproxy.Metric, p aiproxy.Period) error {
	if !aiproxy.ValidMetric(m) || !aiproxy.ValidPeriod(p) {
		return aiproxy.Errorf(aiproxy.CodeInvalid, "Name the quota by its metric (requests, characters or renders) and period (day or month).")
	}
	if err := g.checkScope(ctx, service); err != nil {
		return err
	}
	err := g.store.DeleteQuota(ctx, org, service, m, p)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return aiproxy.Errorf(aiproxy.CodeNotFound, "No quota %s per %s for %q.", m, p, service)
	}
	if err != nil {
		return fmt.Errorf("delete quota: %w", err)
	}
	g.onChange(org)
	return record(ctx, g.audit, g.now(), aiproxy.AuditQuotaDeleted, org, quotaTarget(service, m, p), "")
}

// Quotas lists an org's quotas with what their current windows used.
func (g *Guardrails) Quotas(ctx context.Context, org string) ([]aiproxy.QuotaUse, error) {
	if err := g.checkOrg(ctx, org); err != nil {
		return nil, err
	}
	return g.store.Quotas(ctx, org, g.now())
}

// Usage reports usage per day, org and service, split by action, user or
// key as f.GroupBy says.
func (g *Guardrails) Usage(ctx context.Context, f aiproxy.UsageFilter) ([]aiproxy.UsageRow, error) {
	if f.UserID != "" && !aiproxy.ValidUser(f.UserID) {
		return nil, aiproxy.Errorf(aiproxy.CodeInvalid,
			"Invalid user: use 1 to 128 characters, without spaces or control characters.")
	}
	if f.OrgKey != "" {
		if err := g.checkOrg(ctx, f.OrgKey); err != nil {
			return nil, err
		}
	}
	return g.store.UsageReport(ctx, f)
}

// SetAccess turns a service (endpoint "") or one endpoint on or off for an
// org.
func (g *Guardrails) SetAccess(ctx context.Context, org, service, endpoint string, enabled bool) error {
	svc, err := g.service(service)
	if err != nil {
		return err
	}
	if endpoint != "" && !hasEndpoint(svc, endpoint) {
		return aiproxy.ErrServiceNotFound(service + "/" + endpoint)
	}
	if err := g.checkScope(ctx, service); err != nil {
		return err
	}
	if err := g.checkOrg(ctx, org); err != nil {
		return err
	}
	rule := aiproxy.AccessRule{OrgKey: org, Service: service, Endpoint: endpoint}
	if enabled {
		err = g.store.EnableAccess(ctx, rule)
	} else {
		err = g.store.DisableAccess(ctx, rule)
	}
	if err != nil {
		return fmt.Errorf("set access: %w", err)
	}
	g.onChange(org)
	return record(ctx, g.audit, g.now(), aiproxy.AuditAccessChanged, org, accessTarget(service, endpoint),
		fmt.Sprintf("enabled=%t", enabled))
}

// MaxQuotaLimit is the largest quota limit: the largest integer that every
// JSON reader (JavaScript's numbers included) keeps exact.
const MaxQuotaLimit = 1<<53 - 1

// checkMetered refuses a quota on a unit that the service (or, for "",
// no service at all) ever counts, which could never be reached: requests
// are counted everywhere, characters and renders only where an endpoint of
// the catalog meters them (a characters quota on HeyGen is refused).
func (g *Guardrails) checkMetered(service string, m aiproxy.Metric) error {
	if service != "" {
		svc, err := g.service(service)
		if err != nil {
			return err
		}
		if !meters(svc, m) {
			return aiproxy.Errorf(aiproxy.CodeInvalid, "Service %q does not count %s; a quota on it could never apply.", service, m)
		}
		return nil
	}
	for _, svc := range g.catalog.Services() {
		if meters(svc, m) {
			return nil
		}
	}
	return aiproxy.Errorf(aiproxy.CodeInvalid, "No service counts %s; a quota on it could never apply.", m)
}

func meters(svc *aiproxy.Service, m aiproxy.Metric) bool {
	if m == aiproxy.MetricRequests {
		return true
	}
	for _, e := range svc.Endpoints {
		if e.Meter == m {
			return true
		}
	}
	return false
}

// checkScope refuses, to a key limited to some services, a limit on
// another service or on every service together ("").
func (g *Guardrails) checkScope(ctx context.Context, service string) error {
	return checkServiceScope(ctx, g.catalog, func(svc *aiproxy.Service) bool { return service == "" || svc.Slug == service })
}

func hasEndpoint(svc *aiproxy.Service, slug string) bool {
	for _, e := range svc.Endpoints {
		if e.Slug == slug {
			return true
		}
	}
	return false
}

// Access lists what an org has turned off.
func (g *Guardrails) Access(ctx context.Context, org string) ([]aiproxy.AccessRule, error) {
	if err := g.checkOrg(ctx, org); err != nil {
		return nil, err
	}
	return g.store.AccessRules(ctx, org)
}

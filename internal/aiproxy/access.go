package aiproxy

import "context"

// AccessRule turns one service, or one endpoint of it, off for one org. An
// org may use every service the catalog enables unless a rule disables it.
// Endpoint "" means the whole service.
type AccessRule struct {
	OrgKey   string
	Service  string
	Endpoint string
}

// AccessStore keeps per-org access rules.
type AccessStore interface {
	// DisableAccess stores a rule; disabling twice is not an error. The org
	// must exist.
	DisableAccess(ctx context.Context, r AccessRule) error
	// EnableAccess removes a rule; enabling what is enabled is not an
	// error.
	EnableAccess(ctx context.Context, r AccessRule) error
	// AccessRules lists an org's rules ordered by service and endpoint.
	AccessRules(ctx context.Context, org string) ([]AccessRule, error)
}

// Disables reports whether a set of rules turns off a service's endpoint
// (or, for endpoint "", the whole service).
func Disables(rules []AccessRule, service, endpoint string) bool {
	for _, r := range rules {
		if r.Service == service && (r.Endpoint == "" || r.Endpoint == endpoint) {
			return true
		}
	}
	return false
}

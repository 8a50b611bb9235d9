package aiproxy

import (
	"context"
	"regexp"
	"time"
)

// Org is a tenant: an organization whose apps call services through aiproxy.
// Its Key is the {org} segment of every API path.
type Org struct {
	Key       string
	Name      string
	CreatedAt time.Time
	Settings  OrgSettings
}

// OrgSettings are what an org's admins choose for the org within the
// deployment's bounds. Zero values mean the deployment's defaults.
type OrgSettings struct {
	// UserTokenTTL is the life of a user token minted without one.
	UserTokenTTL time.Duration
	// UserTokenMaxTTL is the longest life a user token may ask for.
	UserTokenMaxTTL time.Duration
}

var orgKeyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidOrgKey reports whether s can be an org key: 1 to 63 characters of
// lowercase letters, digits, '-' and '_', starting with a letter or digit.
func ValidOrgKey(s string) bool { return orgKeyPattern.MatchString(s) }

// OrgStore keeps orgs.
type OrgStore interface {
	// CreateOrg stores a new org; it returns ErrConflict if the key exists.
	CreateOrg(ctx context.Context, o Org) error
	// Org returns one org, or ErrNotFound.
	Org(ctx context.Context, key string) (Org, error)
	// Orgs returns every org ordered by key.
	Orgs(ctx context.Context) ([]Org, error)
	// SetOrgSettings replaces an org's settings; ErrNotFound for an
	// unknown org. Durations are kept to the second.
	SetOrgSettings(ctx context.Context, key string, s OrgSettings) error
}

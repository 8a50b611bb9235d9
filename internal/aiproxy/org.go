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
}

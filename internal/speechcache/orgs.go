package speechcache

import "context"

// Orgs says whether an org has the speech cache on. The cache is opt-in:
// a call of an org that is not on never reaches the store.
type Orgs interface {
	Enabled(ctx context.Context, org string) (bool, error)
}

// OrgList is an Orgs from a fixed list, as configuration gives it. The
// zero value turns the cache on for no org.
type OrgList struct {
	all  bool
	orgs map[string]bool
}

var _ Orgs = OrgList{}

// AllOrgs, in a list given to NewOrgList, turns the cache on for every org.
const AllOrgs = "*"

// NewOrgList returns the Orgs that turns the cache on for the listed orgs,
// or for every org when the list holds AllOrgs.
func NewOrgList(orgs []string) OrgList {
	l := OrgList{orgs: map[string]bool{}}
	for _, o := range orgs {
		if o == AllOrgs {
			l.all = true
		}
		l.orgs[o] = true
	}
	return l
}

// Enabled reports whether the list names org.
func (l OrgList) Enabled(_ context.Context, org string) (bool, error) {
	return l.all || l.orgs[org], nil
}

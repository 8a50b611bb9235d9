package proxy

import (
	"net/http"
	"regexp"
	"testing"
)

func TestScopeIdempotencyKey(t *testing.T) {
	heygenSyntax := regexp.MustCompile(`^[A-Za-z0-9_\-:.]{1,255}$`)
	scopedFor := func(org, user, key string) string {
		h := http.Header{}
		if key != "" {
			h.Set("Idempotency-Key", key)
		}
		scopeIdempotencyKey(h, org, user)
		return h.Get("Idempotency-Key")
	}
	scoped := func(org, key string) string { return scopedFor(org, "", key) }
	a1, a2, b := scoped("acme", "order 1/ü"), scoped("acme", "order 1/ü"), scoped("beta", "order 1/ü")
	alice, bob := scopedFor("acme", "alice", "order 1/ü"), scopedFor("acme", "bob", "order 1/ü")
	switch {
	case alice == bob || alice == a1 || bob == a1:
		t.Errorf("users share a key: alice %q, bob %q, org %q", alice, bob, a1)
	case alice != scopedFor("acme", "alice", "order 1/ü"):
		t.Errorf("a user's key is not stable")
	case a1 != a2:
		t.Errorf("not stable: %q, %q", a1, a2)
	case a1 == b:
		t.Errorf("two orgs share %q", a1)
	case !heygenSyntax.MatchString(a1):
		t.Errorf("%q does not fit HeyGen's syntax", a1)
	case scoped("acme", "") != "":
		t.Error("a missing key was invented")
	}
}

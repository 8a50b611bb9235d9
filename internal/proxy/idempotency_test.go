package proxy

import (
	"net/http"
	"regexp"
	"testing"
)

func TestScopeIdempotencyKey(t *testing.T) {
	heygenSyntax := regexp.MustCompile(`^[A-Za-z0-9_\-:.]{1,255}$`)
	scoped := func(org, key string) string {
		h := http.Header{}
		if key != "" {
			h.Set("Idempotency-Key", key)
		}
		scopeIdempotencyKey(h, org)
		return h.Get("Idempotency-Key")
	}
	a1, a2, b := scoped("acme", "order 1/ü"), scoped("acme", "order 1/ü"), scoped("beta", "order 1/ü")
	switch {
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

package aiproxy

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNewKeySecretParses(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		full, id, hash, err := NewKeySecret()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(full, "aip_"+id+"_") {
			t.Fatalf("key %q does not start with aip_<id>_", full)
		}
		gotID, secret, ok := ParseKey(full)
		if !ok || gotID != id {
			t.Fatalf("ParseKey(%q) = %q, %v; want id %q", full, gotID, ok, id)
		}
		if !SecretMatches(secret, hash) {
			t.Fatalf("the secret of a new key does not match its hash")
		}
		if bytes.Contains(hash, []byte(secret)) {
			t.Fatalf("hash holds the secret")
		}
		if seen[id] || seen[full] {
			t.Fatalf("NewKeySecret repeated %q", id)
		}
		seen[id], seen[full] = true, true
	}
}

// parseKeyCases seed FuzzParseKey too.
var parseKeyCases = []struct {
	name, in string
	ok       bool
}{
	{"valid", "aip_0123456789abcdef_" + strings.Repeat("a", 52), true},
	{"valid digits", "aip_fedcba9876543210_" + strings.Repeat("7", 52), true},
	{"empty", "", false},
	{"no prefix", "0123456789abcdef_" + strings.Repeat("a", 52), false},
	{"wrong prefix", "aiq_0123456789abcdef_" + strings.Repeat("a", 52), false},
	{"no separator", "aip_0123456789abcdef" + strings.Repeat("a", 52), false},
	{"short id", "aip_0123456789abcde_" + strings.Repeat("a", 52), false},
	{"long id", "aip_0123456789abcdef0_" + strings.Repeat("a", 52), false},
	{"id not hex", "aip_0123456789abcdeg_" + strings.Repeat("a", 52), false},
	{"short secret", "aip_0123456789abcdef_" + strings.Repeat("a", 51), false},
	{"long secret", "aip_0123456789abcdef_" + strings.Repeat("a", 53), false},
	{"secret not base32", "aip_0123456789abcdef_" + strings.Repeat("a", 51) + "1", false},
	{"secret upper case", "aip_0123456789abcdef_" + strings.Repeat("A", 52), false},
	{"secret with padding", "aip_0123456789abcdef_" + strings.Repeat("a", 48) + "====", false},
	{"extra separator", "aip_0123456789abcdef_" + strings.Repeat("a", 25) + "_" + strings.Repeat("a", 26), false},
	{"id upper-case hex", "aip_0123456789ABCDEF_" + strings.Repeat("a", 52), false},
	{"secret with CR", "aip_0123456789abcdef_" + strings.Repeat("2", 15) + "\r" + strings.Repeat("2", 36), false},
	{"secret with LF", "aip_0123456789abcdef_" + strings.Repeat("a", 51) + "\n", false},
	{"trailing space", "aip_0123456789abcdef_" + strings.Repeat("a", 52) + " ", false},
}

func TestParseKey(t *testing.T) {
	for _, tc := range parseKeyCases {
		t.Run(tc.name, func(t *testing.T) {
			id, secret, ok := ParseKey(tc.in)
			if ok != tc.ok {
				t.Fatalf("ParseKey(%q) ok = %v, want %v", tc.in, ok, tc.ok)
			}
			if ok && "aip_"+id+"_"+secret != tc.in {
				t.Fatalf("ParseKey(%q) = %q, %q: does not rebuild the key", tc.in, id, secret)
			}
			if !ok && (id != "" || secret != "") {
				t.Fatalf("ParseKey(%q) refused but returned %q, %q", tc.in, id, secret)
			}
		})
	}
}

func TestSecretMatches(t *testing.T) {
	h := HashKeySecret("right")
	if !SecretMatches("right", h) {
		t.Error("right secret refused")
	}
	for _, s := range []string{"wrong", "", "right ", "Right"} {
		if SecretMatches(s, h) {
			t.Errorf("secret %q accepted", s)
		}
	}
	if SecretMatches("right", nil) || SecretMatches("right", h[:31]) {
		t.Error("a truncated hash matched")
	}
}

func TestPrincipal(t *testing.T) {
	platform := Principal{KeyID: "p", Role: RoleAdmin}
	platformInvoke := Principal{KeyID: "pi", Role: RoleInvoke} // not creatable, but must not be admin
	orgAdmin := Principal{KeyID: "a", OrgKey: "acme", Role: RoleAdmin}
	orgInvoke := Principal{KeyID: "i", OrgKey: "acme", Role: RoleInvoke}
	tests := []struct {
		name             string
		p                Principal
		org              string
		platformAdmin    bool
		canUse, canAdmin bool
	}{
		{"platform admin, any org", platform, "acme", true, true, true},
		{"platform admin, other org", platform, "other", true, true, true},
		{"platform invoke is no admin", platformInvoke, "acme", false, false, false},
		{"org admin, own org", orgAdmin, "acme", false, true, true},
		{"org admin, other org", orgAdmin, "other", false, false, false},
		{"org invoke, own org", orgInvoke, "acme", false, true, false},
		{"org invoke, other org", orgInvoke, "other", false, false, false},
		{"org invoke, empty org", orgInvoke, "", false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.PlatformAdmin(); got != tc.platformAdmin {
				t.Errorf("PlatformAdmin = %v", got)
			}
			if got := tc.p.CanUseOrg(tc.org); got != tc.canUse {
				t.Errorf("CanUseOrg(%q) = %v", tc.org, got)
			}
			if got := tc.p.CanAdminOrg(tc.org); got != tc.canAdmin {
				t.Errorf("CanAdminOrg(%q) = %v", tc.org, got)
			}
		})
	}
}

func TestPrincipalContext(t *testing.T) {
	if _, ok := PrincipalFrom(context.Background()); ok {
		t.Fatal("empty context carries a principal")
	}
	want := Principal{KeyID: "k", OrgKey: "acme", Role: RoleInvoke}
	got, ok := PrincipalFrom(WithPrincipal(context.Background(), want))
	if !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("PrincipalFrom = %+v, %v; want %+v", got, ok, want)
	}
	k := APIKey{ID: "k", OrgKey: "acme", Role: RoleInvoke}
	if !reflect.DeepEqual(k.Principal(), want) {
		t.Fatalf("APIKey.Principal = %+v", k.Principal())
	}
}

func TestValidRoleAndOrgKey(t *testing.T) {
	for r, want := range map[Role]bool{RoleInvoke: true, RoleAdmin: true, "": false, "Admin": false, "owner": false} {
		if ValidRole(r) != want {
			t.Errorf("ValidRole(%q) = %v", r, !want)
		}
	}
	for s, want := range map[string]bool{
		"acme": true, "a": true, "0rg": true, "my-org_2": true, strings.Repeat("a", 63): true,
		"": false, "-acme": false, "_acme": false, "Acme": false, "ac me": false, "ac/me": false,
		strings.Repeat("a", 64): false, "acme\n": false,
	} {
		if ValidOrgKey(s) != want {
			t.Errorf("ValidOrgKey(%q) = %v", s, !want)
		}
	}
}

func TestKeyScopeAndExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k := APIKey{ID: "k", OrgKey: "acme", Role: RoleInvoke, Services: []string{"heygen"}, ExpiresAt: now}
	p := k.Principal()
	if !p.CanUseService("heygen") || p.CanUseService("elevenlabs") || !(Principal{}).CanUseService("x") {
		t.Fatal("service allow-list is wrong")
	}
	if k.Expired(now.Add(-time.Millisecond)) || !k.Expired(now) || (APIKey{}).Expired(now) {
		t.Fatal("Expired is wrong")
	}
}

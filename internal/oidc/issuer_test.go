package oidc

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// exampleFile is the example in docs/oidc.md.
const exampleFile = `{
  "issuers": [
    {
      "org": "acme",
      "issuer": "https://idp.acme.example/realms/staff",
      "audiences": ["aiproxy"],
      "groups_claim": "realm_access.roles",
      "admin_groups": ["aiproxy-admins"],
      "required_claims": {"azp": "acme-console"},
      "user_prefix": "acme:"
    },
    {
      "issuer": "https://login.platform.example",
      "audiences": ["aiproxy", "aiproxy-console"],
      "algorithms": ["ES256"],
      "jwks_url": "https://login.platform.example/.well-known/jwks.json",
      "org_claim": "https://platform.example/org",
      "user_claim": "email",
      "leeway": "30s",
      "max_lifetime": "15m"
    }
  ]
}`

func TestLoadExample(t *testing.T) {
	issuers, err := Load(strings.NewReader(exampleFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(issuers) != 2 {
		t.Fatalf("%d issuers", len(issuers))
	}
	a, p := issuers[0], issuers[1]
	if a.Org != "acme" || a.URL != "https://idp.acme.example/realms/staff" || a.UserClaim != "sub" || a.EmailClaim != "email" ||
		a.GroupsClaim != "realm_access.roles" || !slices.Equal(a.Algorithms, defaultAlgorithms) || a.Leeway != DefaultLeeway ||
		a.MaxLifetime != DefaultMaxLifetime || a.RequiredClaims["azp"] != "acme-console" || a.UserPrefix != "acme:" ||
		!slices.Equal(a.AdminGroups, []string{"aiproxy-admins"}) {
		t.Errorf("acme's issuer = %+v", a)
	}
	if p.Org != "" || p.OrgClaim != "https://platform.example/org" || p.UserClaim != "email" || p.Leeway != 30*time.Second ||
		p.MaxLifetime != 15*time.Minute || !slices.Equal(p.Algorithms, []string{"ES256"}) || p.GroupsClaim != "groups" ||
		p.JWKSURL != "https://login.platform.example/.well-known/jwks.json" {
		t.Errorf("the platform issuer = %+v", p)
	}

	path := filepath.Join(t.TempDir(), "oidc.json")
	if err := os.WriteFile(path, []byte(exampleFile), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile, err := LoadFile(path, false)
	if err != nil || len(fromFile) != 2 {
		t.Fatalf("LoadFile: %v, %d issuers", err, len(fromFile))
	}
}

// TestLoadReportsEveryProblem loads one file with a problem in each entry
// and checks that one error names them all.
func TestLoadReportsEveryProblem(t *testing.T) {
	const bad = `{"issuers": [
	  {"org": "a", "issuer": "https://a.example", "audiences": ["x"], "algorithms": ["RS256", "HS256"]},
	  {"org": "b", "issuer": "https://b.example", "audiences": []},
	  {"org": "c", "issuer": "http://c.example", "audiences": ["x"]},
	  {"org": "d", "issuer": "https://a.example/", "audiences": ["x"]},
	  {"org": "e", "issuer": "https://e.example", "audiences": ["x"], "leeway": "10m"},
	  {"issuer": "https://f.example", "audiences": ["x"]},
	  {"org": "g", "issuer": "https://g.example", "audiences": ["x"], "algorithms": ["none"], "max_lifetime": "48h"},
	  {"org": "Not An Org", "issuer": "https://10.0.0.8", "audiences": ["x"], "jwks_url": "https://169.254.169.254/keys"},
	  {"org": "i", "issuer": "https://i.example", "audiences": ["x"], "user_claim": "a..b", "required_claims": {"azp": ""}, "user_prefix": "a b"}
	]}`
	_, err := Load(strings.NewReader(bad))
	if err == nil {
		t.Fatal("the file was accepted")
	}
	for _, want := range []string{
		`issuers[0] (https://a.example): algorithms: "HS256" is refused`,
		`issuers[1] (https://b.example): audiences: at least one`,
		`issuers[2] (http://c.example): issuer: "http://c.example" must use https`,
		`issuers[3] (https://a.example/): the issuer is already listed at issuers[0]`,
		`issuers[4] (https://e.example): leeway: 10m0s is out of range`,
		`issuers[5] (https://f.example): org_claim: required for a platform-wide issuer`,
		`issuers[6] (https://g.example): algorithms: "none" is refused`,
		`issuers[6] (https://g.example): max_lifetime: 48h0m0s is out of range`,
		`issuers[7] (https://10.0.0.8): org: "Not An Org" is not an org key`,
		`issuers[7] (https://10.0.0.8): issuer: "https://10.0.0.8": the host is a loopback, private or link-local address`,
		`issuers[7] (https://10.0.0.8): jwks_url: "https://169.254.169.254/keys": the host is a loopback`,
		`issuers[8] (https://i.example): user_claim: "a..b" is not a claim name`,
		`issuers[8] (https://i.example): required_claims: "azp" must be`,
		`issuers[8] (https://i.example): user_prefix: "a b" must be`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q", want)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 14 {
		t.Errorf("the error lists %d problems, want 14:\n%v", n, err)
	}
}

func TestLoadRefusesMalformedFiles(t *testing.T) {
	for name, text := range map[string]string{
		"unknown field":     `{"issuers": [{"issuer": "https://a.example", "audience": ["x"], "org": "a"}]}`,
		"unknown top field": `{"issuer": []}`,
		"bad duration":      `{"issuers": [{"issuer": "https://a.example", "audiences": ["x"], "org": "a", "leeway": "soon"}]}`,
		"two values":        `{"issuers": []} {}`,
		"not JSON":          `issuers: []`,
	} {
		if _, err := Load(strings.NewReader(text)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing.json"), false); err == nil {
		t.Error("a missing file was accepted")
	}
}

// TestNewValidates checks that New applies the same rules, with
// AllowInsecure only admitting http and hosts inside the network.
func TestNewValidates(t *testing.T) {
	loopback := Issuer{Org: "acme", URL: "http://127.0.0.1:9", Audiences: []string{"x"}}
	if _, err := New([]Issuer{loopback}, Options{}); err == nil || !strings.Contains(err.Error(), "must use https") {
		t.Fatalf("New accepted an http issuer without AllowInsecure: %v", err)
	}
	if _, err := New([]Issuer{{Org: "acme", URL: "https://127.0.0.1:9", Audiences: []string{"x"}}}, Options{}); err == nil {
		t.Fatal("New accepted a loopback issuer without AllowInsecure")
	}
	if _, err := New([]Issuer{loopback}, Options{AllowInsecure: true}); err != nil {
		t.Fatalf("New refused a loopback issuer with AllowInsecure: %v", err)
	}
	hs := loopback
	hs.Algorithms = []string{"HS256"}
	if _, err := New([]Issuer{hs}, Options{AllowInsecure: true}); err == nil {
		t.Fatal("AllowInsecure let HS256 through")
	}
}

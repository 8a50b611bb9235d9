package oidc

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

func TestLooksLikeJWT(t *testing.T) {
	b64 := base64.RawURLEncoding.EncodeToString
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{b64([]byte(`{"alg":"ES256"}`)) + "." + b64([]byte(`{"iss":"x"}`)) + "." + b64([]byte("sig")), true},
		{"eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.", true}, // unsigned: a JWT, refused later
		{"a.b.c", true},
		{"aip_0123456789abcdef_ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOPQRSTUV", false},
		{"aipt_0123456789abcdef_ABCDEFGH", false},
		{"", false}, {"..", false}, {"a..c", false}, {".b.c", false}, {"a.b", false}, {"a.b.c.d", false},
		{"a+b.c.d", false}, {"a.b/c.d", false}, {"a.b.c=", false}, {"a.b.c ", false}, {"a.b.c\n", false},
		{"a." + strings.Repeat("b", maxTokenBytes) + ".c", false},
	} {
		if got := LooksLikeJWT(tc.s); got != tc.want {
			t.Errorf("LooksLikeJWT(%.40q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

// issuerCases are tokens and the issuer read from them ("" when refused).
var issuerCases = []struct{ token, iss string }{
	{jwtWith(`{"iss":"https://idp.example","sub":"a"}`), "https://idp.example"},
	{jwtWith(`{"iss":"https://idp.example/","iss2":1}`), "https://idp.example/"},
	{jwtWith(`{"iss":"a","iss":"b"}`), "b"}, // encoding/json keeps the last, as go-oidc's decoding does
	{jwtWith(`{"sub":"a"}`), ""},
	{jwtWith(`{"ISS":"https://idp.example"}`), ""}, // claim names are case-sensitive
	{jwtWith(`{"iss":""}`), ""},
	{jwtWith(`{"iss":42}`), ""},
	{jwtWith(`{"iss":null}`), ""},
	{jwtWith(`["iss"]`), ""},
	{jwtWith(`not json`), ""},
	{"e30.e30.", ""},
	{"eyJhbGciOiJFUzI1NiJ9.!!!.sig", ""},
	{"eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0=.sig", ""}, // padded
	{"only.two", ""},
}

func jwtWith(payload string) string {
	b64 := base64.RawURLEncoding.EncodeToString
	return b64([]byte(`{"alg":"ES256","kid":"k"}`)) + "." + b64([]byte(payload)) + "." + b64([]byte("signature"))
}

func TestUnverifiedIssuer(t *testing.T) {
	for _, tc := range issuerCases {
		iss, err := unverifiedIssuer(tc.token)
		if tc.iss == "" && err == nil {
			t.Errorf("unverifiedIssuer(%q) = %q, want an error", tc.token, iss)
		}
		if tc.iss != "" && (err != nil || iss != tc.iss) {
			t.Errorf("unverifiedIssuer(%q) = %q, %v; want %q", tc.token, iss, err, tc.iss)
		}
	}
}

// FuzzUnverifiedIssuer checks the issuer extraction on any input, seeded
// from the table: it never panics, and an issuer it returns is a
// non-empty string that the payload, decoded, holds as iss.
func FuzzUnverifiedIssuer(f *testing.F) {
	for _, tc := range issuerCases {
		f.Add(tc.token)
	}
	f.Fuzz(func(t *testing.T, token string) {
		iss, err := unverifiedIssuer(token)
		if err != nil {
			return
		}
		if iss == "" || !LooksLikeJWT(token) {
			t.Fatalf("unverifiedIssuer(%q) = %q from a token that is not a JWT", token, iss)
		}
		payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
		var c map[string]any
		if err := json.Unmarshal(payload, &c); err != nil || c["iss"] != iss {
			t.Fatalf("unverifiedIssuer(%q) = %q, but the payload holds %v (%v)", token, iss, c["iss"], err)
		}
	})
}

// lookupCases are claims, a path, and the value found ("" when none).
var lookupCases = []struct{ claims, path, want string }{
	{`{"sub":"a"}`, "sub", `"a"`},
	{`{"realm_access":{"roles":["x","y"]}}`, "realm_access.roles", `["x","y"]`},
	{`{"https://example.com/groups":["g"]}`, "https://example.com/groups", `["g"]`},
	{`{"https://example.com/claims":{"org":"acme"}}`, "https://example.com/claims.org", `"acme"`},
	{`{"a.b":"whole","a":{"b":"nested"}}`, "a.b", `"whole"`},
	{`{"a":{"b":"nested"}}`, "a.b", `"nested"`},
	{`{"a":{"b.c":{"d":1}}}`, "a.b.c.d", `1`},
	{`{"a":"string"}`, "a.b", ``},
	{`{"a":{"b":null}}`, "a.b", `null`},
	{`{"a":["b"]}`, "a.0", ``},
	{`{}`, "sub", ``},
}

func TestClaimLookup(t *testing.T) {
	for _, tc := range lookupCases {
		c, err := decodeClaims([]byte(tc.claims))
		if err != nil {
			t.Fatal(err)
		}
		v, ok := c.lookup(tc.path)
		got := ""
		if ok {
			got = string(mustJSON(t, v))
		}
		if got != tc.want {
			t.Errorf("lookup(%s, %q) = %s, want %s", tc.claims, tc.path, got, tc.want)
		}
	}
}

func TestClaimValues(t *testing.T) {
	c, err := decodeClaims([]byte(`{"s":"x","l":["a",1,"b"],"t":true,"n":12.5,"o":{"k":"v"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.stringList("l"); strings.Join(got, ",") != "a,b" {
		t.Errorf("stringList(l) = %v", got)
	}
	if got := c.stringList("s"); strings.Join(got, ",") != "x" {
		t.Errorf("stringList(s) = %v", got)
	}
	if got := c.stringList("o"); got != nil {
		t.Errorf("stringList(o) = %v", got)
	}
	for _, tc := range []struct {
		path, want string
		has        bool
	}{
		{"s", "x", true}, {"s", "y", false}, {"l", "b", true}, {"l", "1", false}, {"t", "true", true},
		{"t", "false", false}, {"n", "12.5", true}, {"o", "v", false}, {"o.k", "v", true}, {"missing", "", false},
	} {
		if got := c.has(tc.path, tc.want); got != tc.has {
			t.Errorf("has(%s, %q) = %v", tc.path, tc.want, got)
		}
	}
}

// FuzzClaimLookup checks the claim lookup on any path, seeded from the
// table: it never panics, and a value placed at the path by nesting one
// object per segment is always found.
func FuzzClaimLookup(f *testing.F) {
	for _, tc := range lookupCases {
		f.Add(tc.claims, tc.path)
	}
	f.Fuzz(func(t *testing.T, raw, path string) {
		if c, err := decodeClaims([]byte(raw)); err == nil && validClaimPath(path) {
			c.lookup(path)
		}
		if !validClaimPath(path) {
			return
		}
		segs := strings.Split(path, ".")
		var v any = "found"
		for i := len(segs) - 1; i >= 0; i-- {
			v = map[string]any{segs[i]: v}
		}
		got, ok := claims(v.(map[string]any)).lookup(path)
		if !ok || got != "found" {
			t.Fatalf("lookup(%q) in its own nesting = %v, %v", path, got, ok)
		}
	})
}

package httpapi

import (
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// FuzzBearerKey checks that auth header parsing never panics, returns a
// trimmed key only for a known scheme, and that ParseKey on its result
// never accepts anything with spaces.
func FuzzBearerKey(f *testing.F) {
	for _, tc := range bearerCases {
		f.Add(tc.in)
	}
	full, _, _, _ := aiproxy.NewKeySecret()
	f.Add("Api-Key " + full)
	f.Fuzz(func(t *testing.T, h string) {
		key := bearerKey(h)
		if key == "" {
			return
		}
		if key != strings.TrimSpace(key) {
			t.Fatalf("bearerKey(%q) = %q is not trimmed", h, key)
		}
		scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
		known := false
		for _, s := range authSchemes {
			known = known || strings.EqualFold(s, scheme)
		}
		if !known || strings.TrimSpace(rest) != key {
			t.Fatalf("bearerKey(%q) = %q from scheme %q", h, key, scheme)
		}
		if id, secret, ok := aiproxy.ParseKey(key); ok && "aip_"+id+"_"+secret != key {
			t.Fatalf("ParseKey(%q) parts do not rebuild it", key)
		}
	})
}

package aiproxy

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseKey checks that ParseKey never panics and that what it accepts
// is exactly a well-formed key it can rebuild.
func FuzzParseKey(f *testing.F) {
	for _, tc := range parseKeyCases {
		f.Add(tc.in)
	}
	full, _, _, err := NewKeySecret()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(full)
	f.Fuzz(func(t *testing.T, in string) {
		id, secret, ok := ParseKey(in)
		if !ok {
			if id != "" || secret != "" {
				t.Fatalf("refused key returned parts %q %q", id, secret)
			}
			return
		}
		if in != "aip_"+id+"_"+secret {
			t.Fatalf("ParseKey(%q) = %q, %q: parts do not rebuild the input", in, id, secret)
		}
		if len(id) != 16 || len(secret) != 52 {
			t.Fatalf("ParseKey(%q): id %d, secret %d characters", in, len(id), len(secret))
		}
		if strings.Trim(id, "0123456789abcdef") != "" || strings.Trim(secret, "abcdefghijklmnopqrstuvwxyz234567") != "" {
			t.Fatalf("ParseKey(%q) accepted a character outside the key alphabet", in)
		}
	})
}

// FuzzPathExpand checks that an accepted expansion turns every value into
// exactly one path segment that unescapes back to the value.
func FuzzPathExpand(f *testing.F) {
	for _, tc := range expandCases {
		var a, b string
		a = tc.params["x"]
		b = tc.params["y"]
		f.Add(a, b)
	}
	f.Add("..", ".")
	f.Add("%2F", "%00")
	f.Add("a/b", "c")
	pt, err := ParsePathTemplate("/v1/{x}/lit/{y}")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, x, y string) {
		got, err := pt.Expand(map[string]string{"x": x, "y": y})
		if err != nil {
			if ErrorCode(err) != CodeInvalid {
				t.Fatalf("Expand error %v is not invalid", err)
			}
			return
		}
		if strings.ContainsAny(got, "?#\\") {
			t.Fatalf("expansion %q holds ? # or \\", got)
		}
		segs := strings.Split(got, "/")
		if len(segs) != 5 || segs[0] != "" || segs[1] != "v1" || segs[3] != "lit" {
			t.Fatalf("expansion %q does not keep one segment per placeholder", got)
		}
		for i, want := range map[int]string{2: x, 4: y} {
			seg := segs[i]
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("expansion %q has an empty or dot segment", got)
			}
			if un, err := url.PathUnescape(seg); err != nil || un != want {
				t.Fatalf("segment %q unescapes to %q (%v), want %q", seg, un, err, want)
			}
			// An upstream that decodes before normalizing must not see a dot segment either.
			if un, _ := url.PathUnescape(seg); un == "." || un == ".." {
				t.Fatalf("segment %q decodes to a dot segment", seg)
			}
		}
		u, err := url.Parse("http://h" + got)
		if err != nil {
			t.Fatalf("expansion %q is not a valid URL path: %v", got, err)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("expansion %q sets a query or fragment", got)
		}
	})
}

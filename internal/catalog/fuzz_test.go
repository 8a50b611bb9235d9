package catalog

import (
	"errors"
	"testing"
)

// FuzzLoadFile feeds arbitrary bytes as an extra catalog file next to the
// built-in one. Loading must never panic; it either fails with problems or
// yields a catalog whose every service and endpoint is usable.
func FuzzLoadFile(f *testing.F) {
	builtin, err := readBuiltin()
	if err != nil {
		f.Fatal(err)
	}
	for _, tc := range validationCases {
		f.Add(tc.data())
	}
	for _, b := range builtin {
		f.Add(b.data)
	}
	f.Add([]byte(`{"slug":"heygen","upstream":{"hosts":{"upload":null}}}`))
	f.Add([]byte(`{"slug":"elevenlabs","endpoints":[{"slug":"tts","is_enabled":false},{"slug":"x","path_template":"/{a}","http_method":"GET","request_mode":"raw","response_mode":"json"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := compile(builtin, []sourceFile{{name: "fuzz.json", data: data}}, nil)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("want problems, got %v", err)
			}
			return
		}
		for _, s := range c.Services() {
			if !slugPattern.MatchString(s.Slug) || s.BaseURL == "" {
				t.Fatalf("bad service %+v", s)
			}
			for _, e := range s.Endpoints {
				if e.Path.String() != e.PathTemplate {
					t.Fatalf("%s/%s: Path not filled", s.Slug, e.Slug)
				}
				if e.Host != "" && s.BaseURLFor(&e) == "" {
					t.Fatalf("%s/%s: unknown host", s.Slug, e.Slug)
				}
				if _, _, ok := c.Lookup(s.Slug, e.Slug); ok != (s.IsEnabled && e.IsEnabled) {
					t.Fatalf("%s/%s: Lookup disagrees with is_enabled", s.Slug, e.Slug)
				}
			}
		}
	})
}

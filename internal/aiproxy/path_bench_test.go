package aiproxy

import "testing"

// BenchmarkPathExpand fills the path templates of typical endpoints.
func BenchmarkPathExpand(b *testing.B) {
	for _, bc := range []struct {
		name, tmpl string
		params     map[string]string
	}{
		{"literal", "/v2/user/remaining_quota", nil},
		{"one", "/v1/text-to-speech/{voice_id}/stream", map[string]string{"voice_id": "21m00Tcm4TlvDq8ikWAM"}},
		{"two", "/v1/dubbing/{dubbing_id}/audio/{language_code}", map[string]string{"dubbing_id": "dub 42", "language_code": "pt-BR"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			t, err := ParsePathTemplate(bc.tmpl)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := t.Expand(bc.params); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package aiproxy

import (
	"reflect"
	"strings"
	"testing"
)

var parseTemplateCases = []struct {
	name   string
	in     string
	params []string
	ok     bool
}{
	{"literal", "/v1/voices", nil, true},
	{"root", "/", nil, true},
	{"one param", "/v1/text-to-speech/{voice_id}", []string{"voice_id"}, true},
	{"two params", "/v1/dubbing/{dubbing_id}/audio/{language_code}", []string{"dubbing_id", "language_code"}, true},
	{"param mid segment", "/v1/video_{id}.get", []string{"id"}, true},
	{"adjacent params", "/{a}{b}", []string{"a", "b"}, true},
	{"no leading slash", "v1/voices", nil, false},
	{"empty", "", nil, false},
	{"query", "/v1/voices?x=1", nil, false},
	{"fragment", "/v1/voices#x", nil, false},
	{"unclosed", "/v1/{voice_id", nil, false},
	{"stray close", "/v1/voice_id}", nil, false},
	{"close before open", "/v1/}{voice_id}", nil, false},
	{"empty name", "/v1/{}", nil, false},
	{"bad name", "/v1/{voice-id}", nil, false},
	{"nested", "/v1/{a{b}}", nil, false},
	{"repeat", "/{a}/{a}", nil, false},
	{"long name", "/{" + strings.Repeat("a", 65) + "}", nil, false},
}

func TestParsePathTemplate(t *testing.T) {
	for _, tc := range parseTemplateCases {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := ParsePathTemplate(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ParsePathTemplate(%q) err = %v, want ok=%v", tc.in, err, tc.ok)
			}
			if !tc.ok {
				return
			}
			if pt.String() != tc.in {
				t.Errorf("String = %q", pt.String())
			}
			if !reflect.DeepEqual(pt.Params(), tc.params) {
				t.Errorf("Params = %v, want %v", pt.Params(), tc.params)
			}
		})
	}
}

// expandCases seed FuzzPathExpand.
var expandCases = []struct {
	name    string
	tmpl    string
	params  map[string]string
	want    string
	wantErr string
}{
	{"no params", "/v1/voices", nil, "/v1/voices", ""},
	{"plain", "/v1/text-to-speech/{voice_id}", map[string]string{"voice_id": "21m00Tcm4TlvDq8ikWAM"}, "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM", ""},
	{"two", "/v1/dubbing/{d}/audio/{l}", map[string]string{"d": "x1", "l": "en"}, "/v1/dubbing/x1/audio/en", ""},
	{"escaped space", "/a/{x}", map[string]string{"x": "a b"}, "/a/a%20b", ""},
	{"encoded dots", "/a/{x}", map[string]string{"x": "%2e%2e"}, "", "Invalid path parameter: x"},
	{"encoded slash", "/a/{x}", map[string]string{"x": "a%2Fb"}, "", "Invalid path parameter: x"},
	{"invalid utf-8", "/a/{x}", map[string]string{"x": "a\xffb"}, "", "Invalid path parameter: x"},
	{"unicode", "/a/{x}", map[string]string{"x": "héllo"}, "/a/h%C3%A9llo", ""},
	{"dots inside", "/a/{x}", map[string]string{"x": "a..b"}, "/a/a..b", ""},
	{"three dots", "/a/{x}", map[string]string{"x": "..."}, "/a/...", ""},
	{"semicolon", "/a/{x}", map[string]string{"x": "a;b"}, "/a/a%3Bb", ""},
	{"missing", "/a/{x}", nil, "", "Missing required path parameter: x"},
	{"missing second", "/a/{x}/{y}", map[string]string{"x": "1"}, "", "Missing required path parameter: y"},
	{"unknown", "/a/{x}", map[string]string{"x": "1", "z": "2"}, "", "Unknown path parameter: z"},
	{"unknown on literal", "/a", map[string]string{"z": "2"}, "", "Unknown path parameter: z"},
	{"empty value", "/a/{x}", map[string]string{"x": ""}, "", "Invalid path parameter: x"},
	{"dot", "/a/{x}", map[string]string{"x": "."}, "", "Invalid path parameter: x"},
	{"dotdot", "/a/{x}", map[string]string{"x": ".."}, "", "Invalid path parameter: x"},
	{"slash", "/a/{x}", map[string]string{"x": "../admin"}, "", "Invalid path parameter: x"},
	{"backslash", "/a/{x}", map[string]string{"x": `..\admin`}, "", "Invalid path parameter: x"},
	{"query", "/a/{x}", map[string]string{"x": "a?b=1"}, "", "Invalid path parameter: x"},
	{"fragment", "/a/{x}", map[string]string{"x": "a#b"}, "", "Invalid path parameter: x"},
	{"newline", "/a/{x}", map[string]string{"x": "a\nb"}, "", "Invalid path parameter: x"},
	{"nul", "/a/{x}", map[string]string{"x": "a\x00b"}, "", "Invalid path parameter: x"},
	{"del", "/a/{x}", map[string]string{"x": "a\x7fb"}, "", "Invalid path parameter: x"},
}

func TestPathTemplateExpand(t *testing.T) {
	for _, tc := range expandCases {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := ParsePathTemplate(tc.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			got, err := pt.Expand(tc.params)
			if tc.wantErr != "" {
				e, ok := err.(*Error)
				if !ok || e.Message != tc.wantErr || e.Code != CodeInvalid || e.Field != FieldError {
					t.Fatalf("Expand err = %#v, want %q in the error field", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Expand = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

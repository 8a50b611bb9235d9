package catalog

import (
	"encoding/json"
	"testing"
)

func TestMergeService(t *testing.T) {
	tests := []struct {
		name, base, override, want string
	}{
		{"scalar replaces", `{"a":1,"b":2}`, `{"b":3}`, `{"a":1,"b":3}`},
		{"objects merge recursively", `{"o":{"x":1,"y":{"z":1}}}`, `{"o":{"y":{"w":2}}}`, `{"o":{"x":1,"y":{"w":2,"z":1}}}`},
		{"null removes", `{"o":{"x":1,"y":2}}`, `{"o":{"x":null}}`, `{"o":{"y":2}}`},
		{"arrays replace", `{"h":["a","b"]}`, `{"h":["c"]}`, `{"h":["c"]}`},
		{"object replaces scalar", `{"o":1}`, `{"o":{"x":1}}`, `{"o":{"x":1}}`},
		{"endpoints merge by slug", `{"endpoints":[{"slug":"a","m":"GET","t":1},{"slug":"b","m":"GET"}]}`,
			`{"endpoints":[{"slug":"b","m":"POST"},{"slug":"c","m":"PUT"},{"slug":"a","t":null}]}`,
			`{"endpoints":[{"m":"GET","slug":"a"},{"m":"POST","slug":"b"},{"m":"PUT","slug":"c"}]}`},
		{"endpoints added to none", `{}`, `{"endpoints":[{"slug":"a"}]}`, `{"endpoints":[{"slug":"a"}]}`},
		{"null endpoints removes all", `{"endpoints":[{"slug":"a"}]}`, `{"endpoints":null}`, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var base, override map[string]any
			if err := json.Unmarshal([]byte(tt.base), &base); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.override), &override); err != nil {
				t.Fatal(err)
			}
			before, _ := json.Marshal(base)
			got, _ := json.Marshal(mergeService(base, override))
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if after, _ := json.Marshal(base); string(after) != string(before) {
				t.Errorf("base changed to %s", after)
			}
		})
	}
}

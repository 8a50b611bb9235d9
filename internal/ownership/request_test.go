package ownership

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

var bodyIDCases = []struct {
	name, body, path string
	want             []string
	invalid          bool
}{
	{"member", `{"avatar_id":"a1"}`, "avatar_id", []string{"a1"}, false},
	{"nested", `{"image":{"type":"asset_id","asset_id":"x"}}`, "image.asset_id", []string{"x"}, false},
	{"absent", `{"script":"hi"}`, "avatar_id", nil, false},
	{"null", `{"avatar_id":null}`, "avatar_id", nil, false},
	{"empty body", ``, "avatar_id", nil, false},
	{"any letter case", `{"Avatar_ID":"b2"}`, "avatar_id", []string{"b2"}, false},
	{"every copy of a member", `{"avatar_id":"mine","avatar_id":"theirs","AVATAR_ID":"third"}`, "avatar_id",
		[]string{"mine", "theirs", "third"}, false},
	{"array of ids", `{"avatar_id":["l1","l2"]}`, "avatar_id", []string{"l1", "l2"}, false},
	{"wildcard over an array", `{"video_inputs":[{"character":{"talking_photo_id":"p1"}},{"character":{"type":"avatar"}},
		{"character":{"talking_photo_id":"p2"}}]}`, "video_inputs.*.character.talking_photo_id", []string{"p1", "p2"}, false},
	{"wildcard over an object", `{"variables":{"logo":{"properties":{"asset_id":"a"}},"name":{"properties":{"content":"x"}}}}`,
		"variables.*.properties.asset_id", []string{"a"}, false},
	{"a number", `{"avatar_id":12345}`, "avatar_id", []string{"12345"}, false},
	{"an object where an id goes", `{"avatar_id":{"id":"x"}}`, "avatar_id", nil, true},
	{"a bool in an id array", `{"avatar_id":["x",true]}`, "avatar_id", nil, true},
	{"not JSON", `{"avatar_id":`, "avatar_id", nil, true},
	{"trailing data", `{} {}`, "avatar_id", nil, true},
}

func TestBodyIDs(t *testing.T) {
	for _, tc := range bodyIDCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := bodyIDs(json.RawMessage(tc.body), tc.path)
			if tc.invalid {
				if aiproxy.ErrorCode(err) != aiproxy.CodeInvalid {
					t.Fatalf("bodyIDs = %q, %v; want a 400", got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("bodyIDs = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestRequestIDs(t *testing.T) {
	env := proxy.Envelope{
		PathParams: map[string]string{"voice_id": "v1"},
		Query:      map[string][]string{"video_id": {"x"}, "token": {"a", "b"}, "Token": {"c"}},
	}
	cases := []struct {
		where   string
		want    []string
		invalid bool
	}{
		{"path.voice_id", []string{"v1"}, false},
		{"path.other", nil, false},
		{"query.video_id", []string{"x"}, false},
		{"query.VIDEO_ID", []string{"x"}, false},
		{"query.token", nil, true}, // three values in two letter cases
		{"query.none", nil, false},
	}
	for _, tc := range cases {
		got, err := requestIDs(env, tc.where)
		switch {
		case tc.invalid && aiproxy.ErrorCode(err) != aiproxy.CodeInvalid:
			t.Errorf("requestIDs(%s) = %q, %v; want a 400", tc.where, got, err)
		case !tc.invalid && (err != nil || !slices.Equal(got, tc.want)):
			t.Errorf("requestIDs(%s) = %q, %v; want %q", tc.where, got, err, tc.want)
		}
	}
}

// FuzzBodyIDs feeds request bodies and paths to the id reader: it never
// panics, refuses what it cannot read with a 400, and returns no empty id.
func FuzzBodyIDs(f *testing.F) {
	for _, tc := range bodyIDCases {
		f.Add(tc.body, tc.path)
	}
	f.Fuzz(func(t *testing.T, body, path string) {
		ids, err := bodyIDs(json.RawMessage(body), path)
		if err != nil && aiproxy.ErrorCode(err) != aiproxy.CodeInvalid {
			t.Fatalf("bodyIDs(%q, %q) = %v, want a 400 or ids", body, path, err)
		}
		if slices.Contains(ids, "") {
			t.Fatalf("bodyIDs(%q, %q) returned an empty id", body, path)
		}
	})
}

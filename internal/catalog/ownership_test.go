package catalog

import (
	"errors"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

const putFile = "test.json: testsvc/put-file: "

// ownershipCases break one endpoint's ownership block of validDoc (get-thing:
// GET /v1/things/{id}, raw, json; put-file: binary upload, json) at a time.
var ownershipCases = []validationCase{
	{name: "valid read, create and list", edits: map[string]any{
		"endpoints.0.ownership": map[string]any{"op": "list", "kind": "thing", "items": "data.things", "id": "thing_id", "stock": true},
	}},
	{name: "valid header create", edits: map[string]any{
		"upstream.response_headers": []any{"Thing-Id"},
		"endpoints.1.ownership":     map[string]any{"op": "create", "kind": "file", "id": "header:thing-id"},
	}},
	{name: "valid account with instead", edits: map[string]any{
		"endpoints.0.ownership": map[string]any{"op": "account", "instead": "/api/ai-proxy/orgs/{org}/webhooks/"},
	}},
	{name: "valid uses", edits: map[string]any{
		"endpoints.1.request_mode": "json",
		"endpoints.1.ownership": map[string]any{"op": "create", "kind": "file", "id": "data.id", "uses": []any{
			map[string]any{"kind": "voice", "id": "body.scenes.*.voice_id", "stock": true},
			map[string]any{"kind": "asset", "id": "query.asset_id"},
		}},
	}},
	{name: "missing on both endpoints", edits: map[string]any{"endpoints.0.ownership": del, "endpoints.1.ownership": del},
		want: []string{ep + "ownership is required", putFile + "ownership is required"}},
	{name: "unknown op", edits: map[string]any{"endpoints.0.ownership": map[string]any{"op": "peek"}},
		want: []string{ep + `ownership.op "peek" is not one of create, read, update, delete, download, list, account, public`}},
	{name: "no kind", edits: map[string]any{"endpoints.0.ownership": map[string]any{"op": "read", "id": "path.id"}},
		want: []string{ep + "ownership.kind is required"}},
	{name: "bad kind", edits: map[string]any{"endpoints.0.ownership": map[string]any{"op": "read", "kind": "Thing!", "id": "path.id"}},
		want: []string{ep + `ownership.kind "Thing!" must match`}},
	{name: "public names an object", edits: map[string]any{"endpoints.0.ownership": map[string]any{"op": "public", "kind": "thing"}},
		want: []string{ep + `ownership.op "public" names no object`}},
	{name: "id in no placeholder", edits: map[string]any{"endpoints.0.ownership": map[string]any{"op": "delete", "kind": "thing", "id": "path.thing_id"}},
		want: []string{ep + `ownership.id "path.thing_id" names no placeholder of path_template`}},
	{name: "id from nowhere", edits: map[string]any{"endpoints.0.ownership": map[string]any{"op": "read", "kind": "thing", "id": "cookie.id"}},
		want: []string{ep + `ownership.id "cookie.id" must be "path.NAME", "query.NAME" or "body.PATH"`}},
	{name: "body id on a raw endpoint", edits: map[string]any{"endpoints.0.ownership": map[string]any{"op": "read", "kind": "thing", "id": "body.id"}},
		want: []string{ep + `ownership.id "body.id" reads the body, which needs request_mode json`}},
	{name: "wildcard on a by-id op", edits: map[string]any{"endpoints.0.request_mode": "json",
		"endpoints.0.ownership": map[string]any{"op": "update", "kind": "thing", "id": "body.things.*.id"}},
		want: []string{ep + `ownership.id "body.things.*.id" may not hold "*"`}},
	{name: "stock on a delete", edits: map[string]any{"endpoints.0.ownership": map[string]any{"op": "delete", "kind": "thing", "id": "path.id", "stock": true}},
		want: []string{ep + "ownership.stock applies only to read, download and list"}},
	{name: "list without items", edits: map[string]any{"endpoints.0.ownership": map[string]any{"op": "list", "kind": "thing", "id": "id"}},
		want: []string{ep + "ownership.items is required"}},
	{name: "list of a binary answer", edits: map[string]any{"endpoints.0.response_mode": "binary",
		"endpoints.0.ownership": map[string]any{"op": "list", "kind": "thing", "items": "things", "id": "id"}},
		want: []string{ep + `ownership.op "list" filters a JSON answer`}},
	{name: "items on a read", edits: map[string]any{"endpoints.0.ownership": map[string]any{"op": "read", "kind": "thing", "id": "path.id", "items": "x"}},
		want: []string{ep + `ownership.items, cursor and more apply only to op "list"`}},
	{name: "more without cursor", edits: map[string]any{"endpoints.0.ownership": map[string]any{"op": "list", "kind": "thing",
		"items": "things", "id": "id", "more": "has_more"}},
		want: []string{ep + "ownership.more says whether a cursor goes on: it needs ownership.cursor"}},
	{name: "create without id", edits: map[string]any{"endpoints.1.ownership": map[string]any{"op": "create", "kind": "file"}},
		want: []string{putFile + "ownership.id is required"}},
	{name: "create from a JSON path of binary audio", edits: map[string]any{"endpoints.1.response_mode": "binary"},
		want: []string{putFile + `ownership.id "data.id" is a JSON path, but response_mode is "binary": use "header:NAME"`}},
	{name: "create from a header that is not passed back", edits: map[string]any{
		"endpoints.1.ownership": map[string]any{"op": "create", "kind": "file", "id": "header:thing-id"}},
		want: []string{putFile + `ownership.id "header:thing-id" names a header the provider's answer does not pass back`}},
	{name: "instead on a read", edits: map[string]any{"endpoints.0.ownership": map[string]any{"op": "read", "kind": "thing", "id": "path.id", "instead": "/x"}},
		want: []string{ep + `ownership.instead applies only to op "account"`}},
	{name: "instead not a path", edits: map[string]any{"endpoints.0.ownership": map[string]any{"op": "account", "instead": "https://x"}},
		want: []string{ep + `ownership.instead "https://x" must be an aiproxy path`}},
	{name: "bad uses", edits: map[string]any{"endpoints.0.ownership": map[string]any{"op": "read", "kind": "thing", "id": "path.id",
		"uses": []any{map[string]any{"id": "path.id"}, map[string]any{"kind": "voice", "id": "body.voice_id"}}}},
		want: []string{ep + "ownership.uses[0].kind is required",
			ep + `ownership.uses[1].id "body.voice_id" reads the body, which needs request_mode json`}},
	{name: "unknown field", raw: `{"slug":"x","endpoints":[{"slug":"a","ownership":{"op":"public","owner":"me"}}]}`,
		want: []string{`unknown field "endpoints[0].ownership.owner"`}},
}

func TestOwnershipValidation(t *testing.T) {
	for _, tc := range ownershipCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := compile(nil, []sourceFile{{name: "test.json", data: tc.data()}}, nil)
			var ve *ValidationError
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("want no problems, got %v", err)
				}
				return
			}
			if !errors.As(err, &ve) {
				t.Fatalf("want a *ValidationError, got %v", err)
			}
			if len(ve.Problems) != len(tc.want) {
				t.Errorf("got %d problems, want %d:\n%s", len(ve.Problems), len(tc.want), err)
			}
			for _, w := range tc.want {
				if !containsProblem(ve.Problems, w) {
					t.Errorf("no problem contains %q; got:\n%s", w, err)
				}
			}
		})
	}
}

// TestOwnershipCompiled checks that a rule reaches the domain whole.
func TestOwnershipCompiled(t *testing.T) {
	tc := ownershipCases[3] // valid uses
	c, err := compile(nil, []sourceFile{{name: "test.json", data: tc.data()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, e, _ := c.Lookup("testsvc", "put-file")
	o := e.Ownership
	if o == nil || o.Op != aiproxy.OwnCreate || o.Kind != "file" || o.ID != "data.id" || len(o.Uses) != 2 ||
		o.Uses[0] != (aiproxy.ObjectRef{Kind: "voice", ID: "body.scenes.*.voice_id", Stock: true}) {
		t.Fatalf("compiled rule = %+v", o)
	}
}

// TestOwnershipOverride: an override replaces an endpoint's rule whole, so
// that changing op does not inherit fields that belonged to the old one.
func TestOwnershipOverride(t *testing.T) {
	dir := writeDir(t, map[string]string{"el.json": `{"slug":"elevenlabs","endpoints":[
		{"slug":"get-history","ownership":{"op":"account"}},
		{"slug":"get-voice","ownership":{"op":"read","kind":"voice","id":"path.voice_id"}}]}`})
	c := mustLoad(t, Options{Dir: dir})
	_, hist, _ := c.Lookup("elevenlabs", "get-history")
	if o := hist.Ownership; o.Op != aiproxy.OwnAccount || o.Kind != "" || o.Items != "" || o.ID != "" {
		t.Errorf("get-history rule after the override = %+v, want account and nothing else", o)
	}
	_, voice, _ := c.Lookup("elevenlabs", "get-voice")
	if o := voice.Ownership; o.Op != aiproxy.OwnRead || o.Stock {
		t.Errorf("get-voice rule after the override = %+v, want a read without stock", o)
	}
}

// TestBuiltinOwnership: every built-in endpoint has a rule (validation
// makes it so), and the shape of each class is what docs/security.md says.
func TestBuiltinOwnership(t *testing.T) {
	c := mustLoad(t, Options{})
	want := map[string]aiproxy.OwnershipOp{
		"heygen/list-videos": aiproxy.OwnList, "heygen/v3-list-videos": aiproxy.OwnList,
		"heygen/delete-video": aiproxy.OwnDelete, "heygen/add-webhook": aiproxy.OwnAccount,
		"heygen/generate-video": aiproxy.OwnCreate, "heygen/list-avatars": aiproxy.OwnList,
		"heygen/list-templates": aiproxy.OwnPublic, "elevenlabs/tts": aiproxy.OwnCreate,
		"elevenlabs/get-history-audio": aiproxy.OwnDownload, "elevenlabs/get-user": aiproxy.OwnAccount,
		"elevenlabs/list-models": aiproxy.OwnPublic,
	}
	n := 0
	for _, s := range c.Services() {
		for _, e := range s.Endpoints {
			n++
			if e.Ownership == nil {
				t.Errorf("%s/%s has no ownership rule", s.Slug, e.Slug)
				continue
			}
			if op, ok := want[s.Slug+"/"+e.Slug]; ok && e.Ownership.Op != op {
				t.Errorf("%s/%s: op %q, want %q", s.Slug, e.Slug, e.Ownership.Op, op)
			}
			if e.Job != nil && (e.Ownership.Op != aiproxy.OwnCreate || e.Ownership.ID != e.Job.IDPath) {
				t.Errorf("%s/%s starts a job, so it must record the job's id %q as an object: rule %+v", s.Slug, e.Slug, e.Job.IDPath, e.Ownership)
			}
		}
	}
	if n < 60 {
		t.Errorf("%d built-in endpoints, want the whole catalog", n)
	}
}

package openapi_test

import (
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/aiproxy/aiproxy/internal/openapi"
)

// schemesOf names the security schemes an operation accepts, each
// requirement holding one.
func schemesOf(doc *openapi3.T, op *openapi3.Operation) []string {
	reqs := doc.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	var out []string
	for _, r := range reqs {
		for name := range r {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// TestUsersDocumented checks what the document says of end users: the
// user-token routes take only a key, every other org route a key or a
// user token, the query token only on GET native routes and the event
// stream, the X-AIProxy-User header on calls, the user of a job and the
// 402 of a budget.
func TestUsersDocumented(t *testing.T) {
	data, err := openapi.Build(fixture(), "test")
	if err != nil {
		t.Fatal(err)
	}
	doc := load(t, data)
	org := openapi.Base + "/orgs/{org}"

	q := doc.Components.SecuritySchemes["accessToken"]
	if q == nil || q.Value.In != "query" || q.Value.Name != "access_token" {
		t.Fatalf("accessToken scheme = %+v", q)
	}
	tok := doc.Components.SecuritySchemes["userToken"]
	if tok == nil || tok.Value.In != "header" || tok.Value.Name != "Authorization" {
		t.Fatalf("userToken scheme = %+v", tok)
	}

	tests := []struct {
		path, method string
		schemes      []string
	}{
		{org + "/user-tokens/", "POST", []string{"apiKey"}},
		{org + "/user-tokens/", "GET", []string{"apiKey"}},
		{org + "/user-tokens/{id}/", "DELETE", []string{"apiKey"}},
		{org + "/keys/", "GET", []string{"apiKey"}},
		{org + "/me/", "GET", []string{"apiKey", "userToken"}},
		{org + "/jobs/", "GET", []string{"apiKey", "userToken"}},
		{org + "/jobs/events", "GET", []string{"accessToken", "apiKey", "userToken"}},
		{org + "/services/voice/tts/", "POST", []string{"apiKey", "userToken"}},
		{org + "/native/voice/v1/voices", "GET", []string{"accessToken", "apiKey", "userToken", "voiceNative"}},
		{org + "/native/voice/v1/text-to-speech/{voice_id}", "POST", []string{"apiKey", "userToken", "voiceNative"}},
	}
	for _, tt := range tests {
		item := doc.Paths.Value(tt.path)
		if item == nil || item.GetOperation(tt.method) == nil {
			t.Errorf("no %s %s", tt.method, tt.path)
			continue
		}
		if got := schemesOf(doc, item.GetOperation(tt.method)); !slices.Equal(got, tt.schemes) {
			t.Errorf("%s %s accepts %v, want %v", tt.method, tt.path, got, tt.schemes)
		}
	}

	for _, p := range []string{org + "/services/voice/tts/", org + "/native/voice/v1/voices"} {
		for _, op := range doc.Paths.Value(p).Operations() {
			if len(op.Parameters) == 0 || op.Parameters[0].Value.Name != "X-AIProxy-User" || op.Parameters[0].Value.In != "header" {
				t.Errorf("%s does not take X-AIProxy-User", p)
			}
			if op.Responses.Value("402") == nil {
				t.Errorf("%s does not list 402", p)
			}
		}
	}

	mint := doc.Paths.Value(org + "/user-tokens/").Post
	body := mint.RequestBody.Value.Content.Get("application/json").Schema.Value
	if !slices.Equal(body.Required, []string{"user"}) || body.Properties["ttl_seconds"].Value.Max == nil ||
		*body.Properties["ttl_seconds"].Value.Max != 3600 || *body.Properties["ttl_seconds"].Value.Min != 10 {
		t.Errorf("mint body = %+v", body)
	}
	if tokenSchema := mint.Responses.Value("201").Value.Content.Get("application/json").Schema.Value; tokenSchema.Properties["token"] == nil {
		t.Error("a minted token has no token field")
	}
	me := doc.Components.Schemas["Me"].Value
	for _, f := range []string{"org", "kind", "role", "user", "member", "key_id", "test_only", "grants", "expires_at"} {
		if me.Properties[f] == nil {
			t.Errorf("Me lacks %s", f)
		}
	}

	var params []string
	for _, p := range doc.Paths.Value(org + "/jobs/").Get.Parameters {
		params = append(params, p.Value.Name)
	}
	if !slices.Contains(params, "user") {
		t.Errorf("the job list's parameters are %v, without user", params)
	}
	if job := doc.Components.Schemas["Job"].Value; job.Properties["user"] == nil || !slices.Contains(job.Required, "user") {
		t.Error("a job does not carry its user")
	}

	e402 := doc.Components.Responses["Error402"].Value.Content.Get("application/json")
	example, _ := e402.Example.(map[string]any)
	if e402.Schema.Ref != "#/components/schemas/BudgetExceeded" || example["code"] != "budget_exceeded" || example["detail"] == "" {
		t.Errorf("402 = %+v", e402)
	}
	if !slices.Contains(doc.Components.Schemas["Error"].Value.Properties["code"].Value.Enum, any("budget_exceeded")) {
		t.Error("budget_exceeded is not an error code")
	}
}

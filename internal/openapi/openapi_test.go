package openapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/openapi"
)

var update = flag.Bool("update", false, "rewrite testdata/openapi.golden.json")

// fixture is a small, fixed catalog, so that the golden file changes only
// when the generator does, not when the built-in catalog grows.
func fixture() []*aiproxy.Service {
	policy := aiproxy.CredentialPolicy{AllowTenantKey: true, DefaultSource: aiproxy.SourceTenant}
	return []*aiproxy.Service{
		{
			Slug: "voice", DisplayName: "Voice", BaseURL: "https://api.voice.test", ServiceType: "tts", AuthMode: "header",
			IsEnabled: true, SupportsStreaming: true, DefaultTimeoutSeconds: 60, CredentialName: "voice",
			CredentialPolicy: policy, CredentialSchema: map[string]string{"key": "string"},
			Upstream: aiproxy.Upstream{AuthHeader: "xi-api-key"},
			Endpoints: []aiproxy.Endpoint{
				{Slug: "list-voices", PathTemplate: "/v1/voices", HTTPMethod: "GET", RequestMode: "raw", ResponseMode: "json", IsEnabled: true, Description: "Lists voices"},
				{Slug: "tts", PathTemplate: "/v1/text-to-speech/{voice_id}", HTTPMethod: "POST", RequestMode: "json", ResponseMode: "binary", SupportsStreaming: true, IsEnabled: true},
				{Slug: "tts-stream", PathTemplate: "/v1/text-to-speech/{voice_id}/stream", HTTPMethod: "POST", RequestMode: "json", ResponseMode: "stream", IsEnabled: true,
					RequestSchema: &aiproxy.BodySchema{Name: "voice-tts.json", Document: json.RawMessage(ttsSchema)}},
				{Slug: "add-voice", PathTemplate: "/v1/voices/add", HTTPMethod: "POST", RequestMode: "multipart", ResponseMode: "json", IsEnabled: true},
				{Slug: "hidden", PathTemplate: "/v1/hidden", HTTPMethod: "GET", RequestMode: "raw", ResponseMode: "json", IsEnabled: false},
			},
		},
		{
			Slug: "video", DisplayName: "Video", BaseURL: "https://api.video.test", ServiceType: "video", AuthMode: "header",
			IsEnabled: true, SupportsAsyncJobs: true, DefaultTimeoutSeconds: 120, CredentialName: "video",
			CredentialPolicy: policy, CredentialSchema: map[string]string{"key": "string"},
			Upstream: aiproxy.Upstream{AuthHeader: "Authorization", AuthPrefix: "Bearer "},
			Endpoints: []aiproxy.Endpoint{
				{Slug: "upload", PathTemplate: "/v1/asset", HTTPMethod: "POST", RequestMode: "binary", ResponseMode: "json", IsEnabled: true},
				{Slug: "get-video", PathTemplate: "/v3/videos/{video_id}", HTTPMethod: "GET", RequestMode: "raw", ResponseMode: "json", CallbackMode: "poll", IsEnabled: true},
				{Slug: "delete-video", PathTemplate: "/v3/videos/{video_id}", HTTPMethod: "DELETE", RequestMode: "raw", ResponseMode: "json", IsEnabled: true},
			},
		},
		{Slug: "off", DisplayName: "Off", IsEnabled: false},
	}
}

// ttsSchema is the fixture's request_schema, as the catalog compiles one.
const ttsSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","required":["text"],` +
	`"properties":{"text":{"type":"string","maxLength":5000},"voice_settings":{"type":"object",` +
	`"properties":{"stability":{"type":"number","minimum":0,"maximum":1}}}}}`

func load(t *testing.T, data []byte) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate: %v", err)
	}
	return doc
}

func TestBuildGolden(t *testing.T) {
	got, err := openapi.Build(fixture(), "test")
	if err != nil {
		t.Fatal(err)
	}
	load(t, got)
	path := filepath.Join("testdata", "openapi.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/openapi -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s; run go test ./internal/openapi -update and review the diff", path)
	}
}

func TestBuildBuiltinCatalogValidates(t *testing.T) {
	cat, err := catalog.Load(catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := openapi.Build(cat.Services(), "dev")
	if err != nil {
		t.Fatal(err)
	}
	doc := load(t, data)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	for _, svc := range cat.Services() {
		for _, ep := range svc.EnabledEndpoints() {
			p := openapi.Base + "/orgs/{org}/services/" + svc.Slug + "/" + ep.Slug + "/"
			item := doc.Paths.Value(p)
			socket := ep.ResponseMode == aiproxy.ResponseWebSocket
			if socket != (item == nil || item.Post == nil) {
				t.Errorf("invoke path %s: %v; want one exactly when the endpoint is not a WebSocket", p, item)
				continue
			}
			native := doc.Paths.Value(openapi.Base + "/orgs/{org}/native/" + svc.Slug + ep.PathTemplate)
			if native == nil || native.GetOperation(ep.HTTPMethod) == nil {
				t.Errorf("no native %s %s", ep.HTTPMethod, ep.PathTemplate)
				continue
			}
			if op := native.GetOperation(ep.HTTPMethod); socket && (op.Responses.Value("101") == nil || op.Responses.Value("200") != nil) {
				t.Errorf("socket %s %s: its answer is not the 101 upgrade", ep.HTTPMethod, ep.PathTemplate)
			}
		}
	}
}

func TestEnvelopeSchema(t *testing.T) {
	data, err := openapi.Build(fixture(), "test")
	if err != nil {
		t.Fatal(err)
	}
	doc := load(t, data)
	op := doc.Paths.Value(openapi.Base + "/orgs/{org}/services/voice/tts/").Post
	schema := op.RequestBody.Value.Content.Get("application/json").Schema.Value

	tests := []struct {
		name    string
		env     string
		wantErr string
	}{
		{"complete", `{"path_params":{"voice_id":"v1"},"body":{"text":"hi"}}`, ""},
		{"missing path_params", `{"body":{"text":"hi"}}`, "path_params"},
		{"missing voice_id", `{"path_params":{}}`, "voice_id"},
		{"unknown placeholder", `{"path_params":{"voice_id":"v","x":"y"}}`, "x"},
		{"unknown field", `{"path_params":{"voice_id":"v"},"bogus":1}`, "bogus"},
		{"query array", `{"path_params":{"voice_id":"v"},"query":{"a":["1",2,true]}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tt.env), &v); err != nil {
				t.Fatal(err)
			}
			err := schema.VisitJSON(v, openapi3.EnableJSONSchema2020())
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error = %v, want one naming %q", err, tt.wantErr)
			}
		})
	}

	if doc.Paths.Value(openapi.Base+"/orgs/{org}/services/voice/hidden/") != nil {
		t.Error("a disabled endpoint is listed")
	}
	if doc.Paths.Value(openapi.Base+"/orgs/{org}/services/off/") != nil || doc.Components.SecuritySchemes["offNative"] != nil {
		t.Error("a disabled service is listed")
	}
	video := doc.Paths.Value(openapi.Base + "/orgs/{org}/native/video/v3/videos/{video_id}")
	if video == nil || video.Get == nil || video.Delete == nil {
		t.Fatal("native path with two methods not merged")
	}
	if ct := doc.Paths.Value(openapi.Base + "/orgs/{org}/services/video/upload/").Post.RequestBody.Value.Content; ct.Get("application/json") != nil || ct.Get("multipart/form-data") == nil {
		t.Errorf("binary upload content types = %v", ct)
	}
}

// TestEveryOperationListsItsErrors checks, on the built-in catalog, that
// the document says where it is served and under which licence, and that
// every operation lists the contract's errors it can give: the default for
// any other, 401, 403 and 503 when it needs a key, 400, 408 and 413 when
// it reads a body, 404 when a path names something.
func TestEveryOperationListsItsErrors(t *testing.T) {
	cat, err := catalog.Load(catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := openapi.Build(cat.Services(), "dev")
	if err != nil {
		t.Fatal(err)
	}
	doc := load(t, data)
	if doc.Info.License == nil || doc.Info.License.Name != "MIT" {
		t.Errorf("info.license = %+v, want MIT", doc.Info.License)
	}
	if len(doc.Servers) == 0 || doc.Servers[0].URL != "/" {
		t.Errorf("servers = %+v, want the serving aiproxy first", doc.Servers)
	}
	count := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			count++
			want := []string{"default"}
			if op.Security == nil || len(*op.Security) > 0 {
				want = append(want, "401", "403", "503")
			}
			if op.RequestBody != nil {
				want = append(want, "400", "408", "413")
			}
			if strings.Contains(strings.TrimPrefix(path, openapi.Base+"/orgs/{org}"), "{") ||
				strings.Contains(path, "/services/") && !strings.HasSuffix(path, "/services/") {
				want = append(want, "404")
			}
			for _, status := range want {
				r := op.Responses.Value(status)
				if r == nil {
					t.Errorf("%s %s (%s) does not list %s", method, path, op.OperationID, status)
					continue
				}
				if status == "default" || status[0] == '4' || status[0] == '5' {
					if c := r.Value.Content.Get("application/json"); c == nil || c.Schema.Ref != "#/components/schemas/Error" {
						t.Errorf("%s %s: %s is not the contract's error", method, path, status)
					}
				}
			}
		}
	}
	if count < 50 {
		t.Errorf("only %d operations checked", count)
	}
	ready := doc.Paths.Value("/readyz").Get.Responses.Value("503")
	if ready == nil {
		t.Error("/readyz does not list its 503")
	}
	health := doc.Paths.Value("/healthz").Get.Responses.Value("200").Value.Content.Get("application/json").Schema.Value
	if health.Properties["version"] == nil {
		t.Error("/healthz does not describe its version")
	}
}

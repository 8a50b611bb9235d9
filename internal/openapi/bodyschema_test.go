package openapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/openapi"
)

// TestBodySchema checks that an endpoint's request_schema is the invoke
// envelope's body (now required) and the native operation's body, and that
// a real OpenAPI library enforces it.
func TestBodySchema(t *testing.T) {
	data, err := openapi.Build(fixture(), "test")
	if err != nil {
		t.Fatal(err)
	}
	doc := load(t, data)
	if doc.Components.Schemas["VoiceTtsStreamBody"] == nil {
		t.Fatal("no VoiceTtsStreamBody component")
	}
	if doc.Components.Schemas["VoiceTtsBody"] != nil {
		t.Error("an endpoint without request_schema got a body component")
	}
	invoke := doc.Paths.Value(openapi.Base + "/orgs/{org}/services/voice/tts-stream/").Post
	native := doc.Paths.Value(openapi.Base + "/orgs/{org}/native/voice/v1/text-to-speech/{voice_id}/stream").Post
	if !invoke.RequestBody.Value.Required || !native.RequestBody.Value.Required {
		t.Error("a body with a schema is not required")
	}
	envelope := invoke.RequestBody.Value.Content.Get("application/json").Schema.Value
	body := native.RequestBody.Value.Content.Get("application/json").Schema.Value

	tests := []struct {
		name    string
		schema  *openapi3.Schema
		value   string
		wantErr string
	}{
		{"envelope ok", envelope, `{"path_params":{"voice_id":"v"},"body":{"text":"hi","extra":1}}`, ""},
		{"envelope without body", envelope, `{"path_params":{"voice_id":"v"}}`, "body"},
		{"envelope without text", envelope, `{"path_params":{"voice_id":"v"},"body":{}}`, "text"},
		{"native ok", body, `{"text":"hi","voice_settings":{"stability":0.5}}`, ""},
		{"native stability too high", body, `{"text":"hi","voice_settings":{"stability":2}}`, "stability"},
		{"native text too long", body, `{"text":"` + strings.Repeat("a", 5001) + `"}`, "5000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tt.value), &v); err != nil {
				t.Fatal(err)
			}
			err := tt.schema.VisitJSON(v, openapi3.EnableJSONSchema2020())
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error = %v, want one naming %q", err, tt.wantErr)
			}
		})
	}
}

// TestBuiltinBodySchemas checks that the built-in catalog's schemas reach
// the document for the contract's generate-video, template and tts bodies.
func TestBuiltinBodySchemas(t *testing.T) {
	cat, err := catalog.Load(catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := openapi.Build(cat.Services(), "dev")
	if err != nil {
		t.Fatal(err)
	}
	doc := load(t, data)
	for _, name := range []string{"HeygenGenerateVideoBody", "HeygenGenerateTemplateVideoBody", "ElevenlabsTtsBody", "ElevenlabsTtsStreamBody"} {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("no %s component", name)
		}
	}
	gen := doc.Components.Schemas["HeygenGenerateVideoBody"].Value
	var bad any
	_ = json.Unmarshal([]byte(`{"video_inputs":[]}`), &bad)
	if err := gen.VisitJSON(bad, openapi3.EnableJSONSchema2020()); err == nil || !strings.Contains(err.Error(), "video_inputs") {
		t.Errorf("empty video_inputs: %v", err)
	}
}

package openapi_test

import (
	"encoding/json"
	"testing"

	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/openapi"
)

// TestCredentialCheckTag checks that the document names each service's
// credential check on its tag, where the console reads it.
func TestCredentialCheckTag(t *testing.T) {
	cat, err := catalog.Load(catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := openapi.Build(cat.Services(), "test")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tags []map[string]any `json:"tags"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	checks := map[string]any{}
	for _, tag := range doc.Tags {
		if v, ok := tag["x-aiproxy-credential-check"]; ok {
			checks[tag["name"].(string)] = v
		}
	}
	if len(checks) != 1 || checks["heygen"] != "v3-get-current-user" {
		t.Fatalf("credential checks = %v", checks)
	}
}

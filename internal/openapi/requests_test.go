package openapi_test

import (
	"testing"

	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/openapi"
)

// TestStudioRoutes pins the routes and fields the console's studio reads:
// the job search, a job's events and details, and the request log.
func TestStudioRoutes(t *testing.T) {
	cat, err := catalog.Load(catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := openapi.Build(cat.Services(), "dev")
	if err != nil {
		t.Fatal(err)
	}
	doc := load(t, data)
	params := func(path string) map[string]bool {
		t.Helper()
		item := doc.Paths.Value(openapi.Base + path)
		if item == nil || item.Get == nil {
			t.Fatalf("no GET %s", path)
		}
		out := map[string]bool{}
		for _, p := range item.Get.Parameters {
			out[p.Value.Name] = true
		}
		return out
	}
	jobs := params("/orgs/{org}/jobs/")
	for _, name := range []string{"q", "avatar", "from", "to", "state", "cursor"} {
		if !jobs[name] {
			t.Errorf("the job list has no %s parameter", name)
		}
	}
	params("/orgs/{org}/jobs/{id}/events/")
	reqs := params("/orgs/{org}/requests/")
	for _, name := range []string{"from", "to", "service", "action", "status", "key", "user", "limit", "cursor"} {
		if !reqs[name] {
			t.Errorf("the request log has no %s parameter", name)
		}
	}
	schemas := doc.Components.Schemas
	for name, fields := range map[string][]string{
		"JobDetails": {"title", "script", "avatar_id", "voice_id", "duration_seconds", "thumbnail_url"},
		"Request": {"at", "request_id", "key_id", "user", "service", "action", "status", "upstream_status", "error_code",
			"error_detail", "latency_ms", "unit", "units", "cost_usd", "cache", "source"},
	} {
		s := schemas[name]
		if s == nil {
			t.Errorf("no %s schema", name)
			continue
		}
		for _, f := range fields {
			if s.Value.Properties[f] == nil {
				t.Errorf("%s has no %s", name, f)
			}
		}
	}
	if schemas["Job"].Value.Properties["details"] == nil {
		t.Error("Job has no details")
	}
}

package openapi_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/aiproxy/aiproxy/internal/openapi"
)

// TestBudgetsDocumented checks the budget routes (the admin ones take only
// a key, the status a key or a user token), their schemas, and that the
// 402 of every priced call describes the refusing budget's members and
// gives an example that fits them.
func TestBudgetsDocumented(t *testing.T) {
	data, err := openapi.Build(fixture(), "test")
	if err != nil {
		t.Fatal(err)
	}
	doc := load(t, data)
	org := openapi.Base + "/orgs/{org}"

	tests := []struct {
		path, method, id string
		schemes          []string
		ok               string
	}{
		{org + "/budgets/", "GET", "listBudgets", []string{"apiKey"}, "200"},
		{org + "/budgets/", "PUT", "setBudget", []string{"apiKey"}, "200"},
		{org + "/budgets/{id}/", "DELETE", "deleteBudget", []string{"apiKey"}, "204"},
		{org + "/budgets/status/", "GET", "getBudgetStatus", []string{"apiKey", "userToken"}, "200"},
	}
	for _, tt := range tests {
		item := doc.Paths.Value(tt.path)
		if item == nil || item.GetOperation(tt.method) == nil {
			t.Errorf("no %s %s", tt.method, tt.path)
			continue
		}
		op := item.GetOperation(tt.method)
		if op.OperationID != tt.id || !slices.Equal(op.Tags, []string{"budgets"}) {
			t.Errorf("%s %s is %s tagged %v", tt.method, tt.path, op.OperationID, op.Tags)
		}
		if got := schemesOf(doc, op); !slices.Equal(got, tt.schemes) {
			t.Errorf("%s %s accepts %v, want %v", tt.method, tt.path, got, tt.schemes)
		}
		for _, status := range []string{tt.ok, "401", "403", "404"} {
			if op.Responses.Value(status) == nil {
				t.Errorf("%s %s does not list %s", tt.method, tt.path, status)
			}
		}
	}
	put := doc.Paths.Value(org + "/budgets/").Put
	if put.Responses.Value("409") == nil || put.Responses.Value("400") == nil {
		t.Error("setting a budget lists no 400 or 409")
	}
	body := put.RequestBody.Value.Content.Get("application/json").Schema.Value
	if !slices.Equal(body.Required, []string{"scope", "window", "limit_micros"}) ||
		!slices.Equal(body.Properties["window"].Value.Enum, []any{"day", "week", "month", "lifetime"}) ||
		!slices.Equal(body.Properties["scope"].Value.Enum, []any{"org", "key", "user", "token"}) {
		t.Errorf("the budget body = %+v", body)
	}

	status := doc.Components.Schemas["BudgetStatus"].Value
	if !slices.Equal(status.Required, []string{"scope", "window", "window_start", "resets_at", "percent", "zone"}) ||
		status.Properties["spent_micros"] == nil || status.Properties["zone"].Value.Enum[3] != "exhausted" {
		t.Errorf("BudgetStatus: required %v", status.Required)
	}
	budget := doc.Components.Schemas["Budget"].Value
	for _, f := range []string{"id", "org", "scope", "subject", "window", "limit_micros", "alert_thresholds", "enforcement"} {
		if !slices.Contains(budget.Required, f) {
			t.Errorf("Budget does not require %s", f)
		}
	}

	e402 := doc.Components.Responses["Error402"].Value.Content.Get("application/json")
	exceeded := doc.Components.Schemas["BudgetExceeded"].Value
	if e402.Schema.Ref != "#/components/schemas/BudgetExceeded" || len(exceeded.AllOf) != 2 || exceeded.AllOf[0].Ref != "#/components/schemas/Error" {
		t.Fatalf("the 402's schema = %+v", e402.Schema)
	}
	members := exceeded.AllOf[1].Value
	for _, f := range []string{"scope", "budget_id", "available", "required", "resets_at"} {
		if members.Properties[f] == nil {
			t.Errorf("the 402 lacks %s", f)
		}
	}
	if !slices.Equal(members.Required, []string{"scope", "budget_id", "resets_at"}) {
		t.Errorf("the 402 requires %v; available and required are left out for a member", members.Required)
	}
	// The example is a body the server gives, so it must fit the schema.
	example, _ := json.Marshal(e402.Example)
	var v any
	_ = json.Unmarshal(example, &v)
	if err := doc.Components.Schemas["BudgetExceeded"].Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		t.Errorf("the 402's example does not fit its schema: %v", err)
	}
	if err := exceeded.VisitJSON(map[string]any{"detail": "x", "code": "budget_exceeded", "scope": "org", "budget_id": "b",
		"resets_at": nil}); err != nil {
		t.Errorf("a member's lifetime refusal does not fit: %v", err)
	}
	if err := exceeded.VisitJSON(map[string]any{"detail": "x", "code": "budget_exceeded", "scope": "team", "budget_id": "b",
		"resets_at": nil}); err == nil {
		t.Error("a refusal by scope team fits the schema")
	}
}

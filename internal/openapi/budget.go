package openapi

import "github.com/aiproxy/aiproxy/internal/aiproxy"

// addBudgets adds the org's spending budgets: the list, create or replace,
// delete, and the status. A server without budgets answers each with 404.
func addBudgets(paths obj) {
	admin := func(op obj) obj {
		op["security"] = security(schemeKey)
		op["description"] = "Only an org admin (an admin API key of the org, a platform key, or a sign-in of an admin group) may use this route; " +
			"an invoke key, a key limited to some services, a user token or a member's sign-in is refused with 403."
		return op
	}
	paths[Base+"/orgs/{org}/budgets/"] = obj{"parameters": []any{orgParam},
		"get": admin(operation("listBudgets", "budgets", "List the org's spending budgets.",
			obj{"200": jsonResponse("The budgets.", obj{"type": "array", "items": ref("Budget")})}, "401", "403", "404", "503")),
		"put": admin(withBody(operation("setBudget", "budgets",
			"Create a budget (no id) or replace the budget with that id; every problem of a bad budget is named at once.",
			obj{"200": jsonResponse("The budget as stored.", ref("Budget"))}, "401", "403", "404", "409", "503"),
			ref("SetBudget"))),
	}
	paths[Base+"/orgs/{org}/budgets/{id}/"] = obj{"parameters": []any{orgParam, pathParam("id", "The budget id.")},
		"delete": admin(operation("deleteBudget", "budgets", "Delete a budget and its counters.",
			obj{"204": obj{"description": "Deleted."}}, "401", "403", "404", "503")),
	}
	status := operation("getBudgetStatus", "budgets",
		"Each budget the caller may see, in its current window: every budget with amounts for an org admin, "+
			"the budgets that apply to its own calls for an invoke key, and a member's own user and token budgets "+
			"as scope, window, resets_at, percent and zone only.",
		obj{"200": jsonResponse("The budgets' status (Cache-Control: no-store).", obj{"type": "array", "items": ref("BudgetStatus")})},
		"401", "403", "404", "503")
	paths[Base+"/orgs/{org}/budgets/status/"] = obj{"parameters": []any{orgParam}, "get": status}
}

// budgetSchemas are the budget, its request, its status, and the body of
// a 402 budget_exceeded.
func budgetSchemas() obj {
	enum := func(description string, values ...any) obj {
		return obj{"type": "string", "enum": values, "description": description}
	}
	scope := enum("Whom the budget caps.", "org", "key", "user", "token")
	window := enum("The calendar window, in UTC; a week starts on Monday.", "day", "week", "month", "lifetime")
	enforcement := enum("block refuses a call the budget cannot cover; alert_only counts and alerts, never refuses.", "block", "alert_only")
	subject := obj{"type": "string", "maxLength": 128,
		"description": "The key id, user or token id the budget caps; empty for the org scope, and for the others the default " +
			"applied to each key, user or token without a budget of its own for the same window."}
	micros := func(description string) obj {
		return obj{"type": "integer", "minimum": 0, "maximum": aiproxy.MaxBudgetMicros, "description": description}
	}
	thresholds := obj{"type": "array", "maxItems": 10,
		"items":       obj{"type": "number", "exclusiveMinimum": 0, "maximum": 1},
		"description": "Increasing fractions of the limit at which an alert fires (budget.alert in the audit log); default [0.8, 0.95]."}
	date := obj{"type": "string", "format": "date-time"}
	dollars := func(description string) obj { return obj{"type": "number", "description": description} }
	return obj{
		"Budget": object([]any{"id", "org", "scope", "subject", "window", "limit_micros", "alert_thresholds", "enforcement", "created_at", "updated_at"}, obj{
			"id": str(), "org": str(), "scope": scope, "subject": subject, "window": window,
			"limit_micros":     micros("The cap in micro-USD (1 USD = 1,000,000)."),
			"alert_thresholds": thresholds, "enforcement": enforcement, "created_at": date, "updated_at": date,
		}),
		"SetBudget": obj{"type": "object", "required": []any{"scope", "window", "limit_micros"}, "additionalProperties": false, "properties": obj{
			"id": obj{"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$",
				"description": "The budget to replace; absent to create one (aiproxy makes its id)."},
			"scope": scope, "subject": subject, "window": window,
			"limit_micros":     micros("The cap in micro-USD (1 USD = 1,000,000)."),
			"alert_thresholds": thresholds,
			"enforcement":      obj{"type": "string", "enum": []any{"block", "alert_only"}, "default": "block"},
		}},
		"BudgetStatus": object([]any{"scope", "window", "window_start", "resets_at", "percent", "zone"}, obj{
			"id":    obj{"type": "string", "description": "The budget; token_max_spend for a user token's own cap. Not shown to a member."},
			"scope": scope,
			"subject": obj{"type": "string",
				"description": "Whom the counter counts: the budget's subject, or the key, user or token a default budget applies to. Not shown to a member."},
			"window": window, "window_start": date,
			"resets_at":        obj{"type": []any{"string", "null"}, "format": "date-time", "description": "When the window ends; null for a lifetime budget."},
			"limit_micros":     micros("The cap. Not shown to a member."),
			"spent_micros":     micros("Settled spend this window. Not shown to a member."),
			"reserved_micros":  micros("What running calls and jobs hold. Not shown to a member."),
			"remaining_micros": obj{"type": "integer", "description": "The limit less spent and held (negative once a settlement passed it). Not shown to a member."},
			"enforcement":      obj{"type": "string", "enum": []any{"block", "alert_only"}, "description": "Not shown to a member."},
			"percent":          obj{"type": "number", "minimum": 0, "description": "Spent and held as a percentage of the limit, to one decimal."},
			"zone": enum("ok below the first alert threshold, warning from it, critical from the last, exhausted at the limit.",
				"ok", "warning", "critical", "exhausted"),
		}),
		"BudgetExceeded": obj{
			"description": "The 402 of a call a spending budget cannot cover: the contract's error with the refusing budget " +
				"(the most specific exhausted one: token, then user, key, org) and when it resets. A member refused by the org's " +
				"or a key's budget gets no amounts.",
			"allOf": []any{ref("Error"), obj{"type": "object", "required": []any{"scope", "budget_id", "resets_at"}, "properties": obj{
				"scope":     scope,
				"budget_id": obj{"type": "string", "description": "The refusing budget; token_max_spend for a user token's own cap."},
				"available": dollars("What the budget has left, in US dollars."),
				"required":  dollars("What the call needs (an estimate for a video), in US dollars."),
				"resets_at": obj{"type": []any{"string", "null"}, "format": "date-time", "description": "When the budget's window ends; null for a lifetime budget."},
			}}},
		},
	}
}

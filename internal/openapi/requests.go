package openapi

// addRequests adds the org's request log. A server without guardrails
// answers it with 404.
func addRequests(paths obj) {
	q := func(name, description string, schema obj) obj {
		return obj{"name": name, "in": "query", "description": description, "schema": schema}
	}
	op := withQuery(operation("listRequests", "requests",
		"List the org's calls, newest first, from the raw usage records (kept as long as the usage retention keeps them, "+
			"14 days by default).",
		obj{"200": jsonResponse("A page of calls.", ref("RequestList"))}, "400", "401", "403", "404", "503"),
		q("from", "Only calls at or after this instant (RFC 3339) or UTC day (YYYY-MM-DD).", str()),
		q("to", "Only calls before this instant (RFC 3339), or on or before this UTC day (YYYY-MM-DD).", str()),
		q("service", "Only this service's calls.", str()),
		q("action", "Only calls of this action.", str()),
		q("status", "Only calls answered with this HTTP status (such as 429), or errors for every failed call.", str()),
		q("key", "Only calls made with this key id.", str()),
		q("user", "Only calls made for this user.", str()),
		q("limit", "Page size.", obj{"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
		q("cursor", "The next_cursor of the previous page.", str()))
	op["security"] = security(schemeKey)
	op["description"] = "Only an org admin (an admin API key of the org, a platform key, or a sign-in of an admin group) may use this route; " +
		"an invoke key, a key limited to some services, a user token or a member's sign-in is refused with 403."
	paths[Base+"/orgs/{org}/requests/"] = obj{"parameters": []any{orgParam}, "get": op}
}

// requestSchemas are the request log's page and entry.
func requestSchemas() obj {
	nullable := func(typ, description string) obj {
		return obj{"type": []any{typ, "null"}, "description": description}
	}
	return obj{
		"RequestList": object([]any{"requests"}, obj{
			"requests":    obj{"type": "array", "items": ref("Request")},
			"next_cursor": obj{"type": "string", "description": "Set when there is an older page."},
		}),
		"Request": object([]any{"at", "request_id", "key_id", "user", "service", "action", "status", "upstream_status",
			"error_code", "error_detail", "latency_ms", "unit", "units", "cost_usd", "cache", "source"}, obj{
			"at":              obj{"type": "string", "format": "date-time"},
			"request_id":      obj{"type": "string", "description": "The call's X-Request-Id; empty for calls logged before it was kept."},
			"key_id":          nullable("string", "The aiproxy key behind the call, or null (a sign-in)."),
			"user":            nullable("string", "The user the call was made for, or null."),
			"service":         str(),
			"action":          str(),
			"status":          obj{"type": "integer", "description": "The HTTP status the client got."},
			"upstream_status": nullable("integer", "The provider's status, or null when the call did not reach it."),
			"error_code":      nullable("string", "aiproxy's error code, or null when the answer was the provider's own."),
			"error_detail":    nullable("string", "The message aiproxy answered with (at most 300 bytes), or null when the answer was the provider's own."),
			"latency_ms":      obj{"type": "integer"},
			"unit":            nullable("string", "What units counts (characters, renders), or null."),
			"units":           obj{"type": "integer"},
			"cost_usd":        obj{"type": "number", "description": "What the call cost in US dollars, by aiproxy's price table."},
			"cache":           nullable("string", "HIT, MISS or STALE for a cached endpoint, or null."),
			"source":          nullable("string", "The credential used, tenant or platform, or null."),
		}),
	}
}

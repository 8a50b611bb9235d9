package openapi

// addUsage adds the usage reports: an org's, for its admins, and every
// org's, for platform admins. A server without guardrails answers them
// with 404.
func addUsage(paths obj) {
	q := func(name, description string, schema obj) obj {
		return obj{"name": name, "in": "query", "description": description, "schema": schema}
	}
	params := []any{
		q("from", "The first UTC day (YYYY-MM-DD).", str()),
		q("to", "The last UTC day (YYYY-MM-DD), included.", str()),
		q("service", "Only this service's calls.", str()),
		q("user", "Only the calls made for this user.", str()),
		q("group_by", "Split each day's row of an org and service by action, user or key, or by several of them, "+
			"comma-separated in any order (action,user).",
			obj{"type": "string", "pattern": "^(action|user|key)(,(action|user|key)){0,2}$"}),
		q("format", "json (the default) or csv: a header row, an action, a user and a key_id column when the report is "+
			"split by them, a column per unit that appears, then cost_usd and saved_usd.",
			obj{"type": "string", "enum": []any{"json", "csv"}, "default": "json"}),
	}
	report := func(id, summary, who string, extra ...any) obj {
		op := withQuery(operation(id, "usage", summary,
			obj{"200": obj{"description": "The report's rows, ordered by day, org, service, action, user and key.", "content": obj{
				"application/json": obj{"schema": obj{"type": "array", "items": ref("UsageRow")}},
				"text/csv":         obj{"schema": obj{"type": "string"}},
			}}}, "400", "401", "403", "404", "503"),
			append(extra, params...)...)
		op["security"] = security(schemeKey)
		op["description"] = who
		return op
	}
	paths[Base+"/orgs/{org}/usage/"] = obj{"parameters": []any{orgParam},
		"get": report("getOrgUsage", "The org's usage per UTC day and service: calls, errors, cache hits, units, cost and "+
			"what the speech cache saved.",
			"Only an org admin (an admin API key of the org, a platform key, or a sign-in of an admin group) may use this route."),
	}
	paths[Base+"/admin/usage/"] = obj{
		"get": report("getPlatformUsage", "Every org's usage per UTC day, org and service.",
			"Only a platform admin key may use this route.", q("org", "Only this org's calls.", str())),
	}
}

// usageSchemas are a usage report's row.
func usageSchemas() obj {
	split := func(description string) obj {
		return obj{"type": []any{"string", "null"}, "description": description}
	}
	count := obj{"type": "integer", "minimum": 0}
	return obj{
		"UsageRow": object([]any{"day", "org", "service", "requests", "errors", "cache_hits", "bytes_out", "avg_latency_ms",
			"units", "cost_usd", "saved_usd"}, obj{
			"day":     obj{"type": "string", "format": "date", "description": "The UTC day."},
			"org":     str(),
			"service": str(),
			"action": split("Only when the report is split by action: the service's action (endpoint) called, such as " +
				"tts or generate-video."),
			"user": split("Only when the report is split by user: the user the calls were made for, or null for the org " +
				"itself."),
			"key_id":         split("Only when the report is split by key: the aiproxy key behind the calls, or null for sign-ins."),
			"requests":       count,
			"errors":         count,
			"cache_hits":     obj{"type": "integer", "minimum": 0, "description": "Calls answered from a cache (the response cache or the speech cache)."},
			"bytes_out":      count,
			"avg_latency_ms": count,
			"units": obj{"type": "object", "additionalProperties": obj{"type": "integer"},
				"description": "What the calls spent per unit, such as characters and renders."},
			"cost_usd": obj{"type": "number", "minimum": 0,
				"description": "What the calls cost in US dollars, by aiproxy's price table, exact to the micro-dollar."},
			"saved_usd": obj{"type": "number", "minimum": 0,
				"description": "What the calls answered from the speech cache would have cost at the provider, in US dollars, " +
					"priced as cost_usd is: what the cache saved. 0 when it saved nothing."},
		}),
	}
}

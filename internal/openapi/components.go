package openapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// components returns the shared schemas, parameters, error responses and
// security schemes, including each service's native auth header.
func components(services []*aiproxy.Service) obj {
	schemes := credentialSchemes() // usertoken.go
	for _, svc := range services {
		if svc.IsEnabled {
			schemes[svc.Slug+"Native"] = obj{"type": "apiKey", "in": "header", "name": svc.Upstream.AuthHeader,
				"description": "On " + svc.DisplayName + "'s native routes only: the aiproxy key in the provider's own header" +
					prefixNote(svc.Upstream.AuthPrefix) + "."}
		}
	}
	all := schemas()
	for _, more := range []obj{userSchemas(), jobSchemas(), budgetSchemas(), requestSchemas(), usageSchemas(), liveSessionSchemas()} {
		for name, s := range more {
			all[name] = s
		}
	}
	return obj{
		"securitySchemes": schemes,
		"schemas":         all,
		"parameters":      obj{"User": userParam()},
		"responses":       errorComponents(),
	}
}

func prefixNote(prefix string) string {
	if strings.TrimSpace(prefix) == "" {
		return ""
	}
	return ", after " + strings.TrimSpace(prefix)
}

func str() obj { return obj{"type": "string"} }

func boolean() obj { return obj{"type": "boolean"} }

func object(required []any, props obj) obj {
	return obj{"type": "object", "required": required, "properties": props}
}

func nullableTime() obj {
	return obj{"type": []any{"string", "null"}, "format": "date-time"}
}

func schemas() obj {
	modes := func(values ...any) obj { return obj{"type": "string", "enum": values} }
	return obj{
		"Error": obj{
			"type":        "object",
			"description": "The contract's error: the message under detail (or error, for credential-policy and path-parameter cases), and a stable code.",
			"required":    []any{"code"},
			"properties": obj{
				"detail": str(), "error": str(),
				"code": obj{"type": "string", "enum": codes()},
			},
		},
		"Query": obj{"type": "object", "description": "Query parameters: a string, number or boolean, or an array of them.",
			"additionalProperties": obj{"oneOf": []any{
				obj{"type": []any{"string", "number", "boolean"}},
				obj{"type": "array", "items": obj{"type": []any{"string", "number", "boolean"}}},
			}}},
		"ServiceSummary": object([]any{"slug", "display_name", "service_type", "is_enabled", "supports_async_jobs", "supports_streaming", "credential_name", "endpoint_count"}, obj{
			"slug": str(), "display_name": str(), "service_type": str(), "is_enabled": boolean(),
			"supports_async_jobs": boolean(), "supports_streaming": boolean(), "credential_name": str(),
			"endpoint_count": obj{"type": "integer"},
		}),
		"ServiceDetail": object([]any{"slug", "display_name", "base_url", "service_type", "auth_mode", "endpoints"}, obj{
			"slug": str(), "display_name": str(), "base_url": str(), "service_type": str(), "auth_mode": str(),
			"is_enabled": boolean(), "supports_async_jobs": boolean(), "supports_streaming": boolean(),
			"default_timeout_seconds": obj{"type": "integer"}, "credential_name": str(),
			"credential_policy": object([]any{"default_source"}, obj{
				"allow_tenant_key": boolean(), "allow_platform_key": boolean(),
				"default_source": modes("tenant", "platform"), "fallback_to_platform_key": boolean(),
			}),
			"credential_schema": obj{"type": "object", "additionalProperties": str()},
			"endpoints":         obj{"type": "array", "items": ref("Endpoint")},
		}),
		"Endpoint": object([]any{"slug", "path_template", "http_method", "request_mode", "response_mode"}, obj{
			"slug": str(), "path_template": str(), "http_method": str(),
			"request_mode":       modes("raw", "json", "multipart", "binary"),
			"response_mode":      modes("json", "binary", "passthrough", "stream"),
			"supports_streaming": boolean(), "callback_mode": modes("none", "poll", "webhook"), "is_enabled": boolean(),
		}),
		"Org": object([]any{"key", "name", "created_at"}, obj{
			"key": str(), "name": str(), "created_at": obj{"type": "string", "format": "date-time"},
		}),
		"Key": object([]any{"id", "org", "name", "role", "created_at"}, obj{
			"id": str(), "org": str(), "name": str(), "role": modes("admin", "invoke"),
			"created_at": obj{"type": "string", "format": "date-time"},
			"revoked_at": nullableTime(), "last_used_at": nullableTime(),
			"key": obj{"type": "string", "description": "The full key; only in the answer that creates it."},
		}),
		"Pool": object([]any{"name", "source", "pooled", "keys"}, obj{
			"name": str(), "source": modes("tenant", "platform"), "org": str(),
			"pooled": obj{"type": "boolean", "description": "False for a credential of one key, whose health is not tracked."},
			"keys": obj{"type": "array", "items": object([]any{"id", "masked", "weight", "max_concurrency", "state", "in_flight"}, obj{
				"id": str(), "masked": obj{"type": "object", "additionalProperties": str()},
				"weight": obj{"type": "integer"}, "max_concurrency": obj{"type": "integer", "description": "0: no cap."},
				"state":      modes("healthy", "resting", "removed", "unknown"),
				"reason":     str(),
				"since":      nullableTime(),
				"rest_until": nullableTime(),
				"in_flight":  obj{"type": "integer"},
			})},
		}),
		"Credential": object([]any{"name", "source", "masked"}, obj{
			"name": str(), "source": modes("tenant", "platform"), "org": str(),
			"masked":     obj{"type": "object", "additionalProperties": str()},
			"created_at": obj{"type": "string", "format": "date-time"},
			"updated_at": obj{"type": "string", "format": "date-time"},
		}),
	}
}

func codes() []any {
	out := make([]any, 0, len(aiproxy.Codes))
	for _, c := range aiproxy.Codes {
		out = append(out, string(c))
	}
	return out
}

// errorComponents are the error answers: one per status, and ErrorOther
// for any status an operation does not list (500 internal among them).
func errorComponents() obj {
	// When aiproxy answers each error status.
	descriptions := map[int]string{
		400: "a missing path parameter, a body that is not one JSON object or fails its request schema, or a credential policy that allows no source (code invalid).",
		401: "no aiproxy key or user token, or an unknown, revoked, expired or spent one (code unauthenticated).",
		402: "a spending budget (of the org, its key, its user or its user token) or the user token's max_spend would be passed by the call " +
			"(code budget_exceeded); detail says which and when the window resets, and the body names the budget (scope, budget_id), " +
			"when it resets (resets_at, null for a lifetime budget) and, except for a member refused by the org's or a key's budget, " +
			"what it has left and what the call needs (available, required, in US dollars).",
		403: "the key or token may not do this: another org's key, an invoke key or a user token on an admin route, " +
			"a service or action outside a token's grants, a service or endpoint disabled for the org (code forbidden).",
		404: "no such service, action, object or credential, or no credential the policy allows (code not_found).",
		408: "the request body was not received in time (code request_timeout).",
		409: "it already exists, or an Idempotency-Key was reused for another request or is still in flight (code conflict).",
		413: "the request body or an envelope field is too large (code too_large).",
		429: "a rate limit, concurrency cap, running-jobs cap or quota was reached, or the provider limits calls (code rate_limited or quota_exceeded).",
		502: "the provider failed, could not be reached, or refused the provider key (code upstream_failed).",
		503: "a store aiproxy needs is down, or a job start could not be recorded (code unavailable); try again after Retry-After.",
		504: "the provider did not answer in time (code upstream_timeout).",
	}
	out := obj{}
	retryAfter := func(description string) obj {
		return obj{"Retry-After": obj{"description": description, "schema": obj{"type": "integer"}}}
	}
	for status, description := range descriptions {
		r := jsonResponse(http.StatusText(status)+": "+description, ref("Error"))
		switch status {
		case http.StatusPaymentRequired:
			r = jsonResponse(http.StatusText(status)+": "+description, ref("BudgetExceeded"))
			r["content"].(obj)["application/json"].(obj)["example"] = obj{
				"detail": "Budget exceeded: user 'alice' monthly budget has $0.12 left of $5.00, and this call needs about $0.30; " +
					"it resets at 2027-01-01T00:00:00Z.",
				"code": string(aiproxy.CodeBudgetExceeded), "scope": "user", "budget_id": "bud_3f2a9c", "available": 0.12,
				"required": 0.3, "resets_at": "2027-01-01T00:00:00Z"}
		case http.StatusTooManyRequests:
			r["headers"] = retryAfter("Seconds to wait, aiproxy's own or kept from the provider.")
		case http.StatusServiceUnavailable:
			r["headers"] = retryAfter("Seconds to wait.")
		}
		out["Error"+strconv.Itoa(status)] = r
	}
	out["ErrorOther"] = jsonResponse("Any other error, in the same shape: 500 internal (its cause is only logged), "+
		"405 method_not_allowed, 503 unavailable.", ref("Error"))
	return out
}

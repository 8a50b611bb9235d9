package openapi

import "github.com/aiproxy/aiproxy/internal/aiproxy"

// The security schemes of aiproxy's own credentials.
const (
	// schemeKey is an API key in Authorization.
	schemeKey = "apiKey"
	// schemeUserToken is a user token in Authorization.
	schemeUserToken = "userToken"
	// schemeAccessToken is a user token in the access_token query
	// parameter, on the routes a browser loads without headers.
	schemeAccessToken = "accessToken"
)

// security lists alternative security requirements, one scheme each.
func security(schemes ...string) []any {
	out := make([]any, 0, len(schemes))
	for _, s := range schemes {
		out = append(out, obj{s: []any{}})
	}
	return out
}

// credentialSchemes are the security schemes of aiproxy keys and user
// tokens; the native routes add each provider's own header.
func credentialSchemes() obj {
	return obj{
		schemeKey: obj{"type": "apiKey", "in": "header", "name": "Authorization",
			"description": "An aiproxy key (`aip_…`): `Api-Key <key>`, `Token <key>`, `Api-Token <key>` or `Bearer <key>`."},
		schemeUserToken: obj{"type": "apiKey", "in": "header", "name": "Authorization",
			"description": "A user token (`aipt_…`) that an org key minted with POST /orgs/{org}/user-tokens/: `Token <token>` " +
				"(the contract's scheme) or `Bearer <token>`. It acts for one user of the org, with the token's grants, " +
				"and reaches only that user's objects and jobs."},
		schemeAccessToken: obj{"type": "apiKey", "in": "query", "name": "access_token",
			"description": "A user token (`aipt_…`, never an API key) in the query string, for what a browser loads without " +
				"headers (`<audio src>`, `<video src>`, `EventSource`): accepted only on GET native routes and the job event stream. " +
				"aiproxy removes it before the request goes further, and the access log never records queries."},
	}
}

// userParam is the X-AIProxy-User header, by which an org's backend names
// the user a call is for.
func userParam() obj {
	return obj{"name": "X-AIProxy-User", "in": "header", "required": false,
		"description": "With an org's API key: the user of the org the call is made for (1 to 128 characters, no spaces), " +
			"who then owns the objects and jobs it creates. Ignored with a user token, which carries its own user.",
		"schema": obj{"type": "string", "minLength": 1, "maxLength": 128, "pattern": `^[^\s\x00-\x1f\x7f]+$`}}
}

// userRef refers to the X-AIProxy-User header parameter.
var userRef = obj{"$ref": "#/components/parameters/User"}

// addUsers adds the user-token routes and /me/.
func addUsers(paths obj) {
	keyOnly := func(op obj) obj {
		op["security"] = security(schemeKey)
		op["description"] = "Only an API key of the org may use this route: a user token or sign-in is refused with 403."
		return op
	}
	paths[Base+"/orgs/{org}/user-tokens/"] = obj{"parameters": []any{orgParam},
		"get": keyOnly(withQuery(operation("listUserTokens", "users",
			"List the org's unexpired user tokens, without their secrets; revoked ones until they expire, with revoked_at.",
			obj{"200": jsonResponse("The tokens, newest first.", obj{"type": "array", "items": ref("UserToken")})}, "401", "403", "503"),
			obj{"name": "user", "in": "query", "description": "Only this user's tokens.", "schema": str()})),
		"post": keyOnly(withBody(operation("mintUserToken", "users",
			"Mint a user token for one user of the org; the answer holds the token once.",
			obj{"201": jsonResponse("The token, with its secret.", ref("UserToken"))}, "401", "403", "404", "503"),
			ref("MintUserToken"))),
	}
	paths[Base+"/orgs/{org}/user-tokens/{id}/"] = obj{"parameters": []any{orgParam, pathParam("id", "The token id.")},
		"delete": keyOnly(operation("revokeUserToken", "users", "Revoke a user token.",
			obj{"200": jsonResponse("The revoked token.", ref("UserToken"))}, "401", "403", "404", "503")),
	}
	me := operation("getMe", "users", "Who the caller is: its kind, role, user and grants.",
		obj{"200": jsonResponse("The caller.", ref("Me"))}, "401", "403", "503")
	me["parameters"] = []any{userRef}
	paths[Base+"/orgs/{org}/me/"] = obj{"parameters": []any{orgParam}, "get": me}
	settings := func(op obj) obj {
		op["security"] = security(schemeKey)
		op["description"] = "An admin key of the org (or a platform key). 0 means the deployment's value; " +
			"the effective values are the org's within the deployment's."
		return op
	}
	paths[Base+"/orgs/{org}/settings/"] = obj{"parameters": []any{orgParam},
		"get": settings(operation("getOrgSettings", "users", "The org's user token lifetimes.",
			obj{"200": jsonResponse("The settings.", ref("OrgSettings"))}, "401", "403", "404", "503")),
		"put": settings(withBody(operation("setOrgSettings", "users", "Change the org's user token lifetimes; a field left out keeps its value.",
			obj{"200": jsonResponse("The settings.", ref("OrgSettings"))}, "401", "403", "404", "503"),
			object([]any{}, obj{
				"user_token_ttl_seconds":     obj{"type": "integer", "minimum": 0, "maximum": 3600},
				"user_token_max_ttl_seconds": obj{"type": "integer", "minimum": 0, "maximum": 3600},
			}))),
	}
}

// withBody adds a JSON body and the errors of reading it: not one valid
// object (400), too slow (408), over 1 MiB (413).
func withBody(op, schema obj) obj {
	op["requestBody"] = jsonBody(schema)
	for status, r := range errorResponses("400", "408", "413") {
		op["responses"].(obj)[status] = r
	}
	return op
}

// withQuery adds query parameters to an operation.
func withQuery(op obj, params ...any) obj {
	op["parameters"] = params
	return op
}

// userSchemas are the schemas of user tokens and of /me/.
func userSchemas() obj {
	grants := object([]any{"services", "actions"}, obj{
		"services": obj{"type": "array", "items": str(), "description": "The services it may call; empty: every service of its org."},
		"actions": obj{"type": "array", "items": str(),
			"description": "The actions it may call, as service/action; empty: every action of its services."},
	})
	user := obj{"type": "string", "minLength": 1, "maxLength": 128, "description": "The org's own name for the end user, without spaces."}
	ttl := obj{"type": "integer", "minimum": int(aiproxy.MinUserTokenTTL.Seconds()), "maximum": int(aiproxy.MaxUserTokenTTL.Seconds()),
		"description": "The token's life in seconds; the server's default (600 unless configured) when absent. " +
			"The server may allow less than 3600 (--user-token-max-ttl)."}
	return obj{
		"Grants": grants,
		"MintUserToken": obj{"type": "object", "required": []any{"user"}, "additionalProperties": false, "properties": obj{
			"user":     user,
			"services": obj{"type": "array", "items": str(), "maxItems": 100, "description": "Narrow the token to these services; each must be the key's."},
			"actions": obj{"type": "array", "items": obj{"type": "string", "pattern": "^[^/]+/[^/]+$"}, "maxItems": 100,
				"description": "Narrow the token to these actions, as service/action."},
			"ttl_seconds": ttl,
			"max_spend":   obj{"type": "number", "minimum": 0, "description": "What the token may spend in its life, in US dollars."},
			"single_use":  obj{"type": "boolean", "description": "The token is valid for one request."},
		}},
		"UserToken": object([]any{"id", "user", "key_id", "grants", "max_spend", "single_use", "test_only", "created_at", "expires_at", "revoked_at", "used_at"}, obj{
			"id":         str(),
			"token":      obj{"type": "string", "description": "The token (`aipt_…`); only in the answer that mints it."},
			"user":       str(),
			"key_id":     obj{"type": "string", "description": "The API key that minted it; revoking the key invalidates the token."},
			"grants":     ref("Grants"),
			"max_spend":  obj{"type": []any{"number", "null"}, "description": "Its own spending cap in US dollars, or null."},
			"single_use": boolean(), "test_only": boolean(),
			"created_at": obj{"type": "string", "format": "date-time"},
			"expires_at": obj{"type": "string", "format": "date-time"},
			"revoked_at": nullableTime(),
			"used_at":    obj{"type": []any{"string", "null"}, "format": "date-time", "description": "When a single-use token was spent."},
		}),
		"OrgSettings": object([]any{"user_token_ttl_seconds", "user_token_max_ttl_seconds",
			"effective_user_token_ttl_seconds", "effective_user_token_max_ttl_seconds"}, obj{
			"user_token_ttl_seconds": obj{"type": "integer", "minimum": 0, "maximum": 3600,
				"description": "Life of a token minted without ttl_seconds; 0: the deployment's."},
			"user_token_max_ttl_seconds": obj{"type": "integer", "minimum": 0, "maximum": 3600,
				"description": "Longest life a token may ask for; 0: the deployment's."},
			"effective_user_token_ttl_seconds":     obj{"type": "integer", "minimum": 10, "maximum": 3600},
			"effective_user_token_max_ttl_seconds": obj{"type": "integer", "minimum": 10, "maximum": 3600},
		}),
		"Me": object([]any{"org", "kind", "role", "user", "member", "test_only", "grants", "expires_at"}, obj{
			"org":  str(),
			"kind": obj{"type": "string", "enum": []any{"key", "user_token", "sign_in"}, "description": "How the request authenticated."},
			"role": obj{"type": "string", "enum": []any{"admin", "invoke"}},
			"user": obj{"type": []any{"string", "null"},
				"description": "The user the calls act for (a user token's, a sign-in's, or an org key's X-AIProxy-User), or null."},
			"member": obj{"type": "boolean",
				"description": "True when the caller reaches only its own user's objects and jobs, and none of the org's administration."},
			"key_id":    obj{"type": "string", "description": "The API key behind the call, when there is one."},
			"test_only": boolean(),
			"grants":    ref("Grants"),
			"expires_at": obj{"type": []any{"string", "null"}, "format": "date-time",
				"description": "When a user token or sign-in stops working; null for an API key."},
		}),
	}
}

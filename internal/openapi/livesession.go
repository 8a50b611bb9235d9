package openapi

// addLiveSessions adds the org's live avatar sessions: the list, one
// session, and stopping one. A server without them answers 404.
func addLiveSessions(paths obj) {
	q := func(name, description string, schema obj) obj {
		return obj{"name": name, "in": "query", "description": description, "schema": schema}
	}
	list := withQuery(operation("listLiveSessions", "live-sessions",
		"List the live avatar sessions aiproxy minted for the org, newest first, with their minutes and credits; a member sees only its own.",
		obj{"200": jsonResponse("The sessions.", ref("LiveSessionList"))}, "400", "401", "403", "404", "503"),
		q("user", "Only this user's sessions. Ignored for a member, who sees only its own.", str()),
		q("state", "Only sessions in this state.", obj{"type": "string", "enum": []any{"created", "started", "stopped"}}),
		q("limit", "Most sessions listed.", obj{"type": "integer", "minimum": 1, "maximum": 500, "default": 100}))
	idParam := pathParam("id", "The provider's session id.")
	paths[Base+"/orgs/{org}/live-sessions/"] = obj{"parameters": []any{orgParam}, "get": list}
	paths[Base+"/orgs/{org}/live-sessions/{id}/"] = obj{"parameters": []any{orgParam, idParam},
		"get": operation("getLiveSession", "live-sessions", "Read one live session; another user's is not found for a member.",
			obj{"200": jsonResponse("The session.", ref("LiveSession"))}, "401", "403", "404", "503"),
	}
	stop := operation("stopLiveSession", "live-sessions",
		"Stop a live session at the provider now, with the credential it was minted on: an org admin may stop any of the org's, "+
			"anyone else only its own user's.",
		obj{"200": jsonResponse("The session, stopped.", ref("LiveSession"))}, "401", "403", "404", "409", "502", "503")
	paths[Base+"/orgs/{org}/live-sessions/{id}/stop/"] = obj{"parameters": []any{orgParam, idParam}, "post": stop}
}

// liveSessionSchemas are a live session and the list of them.
func liveSessionSchemas() obj {
	at := func(description string) obj {
		return obj{"type": []any{"string", "null"}, "format": "date-time", "description": description}
	}
	return obj{
		"LiveSessionList": object([]any{"sessions"}, obj{"sessions": obj{"type": "array", "items": ref("LiveSession")}}),
		"LiveSession": object([]any{"id", "service", "user", "key_id", "source", "mode", "sandbox", "state", "max_duration_seconds",
			"reserved_minutes", "created_at", "started_at", "last_keep_alive_at", "stopped_at", "end_reason", "stopped_by",
			"duration_seconds", "minutes", "credits", "reconciled_at"}, obj{
			"id":                   obj{"type": "string", "description": "The provider's session id. The session token is never shown."},
			"service":              str(),
			"user":                 obj{"type": "string", "description": "The user it was minted for, or empty for the org."},
			"key_id":               obj{"type": "string", "description": "The aiproxy key behind the mint."},
			"source":               obj{"type": "string", "enum": []any{"tenant", "platform"}},
			"mode":                 obj{"type": "string", "description": "FULL or LITE."},
			"sandbox":              boolean(),
			"state":                obj{"type": "string", "enum": []any{"created", "started", "stopped"}},
			"max_duration_seconds": obj{"type": "integer", "description": "The length aiproxy asked the provider for, within its maximum."},
			"reserved_minutes":     obj{"type": "integer", "description": "The live minutes held on the org's quota, settled once reconciled."},
			"created_at":           obj{"type": "string", "format": "date-time"},
			"started_at":           at("When the browser started it, or null."),
			"last_keep_alive_at":   at("The last start or keep-alive through aiproxy, or null."),
			"stopped_at":           at("When it stopped, or null."),
			"end_reason":           obj{"type": "string", "description": "Why it stopped (USER_CLOSED, MAX_DURATION_REACHED, ZOMBIE_SESSION_REAP, …)."},
			"stopped_by":           obj{"type": "string", "description": "client, reaper or admin; empty while it runs."},
			"duration_seconds":     obj{"type": "integer", "description": "The provider's duration, once reconciled."},
			"minutes":              obj{"type": "integer", "description": "duration_seconds in started minutes."},
			"credits":              obj{"type": "number", "description": "The provider's credits_consumed, once reconciled."},
			"reconciled_at":        at("When the provider's record was read, or null."),
		}),
	}
}

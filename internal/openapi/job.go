package openapi

// addJobs adds the org's jobs: the list, one job, its events, and the
// event stream.
// A server without job tracking answers each with 404.
func addJobs(paths obj) {
	q := func(name, description string, schema obj) obj {
		return obj{"name": name, "in": "query", "description": description, "schema": schema}
	}
	list := withQuery(operation("listJobs", "jobs",
		"List the org's provider jobs, newest first; a member (a user token) sees only its own user's.",
		obj{"200": jsonResponse("A page of jobs.", ref("JobList"))}, "400", "401", "403", "404", "503"),
		q("state", "Only jobs in this state.", obj{"type": "string", "enum": []any{"pending", "processing", "completed", "failed"}}),
		q("service", "Only this service's jobs.", str()),
		q("action", "Only jobs this action started.", str()),
		q("user", "Only this user's jobs. Ignored for a member, who sees only its own.", str()),
		q("q", "Only jobs whose title or script contains this text, ignoring case. It reads the org's jobs one by one: "+
			"combine it with from, to or avatar on a large org.", str()),
		q("avatar", "Only jobs made with this avatar (details.avatar_id).", str()),
		q("from", "Only jobs created at or after this instant (RFC 3339) or UTC day (YYYY-MM-DD).", str()),
		q("to", "Only jobs created before this instant (RFC 3339), or on or before this UTC day (YYYY-MM-DD).", str()),
		q("limit", "Page size.", obj{"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
		q("cursor", "The next_cursor of the previous page.", str()))
	paths[Base+"/orgs/{org}/jobs/"] = obj{"parameters": []any{orgParam}, "get": list}
	totals := withQuery(operation("jobTotals", "jobs",
		"Add up the org's jobs started in a period: how many, how many completed and failed, and the seconds of video the completed ones made "+
			"(the console's Home shows the month's as minutes). A member counts only its own; a key limited to some services names one of them.",
		obj{"200": jsonResponse("The totals.", ref("JobTotals"))}, "400", "401", "403", "404", "503"),
		q("service", "Only this service's jobs.", str()),
		q("action", "Only jobs this action started.", str()),
		q("user", "Only this user's jobs. Ignored for a member, who counts only its own.", str()),
		q("from", "Only jobs created at or after this instant (RFC 3339) or UTC day (YYYY-MM-DD).", str()),
		q("to", "Only jobs created before this instant (RFC 3339), or on or before this UTC day (YYYY-MM-DD).", str()))
	paths[Base+"/orgs/{org}/jobs/totals/"] = obj{"parameters": []any{orgParam}, "get": totals}
	paths[Base+"/orgs/{org}/jobs/{id}/"] = obj{"parameters": []any{orgParam, pathParam("id", "The job id.")},
		"get": operation("getJob", "jobs", "Read one job; another user's is not found for a member.",
			obj{"200": jsonResponse("The job.", ref("Job"))}, "401", "403", "404", "503"),
	}
	paths[Base+"/orgs/{org}/jobs/{id}/events/"] = obj{"parameters": []any{orgParam, pathParam("id", "The job id.")},
		"get": operation("getJobEvents", "jobs",
			"Read one job's events, oldest first, under the access rules of getJob.",
			obj{"200": jsonResponse("The job's events.", ref("JobEventList"))}, "401", "403", "404", "503"),
	}
	events := operation("jobEvents", "jobs",
		"The org's job events as Server-Sent Events (a member's: its own jobs'); resume with Last-Event-ID.",
		obj{"200": obj{"description": "An event stream: each event's data is a JobEvent; a comment line every 15 s keeps it open.",
			"content": obj{"text/event-stream": obj{"schema": obj{"type": "string"}}}}}, "401", "403", "404", "503")
	events["parameters"] = []any{obj{"name": "Last-Event-ID", "in": "header", "required": false,
		"description": "The id of the last event seen, to resume after it.", "schema": str()}}
	events["security"] = security(schemeKey, schemeUserToken, schemeAccessToken)
	paths[Base+"/orgs/{org}/jobs/events"] = obj{"parameters": []any{orgParam}, "get": events}
}

// jobSchemas are the job and its list and event.
func jobSchemas() obj {
	date := obj{"type": "string", "format": "date-time"}
	return obj{
		"Job": object([]any{"id", "org", "user", "service", "action", "provider_job_id", "state", "created_at", "updated_at"}, obj{
			"id": str(), "org": str(),
			"user": obj{"type": []any{"string", "null"},
				"description": "The user of the org who started the job (a user token's, or an org key's X-AIProxy-User), or null."},
			"service": str(), "action": str(), "status_action": str(), "provider_job_id": str(),
			"credential": object([]any{"source", "name"}, obj{"source": obj{"type": "string", "enum": []any{"tenant", "platform"}},
				"org": str(), "name": str()}),
			"state":           obj{"type": "string", "enum": []any{"pending", "processing", "completed", "failed"}},
			"provider_status": str(),
			"result_urls":     obj{"type": []any{"object", "null"}, "additionalProperties": str()},
			"error":           str(), "callback_id": str(), "idempotency_key": str(),
			"details": ref("JobDetails"),
			"key": obj{"type": "object", "required": []any{"id"},
				"description": "The aiproxy key that started the job, in the jobs API only (never in events or webhooks): every job's for an org admin, " +
					"only the caller's own key's otherwise. name is set when the key is one of the org's.",
				"properties": obj{"id": str(), "name": str()}},
			"created_at": date, "updated_at": date,
			"completed_at": nullableTime(), "checked_at": nullableTime(), "deadline_at": nullableTime(), "urls_expire_at": nullableTime(),
		}),
		"JobDetails": object([]any{"title", "script", "avatar_id", "voice_id", "duration_seconds", "thumbnail_url"}, obj{
			"title":     nullableString("The title the start request gave (or a template's id), or null."),
			"script":    nullableString("The first 500 characters of the script, its scenes' texts joined by newlines, or null."),
			"avatar_id": nullableString("The avatar (or talking photo) of the first scene that names one, or null."),
			"voice_id":  nullableString("The voice of the first scene that names one, or null."),
			"duration_seconds": obj{"type": []any{"number", "null"},
				"description": "The finished video's length in seconds, from its final status; null until then."},
			"thumbnail_url": nullableString("The finished video's thumbnail, from its latest status (a signed link that lapses with the result URLs); null until then."),
		}),
		"JobEventList": object([]any{"events"}, obj{
			"events": obj{"type": "array", "items": object([]any{"id", "type", "created_at", "data"}, obj{
				"id":         str(),
				"type":       obj{"type": "string", "enum": []any{"job.created", "job.updated", "job.completed", "job.failed"}},
				"created_at": date,
				"data":       ref("JobEvent"),
			})},
		}),
		"JobList": object([]any{"jobs"}, obj{
			"jobs":        obj{"type": "array", "items": ref("Job")},
			"next_cursor": obj{"type": "string", "description": "Set when there is an older page."},
		}),
		"JobTotals": object([]any{"jobs", "completed", "failed", "video_seconds"}, obj{
			"jobs": obj{"type": "integer"}, "completed": obj{"type": "integer"}, "failed": obj{"type": "integer"},
			"video_seconds": obj{"type": "number", "description": "The sum of the completed jobs' details.duration_seconds (a job whose length is unknown adds none)."},
		}),
		"JobEvent": object([]any{"id", "type", "created_at", "org", "job"}, obj{
			"id":         str(),
			"type":       obj{"type": "string", "enum": []any{"job.created", "job.updated", "job.completed", "job.failed"}},
			"created_at": date, "org": str(), "job": ref("Job"),
		}),
	}
}

func nullableString(description string) obj {
	return obj{"type": []any{"string", "null"}, "description": description}
}

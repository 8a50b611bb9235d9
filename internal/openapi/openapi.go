// Package openapi builds the OpenAPI 3.1 description of aiproxy from the
// live catalog: the management API, discovery, one path per invoke action
// with its envelope schema, and one path per native passthrough endpoint.
// The catalog is the single source of truth, so the document never lists
// an action that invoke would refuse.
package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Base is the path prefix of every aiproxy route.
const Base = "/api/ai-proxy"

// obj is a JSON object under construction; encoding/json writes its keys
// sorted, so the output is stable.
type obj = map[string]any

// Build returns the OpenAPI 3.1 document, as indented JSON, for the enabled
// services and endpoints among services. version is the document's
// info.version.
func Build(services []*aiproxy.Service, version string) ([]byte, error) {
	if version == "" {
		version = "dev"
	}
	paths := obj{}
	addDiscovery(paths)
	addManagement(paths)
	addUsers(paths)        // usertoken.go
	addJobs(paths)         // job.go
	addBudgets(paths)      // budget.go
	addRequests(paths)     // requests.go
	addUsage(paths)        // usage.go
	addLiveSessions(paths) // livesession.go
	tags := []any{
		obj{"name": "discovery", "description": "List services and read their endpoints."},
		obj{"name": "management", "description": "Keys and credentials of an org, and platform administration."},
		obj{"name": "users", "description": "User tokens an org's backend mints for its end users, and who a caller is."},
		obj{"name": "jobs", "description": "The org's async provider jobs and their events."},
		obj{"name": "budgets", "description": "The org's spending budgets, in micro-USD, and what they have left."},
		obj{"name": "requests", "description": "The org's request log: every call, newest first."},
		obj{"name": "usage", "description": "Usage reports: calls, units, cost and what the speech cache saved, per day."},
		obj{"name": "live-sessions", "description": "The live avatar sessions aiproxy minted, their minutes and credits."},
	}
	sorted := append([]*aiproxy.Service(nil), services...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Slug < sorted[j].Slug })
	for _, svc := range sorted {
		if !svc.IsEnabled {
			continue
		}
		tag := obj{"name": svc.Slug, "description": "Invoke actions of " + svc.DisplayName + "."}
		if svc.CredentialCheckAction != "" {
			// Not a contract descriptor field, so discovery cannot carry it:
			// the console reads which action tests a credential from here.
			tag["x-aiproxy-credential-check"] = svc.CredentialCheckAction
		}
		tags = append(tags, tag,
			obj{"name": svc.Slug + "-native", "description": svc.DisplayName + "'s own API, passed through for its official SDKs."})
		if err := addService(paths, svc); err != nil {
			return nil, err
		}
	}
	doc := obj{
		"openapi": "3.1.0",
		"info": obj{
			"title":   "aiproxy",
			"version": version,
			"description": "A multi-tenant proxy in front of external AI media services. " +
				"Discover services, then invoke their actions with a JSON envelope; aiproxy injects the provider credential.",
			"license": obj{"name": "MIT", "identifier": "MIT"},
		},
		"servers":    servers(),
		"tags":       tags,
		"paths":      paths,
		"components": components(sorted),
		"security":   security(schemeKey, schemeUserToken),
	}
	if err := addBodySchemas(doc["components"].(obj)["schemas"].(obj), sorted); err != nil { // bodyschema.go
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode openapi: %w", err)
	}
	return buf.Bytes(), nil
}

// servers are where the operations are served: the aiproxy that serves
// this document (a relative URL), and any aiproxy by its base URL, for a
// copy of the document read elsewhere.
func servers() []any {
	return []any{
		obj{"url": "/", "description": "The aiproxy that served this document."},
		obj{"url": "{scheme}://{host}", "description": "An aiproxy by its address (AIPROXY_URL).",
			"variables": obj{
				"scheme": obj{"default": "http", "enum": []any{"http", "https"}},
				"host":   obj{"default": "127.0.0.1:8080", "description": "Host and port, e.g. aiproxy.example.com."},
			}},
	}
}

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func pathParam(name, description string) obj {
	return obj{"name": name, "in": "path", "required": true, "description": description, "schema": obj{"type": "string"}}
}

var orgParam = pathParam("org", "The org (tenant) key.")

// errorResponses are the contract's error answers an operation may give:
// the statuses listed, and any other (500, a 503 of a store outage) as the
// default.
func errorResponses(statuses ...string) obj {
	out := obj{"default": obj{"$ref": "#/components/responses/ErrorOther"}}
	for _, s := range statuses {
		out[s] = obj{"$ref": "#/components/responses/Error" + s}
	}
	return out
}

func jsonResponse(description string, schema any) obj {
	return obj{"description": description, "content": obj{"application/json": obj{"schema": schema}}}
}

func jsonBody(schema any) obj {
	return obj{"required": true, "content": obj{"application/json": obj{"schema": schema}}}
}

// operation builds one operation; responses holds the success answers.
func operation(id, tag, summary string, responses obj, errs ...string) obj {
	rs := errorResponses(errs...)
	for k, v := range responses {
		rs[k] = v
	}
	return obj{"operationId": id, "tags": []any{tag}, "summary": summary, "responses": rs}
}

func addDiscovery(paths obj) {
	paths[Base+"/orgs/{org}/services/"] = obj{
		"parameters": []any{orgParam},
		"get": operation("listServices", "discovery", "List the enabled services.",
			obj{"200": jsonResponse("The services.", obj{"type": "array", "items": ref("ServiceSummary")})}, "401", "403", "503"),
	}
	paths[Base+"/orgs/{org}/services/{service}/"] = obj{
		"parameters": []any{orgParam, pathParam("service", "The service slug.")},
		"get": operation("getService", "discovery", "Read a service and its enabled endpoints.",
			obj{"200": jsonResponse("The service.", ref("ServiceDetail"))}, "401", "403", "404", "503"),
	}
	public := func(id, summary string, schema any) obj {
		op := operation(id, "discovery", summary, obj{"200": jsonResponse("OK.", schema)})
		op["security"] = []any{}
		return obj{"get": op}
	}
	paths[Base+"/openapi.json"] = public("getOpenAPI", "This document.", obj{"type": "object"})
	health := obj{"type": "object", "required": []any{"status"}, "properties": obj{
		"status":  obj{"type": "string", "enum": []any{"ok"}},
		"version": obj{"type": "string", "description": "The running release, as `aiproxy version` prints it."}}}
	paths["/healthz"] = public("health", "Liveness: 200 while the process runs.", health)
	readiness := obj{"type": "object", "required": []any{"status"}, "properties": obj{
		"status": obj{"type": "string", "enum": []any{"ready", "unavailable"}},
		"checks": obj{"type": "object", "additionalProperties": obj{"type": "string"},
			"description": "Each dependency's state in a word, e.g. database: ok."}}}
	ready := public("ready", "Readiness: 200 when the database (and Redis, when configured) answers, else 503.", readiness)
	ready["get"].(obj)["responses"].(obj)["503"] = jsonResponse("Not ready: a dependency does not answer, or the server is draining.", readiness)
	paths["/readyz"] = ready
}

func addManagement(paths obj) {
	keyBody := obj{"type": "object", "required": []any{"name", "role"}, "additionalProperties": false,
		"properties": obj{"name": obj{"type": "string"}, "role": obj{"type": "string", "enum": []any{"admin", "invoke"}}}}
	credBody := obj{"type": "object", "required": []any{"value"}, "additionalProperties": false,
		"properties": obj{"value": obj{"type": "object", "additionalProperties": obj{"type": "string"}}}}
	keys := obj{"type": "array", "items": ref("Key")}
	creds := obj{"type": "array", "items": ref("Credential")}
	deleted := obj{"204": obj{"description": "Deleted."}}
	idParam, nameParam := pathParam("id", "The key id."), pathParam("name", "The credential name, e.g. heygen.")
	mgmt := func(id, summary string, ok obj, errs ...string) obj {
		op := operation(id, "management", summary, ok, append([]string{"401", "403", "503"}, errs...)...)
		op["security"] = security(schemeKey)
		return op
	}

	paths[Base+"/orgs/{org}/keys/"] = obj{"parameters": []any{orgParam},
		"get":  mgmt("listOrgKeys", "List the org's API keys.", obj{"200": jsonResponse("The keys.", keys)}),
		"post": withBody(mgmt("createOrgKey", "Create an API key; the answer holds its secret once.", obj{"201": jsonResponse("The key.", ref("Key"))}, "400"), keyBody),
	}
	paths[Base+"/orgs/{org}/keys/{id}/"] = obj{"parameters": []any{orgParam, idParam},
		"delete": mgmt("revokeOrgKey", "Revoke an API key.", obj{"200": jsonResponse("The revoked key.", ref("Key"))}, "404"),
	}
	paths[Base+"/orgs/{org}/credentials/"] = obj{"parameters": []any{orgParam},
		"get": mgmt("listOrgCredentials", "List the org's provider credentials, masked.", obj{"200": jsonResponse("The credentials.", creds)}),
	}
	paths[Base+"/orgs/{org}/credentials/{name}/"] = obj{"parameters": []any{orgParam, nameParam},
		"put":    withBody(mgmt("setOrgCredential", "Set a provider credential of the org.", obj{"200": jsonResponse("The credential, masked.", ref("Credential"))}, "400", "404"), credBody),
		"delete": mgmt("deleteOrgCredential", "Delete a provider credential of the org.", deleted, "404"),
	}
	paths[Base+"/admin/orgs/"] = obj{
		"get": mgmt("listOrgs", "List the orgs (platform admin).", obj{"200": jsonResponse("The orgs.", obj{"type": "array", "items": ref("Org")})}),
		"post": withBody(mgmt("createOrg", "Create an org (platform admin).", obj{"201": jsonResponse("The org.", ref("Org"))}, "400", "409"),
			obj{"type": "object", "required": []any{"key"}, "additionalProperties": false,
				"properties": obj{"key": obj{"type": "string"}, "name": obj{"type": "string"}}}),
	}
	paths[Base+"/admin/keys/"] = obj{
		"get":  mgmt("listPlatformKeys", "List platform API keys.", obj{"200": jsonResponse("The keys.", keys)}),
		"post": withBody(mgmt("createPlatformKey", "Create a platform API key.", obj{"201": jsonResponse("The key.", ref("Key"))}, "400"), keyBody),
	}
	paths[Base+"/admin/keys/{id}/"] = obj{"parameters": []any{idParam},
		"delete": mgmt("revokePlatformKey", "Revoke a platform API key.", obj{"200": jsonResponse("The revoked key.", ref("Key"))}, "404"),
	}
	paths[Base+"/admin/credentials/"] = obj{
		"get": mgmt("listPlatformCredentials", "List platform credentials, masked.", obj{"200": jsonResponse("The credentials.", creds)}),
	}
	paths[Base+"/admin/credentials/{name}/"] = obj{"parameters": []any{nameParam},
		"put":    withBody(mgmt("setPlatformCredential", "Set a platform credential.", obj{"200": jsonResponse("The credential, masked.", ref("Credential"))}, "400", "404"), credBody),
		"delete": mgmt("deletePlatformCredential", "Delete a platform credential.", deleted, "404"),
	}
	keyParam := pathParam("key_id", "The id of a key of the pool.")
	pool := obj{"200": jsonResponse("The credential's keys, masked, with their health.", ref("Pool"))}
	paths[Base+"/admin/credentials/{name}/pool/"] = obj{"parameters": []any{nameParam},
		"get": mgmt("getPlatformPool", "A platform credential's keys and their health (healthy, resting, removed).", pool, "404"),
	}
	paths[Base+"/admin/credentials/{name}/pool/{key_id}/restore/"] = obj{"parameters": []any{nameParam, keyParam},
		"post": mgmt("restorePlatformPoolKey", "Put a resting or removed key of a platform credential back in use.", pool, "404"),
	}
	paths[Base+"/orgs/{org}/credentials/{name}/pool/"] = obj{"parameters": []any{orgParam, nameParam},
		"get": mgmt("getOrgPool", "An org credential's keys and their health.", pool, "404"),
	}
	paths[Base+"/orgs/{org}/credentials/{name}/pool/{key_id}/restore/"] = obj{"parameters": []any{orgParam, nameParam, keyParam},
		"post": mgmt("restoreOrgPoolKey", "Put a resting or removed key of an org credential back in use.", pool, "404"),
	}
}

// addService adds an invoke path per enabled endpoint and a native path per
// distinct upstream path.
func addService(paths obj, svc *aiproxy.Service) error {
	for _, ep := range svc.EnabledEndpoints() {
		if ep.ResponseMode != aiproxy.ResponseWebSocket { // a socket opens only as a native upgrade
			paths[fmt.Sprintf("%s/orgs/{org}/services/%s/%s/", Base, svc.Slug, ep.Slug)] = obj{
				"parameters": []any{orgParam},
				"post":       invokeOperation(svc, ep),
			}
		}
		p := fmt.Sprintf("%s/orgs/{org}/native/%s%s", Base, svc.Slug, ep.PathTemplate)
		item, _ := paths[p].(obj)
		if item == nil {
			params := []any{orgParam}
			for _, name := range placeholders(ep.PathTemplate) {
				params = append(params, pathParam(name, "Path parameter of the provider's path."))
			}
			item = obj{"parameters": params}
			paths[p] = item
		}
		method := strings.ToLower(ep.HTTPMethod)
		if _, dup := item[method]; dup {
			return fmt.Errorf("openapi: %s: two endpoints are %s %s", svc.Slug, ep.HTTPMethod, ep.PathTemplate)
		}
		item[method] = nativeOperation(svc, ep)
	}
	return nil
}

// placeholders returns the {name} placeholders of a path template in order.
func placeholders(tmpl string) []string {
	var out []string
	for rest := tmpl; ; {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			return out
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return out
		}
		out = append(out, rest[open+1:open+end])
		rest = rest[open+end+1:]
	}
}

func describe(svc *aiproxy.Service, ep aiproxy.Endpoint) string {
	d := ep.Description
	if d != "" && !strings.HasSuffix(d, ".") {
		d += "."
	}
	line := fmt.Sprintf("Upstream: %s %s. Request mode %s, response mode %s, callback mode %s.",
		ep.HTTPMethod, ep.PathTemplate, ep.RequestMode, ep.ResponseMode, orNone(ep.CallbackMode))
	return strings.TrimSpace(d + "\n\n" + line)
}

func orNone(s string) string {
	if s == "" {
		return aiproxy.CallbackNone
	}
	return s
}

func operationID(prefix, svc, action string) string {
	var b strings.Builder
	b.WriteString(prefix)
	up := true
	for _, r := range svc + "-" + action {
		if r == '-' || r == '_' || r == '.' {
			up = true
			continue
		}
		if up && r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		up = false
		b.WriteRune(r)
	}
	return b.String()
}

func invokeOperation(svc *aiproxy.Service, ep aiproxy.Endpoint) obj {
	summary := ep.Description
	if summary == "" {
		summary = svc.DisplayName + " " + ep.Slug + "."
	}
	op := operation(operationID("invoke", svc.Slug, ep.Slug), svc.Slug, summary,
		obj{"200": successResponse(ep.ResponseMode)}, "400", "401", "402", "403", "404", "408", "409", "413", "429", "502", "503", "504")
	op["description"] = describe(svc, ep)
	op["parameters"] = []any{userRef}
	op["requestBody"] = envelopeBody(ep)
	attachBodySchema(op, svc, ep) // bodyschema.go
	op["x-aiproxy-endpoint"] = obj{"http_method": ep.HTTPMethod, "path_template": ep.PathTemplate,
		"request_mode": string(ep.RequestMode), "response_mode": string(ep.ResponseMode),
		"callback_mode": orNone(ep.CallbackMode), "supports_streaming": ep.SupportsStreaming}
	return op
}

func nativeOperation(svc *aiproxy.Service, ep aiproxy.Endpoint) obj {
	op := operation(operationID("native", svc.Slug, ep.Slug), svc.Slug+"-native",
		fmt.Sprintf("%s %s, as %s's own API.", ep.HTTPMethod, ep.PathTemplate, svc.DisplayName),
		obj{"200": successResponse(ep.ResponseMode)}, "400", "401", "402", "403", "404", "408", "409", "413", "429", "502", "503", "504")
	op["description"] = describe(svc, ep) + "\n\nThe aiproxy key goes in the provider's own auth header or in Authorization."
	op["parameters"] = []any{userRef}
	op["security"] = security(schemeKey, schemeUserToken, svc.Slug+"Native")
	if ep.HTTPMethod == "GET" {
		op["description"] = op["description"].(string) + " A user token may also come as ?access_token=, for a browser's <audio src> or <video src>."
		op["security"] = security(schemeKey, schemeUserToken, schemeAccessToken, svc.Slug+"Native")
	}
	switch {
	case ep.RequestMode == aiproxy.RequestJSON && ep.HTTPMethod != "GET":
		op["requestBody"] = obj{"content": obj{"application/json": obj{"schema": obj{}}}}
	case ep.RequestMode == aiproxy.RequestMultipart:
		op["requestBody"] = obj{"required": true, "content": obj{"multipart/form-data": obj{"schema": obj{"type": "object"}}}}
	case ep.RequestMode == aiproxy.RequestBinary:
		op["requestBody"] = obj{"required": true, "content": obj{"application/octet-stream": obj{}}}
	}
	attachNativeBodySchema(op, svc, ep) // bodyschema.go
	if ep.ResponseMode == aiproxy.ResponseWebSocket {
		socketOperation(op, ep)
	}
	return op
}

// socketOperation describes a WebSocket endpoint's native operation: an
// upgrade, its messages the provider's own (docs/realtime.md).
func socketOperation(op obj, ep aiproxy.Endpoint) {
	responses := op["responses"].(obj)
	delete(responses, "200")
	responses["101"] = obj{"description": "Switching Protocols: the socket is open, relayed to the provider's " +
		ep.Socket.Protocol + " socket. Messages are the provider's own; aiproxy closes a socket with 4402 " +
		"(budget_exceeded), 4429 (quota_exceeded), 4408 (max_duration), 1008 (a provider limit it enforces first), " +
		"1011 (the provider's socket broke) or 1001 (aiproxy restarting), after an error message in the provider's shape."}
	op["description"] = op["description"].(string) + " Open it with a WebSocket upgrade. A browser may give its user token " +
		"as ?access_token=, ?token=, ?single_use_token= or the subprotocols [\"aiproxy\", token]; none of them, and no " +
		"credential field of any message, reaches the provider."
	op["x-aiproxy-socket"] = obj{"protocol": ep.Socket.Protocol}
}

// successResponse describes the provider's answer by response mode: JSON
// verbatim, or its bytes with its own Content-Type.
func successResponse(mode aiproxy.ResponseMode) obj {
	switch mode {
	case aiproxy.ResponseJSON:
		return jsonResponse("The provider's JSON, verbatim.", obj{})
	case aiproxy.ResponseStream:
		return obj{"description": "The provider's bytes, streamed as they arrive, with its Content-Type.",
			"content": obj{"application/octet-stream": obj{}, "*/*": obj{}}}
	}
	return obj{"description": "The provider's bytes (audio, video, …) with its Content-Type.",
		"content": obj{"application/octet-stream": obj{}, "*/*": obj{}}}
}

// envelopeBody is an action's request: a JSON envelope, or for uploads a
// multipart form whose envelope fields hold JSON text.
func envelopeBody(ep aiproxy.Endpoint) obj {
	env := envelopeSchema(ep)
	content := obj{}
	if ep.RequestMode != aiproxy.RequestBinary {
		content["application/json"] = obj{"schema": env}
	}
	if ep.RequestMode == aiproxy.RequestMultipart || ep.RequestMode == aiproxy.RequestBinary {
		text := obj{"type": "string", "contentMediaType": "application/json"}
		content["multipart/form-data"] = obj{"schema": obj{
			"type":                 "object",
			"description":          "Fields body, query, headers and path_params hold the envelope's JSON; every other part is a file sent upstream.",
			"properties":           obj{"body": text, "query": text, "headers": text, "path_params": text},
			"additionalProperties": obj{"type": "string", "contentMediaType": "application/octet-stream"},
		}}
	}
	return obj{"required": len(placeholders(ep.PathTemplate)) > 0, "content": content}
}

// envelopeSchema is {body, query, headers, path_params}; path_params is
// required, with every placeholder, when the template has any.
func envelopeSchema(ep aiproxy.Endpoint) obj {
	props := obj{
		"query":   ref("Query"),
		"headers": obj{"type": "object", "additionalProperties": obj{"type": "string"}, "description": "Extra request headers from the allow-list."},
	}
	if ep.RequestMode != aiproxy.RequestRaw && ep.HTTPMethod != "GET" {
		props["body"] = obj{"description": "The provider's request body, sent as JSON (or as form fields for uploads)."}
	}
	s := obj{"type": "object", "properties": props, "additionalProperties": false}
	names := placeholders(ep.PathTemplate)
	if len(names) == 0 {
		return s
	}
	pp := obj{}
	req := []any{}
	for _, n := range names {
		pp[n] = obj{"type": "string", "minLength": 1}
		req = append(req, n)
	}
	props["path_params"] = obj{"type": "object", "properties": pp, "required": req, "additionalProperties": false}
	s["required"] = []any{"path_params"}
	return s
}

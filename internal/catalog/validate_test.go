package catalog

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// validDoc returns a fresh, valid service document that each validation case
// breaks in one way.
func validDoc() map[string]any {
	var doc map[string]any
	err := json.Unmarshal([]byte(`{
		"slug": "testsvc",
		"display_name": "Test Service",
		"base_url": "https://api.example.com",
		"service_type": "tts",
		"auth_mode": "header",
		"default_timeout_seconds": 30,
		"credential_name": "testsvc",
		"credential_policy": {"allow_tenant_key": true, "default_source": "tenant"},
		"credential_schema": {"key": "string"},
		"upstream": {"auth_header": "X-Key", "hosts": {"upload": "https://upload.example.com"}},
		"endpoints": [
			{"slug": "get-thing", "path_template": "/v1/things/{id}", "http_method": "GET",
			 "request_mode": "raw", "response_mode": "json",
			 "ownership": {"op": "read", "kind": "thing", "id": "path.id"}},
			{"slug": "put-file", "path_template": "/v1/files", "http_method": "POST",
			 "request_mode": "binary", "response_mode": "json", "host": "upload",
			 "ownership": {"op": "create", "kind": "file", "id": "data.id"}}
		]
	}`), &doc)
	if err != nil {
		panic(err)
	}
	return doc
}

// del, as a value given to set, removes the key.
var del = &struct{}{}

// set changes a value at a dotted path such as "upstream.hosts.upload" or
// "endpoints.0.slug".
func set(doc map[string]any, path string, v any) {
	keys := strings.Split(path, ".")
	var cur any = doc
	for i, k := range keys {
		last := i == len(keys)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				if v == del {
					delete(c, k)
				} else {
					c[k] = v
				}
				return
			}
			cur = c[k]
		case []any:
			n, _ := strconv.Atoi(k)
			if last {
				c[n] = v
				return
			}
			cur = c[n]
		}
	}
}

// validationCase is one file that should load with exactly the wanted
// problems (none when want is empty). Either raw or edits gives the file.
type validationCase struct {
	name  string
	raw   string
	edits map[string]any
	want  []string
}

func (c validationCase) data() []byte {
	if c.raw != "" {
		return []byte(c.raw)
	}
	doc := validDoc()
	for _, path := range sortedKeys(c.edits) {
		set(doc, path, c.edits[path])
	}
	data, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return data
}

const svc = "test.json: testsvc: "
const ep = "test.json: testsvc/get-thing: "

var validationCases = []validationCase{
	{name: "valid"},
	{name: "defaults apply when optional fields are missing", edits: map[string]any{
		"endpoints.0.callback_mode": del, "endpoints.0.is_enabled": del, "is_enabled": del, "upstream.credential_field": del}},
	{name: "raw request on POST is fine", edits: map[string]any{"endpoints.0.http_method": "POST"}},
	{name: "trailing slash on base_url is fine", edits: map[string]any{"base_url": "https://api.example.com/"}},
	{name: "base_url with a path is fine", edits: map[string]any{"base_url": "http://127.0.0.1:8080/sandbox/heygen"}},

	// Decoding.
	{name: "invalid JSON", raw: `{"slug": `, want: []string{"test.json: invalid JSON"}},
	{name: "syntax error", raw: `{"slug": x}`, want: []string{"test.json: invalid JSON at byte 10: invalid character 'x'"}},
	{name: "trailing data", raw: `{"slug":"x"} {}`, want: []string{"test.json: invalid JSON: data after the top-level object"}},
	{name: "null file", raw: `null`, want: []string{"test.json: a catalog file must hold one JSON object"}},
	{name: "array file", raw: `[]`, want: []string{"test.json: a catalog file must hold one JSON object"}},
	{name: "unknown field", edits: map[string]any{"slugg": "x"}, want: []string{`test.json: unknown field "slugg"`}},
	{name: "field in wrong case", edits: map[string]any{"Display_Name": "x"}, want: []string{`test.json: unknown field "Display_Name"`}},
	{name: "unknown upstream field", edits: map[string]any{"upstream.authheader": "x"}, want: []string{`test.json: unknown field "upstream.authheader"`}},
	{name: "unknown endpoint field", edits: map[string]any{"endpoints.0.method": "GET"}, want: []string{`test.json: unknown field "endpoints[0].method"`}},
	{name: "wrong type", edits: map[string]any{"default_timeout_seconds": "30"}, want: []string{`test.json: invalid JSON: field "default_timeout_seconds" holds a JSON string, want an integer`}},
	{name: "wrong type in an endpoint", edits: map[string]any{"endpoints.1.is_enabled": "yes"},
		want: []string{`test.json: invalid JSON: field "endpoints.is_enabled" holds a JSON string, want true or false`}},
	{name: "wrong type of credential_schema value", edits: map[string]any{"credential_schema.key": 1},
		want: []string{`field "credential_schema" holds a JSON number, want a string`}},
	{name: "fractional timeout", edits: map[string]any{"default_timeout_seconds": 1.5}, want: []string{"test.json: invalid JSON"}},

	// Service fields.
	{name: "slug missing", edits: map[string]any{"slug": del}, want: []string{"test.json: slug is required"}},
	{name: "slug pattern", edits: map[string]any{"slug": "Test_Svc"},
		want: []string{`test.json: Test_Svc: slug "Test_Svc" must match ^[a-z0-9][a-z0-9-]*$`}},
	{name: "slug leading dash", edits: map[string]any{"slug": "-svc"}, want: []string{`slug "-svc" must match`}},
	{name: "slug too long", edits: map[string]any{"slug": strings.Repeat("a", 65)}, want: []string{"is longer than 64 characters"}},
	{name: "display_name missing", edits: map[string]any{"display_name": " "}, want: []string{svc + "display_name is required"}},
	{name: "base_url missing", edits: map[string]any{"base_url": del}, want: []string{svc + "base_url is required"}},
	{name: "base_url relative", edits: map[string]any{"base_url": "api.example.com"},
		want: []string{svc + `base_url "api.example.com" must be an absolute http or https URL`}},
	{name: "base_url ftp", edits: map[string]any{"base_url": "ftp://api.example.com"}, want: []string{"must be an absolute http or https URL"}},
	{name: "base_url no host", edits: map[string]any{"base_url": "https://"}, want: []string{svc + `base_url "https://" has no host`}},
	{name: "base_url query", edits: map[string]any{"base_url": "https://api.example.com/?a=b"}, want: []string{"may not hold a query or fragment"}},
	{name: "base_url empty query", edits: map[string]any{"base_url": "https://api.example.com/?"}, want: []string{"may not hold a query or fragment"}},
	{name: "base_url fragment", edits: map[string]any{"base_url": "https://api.example.com/#x"}, want: []string{"may not hold a query or fragment"}},
	{name: "base_url userinfo", edits: map[string]any{"base_url": "https://u:p@api.example.com"}, want: []string{"may not hold user information"}},
	{name: "base_url unparsable", edits: map[string]any{"base_url": "https://api.example.com:port"}, want: []string{"is not a URL"}},
	{name: "service_type missing", edits: map[string]any{"service_type": ""}, want: []string{svc + "service_type is required"}},
	{name: "auth_mode unsupported", edits: map[string]any{"auth_mode": "bearer"},
		want: []string{svc + `auth_mode "bearer" is not supported; the only auth_mode is "header"`}},
	{name: "auth_mode missing", edits: map[string]any{"auth_mode": del}, want: []string{`auth_mode "" is not supported`}},
	{name: "timeout zero", edits: map[string]any{"default_timeout_seconds": 0},
		want: []string{svc + "default_timeout_seconds 0 is not between 1 and 3600"}},
	{name: "timeout too long", edits: map[string]any{"default_timeout_seconds": 3601}, want: []string{"default_timeout_seconds 3601 is not between 1 and 3600"}},
	{name: "credential_name missing", edits: map[string]any{"credential_name": ""}, want: []string{svc + "credential_name is required"}},
	{name: "credential_name pattern", edits: map[string]any{"credential_name": "Eleven Labs"}, want: []string{`credential_name "Eleven Labs" must match`}},
	{name: "credential_schema missing", edits: map[string]any{"credential_schema": del},
		want: []string{svc + "credential_schema is required and may not be empty"}},
	{name: "credential_schema empty", edits: map[string]any{"credential_schema": map[string]any{}}, want: []string{"credential_schema is required"}},
	{name: "credential_schema type", edits: map[string]any{"credential_schema": map[string]any{"key": "int"}},
		want: []string{svc + `credential_schema field "key" has type "int"; the only type is "string"`}},
	{name: "credential_schema field name", edits: map[string]any{"credential_schema": map[string]any{"key": "string", "api-key": "string"}},
		want: []string{`credential_schema field "api-key" must match`}},
	{name: "default_source bad", edits: map[string]any{"credential_policy.default_source": "both"},
		want: []string{svc + `credential_policy.default_source "both" is not "tenant" or "platform"`}},
	{name: "default_source missing", edits: map[string]any{"credential_policy": del}, want: []string{`credential_policy.default_source "" is not`}},
	{name: "platform default source is fine", edits: map[string]any{"credential_policy.default_source": "platform"}},

	// Upstream.
	{name: "auth_header missing", edits: map[string]any{"upstream.auth_header": del}, want: []string{svc + "upstream.auth_header is required"}},
	{name: "auth_header not a token", edits: map[string]any{"upstream.auth_header": "X Key"},
		want: []string{svc + `upstream.auth_header "X Key" is not a valid header name`}},
	{name: "auth_header Host", edits: map[string]any{"upstream.auth_header": "host"},
		want: []string{svc + `upstream.auth_header "host" may not carry the credential`}},
	{name: "auth_header hop-by-hop", edits: map[string]any{"upstream.auth_header": "Connection"}, want: []string{`"Connection" may not carry the credential`}},
	{name: "auth_header Content-Length", edits: map[string]any{"upstream.auth_header": "Content-Length"}, want: []string{"may not carry the credential"}},
	{name: "Authorization auth_header is fine", edits: map[string]any{"upstream.auth_header": "Authorization", "upstream.auth_prefix": "Bearer "}},
	{name: "auth_prefix control character", edits: map[string]any{"upstream.auth_prefix": "Bearer\r\n"},
		want: []string{svc + `upstream.auth_prefix "Bearer\r\n" holds a control character`}},
	{name: "credential_field not in schema", edits: map[string]any{"upstream.credential_field": "token"},
		want: []string{svc + `upstream.credential_field "token" is not in credential_schema`}},
	{name: "host name pattern", edits: map[string]any{"upstream.hosts.Up": "https://up.example.com"},
		want: []string{svc + `upstream.hosts name "Up" must match`}},
	{name: "host URL scheme", edits: map[string]any{"upstream.hosts.upload": "ftp://upload.example.com"},
		want: []string{svc + `upstream.hosts.upload "ftp://upload.example.com" must be an absolute http or https URL`}},
	{name: "host URL query", edits: map[string]any{"upstream.hosts.upload": "https://upload.example.com?x=1"}, want: []string{"may not hold a query or fragment"}},
	{name: "host URL empty", edits: map[string]any{"upstream.hosts.upload": ""}, want: []string{svc + "upstream.hosts.upload is required"}},
	{name: "request header Authorization", edits: map[string]any{"upstream.request_headers": []any{"Authorization"}},
		want: []string{svc + `upstream.request_headers: "Authorization" may not be passed through`}},
	{name: "request header Host", edits: map[string]any{"upstream.request_headers": []any{"Host"}}, want: []string{`"Host" may not be passed through`}},
	{name: "request header Cookie", edits: map[string]any{"upstream.request_headers": []any{"cookie"}}, want: []string{`"cookie" may not be passed through`}},
	{name: "request header hop-by-hop", edits: map[string]any{"upstream.request_headers": []any{"Upgrade"}}, want: []string{`"Upgrade" may not be passed through`}},
	{name: "request header is the auth header", edits: map[string]any{"upstream.request_headers": []any{"x-key"}},
		want: []string{`upstream.request_headers: "x-key" may not be passed through`}},
	{name: "request header not a token", edits: map[string]any{"upstream.request_headers": []any{"X Trace"}},
		want: []string{`upstream.request_headers: "X Trace" is not a valid header name`}},
	{name: "request header twice", edits: map[string]any{"upstream.request_headers": []any{"X-Trace", "x-trace"}},
		want: []string{`upstream.request_headers: "x-trace" is listed twice`}},
	{name: "response header Set-Cookie", edits: map[string]any{"upstream.response_headers": []any{"Set-Cookie"}},
		want: []string{svc + `upstream.response_headers: "Set-Cookie" may not be passed through`}},
	{name: "response header auth header", edits: map[string]any{"upstream.response_headers": []any{"X-KEY"}},
		want: []string{`upstream.response_headers: "X-KEY" may not be passed through`}},
	{name: "response header Transfer-Encoding", edits: map[string]any{"upstream.response_headers": []any{"Transfer-Encoding"}},
		want: []string{`"Transfer-Encoding" may not be passed through`}},
	{name: "allowed pass headers", edits: map[string]any{"upstream.request_headers": []any{"Accept-Language"}, "upstream.response_headers": []any{"request-id"}}},

	// Endpoints.
	{name: "endpoint slug missing", edits: map[string]any{"endpoints.0.slug": ""}, want: []string{"test.json: testsvc/endpoints[0]: slug is required"}},
	{name: "upstream_auth client_bearer", edits: map[string]any{"endpoints.0.upstream_auth": "client_bearer"}},
	{name: "upstream_auth client_bearer_or_key", edits: map[string]any{"endpoints.0.upstream_auth": "client_bearer_or_key"}},
	{name: "upstream_auth unknown", edits: map[string]any{"endpoints.0.upstream_auth": "cookie"},
		want: []string{`test.json: testsvc/get-thing: upstream_auth "cookie" is not "client_bearer" or "client_bearer_or_key" (or absent)`}},
	{name: "upstream_auth with a cache", edits: map[string]any{"endpoints.0.upstream_auth": "client_bearer", "endpoints.0.cache_ttl_seconds": 60},
		want: []string{`test.json: testsvc/get-thing: upstream_auth "client_bearer" may not go with a job start or cache_ttl_seconds`}},
	{name: "error_envelope liveavatar", edits: map[string]any{"upstream.error_envelope": "liveavatar"}},
	{name: "endpoint slug pattern", edits: map[string]any{"endpoints.0.slug": "Get Thing"},
		want: []string{`test.json: testsvc/Get Thing: slug "Get Thing" must match`}},
	{name: "endpoint slug duplicate", edits: map[string]any{"endpoints.1.slug": "get-thing"},
		want: []string{`test.json: testsvc/get-thing: duplicate endpoint slug "get-thing"`}},
	{name: "path_template missing", edits: map[string]any{"endpoints.0.path_template": del}, want: []string{ep + "path_template is required"}},
	{name: "path_template relative", edits: map[string]any{"endpoints.0.path_template": "v1/things"},
		want: []string{ep + `path_template: path template "v1/things" must start with /`}},
	{name: "path_template repeated placeholder", edits: map[string]any{"endpoints.0.path_template": "/v1/{id}/{id}"},
		want: []string{ep + `path_template: path template "/v1/{id}/{id}" repeats placeholder "id"`}},
	{name: "path_template query", edits: map[string]any{"endpoints.0.path_template": "/v1/things?x=1"}, want: []string{"may not contain ? or #"}},
	{name: "path_template unclosed", edits: map[string]any{"endpoints.0.path_template": "/v1/{id"}, want: []string{"has an unclosed {"}},
	{name: "http_method unknown", edits: map[string]any{"endpoints.0.http_method": "FETCH"},
		want: []string{ep + `http_method "FETCH" is not one of GET, POST, PUT, PATCH, DELETE`}},
	{name: "http_method lower case", edits: map[string]any{"endpoints.0.http_method": "get"}, want: []string{`http_method "get" is not one of`}},
	{name: "http_method missing", edits: map[string]any{"endpoints.0.http_method": del},
		want: []string{ep + "http_method is required (one of GET, POST, PUT, PATCH, DELETE)"}},
	{name: "request_mode unknown", edits: map[string]any{"endpoints.0.request_mode": "form"},
		want: []string{ep + `request_mode "form" is not one of raw, json, multipart, binary`}},
	{name: "request_mode missing", edits: map[string]any{"endpoints.0.request_mode": del}, want: []string{ep + "request_mode is required"}},
	{name: "response_mode unknown", edits: map[string]any{"endpoints.0.response_mode": "xml"},
		want: []string{ep + `response_mode "xml" is not one of json, binary, passthrough, stream`}},
	{name: "response_mode missing", edits: map[string]any{"endpoints.0.response_mode": del}, want: []string{ep + "response_mode is required"}},
	{name: "callback_mode unknown", edits: map[string]any{"endpoints.0.callback_mode": "push"},
		want: []string{ep + `callback_mode "push" is not one of none, poll, webhook`}},
	{name: "GET with a multipart body", edits: map[string]any{"endpoints.0.request_mode": "multipart"},
		want: []string{ep + `request_mode "multipart" sends a body, which a GET request does not carry`}},
	{name: "unknown host", edits: map[string]any{"endpoints.0.host": "download"},
		want: []string{ep + `host "download" is not one of upstream.hosts`}},
	{name: "host removed", edits: map[string]any{"upstream.hosts": del},
		want: []string{`test.json: testsvc/put-file: host "upload" is not one of upstream.hosts`}},
	{name: "timeout negative", edits: map[string]any{"endpoints.0.timeout_seconds": -1},
		want: []string{ep + "timeout_seconds -1 is not between 0 and 3600"}},
	{name: "timeout too long", edits: map[string]any{"endpoints.0.timeout_seconds": 4000}, want: []string{"timeout_seconds 4000 is not between 0 and 3600"}},

	// Several at once.
	{name: "every problem is reported together", edits: map[string]any{
		"display_name":                     "",
		"base_url":                         "http://u@x",
		"default_timeout_seconds":          0,
		"upstream.auth_header":             "Host",
		"endpoints.0.http_method":          "FETCH",
		"endpoints.1.response_mode":        "xml",
		"endpoints.1.path_template":        "/v1/{",
		"upstream.response_headers":        []any{"Set-Cookie"},
		"credential_policy.default_source": "",
	}, want: []string{
		svc + "display_name is required",
		svc + `base_url "http://u@x" may not hold user information`,
		svc + "default_timeout_seconds 0 is not between 1 and 3600",
		svc + `credential_policy.default_source "" is not "tenant" or "platform"`,
		svc + `upstream.auth_header "Host" may not carry the credential`,
		svc + `upstream.response_headers: "Set-Cookie" may not be passed through`,
		ep + `http_method "FETCH" is not one of`,
		`test.json: testsvc/put-file: path_template: path template "/v1/{" has an unclosed {`,
		`test.json: testsvc/put-file: response_mode "xml" is not one of`,
	}},
}

func TestValidation(t *testing.T) {
	for _, tc := range validationCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := compile(nil, []sourceFile{{name: "test.json", data: tc.data()}}, nil)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("want no problems, got %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a *ValidationError, got %v", err)
			}
			if len(ve.Problems) != len(tc.want) {
				t.Errorf("got %d problems, want %d:\n%s", len(ve.Problems), len(tc.want), err)
			}
			for _, w := range tc.want {
				if !containsProblem(ve.Problems, w) {
					t.Errorf("no problem contains %q; got:\n%s", w, err)
				}
			}
		})
	}
}

func containsProblem(problems []string, want string) bool {
	for _, p := range problems {
		if strings.Contains(p, want) {
			return true
		}
	}
	return false
}

func TestValidationErrorListsOnePerLine(t *testing.T) {
	err := &ValidationError{Problems: []string{"a.json: x: one", "b.json: y: two"}}
	want := "invalid service catalog (2 problems):\n  a.json: x: one\n  b.json: y: two"
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	one := &ValidationError{Problems: []string{"a.json: x: one"}}
	if got := one.Error(); !strings.HasPrefix(got, "invalid service catalog (1 problem):") {
		t.Errorf("Error() = %q", got)
	}
}

func TestValidationAcrossFiles(t *testing.T) {
	bad := validDoc()
	set(bad, "slug", "other")
	set(bad, "endpoints.0.http_method", "FETCH")
	badData, _ := json.Marshal(bad)
	files := []sourceFile{
		{name: "a.json", data: []byte(`{"slug":`)},
		{name: "b.json", data: badData},
		{name: "c.json", data: validationCases[0].data()},
		{name: "d.json", data: validationCases[0].data()},
	}
	_, err := compile(nil, files, nil)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a *ValidationError, got %v", err)
	}
	for _, w := range []string{
		"a.json: invalid JSON",
		`b.json: other/get-thing: http_method "FETCH"`,
		`d.json: testsvc: duplicate service slug "testsvc" (also in c.json)`,
	} {
		if !containsProblem(ve.Problems, w) {
			t.Errorf("no problem contains %q; got:\n%s", w, err)
		}
	}
	if len(ve.Problems) != 3 {
		t.Errorf("got %d problems, want 3:\n%s", len(ve.Problems), err)
	}
}

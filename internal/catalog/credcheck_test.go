package catalog

import (
	"errors"
	"testing"
)

func TestCredentialCheckAction(t *testing.T) {
	cases := []validationCase{
		{name: "a GET list", edits: map[string]any{"credential_check_action": "list",
			"endpoints.0.path_template": "/v1/things", "endpoints.0.slug": "list",
			"endpoints.0.ownership": map[string]any{"op": "public"}}},
		{name: "unknown slug", edits: map[string]any{"credential_check_action": "nope"},
			want: []string{svc + `credential_check_action "nope" names no endpoint of the service`}},
		{name: "path parameters", edits: map[string]any{"credential_check_action": "get-thing"},
			want: []string{svc + `credential_check_action "get-thing" must be a GET with request_mode raw and no path parameters`}},
		{name: "an upload", edits: map[string]any{"credential_check_action": "put-file"},
			want: []string{svc + `credential_check_action "put-file" must be a GET`}},
		{name: "disabled", edits: map[string]any{"credential_check_action": "get-thing", "endpoints.0.is_enabled": false},
			want: []string{svc + `credential_check_action "get-thing" is disabled`}},
		{name: "forward_idempotency_key needs json", edits: map[string]any{
			"endpoints.1.job":        map[string]any{"status_action": "get-thing", "id_path": "id", "forward_idempotency_key": true},
			"endpoints.0.job_status": map[string]any{"id_param": "path.id", "state_path": "s", "states": map[string]any{"done": "completed"}}},
			want: []string{"put-file: job.forward_idempotency_key needs request_mode json"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := compile(nil, []sourceFile{{name: "test.json", data: tc.data()}}, nil)
			var ve *ValidationError
			switch {
			case len(tc.want) == 0 && err != nil:
				t.Fatalf("want no problems, got %v", err)
			case len(tc.want) == 0:
				return
			case !errors.As(err, &ve) || len(ve.Problems) != len(tc.want) || !containsProblem(ve.Problems, tc.want[0]):
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}

func TestHeyGenCredentialCheck(t *testing.T) {
	cat, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, ok := cat.Service("heygen")
	if !ok || svc.CredentialCheckAction != "v3-get-current-user" {
		t.Fatalf("heygen credential check = %q", svc.CredentialCheckAction)
	}
	ep, ok := svc.Endpoint(svc.CredentialCheckAction)
	if !ok || ep.PathTemplate != "/v3/users/me" || ep.HTTPMethod != "GET" {
		t.Fatalf("endpoint = %+v", ep)
	}
}

package catalog

import (
	"errors"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// guardrailCases check the guardrail fields of an endpoint: retry_safe,
// cache_ttl_seconds, meter and test_mode_field, and upstream.error_envelope.
var guardrailCases = []validationCase{
	{name: "guardrail fields valid", edits: map[string]any{
		"endpoints.0.cache_ttl_seconds": 600, "upstream.error_envelope": "heygen",
	}},
	{name: "retry_safe on an upload", edits: map[string]any{"endpoints.1.retry_safe": true},
		want: []string{`retry_safe may not be true for request_mode "binary"`}},
	{name: "retry_safe on a job", edits: map[string]any{"endpoints.0.callback_mode": "poll", "endpoints.0.retry_safe": true},
		want: []string{"retry_safe may not be true on a job-starting endpoint"}},
	{name: "cache on a POST", edits: map[string]any{"endpoints.1.cache_ttl_seconds": 60},
		want: []string{"cache_ttl_seconds needs a GET endpoint with response_mode json"}},
	{name: "cache too long", edits: map[string]any{"endpoints.0.cache_ttl_seconds": 100000},
		want: []string{"cache_ttl_seconds 100000 is not between 0 and 86400"}},
	{name: "unknown meter", edits: map[string]any{"endpoints.0.meter": "seconds"},
		want: []string{`meter "seconds" is not one of characters, renders`}},
	{name: "test mode on a raw body", edits: map[string]any{"endpoints.0.test_mode_field": "test"},
		want: []string{`test_mode_field "test" must be a field name of a request_mode json body`}},
	{name: "unknown error envelope", edits: map[string]any{"upstream.error_envelope": "v9"},
		want: []string{`upstream.error_envelope "v9" is not "heygen"`}},
}

func TestGuardrailValidation(t *testing.T) {
	for _, tc := range guardrailCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := compile(nil, []sourceFile{{name: "test.json", data: tc.data()}}, nil)
			var ve *ValidationError
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("want no problems, got %v", err)
				}
				return
			}
			if !errors.As(err, &ve) || len(ve.Problems) != len(tc.want) {
				t.Fatalf("got %v, want %d problems", err, len(tc.want))
			}
			for _, w := range tc.want {
				if !containsProblem(ve.Problems, w) {
					t.Errorf("no problem contains %q; got:\n%s", w, err)
				}
			}
		})
	}
}

func TestGuardrailDefaults(t *testing.T) {
	c, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		service, action    string
		retrySafe, cached  bool
		meter              aiproxy.Metric
		testMode, envelope string
	}{
		{"heygen", "list-avatars", true, true, "", "", "heygen"},
		{"heygen", "video-status", true, false, "", "", "heygen"},
		{"heygen", "generate-video", false, false, aiproxy.MetricRenders, "test", "heygen"},
		{"heygen", "upload-asset", false, false, "", "", "heygen"},
		{"elevenlabs", "tts", false, false, aiproxy.MetricCharacters, "", ""},
		{"elevenlabs", "list-voices", true, false, "", "", ""},
	}
	for _, tt := range tests {
		svc, ep, ok := c.Lookup(tt.service, tt.action)
		if !ok {
			t.Fatalf("%s/%s not found", tt.service, tt.action)
		}
		if ep.RetrySafe != tt.retrySafe || (ep.CacheTTLSeconds > 0) != tt.cached || ep.Meter != tt.meter ||
			ep.TestModeField != tt.testMode || svc.Upstream.ErrorEnvelope != tt.envelope {
			t.Errorf("%s/%s: retry %v cache %d meter %q test %q envelope %q", tt.service, tt.action,
				ep.RetrySafe, ep.CacheTTLSeconds, ep.Meter, ep.TestModeField, svc.Upstream.ErrorEnvelope)
		}
	}
}

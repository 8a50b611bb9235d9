package proxy

import (
	"reflect"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

func TestMatchEndpoint(t *testing.T) {
	ep := func(slug, method, tmpl string) aiproxy.Endpoint {
		return aiproxy.Endpoint{Slug: slug, HTTPMethod: method, PathTemplate: tmpl, IsEnabled: true}
	}
	svc := &aiproxy.Service{Endpoints: []aiproxy.Endpoint{
		ep("list-avatars", "GET", "/v3/avatars"),
		ep("get-avatar-group", "GET", "/v3/avatars/{group_id}"),
		ep("list-looks", "GET", "/v3/avatars/looks"),
		ep("tts", "POST", "/v1/text-to-speech/{voice_id}"),
		ep("tts-stream", "POST", "/v1/text-to-speech/{voice_id}/stream"),
		ep("status", "GET", "/v1/video_status.get"),
		ep("dubbed", "GET", "/v1/dubbing/{dubbing_id}/audio/{language_code}"),
		ep("suffixed", "GET", "/v1/files/{name}.json"),
		{Slug: "off", HTTPMethod: "GET", PathTemplate: "/v1/off"},
	}}
	tests := []struct {
		method, path string
		slug         string
		params       map[string]string
	}{
		{"GET", "/v3/avatars", "list-avatars", map[string]string{}},
		{"GET", "/v3/avatars/", "list-avatars", map[string]string{}},
		{"GET", "/v3/avatars/looks", "list-looks", map[string]string{}},
		{"GET", "/v3/avatars/g1", "get-avatar-group", map[string]string{"group_id": "g1"}},
		{"POST", "/v1/text-to-speech/abc", "tts", map[string]string{"voice_id": "abc"}},
		{"POST", "/v1/text-to-speech/abc/stream", "tts-stream", map[string]string{"voice_id": "abc"}},
		{"GET", "/v1/video_status.get", "status", map[string]string{}},
		{"GET", "/v1/dubbing/d1/audio/fr", "dubbed", map[string]string{"dubbing_id": "d1", "language_code": "fr"}},
		{"GET", "/v1/files/report.json", "suffixed", map[string]string{"name": "report"}},
		{"GET", "/v1/files/.json", "", nil},
		{"GET", "/v1/text-to-speech/abc", "", nil},
		{"POST", "/v1/text-to-speech/", "", nil},
		{"POST", "/v1/text-to-speech", "", nil},
		{"GET", "/v1/off", "", nil},
		{"GET", "/v3/avatars/a/b", "", nil},
		{"GET", "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			got, params, ok := MatchEndpoint(svc, tt.method, tt.path)
			if tt.slug == "" {
				if ok {
					t.Fatalf("matched %s", got.Slug)
				}
				return
			}
			if !ok || got.Slug != tt.slug || !reflect.DeepEqual(params, tt.params) {
				t.Fatalf("= %v %v %v, want %s %v", got, params, ok, tt.slug, tt.params)
			}
		})
	}
}

func FuzzMatchEndpoint(f *testing.F) {
	for _, s := range []string{"/v3/avatars/looks", "/v1/text-to-speech/abc/stream", "/v1/files/x.json", "//", "/{a}"} {
		f.Add(s)
	}
	svc := &aiproxy.Service{Endpoints: []aiproxy.Endpoint{
		{Slug: "a", HTTPMethod: "GET", PathTemplate: "/v3/avatars/{group_id}", IsEnabled: true},
		{Slug: "b", HTTPMethod: "GET", PathTemplate: "/v1/files/{name}.json", IsEnabled: true},
	}}
	f.Fuzz(func(t *testing.T, path string) {
		_, params, ok := MatchEndpoint(svc, "GET", path)
		if !ok {
			return
		}
		for name := range params {
			if params[name] == "" {
				t.Fatalf("empty value for %s from %q", name, path)
			}
		}
	})
}

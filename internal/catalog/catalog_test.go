package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var update = flag.Bool("update", false, "rewrite testdata/catalog.golden.json")

func mustLoad(t *testing.T, opts Options) *Catalog {
	t.Helper()
	c, err := Load(opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// writeDir writes files (name → content) into a fresh directory.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func builtinEndpoints(t *testing.T, service string) int {
	t.Helper()
	s, _ := mustLoad(t, Options{}).Service(service)
	return len(s.Endpoints)
}

func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a *ValidationError, got %v", err)
	}
	return ve.Problems
}

func TestBuiltinLoads(t *testing.T) {
	c := mustLoad(t, Options{})
	var slugs []string
	for _, s := range c.Services() {
		slugs = append(slugs, s.Slug)
		if !s.IsEnabled {
			t.Errorf("%s is disabled", s.Slug)
		}
		for _, e := range s.Endpoints {
			if !strings.HasSuffix(e.Description, ".") || strings.Count(e.Description, ". ") > 0 {
				t.Errorf("%s/%s: description %q is not one sentence", s.Slug, e.Slug, e.Description)
			}
			if e.Path.String() != e.PathTemplate {
				t.Errorf("%s/%s: Path not filled", s.Slug, e.Slug)
			}
		}
	}
	if got := strings.Join(slugs, ","); got != "elevenlabs,heygen,liveavatar" {
		t.Errorf("services = %s", got)
	}
}

// TestBuiltinServices checks the contract's §4.1/§4.2 descriptor values.
func TestBuiltinServices(t *testing.T) {
	c := mustLoad(t, Options{})
	policy := aiproxy.CredentialPolicy{AllowTenantKey: true, AllowPlatformKey: true, DefaultSource: aiproxy.SourceTenant, FallbackToPlatformKey: true}
	tests := []struct {
		slug, display, base, typ, header string
		async, streaming                 bool
		timeout                          int
		hosts                            map[string]string
	}{
		{"elevenlabs", "ElevenLabs", "https://api.elevenlabs.io", "tts", "xi-api-key", false, true, 60, nil},
		{"heygen", "HeyGen", "https://api.heygen.com", "video", "X-Api-Key", true, false, 120, map[string]string{"upload": "https://upload.heygen.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.slug, func(t *testing.T) {
			s, ok := c.Service(tt.slug)
			if !ok {
				t.Fatal("missing")
			}
			if s.DisplayName != tt.display || s.BaseURL != tt.base || s.ServiceType != tt.typ || s.AuthMode != "header" ||
				s.SupportsAsyncJobs != tt.async || s.SupportsStreaming != tt.streaming || s.DefaultTimeoutSeconds != tt.timeout ||
				s.CredentialName != tt.slug || s.CredentialPolicy != policy ||
				len(s.CredentialSchema) != 1 || s.CredentialSchema["key"] != "string" ||
				s.Upstream.AuthHeader != tt.header || s.Upstream.CredentialField != "key" || !equalMaps(s.Upstream.Hosts, tt.hosts) {
				t.Errorf("descriptor = %+v", s)
			}
		})
	}
	el, _ := c.Service("elevenlabs")
	want := "request-id,history-item-id,character-cost,current-concurrent-requests,maximum-concurrent-requests,tts-latency-ms,x-trace-id"
	if got := strings.Join(el.Upstream.ResponseHeaders, ","); got != want {
		t.Errorf("elevenlabs response_headers = %s", got)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestDocumentedEndpoints checks the contract's catalog floor (§7.1, §7.3):
// the documented endpoints come first, with the exact methods, paths and
// modes.
func TestDocumentedEndpoints(t *testing.T) {
	c := mustLoad(t, Options{})
	type want struct {
		slug, method, path, req, resp, callback string
		streaming                               bool
	}
	documented := map[string][]want{
		"elevenlabs": {
			{"list-voices", "GET", "/v1/voices", "json", "json", "none", false},
			{"list-models", "GET", "/v1/models", "json", "json", "none", false},
			{"tts", "POST", "/v1/text-to-speech/{voice_id}", "json", "binary", "none", true},
		},
		"heygen": {
			{"list-templates", "GET", "/v2/templates", "raw", "json", "none", false},
			{"list-avatars", "GET", "/v2/avatars", "raw", "json", "none", false},
			{"list-voices", "GET", "/v2/voices", "raw", "json", "none", false},
			{"generate-video", "POST", "/v2/video/generate", "json", "json", "poll", false},
			{"generate-template-video", "POST", "/v2/template/{template_id}/generate", "json", "json", "poll", false},
			{"video-status", "GET", "/v1/video_status.get", "raw", "json", "none", false},
		},
	}
	for service, wants := range documented {
		s, _ := c.Service(service)
		for i, w := range wants {
			t.Run(service+"/"+w.slug, func(t *testing.T) {
				if s.Endpoints[i].Slug != w.slug {
					t.Errorf("endpoint %d is %s, want %s first", i, s.Endpoints[i].Slug, w.slug)
				}
				_, e, ok := c.Lookup(service, w.slug)
				if !ok {
					t.Fatal("missing")
				}
				got := want{e.Slug, e.HTTPMethod, e.PathTemplate, string(e.RequestMode), string(e.ResponseMode), e.CallbackMode, e.SupportsStreaming}
				if got != w || !e.IsEnabled {
					t.Errorf("got %+v, want %+v", got, w)
				}
			})
		}
	}
}

// TestExtraEndpoints spot-checks the [S] catalogs and heygen-api.md facts.
func TestExtraEndpoints(t *testing.T) {
	c := mustLoad(t, Options{})
	tests := []struct {
		service, slug, method, path, req, resp, callback, host string
	}{
		{"elevenlabs", "tts-stream", "POST", "/v1/text-to-speech/{voice_id}/stream", "json", "stream", "none", ""},
		{"elevenlabs", "add-voice", "POST", "/v1/voices/add", "multipart", "json", "none", ""},
		{"elevenlabs", "create-dubbing", "POST", "/v1/dubbing", "multipart", "json", "poll", ""},
		{"elevenlabs", "get-dubbed-audio", "GET", "/v1/dubbing/{dubbing_id}/audio/{language_code}", "raw", "passthrough", "none", ""},
		{"elevenlabs", "delete-history-item", "DELETE", "/v1/history/{history_item_id}", "raw", "json", "none", ""},
		{"heygen", "delete-video", "DELETE", "/v1/video.delete", "raw", "json", "none", ""},
		{"heygen", "upload-asset", "POST", "/v1/asset", "binary", "json", "none", "upload"},
		{"heygen", "get-avatar-details", "GET", "/v2/avatar/{avatar_id}/details", "raw", "json", "none", ""},
		{"heygen", "translate-video", "POST", "/v2/video_translate", "json", "json", "poll", ""},
		{"heygen", "delete-webhook", "DELETE", "/v1/webhook/endpoint.delete", "raw", "json", "none", ""},
	}
	for _, tt := range tests {
		t.Run(tt.service+"/"+tt.slug, func(t *testing.T) {
			s, e, ok := c.Lookup(tt.service, tt.slug)
			if !ok {
				t.Fatal("missing")
			}
			if e.HTTPMethod != tt.method || e.PathTemplate != tt.path || string(e.RequestMode) != tt.req ||
				string(e.ResponseMode) != tt.resp || e.CallbackMode != tt.callback || e.Host != tt.host {
				t.Errorf("got %+v", *e)
			}
			if tt.host == "upload" && s.BaseURLFor(e) != "https://upload.heygen.com" {
				t.Errorf("BaseURLFor = %s", s.BaseURLFor(e))
			}
		})
	}
	// Every action of the contract's [S] catalogs (§7.2, §7.4) is present.
	actions := map[string][]string{
		"elevenlabs": {"list-voices", "get-voice", "add-voice", "edit-voice", "delete-voice", "get-voice-settings",
			"list-models", "tts", "tts-stream", "tts-timestamps", "sound-generation", "audio-isolation",
			"audio-isolation-stream", "create-dubbing", "get-dubbing", "get-dubbed-audio", "delete-dubbing",
			"get-history", "get-history-item", "get-history-audio", "delete-history-item", "get-user", "get-subscription"},
		"heygen": {"list-templates", "list-avatars", "list-voices", "generate-video", "generate-template-video",
			"video-status", "get-template", "list-videos", "delete-video", "translate-video", "translation-status",
			"upload-asset", "get-asset", "create-photo-avatar", "photo-avatar-train-status", "generate-talking-photo",
			"list-talking-photos", "get-remaining-quota", "add-webhook", "list-webhooks", "delete-webhook"},
	}
	for service, slugs := range actions {
		for _, slug := range slugs {
			if _, _, ok := c.Lookup(service, slug); !ok {
				t.Errorf("%s/%s missing", service, slug)
			}
		}
	}
}

func TestLookup(t *testing.T) {
	c := mustLoad(t, Options{})
	tests := []struct {
		service, action string
		ok              bool
	}{
		{"elevenlabs", "tts", true},
		{"heygen", "video-status", true},
		{"heygen", "tts", false},
		{"unknown", "tts", false},
		{"", "", false},
	}
	for _, tt := range tests {
		s, e, ok := c.Lookup(tt.service, tt.action)
		if ok != tt.ok {
			t.Errorf("Lookup(%q, %q) ok = %v", tt.service, tt.action, ok)
			continue
		}
		if ok && (s.Slug != tt.service || e.Slug != tt.action || &s.Endpoints[indexOf(s, e.Slug)] != e) {
			t.Errorf("Lookup(%q, %q) = %s/%s, endpoint not inside the service", tt.service, tt.action, s.Slug, e.Slug)
		}
	}
}

func indexOf(s *aiproxy.Service, slug string) int {
	for i, e := range s.Endpoints {
		if e.Slug == slug {
			return i
		}
	}
	return -1
}

// TestServicesAreSharedReadOnly pins the sharing contract: services are
// handed out without copying (the invoke path reads them per request), while
// the list itself is the caller's to reorder.
func TestServicesAreSharedReadOnly(t *testing.T) {
	c := mustLoad(t, Options{})
	a, _ := c.Service("heygen")
	b, _ := c.Service("heygen")
	if a != b {
		t.Error("Service copied the service; it should share it")
	}
	list := c.Services()
	list[0], list[1] = list[1], list[0]
	if c.Services()[0].Slug != "elevenlabs" {
		t.Error("reordering the returned list reached the catalog")
	}
	_, e, _ := c.Lookup("heygen", "video-status")
	if e.HTTPMethod != "GET" {
		t.Errorf("video-status method = %s", e.HTTPMethod)
	}
}

func TestConcurrentUse(t *testing.T) {
	c := mustLoad(t, Options{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				s, e, ok := c.Lookup("elevenlabs", "tts")
				if !ok {
					t.Error("lookup failed")
					return
				}
				// Readers only: the services are shared and read-only.
				if e.Timeout(s) <= 0 || s.BaseURLFor(e) == "" {
					t.Error("bad endpoint")
				}
				_ = c.Services()
			}
		})
	}
	wg.Wait()
}

func TestOverrides(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		check func(t *testing.T, c *Catalog)
	}{
		{
			name:  "base_url",
			files: map[string]string{"el.json": `{"slug":"elevenlabs","base_url":"http://127.0.0.1:9999"}`},
			check: func(t *testing.T, c *Catalog) {
				s, _ := c.Service("elevenlabs")
				if s.BaseURL != "http://127.0.0.1:9999" || len(s.Endpoints) != builtinEndpoints(t, "elevenlabs") || s.DefaultTimeoutSeconds != 60 {
					t.Errorf("got %s with %d endpoints", s.BaseURL, len(s.Endpoints))
				}
			},
		},
		{
			name:  "disable an endpoint",
			files: map[string]string{"hg.json": `{"slug":"heygen","endpoints":[{"slug":"delete-video","is_enabled":false}]}`},
			check: func(t *testing.T, c *Catalog) {
				if _, _, ok := c.Lookup("heygen", "delete-video"); ok {
					t.Error("disabled endpoint still found")
				}
				s, _ := c.Service("heygen")
				e := s.Endpoints[indexOf(s, "delete-video")]
				if e.IsEnabled || e.HTTPMethod != "DELETE" || e.PathTemplate != "/v1/video.delete" {
					t.Errorf("endpoint = %+v", e)
				}
				if len(s.EnabledEndpoints()) != len(s.Endpoints)-1 {
					t.Error("other endpoints changed")
				}
			},
		},
		{
			name:  "change one endpoint field",
			files: map[string]string{"hg.json": `{"slug":"heygen","endpoints":[{"slug":"generate-video","timeout_seconds":300}]}`},
			check: func(t *testing.T, c *Catalog) {
				s, e, _ := c.Lookup("heygen", "generate-video")
				if e.Timeout(s) != 300 || e.PathTemplate != "/v2/video/generate" || e.CallbackMode != "poll" {
					t.Errorf("endpoint = %+v", *e)
				}
			},
		},
		{
			name: "add an endpoint",
			files: map[string]string{"el.json": `{"slug":"elevenlabs","endpoints":[{"slug":"list-voices-v2",
				"path_template":"/v2/voices","http_method":"GET","request_mode":"raw","response_mode":"json",
				"ownership":{"op":"list","kind":"voice","items":"voices","id":"voice_id","stock":true}}]}`},
			check: func(t *testing.T, c *Catalog) {
				s, e, ok := c.Lookup("elevenlabs", "list-voices-v2")
				if !ok || e.PathTemplate != "/v2/voices" || e.CallbackMode != "none" || !e.IsEnabled {
					t.Fatalf("added endpoint = %+v, %v", e, ok)
				}
				if s.Endpoints[len(s.Endpoints)-1].Slug != "list-voices-v2" || len(s.Endpoints) != builtinEndpoints(t, "elevenlabs")+1 {
					t.Error("new endpoint not appended")
				}
			},
		},
		{
			name: "add a whole service",
			files: map[string]string{"acme.json": string(validationCases[0].data()),
				"README.md": "not a catalog file", "notes.txt": "{"},
			check: func(t *testing.T, c *Catalog) {
				if _, _, ok := c.Lookup("testsvc", "get-thing"); !ok {
					t.Error("new service missing")
				}
				if n := len(c.Services()); n != 4 {
					t.Errorf("%d services", n)
				}
			},
		},
		{
			name:  "disable a service",
			files: map[string]string{"hg.json": `{"slug":"heygen","is_enabled":false}`},
			check: func(t *testing.T, c *Catalog) {
				if _, ok := c.Service("heygen"); ok {
					t.Error("disabled service found")
				}
				if _, _, ok := c.Lookup("heygen", "list-avatars"); ok {
					t.Error("endpoint of disabled service found")
				}
				if s := c.Services(); len(s) != 3 || s[1].IsEnabled {
					t.Error("Services should list the disabled service")
				}
			},
		},
		{
			name:  "merge nested objects and replace arrays",
			files: map[string]string{"el.json": `{"slug":"elevenlabs","credential_policy":{"fallback_to_platform_key":false},"upstream":{"response_headers":["request-id","history-item-id"]}}`},
			check: func(t *testing.T, c *Catalog) {
				s, _ := c.Service("elevenlabs")
				p := s.CredentialPolicy
				if p.FallbackToPlatformKey || !p.AllowTenantKey || !p.AllowPlatformKey || p.DefaultSource != "tenant" {
					t.Errorf("policy = %+v", p)
				}
				if s.Upstream.AuthHeader != "xi-api-key" || len(s.Upstream.ResponseHeaders) != 2 {
					t.Errorf("upstream = %+v", s.Upstream)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, tt.files)
			if err := os.Mkdir(filepath.Join(dir, "sub.json"), 0o700); err != nil {
				t.Fatal(err)
			}
			tt.check(t, mustLoad(t, Options{Dir: dir}))
		})
	}
}

func TestOverrideProblems(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{
			name:  "null removes a host an endpoint needs",
			files: map[string]string{"hg.json": `{"slug":"heygen","upstream":{"hosts":{"upload":null}}}`},
			want:  []string{`builtin heygen.json overridden by DIR/hg.json: heygen/upload-asset: host "upload" is not one of upstream.hosts`},
		},
		{
			name:  "unknown field in an override",
			files: map[string]string{"hg.json": `{"slug":"heygen","endpoints":[{"slug":"tts","methd":"GET"}]}`},
			want:  []string{`DIR/hg.json: unknown field "endpoints[0].methd"`},
		},
		{
			name:  "bad value in an override",
			files: map[string]string{"el.json": `{"slug":"elevenlabs","endpoints":[{"slug":"tts","response_mode":"audio"}]}`},
			want:  []string{`builtin elevenlabs.json overridden by DIR/el.json: elevenlabs/tts: response_mode "audio" is not one of`},
		},
		{
			name:  "new endpoint missing fields",
			files: map[string]string{"el.json": `{"slug":"elevenlabs","endpoints":[{"slug":"typo","is_enabled":false}]}`},
			want: []string{"elevenlabs/typo: path_template is required", "elevenlabs/typo: http_method is required",
				"elevenlabs/typo: request_mode is required", "elevenlabs/typo: response_mode is required",
				"elevenlabs/typo: ownership is required"},
		},
		{
			name: "two overrides of one service",
			files: map[string]string{"a.json": `{"slug":"heygen","base_url":"http://a"}`,
				"b.json": `{"slug":"heygen","base_url":"http://b"}`},
			want: []string{`DIR/b.json: heygen: duplicate service slug "heygen" (also in builtin heygen.json overridden by DIR/a.json)`},
		},
		{
			name:  "override endpoint without slug",
			files: map[string]string{"a.json": `{"slug":"heygen","endpoints":[{"is_enabled":false}]}`},
			want:  []string{"DIR/a.json: heygen: endpoints[0]: slug is required in an override"},
		},
		{
			name:  "override endpoint twice",
			files: map[string]string{"a.json": `{"slug":"heygen","endpoints":[{"slug":"list-voices"},{"slug":"list-voices"}]}`},
			want:  []string{"DIR/a.json: heygen/list-voices: endpoint listed twice in one override"},
		},
		{
			name:  "override without slug",
			files: map[string]string{"a.json": `{"base_url":"http://a"}`},
			want:  []string{"DIR/a.json: slug is required"},
		},
		{
			name:  "problems in several files",
			files: map[string]string{"a.json": `{"slug":"heygen","auth_mode":"query"}`, "b.json": `[`},
			want:  []string{`heygen: auth_mode "query" is not supported`, "DIR/b.json: invalid JSON"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, tt.files)
			_, err := Load(Options{Dir: dir})
			problems := problemsOf(t, err)
			for _, w := range tt.want {
				if !containsProblem(problems, strings.ReplaceAll(w, "DIR", dir)) {
					t.Errorf("no problem contains %q; got:\n%s", w, err)
				}
			}
			if len(problems) != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%s", len(problems), len(tt.want), err)
			}
		})
	}
}

func TestUnreadableDir(t *testing.T) {
	_, err := Load(Options{Dir: filepath.Join(t.TempDir(), "missing")})
	var ve *ValidationError
	if err == nil || errors.As(err, &ve) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("want a plain not-exist error, got %v", err)
	}
}

func TestBaseURLs(t *testing.T) {
	c := mustLoad(t, Options{BaseURLs: map[string]string{"heygen": "http://127.0.0.1:8080/heygen/"}})
	s, e, _ := c.Lookup("heygen", "upload-asset")
	if s.BaseURL != "http://127.0.0.1:8080/heygen" || s.BaseURLFor(e) != "http://127.0.0.1:8080/heygen" {
		t.Errorf("base = %s, upload = %s", s.BaseURL, s.BaseURLFor(e))
	}
	if el, _ := c.Service("elevenlabs"); el.BaseURL != "https://api.elevenlabs.io" {
		t.Errorf("elevenlabs changed: %s", el.BaseURL)
	}

	// An override file and BaseURLs together: BaseURLs wins.
	dir := writeDir(t, map[string]string{"el.json": `{"slug":"elevenlabs","base_url":"http://override"}`})
	c = mustLoad(t, Options{Dir: dir, BaseURLs: map[string]string{"elevenlabs": "http://sandbox"}})
	if el, _ := c.Service("elevenlabs"); el.BaseURL != "http://sandbox" {
		t.Errorf("elevenlabs = %s", el.BaseURL)
	}

	_, err := Load(Options{BaseURLs: map[string]string{"nope": "http://x", "heygen": "ftp://x"}})
	problems := problemsOf(t, err)
	for _, w := range []string{`options: BaseURLs names no service "nope"`, `builtin heygen.json: heygen: base_url "ftp://x" must be`,
		`builtin heygen.json: heygen: upstream.hosts.upload "ftp://x" must be`} {
		if !containsProblem(problems, w) {
			t.Errorf("no problem contains %q; got:\n%s", w, err)
		}
	}
}

// TestGolden compares the compiled catalog, every default made explicit,
// with testdata/catalog.golden.json. Run with -update to rewrite it.
func TestGolden(t *testing.T) {
	c := mustLoad(t, Options{})
	var files []fileService
	for _, s := range c.Services() {
		files = append(files, encodeService(s))
	}
	got, err := json.MarshalIndent(files, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "catalog.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/catalog -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("compiled catalog differs from %s; run go test ./internal/catalog -update and review the diff", golden)
	}

	// The compiled form is itself a valid catalog that compiles to the same.
	var sources []sourceFile
	for _, f := range files {
		data, _ := json.Marshal(f)
		sources = append(sources, sourceFile{name: f.Slug + ".json", data: data})
	}
	again, err := compile(nil, sources, nil)
	if err != nil {
		t.Fatalf("compiled catalog does not reload: %v", err)
	}
	for i, s := range again.Services() {
		a, _ := json.Marshal(encodeService(s))
		b, _ := json.Marshal(files[i])
		if !bytes.Equal(a, b) {
			t.Errorf("%s does not round-trip", s.Slug)
		}
	}
}

// TestDocExampleLoads keeps the example override in docs/catalog.md honest.
func TestDocExampleLoads(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "catalog.md"))
	if err != nil {
		t.Skipf("docs not found: %v", err)
	}
	_, rest, _ := strings.Cut(string(doc), "### Example override")
	_, rest, _ = strings.Cut(rest, "```json\n")
	example, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("no example in docs/catalog.md")
	}
	c := mustLoad(t, Options{Dir: writeDir(t, map[string]string{"heygen.json": example})})
	s, e, ok := c.Lookup("heygen", "list-folders")
	if !ok || s.DefaultTimeoutSeconds != 180 || s.CredentialPolicy.AllowPlatformKey || e.Description == "" {
		t.Errorf("example not applied: %+v", s)
	}
	if _, _, ok := c.Lookup("heygen", "delete-video"); ok {
		t.Error("delete-video still enabled")
	}
}

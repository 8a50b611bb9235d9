package console

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandlerServesFiles(t *testing.T) {
	h := Handler()
	tests := []struct {
		name, path string
		status     int
		ctype      string
		contains   string
	}{
		{"index", "/console/", 200, "text/html; charset=utf-8", `<script type="module" src="js/main.js">`},
		{"index by name", "/console/index.html", 200, "text/html; charset=utf-8", "aiproxy console"},
		{"stylesheet", "/console/app.css", 200, "text/css; charset=utf-8", ":root"},
		{"module", "/console/js/main.js", 200, "text/javascript; charset=utf-8", "import"},
		{"page module", "/console/js/pages/keys.js", 200, "text/javascript; charset=utf-8", "export async function render"},
		{"icon", "/console/favicon.svg", 200, "image/svg+xml", "<svg"},
		{"unknown file", "/console/nope.js", 404, "", ""},
		{"directory without index", "/console/js/", 404, "", ""},
		{"outside the prefix", "/api/ai-proxy/", 404, "", ""},
		{"dot segments", "/console/../console.go", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, h, http.MethodGet, tt.path, nil)
			if rec.Code != tt.status {
				t.Fatalf("GET %s = %d, want %d", tt.path, rec.Code, tt.status)
			}
			if tt.ctype != "" && rec.Header().Get("Content-Type") != tt.ctype {
				t.Errorf("Content-Type = %q, want %q", rec.Header().Get("Content-Type"), tt.ctype)
			}
			if !strings.Contains(rec.Body.String(), tt.contains) {
				t.Errorf("body lacks %q", tt.contains)
			}
		})
	}
}

func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	h := Handler()
	for _, path := range []string{"/console/", "/console/js/api.js", "/console/missing"} {
		rec := get(t, h, http.MethodGet, path, nil)
		want := map[string]string{
			"Content-Security-Policy": ContentSecurityPolicy,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"X-Frame-Options":         "DENY",
		}
		for k, v := range want {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("GET %s: %s = %q, want %q", path, k, got, v)
			}
		}
	}
}

func TestContentSecurityPolicyIsStrict(t *testing.T) {
	for _, directive := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'",
		"connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(ContentSecurityPolicy, directive+";") && !strings.HasSuffix(ContentSecurityPolicy, directive) {
			t.Errorf("CSP lacks %q", directive)
		}
	}
	for _, weak := range []string{"'unsafe-inline'", "'unsafe-eval'", "data: blob: https: *"} {
		if strings.Contains(ContentSecurityPolicy, weak) {
			t.Errorf("CSP contains %s", weak)
		}
	}
	if regexp.MustCompile(`(^|\s)\*(\s|;|$)`).MatchString(ContentSecurityPolicy) {
		t.Error("CSP allows any source (*)")
	}
}

// TestNoInlineCode keeps the pages compatible with the CSP: no inline
// scripts, styles or event handlers in HTML, and no inline styles set from
// markup strings in the modules.
func TestNoInlineCode(t *testing.T) {
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|<style|\son[a-z]+=|style="`)
	err := fs.WalkDir(static, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(name, ".html") {
			return err
		}
		data, _ := fs.ReadFile(static, name)
		if m := inline.Find(data); m != nil {
			t.Errorf("%s has inline code: %q", name, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCachingRevalidates(t *testing.T) {
	h := Handler()
	rec := get(t, h, http.MethodGet, "/console/js/main.js", nil)
	if cc := rec.Header().Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control = %q, want no-cache", cc)
	}
	etag := rec.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	again := get(t, h, http.MethodGet, "/console/js/main.js", http.Header{"If-None-Match": {etag}})
	if again.Code != http.StatusNotModified {
		t.Errorf("conditional GET = %d, want 304", again.Code)
	}
	other := get(t, h, http.MethodGet, "/console/app.css", nil)
	if other.Header().Get("ETag") == etag {
		t.Error("two files share an ETag")
	}
}

func TestMethodsAndRedirect(t *testing.T) {
	h := Handler()
	if rec := get(t, h, http.MethodPost, "/console/", nil); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST = %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	if rec := get(t, h, http.MethodHead, "/console/", nil); rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD = %d with %d bytes", rec.Code, rec.Body.Len())
	}
	if rec := get(t, h, http.MethodGet, "/console", nil); rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/console/" {
		t.Errorf("GET /console = %d to %q", rec.Code, rec.Header().Get("Location"))
	}
}

// TestModulesImportExistingFiles checks every relative import of every
// embedded module, so a renamed file cannot break the console silently.
func TestModulesImportExistingFiles(t *testing.T) {
	imp := regexp.MustCompile(`(?m)^\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]`)
	err := fs.WalkDir(static, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(name, ".js") {
			return err
		}
		data, _ := fs.ReadFile(static, name)
		dir := name[:strings.LastIndex(name, "/")]
		for _, m := range imp.FindAllSubmatch(data, -1) {
			target := pathJoin(dir, string(m[1]))
			if _, err := fs.Stat(static, target); err != nil {
				t.Errorf("%s imports %s, which is not embedded", name, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func pathJoin(dir, rel string) string {
	parts := strings.Split(dir, "/")
	for _, p := range strings.Split(rel, "/") {
		switch p {
		case ".":
		case "..":
			parts = parts[:len(parts)-1]
		default:
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}

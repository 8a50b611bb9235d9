package apidocs

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/console"
)

// bundle is the renderer's script, the largest file the page loads.
const bundle = Prefix + "npm/swagger-ui-dist-5.36.0/swagger-ui-bundle.js"

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
		{"index", Prefix, 200, "text/html; charset=utf-8", `<script defer src="apidocs.js"></script>`},
		{"index by name", Prefix + "index.html", 200, "text/html; charset=utf-8", "aiproxy API reference"},
		{"start-up script", Prefix + "apidocs.js", 200, "text/javascript; charset=utf-8", "SwaggerUIBundle"},
		{"stylesheet", Prefix + "apidocs.css", 200, "text/css; charset=utf-8", ".apidocs-bar"},
		{"icon", Prefix + "favicon.svg", 200, "image/svg+xml", "<svg"},
		{"renderer", bundle, 200, "text/javascript; charset=utf-8", "SwaggerUIBundle"},
		{"renderer's stylesheet", Prefix + "npm/swagger-ui-dist-5.36.0/swagger-ui.css", 200, "text/css; charset=utf-8", ".swagger-ui"},
		{"renderer's licence", Prefix + "npm/swagger-ui-dist-5.36.0/LICENSE", 200, "", "Apache License"},
		{"bundled code's licences", Prefix + "npm/swagger-ui-dist-5.36.0/swagger-ui-bundle.js.LICENSE.txt", 200, "text/plain; charset=utf-8", "MIT"},
		{"source map not vendored", bundle + ".map", 404, "", ""},
		{"unknown file", Prefix + "nope.js", 404, "", ""},
		{"directory", Prefix + "npm/", 404, "", ""},
		{"outside the prefix", "/api/ai-proxy/openapi.json", 404, "", ""},
		{"the console's path", "/console/", 404, "", ""},
		{"dot segments", Prefix + "../apidocs.go", 404, "", ""},
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

func TestRedirectsToTheSlash(t *testing.T) {
	rec := get(t, Handler(), http.MethodGet, strings.TrimSuffix(Prefix, "/"), nil)
	if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != Prefix {
		t.Errorf("GET without the slash = %d to %q, want 301 to %s", rec.Code, rec.Header().Get("Location"), Prefix)
	}
}

func TestOnlyGetAndHead(t *testing.T) {
	h := Handler()
	head := get(t, h, http.MethodHead, Prefix, nil)
	if head.Code != 200 || head.Body.Len() != 0 {
		t.Errorf("HEAD = %d with %d bytes, want 200 and no body", head.Code, head.Body.Len())
	}
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		rec := get(t, h, method, Prefix, nil)
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s = %d, Allow %q; want 405 and GET, HEAD", method, rec.Code, rec.Header().Get("Allow"))
		}
	}
}

func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	h := Handler()
	for _, req := range []struct{ method, path string }{
		{"GET", Prefix}, {"GET", bundle}, {"GET", Prefix + "missing"}, {"POST", Prefix}, {"GET", "/elsewhere"},
	} {
		rec := get(t, h, req.method, req.path, nil)
		want := map[string]string{
			"Content-Security-Policy":    ContentSecurityPolicy,
			"X-Content-Type-Options":     "nosniff",
			"Referrer-Policy":            "no-referrer",
			"X-Frame-Options":            "DENY",
			"Cross-Origin-Opener-Policy": "same-origin",
		}
		for k, v := range want {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%s %s: %s = %q, want %q", req.method, req.path, k, got, v)
			}
		}
	}
}

func TestContentSecurityPolicyIsStrict(t *testing.T) {
	policy := directives(ContentSecurityPolicy)
	for name, want := range map[string]string{
		"default-src": "'none'", "script-src": "'self'", "style-src": "'self'", "connect-src": "'self'",
		"base-uri": "'none'", "frame-ancestors": "'none'",
	} {
		if got := strings.Join(policy[name], " "); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	for name, sources := range policy {
		for _, s := range sources {
			if strings.HasPrefix(s, "'unsafe-") || s == "*" || s == "https:" || s == "http:" || strings.Contains(s, "://") {
				t.Errorf("%s allows %s", name, s)
			}
		}
	}
}

// TestWithinTheConsolePolicy keeps the page no looser than the console:
// every source it allows, the console's policy allows for that directive
// (or, for a directive the console leaves out, for default-src).
func TestWithinTheConsolePolicy(t *testing.T) {
	ours, theirs := directives(ContentSecurityPolicy), directives(console.ContentSecurityPolicy)
	for name, sources := range ours {
		allowed, ok := theirs[name]
		if !ok && strings.HasSuffix(name, "-src") {
			allowed = theirs["default-src"]
		}
		for _, s := range sources {
			if !slices.Contains(allowed, s) {
				t.Errorf("%s %s: the console's policy allows only %q", name, s, allowed)
			}
		}
	}
}

// directives splits a content security policy into its directives'
// source lists.
func directives(policy string) map[string][]string {
	out := map[string][]string{}
	for _, d := range strings.Split(policy, ";") {
		if fields := strings.Fields(d); len(fields) > 0 {
			out[fields[0]] = fields[1:]
		}
	}
	return out
}

// TestNoInlineCode keeps our own page within the policy: no inline
// scripts, styles or event handlers.
func TestNoInlineCode(t *testing.T) {
	page := readStatic(t, "index.html")
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|<style|\son[a-z]+=|style="|javascript:`)
	if m := inline.Find(page); m != nil {
		t.Errorf("index.html has inline code: %q", m)
	}
}

// TestPageLoadsOnlyEmbeddedFiles checks that every script, stylesheet and
// icon the page names is one of the embedded files, and that the one
// link out of the directory is the OpenAPI document, beside it.
func TestPageLoadsOnlyEmbeddedFiles(t *testing.T) {
	page := readStatic(t, "index.html")
	base, _ := url.Parse(Prefix)
	h := Handler()
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllSubmatch(page, -1)
	if len(refs) < 5 {
		t.Fatalf("index.html names %d files, want the renderer's script and stylesheet, ours, and the icon", len(refs))
	}
	for _, m := range refs {
		ref := string(m[1])
		u, err := base.Parse(ref)
		if err != nil || u.Host != "" {
			t.Errorf("%q is not a path on this origin", ref)
			continue
		}
		if !strings.HasPrefix(u.Path, Prefix) {
			if u.Path != "/api/ai-proxy/openapi.json" && u.Path != "/console/" {
				t.Errorf("%q leads to %s, outside the page's directory", ref, u.Path)
			}
			continue
		}
		if rec := get(t, h, http.MethodGet, u.Path, nil); rec.Code != 200 {
			t.Errorf("%q: GET %s = %d", ref, u.Path, rec.Code)
		}
	}
}

// TestScriptReadsTheLiveDocument checks where the start-up script points
// the renderer: the page's ../openapi.json, which from Prefix is the
// document the HTTP API serves, and no validator badge from elsewhere.
func TestScriptReadsTheLiveDocument(t *testing.T) {
	script := string(readStatic(t, "apidocs.js"))
	m := regexp.MustCompile(`url: new URL\('([^']+)', document\.baseURI\)`).FindStringSubmatch(script)
	if m == nil {
		t.Fatal("apidocs.js does not give SwaggerUIBundle a url relative to the page")
	}
	base, _ := url.Parse(Prefix)
	if u, _ := base.Parse(m[1]); u.Path != "/api/ai-proxy/openapi.json" {
		t.Errorf("the page reads %s, want /api/ai-proxy/openapi.json", u.Path)
	}
	for _, want := range []string{"validatorUrl: null", "queryConfigEnabled: false", "persistAuthorization: false"} {
		if !strings.Contains(script, want) {
			t.Errorf("apidocs.js lacks %q", want)
		}
	}
}

func TestCaching(t *testing.T) {
	h := Handler()
	tests := []struct {
		path, cache string
	}{
		{Prefix, "no-cache"},
		{Prefix + "apidocs.js", "no-cache"},
		{bundle, "public, max-age=31536000, immutable"},
	}
	for _, tt := range tests {
		rec := get(t, h, http.MethodGet, tt.path, nil)
		if cc := rec.Header().Get("Cache-Control"); cc != tt.cache {
			t.Errorf("GET %s: Cache-Control = %q, want %q", tt.path, cc, tt.cache)
		}
		etag := rec.Header().Get("ETag")
		if !regexp.MustCompile(`^"[0-9a-f]{24}"$`).MatchString(etag) {
			t.Fatalf("GET %s: ETag = %q, want a quoted content hash", tt.path, etag)
		}
		again := get(t, h, http.MethodGet, tt.path, http.Header{"If-None-Match": {etag}})
		if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
			t.Errorf("GET %s with its ETag = %d, %d bytes; want 304, empty", tt.path, again.Code, again.Body.Len())
		}
	}
	a := get(t, h, http.MethodGet, Prefix+"apidocs.js", nil).Header().Get("ETag")
	b := get(t, h, http.MethodGet, Prefix+"apidocs.css", nil).Header().Get("ETag")
	if a == b {
		t.Errorf("two files share the ETag %s", a)
	}
}

func TestGzip(t *testing.T) {
	h := Handler()
	plain := get(t, h, http.MethodGet, bundle, nil)
	zipped := get(t, h, http.MethodGet, bundle, http.Header{"Accept-Encoding": {"br, gzip;q=0.8"}})
	if plain.Header().Get("Content-Encoding") != "" {
		t.Errorf("without Accept-Encoding: Content-Encoding %q", plain.Header().Get("Content-Encoding"))
	}
	if zipped.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("with gzip accepted: Content-Encoding %q, want gzip", zipped.Header().Get("Content-Encoding"))
	}
	for _, rec := range []*httptest.ResponseRecorder{plain, zipped} {
		if v := rec.Header().Get("Vary"); v != "Accept-Encoding" {
			t.Errorf("Vary = %q, want Accept-Encoding", v)
		}
	}
	if zipped.Body.Len() >= plain.Body.Len()/2 {
		t.Errorf("gzipped %d bytes of %d, want well under half", zipped.Body.Len(), plain.Body.Len())
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(unzipped, plain.Body.Bytes()) {
		t.Error("the gzipped body does not decompress to the file")
	}
	etag := zipped.Header().Get("ETag")
	if etag == plain.Header().Get("ETag") {
		t.Errorf("both representations have the ETag %s", etag)
	}
	again := get(t, h, http.MethodGet, bundle, http.Header{"Accept-Encoding": {"gzip"}, "If-None-Match": {etag}})
	if again.Code != http.StatusNotModified {
		t.Errorf("gzipped with its ETag = %d, want 304", again.Code)
	}
	refused := get(t, h, http.MethodGet, bundle, http.Header{"Accept-Encoding": {"gzip;q=0, *"}})
	if refused.Header().Get("Content-Encoding") != "" || refused.Body.Len() != plain.Body.Len() {
		t.Errorf("gzip;q=0: Content-Encoding %q, %d bytes; want the file as it is", refused.Header().Get("Content-Encoding"), refused.Body.Len())
	}
	icon := get(t, h, http.MethodGet, Prefix+"favicon.svg", http.Header{"Accept-Encoding": {"gzip"}})
	if icon.Header().Get("Content-Encoding") != "" || icon.Header().Get("Vary") != "" {
		t.Errorf("a file under 1 KiB: Content-Encoding %q, Vary %q; want it sent as it is", icon.Header().Get("Content-Encoding"), icon.Header().Get("Vary"))
	}
}

var acceptCases = []struct {
	header string
	want   bool
}{
	{"", false},
	{"gzip", true},
	{"GZIP", true},
	{"deflate, gzip;q=1.0, br", true},
	{"gzip;q=0.5", true},
	{"gzip;q=0", false},
	{"gzip; q=0.000", false},
	{"gzip;q=abc", false},
	{"*", true},
	{"*;q=0", false},
	{"gzip;q=0, *", false},
	{"*;q=0, gzip", true},
	{"br, deflate", false},
	{"x-gzip", false},
	{"identity;q=1, *;q=0.1", true},
}

func TestAcceptsGzip(t *testing.T) {
	for _, tt := range acceptCases {
		if got := acceptsGzip(tt.header); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

// FuzzAcceptsGzip checks that any header value is read without a panic,
// and that gzip is chosen only when the value names gzip or *.
func FuzzAcceptsGzip(f *testing.F) {
	for _, tt := range acceptCases {
		f.Add(tt.header)
	}
	f.Fuzz(func(t *testing.T, header string) {
		lower := strings.ToLower(header)
		if acceptsGzip(header) && !strings.Contains(lower, "gzip") && !strings.Contains(lower, "*") {
			t.Errorf("acceptsGzip(%q) = true", header)
		}
	})
}

func readStatic(t *testing.T, name string) []byte {
	t.Helper()
	data, err := fs.ReadFile(static, "static/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

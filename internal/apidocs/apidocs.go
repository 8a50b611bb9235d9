// Package apidocs serves aiproxy's API reference page: Swagger UI, vendored
// from the npm package swagger-ui-dist at a pinned version, rendering the
// live OpenAPI document (GET /api/ai-proxy/openapi.json). The page, its
// start-up script and the renderer's built files are embedded in the
// binary and sent with their own security headers, under a content
// security policy as strict as the console's. It knows nothing about the
// API beyond the document's address, which the page finds relative to
// itself. docs/api-reference.md says why this renderer and how the
// vendored files are checked.
package apidocs

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed static
var static embed.FS

// Prefix is the URL path the page is mounted at, beside the document it
// renders.
const Prefix = "/api/ai-proxy/docs/"

// ContentSecurityPolicy is sent with every answer. Scripts, styles and
// fetches stay on our own origin, with no inline code and no eval; Swagger
// UI draws its icons from data: URLs in its stylesheet, and shows an image
// or audio answer of "Try it out" from a blob: URL. Nothing may frame the
// page, and it loads no fonts, workers or frames.
const ContentSecurityPolicy = "default-src 'none'; " +
	"script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data: blob:; media-src 'self' blob:; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// npmDir holds the renderer's files. Each version has its own directory,
// so a file's URL never names other content and may be cached for good.
const npmDir = "npm/"

// contentTypes are set explicitly so that serving does not depend on the
// machine's MIME database.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".json": "application/json",
	".svg":  "image/svg+xml",
	".txt":  "text/plain; charset=utf-8",
}

// Handler returns the page's handler, to be mounted at Prefix. Unknown
// paths are 404; every answer carries the security headers. The page and
// its script are revalidated on each load (Cache-Control: no-cache, with a
// content-hash ETag); the renderer's versioned files are cached as
// immutable. A client that accepts gzip gets text files compressed (the
// renderer's 1.8 MB script is about a quarter of that), each compressed
// once, on first demand.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	h := &handler{files: map[string]*file{}}
	err = fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(sub, name)
		if err != nil {
			return err
		}
		h.files[name] = newFile(name, data)
		return nil
	})
	if err != nil {
		panic(err) // reading an embedded file cannot fail
	}
	return h
}

type handler struct {
	files map[string]*file // by path below static/; never changed after Handler
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Method not allowed.", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if name == "" {
		name = "index.html"
	}
	f, ok := h.files[path.Clean(name)]
	if !ok {
		http.NotFound(w, r)
		return
	}
	f.serve(w, r)
}

// file is one embedded file with what serving it needs.
type file struct {
	name        string
	data        []byte
	etag        string
	contentType string
	cache       string

	gzipOnce sync.Once // compresses data on the first request that accepts gzip
	gzipped  []byte    // nil when compression does not pay
}

func newFile(name string, data []byte) *file {
	sum := sha256.Sum256(data)
	f := &file{
		name:        name,
		data:        data,
		etag:        hex.EncodeToString(sum[:12]),
		contentType: contentTypes[path.Ext(name)],
		cache:       "no-cache",
	}
	if strings.HasPrefix(name, npmDir) {
		f.cache = "public, max-age=31536000, immutable"
	}
	return f
}

// compressible says whether the file is text worth sending gzipped.
func (f *file) compressible() bool {
	return f.contentType != "" && len(f.data) >= 1024
}

func (f *file) serve(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	if f.contentType != "" {
		hdr.Set("Content-Type", f.contentType)
	}
	hdr.Set("Cache-Control", f.cache)
	body, etag := f.data, `"`+f.etag+`"`
	if f.compressible() {
		hdr.Set("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			if gz := f.compressed(); gz != nil {
				// Another representation, so another strong ETag.
				body, etag = gz, `"`+f.etag+`-gzip"`
				hdr.Set("Content-Encoding", "gzip")
			}
		}
	}
	hdr.Set("ETag", etag)
	// ServeContent answers If-None-Match with 304 and handles Range; the
	// zero time skips Last-Modified, as embedded files have none.
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(body))
}

// compressed returns the file gzipped, compressing it on first use, or
// nil when that would not make it smaller.
func (f *file) compressed() []byte {
	f.gzipOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
		_, _ = zw.Write(f.data)                                  // a bytes.Buffer does not fail
		_ = zw.Close()
		if buf.Len() < len(f.data) {
			f.gzipped = buf.Bytes()
		}
	})
	return f.gzipped
}

// acceptsGzip reports whether an Accept-Encoding header value admits gzip:
// named with a non-zero weight, or not named and * has one.
func acceptsGzip(accept string) bool {
	weights := map[string]bool{}
	for _, part := range strings.Split(accept, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		weights[coding] = nonZeroWeight(params)
	}
	if ok, named := weights["gzip"]; named {
		return ok
	}
	return weights["*"]
}

// nonZeroWeight reports whether a coding's parameters leave its weight
// above zero: no q means 1, an unreadable q counts as 0.
func nonZeroWeight(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && q > 0
		}
	}
	return true
}

// setSecurityHeaders sets the headers every answer carries.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
}

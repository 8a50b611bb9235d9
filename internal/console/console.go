// Package console serves the aiproxy web console: static HTML, CSS and ES
// modules embedded in the binary, with no build step. The console talks to
// the same HTTP API as any other client, through the vendored JS client, so
// this package knows nothing about the API beyond the security headers its
// pages need.
package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// Prefix is the URL path the console is mounted at.
const Prefix = "/console/"

// ContentSecurityPolicy is sent with every console response. Scripts,
// styles, fonts and API calls stay on our own origin; images and media may
// also come from the providers' HTTPS CDNs and from loopback (the sandbox
// serves previews and rendered videos from its own port), and from blob:
// URLs the console makes for generated audio.
const ContentSecurityPolicy = "default-src 'none'; " +
	"script-src 'self'; style-src 'self'; font-src 'self'; connect-src 'self'; " +
	"img-src 'self' data: blob: https: http://127.0.0.1:* http://localhost:*; " +
	"media-src 'self' blob: https: http://127.0.0.1:* http://localhost:*; " +
	"manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// contentTypes are set explicitly so that serving does not depend on the
// machine's MIME database (a wrong type for a module script stops the app).
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".json":        "application/json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".webmanifest": "application/manifest+json",
}

// Handler returns the console's handler, to be mounted at Prefix. Unknown
// paths are 404; every answer carries the security headers. Assets are
// revalidated on each load (Cache-Control: no-cache, with an ETag that is a
// hash of the file's content), so a new binary's console shows at once and
// an unchanged file costs a 304.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return &handler{files: sub, etags: hashAll(sub)}
}

type handler struct {
	files fs.FS
	etags map[string]string
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
	if name == "" || strings.HasSuffix(name, "/") {
		name += "index.html"
	}
	h.serveFile(w, r, path.Clean(name))
}

func (h *handler) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	etag, ok := h.etags[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	f, err := h.files.Open(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	if ct, ok := contentTypes[path.Ext(name)]; ok {
		w.Header().Set("Content-Type", ct)
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", etag)
	// ServeContent answers If-None-Match with 304 and handles Range; the
	// zero time skips Last-Modified, as embedded files have none.
	http.ServeContent(w, r, name, time.Time{}, f.(io.ReadSeeker))
}

// setSecurityHeaders sets the headers every console response carries.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
}

// hashAll returns a strong ETag for every embedded file, keyed by its path.
func hashAll(files fs.FS) map[string]string {
	etags := map[string]string{}
	_ = fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		etags[name] = `"` + hex.EncodeToString(sum[:12]) + `"`
		return nil
	})
	return etags
}

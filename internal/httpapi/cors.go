package httpapi

import (
	"net/http"
	"strings"
)

// corsExposed are the response headers a browser app may read: the
// provider headers the contract's examples use and aiproxy's own.
var corsExposed = strings.Join([]string{
	"request-id", "character-cost", "history-item-id", "current-concurrent-requests",
	"maximum-concurrent-requests", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining",
	"X-RateLimit-Reset", "X-Aiproxy-Cache", "X-Aiproxy-Cache-Original-Character-Cost", "X-Request-Id", "Content-Disposition", "Preference-Applied",
}, ", ")

// corsAllowedHeaders are the request headers a browser app may send.
const corsAllowedHeaders = "Authorization, Content-Type, X-Request-Id, Idempotency-Key, Last-Event-ID, Prefer"

// corsMethods are the methods the API answers.
const corsMethods = "GET, HEAD, POST, PUT, DELETE"

// corsMaxAge is how long, in seconds, a browser may reuse a preflight.
const corsMaxAge = "600"

// originSet is the configured list of allowed origins; "*" allows any.
type originSet struct {
	any     bool
	origins map[string]bool
}

func newOriginSet(list []string) originSet {
	s := originSet{origins: map[string]bool{}}
	for _, o := range list {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		switch o {
		case "":
		case "*":
			s.any = true
		default:
			s.origins[strings.ToLower(o)] = true
		}
	}
	return s
}

func (s originSet) empty() bool { return !s.any && len(s.origins) == 0 }

func (s originSet) allows(origin string) bool {
	return origin != "" && (s.any || s.origins[strings.ToLower(origin)])
}

// cors answers preflight requests from allowed origins without
// authentication, and marks the answers to their real requests readable.
// Requests from other origins are served as if CORS did not exist, so the
// browser refuses to hand their answers to the page. aiproxy keys travel
// in the Authorization header, never in cookies, so credentials mode is
// allowed only where a provider's official web SDK sends it (the native
// routes: LiveAvatar's SDK fetches with credentials "include"), which
// needs the exact origin echoed, as it always is here, and
// Access-Control-Allow-Credentials. aiproxy reads no cookie, so a
// credentialed request carries no authority it did not carry anyway.
func (s *server) cors(next http.Handler) http.Handler {
	origins := newOriginSet(s.cfg.CORSOrigins)
	if origins.empty() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		h.Add("Vary", "Origin")
		if !origins.allows(origin) {
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		if nativeRoute(r.URL.Path) {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowedHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", corsExposed)
		next.ServeHTTP(w, r)
	})
}

// nativeRoute reports whether a path is one of the native passthrough
// routes, /api/ai-proxy/orgs/{org}/native/{service}/….
func nativeRoute(path string) bool {
	rest, ok := strings.CutPrefix(path, base+"/orgs/")
	if !ok {
		return false
	}
	_, rest, ok = strings.Cut(rest, "/")
	return ok && strings.HasPrefix(rest, "native/")
}

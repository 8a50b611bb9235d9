package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// call is one request on its way through a provider's handlers.
type call struct {
	r      *http.Request
	path   string            // provider path, e.g. "/v2/avatars"
	body   []byte            // the whole request body
	params map[string]string // path parameters captured by the route
	key    string            // the accepted API key, once authorized
	// release gives back the key's slot (keys.go), once authorized.
	release func()
}

// handler serves one route. It returns an *apiError to answer with a provider error.
type handler func(w http.ResponseWriter, c *call) error

// apiError is a complete provider error response: status, headers and body bytes.
type apiError struct {
	status      int
	contentType string
	header      http.Header
	body        []byte
}

// Error describes the response for logs and test failures.
func (e *apiError) Error() string {
	return fmt.Sprintf("sandbox: %d %s", e.status, e.body)
}

// jsonError returns an apiError whose body is v encoded as JSON.
func jsonError(status int, v any) *apiError {
	b, err := marshalJSON(v)
	if err != nil {
		panic(fmt.Sprintf("sandbox: encode error body: %v", err)) // Bodies are built in code.
	}
	return &apiError{status: status, contentType: "application/json", body: b}
}

// withHeader returns e with header k set to v.
func (e *apiError) withHeader(k, v string) *apiError {
	if e.header == nil {
		e.header = http.Header{}
	}
	e.header.Set(k, v)
	return e
}

// route maps a method and a path pattern to a handler. Segments written "{name}" capture.
type route struct {
	method  string
	pattern []string
	public  bool // no API key needed (media, preflight)
	h       handler
}

// service is one simulated provider: its routes and how it renders errors.
type service struct {
	provider Provider
	routes   []route
	// authorize checks c's API key and sets c.key.
	authorize func(c *call) error
	// notFound and notAllowed build the provider's 404 and 405 bodies for a path.
	notFound   func(path string) *apiError
	notAllowed func(path string) *apiError
	// decorate sets headers every response of the provider carries.
	decorate func(h http.Header)
	// decorateError sets headers only error responses carry.
	decorateError func(h http.Header)
}

// handle adds a route that needs a valid API key.
func (sv *service) handle(method, pattern string, h handler) {
	sv.routes = append(sv.routes, route{method: method, pattern: splitPath(pattern), h: h})
}

// handlePublic adds a route that needs no API key.
func (sv *service) handlePublic(method, pattern string, h handler) {
	sv.routes = append(sv.routes, route{method: method, pattern: splitPath(pattern), public: true, h: h})
}

// splitPath splits "/a/b" into ["a" "b"].
func splitPath(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}

// serve finds c's route, checks its key and runs it, rendering any error.
func (sv *service) serve(w http.ResponseWriter, c *call) {
	defer func() {
		if c.release != nil {
			c.release()
		}
	}()
	sv.decorate(w.Header())
	rt, params, known := sv.match(c.r.Method, c.path)
	switch {
	case rt == nil && known && c.r.Method == http.MethodOptions:
		w.WriteHeader(http.StatusOK) // CORS preflight succeeds on every known path.
		return
	case rt == nil && known:
		sv.renderError(w, unknownRoute(sv.notAllowed(c.path), c))
		return
	case rt == nil:
		sv.renderError(w, unknownRoute(sv.notFound(c.path), c))
		return
	}
	c.params = params
	if !rt.public {
		if err := sv.authorize(c); err != nil {
			sv.renderError(w, err)
			return
		}
	}
	if err := rt.h(w, c); err != nil {
		sv.renderError(w, err)
	}
}

// UnknownRouteHeader is set on the sandbox's own 404 and 405 answers to a method and path
// that no route serves, to the method and path ("GET /v2/nothing"). Answers about an object
// that does not exist, and injected faults, never carry it.
const UnknownRouteHeader = "X-Sandbox-Unknown-Route"

// UnknownRouteField is the member the sandbox adds, with the same value as
// UnknownRouteHeader, to the JSON body of those answers, so that a test behind a proxy that
// drops unknown headers can still tell "no such route" from the provider's "no such object".
const UnknownRouteField = "sandbox_unknown_route"

// unknownRoute marks the provider's 404 or 405 body e as the sandbox's answer to a route it
// does not serve.
func unknownRoute(e *apiError, c *call) *apiError {
	route := c.r.Method + " " + c.path
	e = e.withHeader(UnknownRouteHeader, route)
	body := bytes.TrimSpace(e.body)
	if len(body) < 2 || body[0] != '{' || body[len(body)-1] != '}' {
		return e
	}
	member, _ := marshalJSON(map[string]string{UnknownRouteField: route})
	sep := []byte(",")
	if len(bytes.TrimSpace(body[1:len(body)-1])) == 0 {
		sep = nil
	}
	e.body = slices.Concat(body[:len(body)-1], sep, member[1:])
	return e
}

// match returns the route for method and path, its captured parameters, and whether any
// route (of any method) has that path.
func (sv *service) match(method, path string) (*route, map[string]string, bool) {
	segs := splitPath(path)
	known := false
	for i := range sv.routes {
		rt := &sv.routes[i]
		params, ok := matchPattern(rt.pattern, segs)
		if !ok {
			continue
		}
		known = true
		if rt.method == method || (rt.method == http.MethodGet && method == http.MethodHead) {
			return rt, params, true
		}
	}
	return nil, nil, known
}

// matchPattern matches path segments against a route pattern.
func matchPattern(pattern, segs []string) (map[string]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var params map[string]string
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if segs[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[p[1:len(p)-1]] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// renderError writes err; errors that are not *apiError are sandbox bugs and answer 500.
func (sv *service) renderError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = jsonError(http.StatusInternalServerError, map[string]string{"sandbox_error": err.Error()})
	}
	h := w.Header()
	if sv.decorateError != nil {
		sv.decorateError(h)
	}
	writeRaw(w, ae)
}

// writeRaw writes a complete response from an apiError.
func writeRaw(w http.ResponseWriter, e *apiError) {
	h := w.Header()
	for k, vs := range e.header {
		h[k] = append([]string(nil), vs...)
	}
	if e.contentType != "" {
		h.Set("Content-Type", e.contentType)
	}
	h.Set("Content-Length", strconv.Itoa(len(e.body)))
	w.WriteHeader(e.status)
	_, _ = w.Write(e.body) // A failed write means the client left; nothing to do.
}

// writeJSON writes v as a JSON response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshalJSON(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"sandbox_error":"encode response"}`)
	}
	writeRaw(w, &apiError{status: status, contentType: "application/json", body: b})
}

// marshalJSON encodes v compactly without escaping <, > and &, as Python servers do, so
// signed URLs read "&Signature=" rather than "\u0026Signature=".
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

package proxy

import (
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// routeNative finds the enabled endpoint whose method and path template
// match a native request, and reads its input: the path parameters from
// the path, the query from the URL, the allowed headers from the request,
// and the body as the endpoint's request mode says, within the same limits
// as invoke's. A request that no catalog endpoint lists is the contract's
// 404.
func (p *reader) routeNative(r *http.Request, c *Call, rt route) error {
	svc, ok := p.cfg.Catalog.Service(rt.service)
	if !ok {
		return aiproxy.ErrServiceNotFound(rt.service)
	}
	ep, params, ok := MatchEndpoint(svc, r.Method, rt.path)
	if !ok {
		return aiproxy.Errorf(aiproxy.CodeNotFound,
			"External proxy service '%s' has no endpoint %s %s.", rt.service, r.Method, rt.path)
	}
	c.Service, c.Endpoint, c.action = svc, ep, ep.Slug
	in, err := p.nativeInput(r, ep)
	if err != nil {
		return err
	}
	in.env.PathParams = params
	in.env.Query = r.URL.Query()
	in.env.Headers = nativeHeaders(svc, r.Header)
	c.in = in
	return nil
}

// MatchEndpoint returns the enabled endpoint of svc with this method whose
// path template matches path, and the placeholder values. When several
// match, the one with the most literal text wins, so /v3/avatars/looks
// beats /v3/avatars/{group_id}. A trailing slash is ignored.
func MatchEndpoint(svc *aiproxy.Service, method, path string) (*aiproxy.Endpoint, map[string]string, bool) {
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	var best *aiproxy.Endpoint
	var bestParams map[string]string
	bestScore := -1
	for i := range svc.Endpoints {
		ep := &svc.Endpoints[i]
		if !ep.IsEnabled || ep.HTTPMethod != method {
			continue
		}
		params, score, ok := matchTemplate(ep.PathTemplate, path)
		if ok && score > bestScore {
			best, bestParams, bestScore = ep, params, score
		}
	}
	return best, bestParams, best != nil
}

// matchTemplate matches a path against a template segment by segment. A
// template segment holds at most one placeholder, with literal text around
// it; the score is the number of literal bytes matched.
func matchTemplate(tmpl, path string) (map[string]string, int, bool) {
	ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return nil, 0, false
	}
	params := map[string]string{}
	score := 0
	for i, t := range ts {
		open, end := strings.IndexByte(t, '{'), strings.IndexByte(t, '}')
		if open < 0 || end < open {
			if t != ps[i] {
				return nil, 0, false
			}
			score += len(t)
			continue
		}
		prefix, name, suffix := t[:open], t[open+1:end], t[end+1:]
		if strings.ContainsAny(suffix, "{}") {
			return nil, 0, false
		}
		seg := ps[i]
		if len(seg) <= len(prefix)+len(suffix) || !strings.HasPrefix(seg, prefix) || !strings.HasSuffix(seg, suffix) {
			return nil, 0, false
		}
		params[name] = seg[len(prefix) : len(seg)-len(suffix)]
		score += len(prefix) + len(suffix)
	}
	return params, score, true
}

// nativeHeaders keeps the request headers that may reach the provider.
// Unlike an envelope's headers, the others are dropped quietly: an SDK
// sends many of its own.
func nativeHeaders(svc *aiproxy.Service, h http.Header) map[string]string {
	out := map[string]string{}
	for name, values := range h {
		canon := http.CanonicalHeaderKey(name)
		if len(values) > 0 && headerAllowed(canon, svc) {
			out[canon] = values[0]
		}
	}
	return out
}

// nativeInput reads the request body as the endpoint's request mode says,
// within the endpoint's body limit.
func (p *reader) nativeInput(r *http.Request, ep *aiproxy.Endpoint) (*input, error) {
	switch ep.RequestMode {
	case aiproxy.RequestMultipart:
		mediaType, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mediaType != "multipart/form-data" || params["boundary"] == "" {
			return nil, invalidf("This endpoint takes a multipart/form-data body.")
		}
		body, err := limitBody(r, p.bodyLimit(ep, true))
		if err != nil {
			return nil, err
		}
		mr := multipart.NewReader(body, params["boundary"])
		first, err := mr.NextPart()
		if err == io.EOF {
			return &input{mr: mr}, nil
		}
		if err != nil {
			return nil, multipartError(err)
		}
		return &input{mr: mr, first: first}, nil
	case aiproxy.RequestBinary:
		body, err := limitBody(r, p.bodyLimit(ep, true))
		if err != nil {
			return nil, err
		}
		return binaryInput(body, r.Header.Get("Content-Type"))
	case aiproxy.RequestJSON:
		if !methodHasBody(ep.HTTPMethod) {
			return &input{}, nil
		}
		return p.jsonInput(r, ep)
	}
	return &input{}, nil
}

func (p *reader) jsonInput(r *http.Request, ep *aiproxy.Endpoint) (*input, error) {
	limited, err := limitBody(r, p.bodyLimit(ep, false))
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(limited)
	if err != nil {
		return nil, bodyReadError(err)
	}
	body := json.RawMessage(strings.TrimSpace(string(data)))
	if len(body) == 0 {
		return &input{}, nil
	}
	if !json.Valid(body) {
		return nil, invalidf("The request body must be JSON.")
	}
	return &input{env: Envelope{Body: body}}, nil
}

// binaryInput presents a raw request body as the single file part that a
// binary endpoint streams upstream, keeping its Content-Type.
func binaryInput(src io.Reader, ct string) (*input, error) {
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt == "" {
		ct = "application/octet-stream"
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="upload"`)
		h.Set("Content-Type", ct)
		part, err := mw.CreatePart(h)
		if err == nil {
			_, err = io.Copy(part, src)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	mr := multipart.NewReader(pr, mw.Boundary())
	first, err := mr.NextPart()
	if err != nil {
		pr.CloseWithError(err)
		return nil, invalidf("Could not read the request body.")
	}
	return &input{mr: mr, first: first}, nil
}

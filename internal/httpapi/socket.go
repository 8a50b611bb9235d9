package httpapi

import (
	"net/http"
	"strings"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// socketTokenParams are the query parameters in which a client opening a
// WebSocket may put a user token: aiproxy's own, and those the providers'
// SDKs fill with the token they are given (Scribe's "token", the TTS
// stream's "single_use_token" and "authorization"), so that an SDK pointed
// at aiproxy works unchanged with an aiproxy user token. Every one of them
// is removed before anything else sees the request, token or not: nothing
// in them ever goes upstream.
var socketTokenParams = []string{queryTokenParam, "token", "single_use_token", "authorization", "xi-api-key", "xi_api_key"}

// socketToken takes the user token of a WebSocket upgrade from its query
// or from its offered subprotocols (a browser cannot set headers on a
// socket: new WebSocket(url, ["aiproxy", token])), and returns the request
// without them. As with queryToken, only a user token counts: an aiproxy
// key in a URL would end up in histories and logs, so it is dropped.
func socketToken(r *http.Request) (string, *http.Request) {
	q := r.URL.Query()
	protocols := r.Header.Values("Sec-WebSocket-Protocol")
	var tok string
	found := false
	for _, name := range socketTokenParams {
		if !q.Has(name) {
			continue
		}
		found = true
		v := strings.TrimSpace(q.Get(name))
		if len(v) > 7 && strings.EqualFold(v[:7], "Bearer ") {
			v = strings.TrimSpace(v[7:])
		}
		if tok == "" && aiproxy.LooksLikeUserToken(v) {
			tok = v
		}
		q.Del(name)
	}
	var kept []string
	for _, h := range protocols {
		for _, p := range strings.Split(h, ",") {
			p = strings.TrimSpace(p)
			if aiproxy.LooksLikeUserToken(p) {
				found = true
				if tok == "" {
					tok = p
				}
				continue
			}
			if p != "" {
				kept = append(kept, p)
			}
		}
	}
	if !found {
		return "", r
	}
	c := r.Clone(r.Context())
	c.URL.RawQuery = q.Encode()
	c.RequestURI = ""
	c.Header.Del("Sec-WebSocket-Protocol")
	if len(kept) > 0 {
		c.Header.Set("Sec-WebSocket-Protocol", strings.Join(kept, ", "))
	}
	return tok, c
}

// isUpgrade reports whether r asks to become a WebSocket.
func isUpgrade(r *http.Request) bool { return proxy.IsUpgrade(r) }

package proxy

import (
	"net/http"
	"strings"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// clientHeaders are the request headers any client may pass to any provider
// through the envelope. A service may allow more in its catalog entry.
var clientHeaders = []string{"Accept", "Accept-Language", "Content-Language", "Idempotency-Key"}

// providerHeaders are the response headers always passed back to the client.
// A service may add more in its catalog entry.
var providerHeaders = []string{
	"Content-Type", "Content-Disposition", "Content-Range", "Accept-Ranges",
	"Retry-After", "Location", "Last-Modified", "ETag",
}

// requestHeaders checks the envelope's headers against the allow-list and
// returns the outbound header set. A header that is not allowed is refused,
// so that a client learns at once that it had no effect.
func requestHeaders(svc *aiproxy.Service, want map[string]string) (http.Header, error) {
	h := make(http.Header, len(want)+3)
	for name, value := range want {
		canon := http.CanonicalHeaderKey(name)
		if !headerAllowed(canon, svc) {
			return nil, invalidf("Header %q may not be sent to the provider.", name)
		}
		if !validHeaderValue(value) {
			return nil, invalidf("Header %q has a control character in its value.", name)
		}
		h.Set(canon, value)
	}
	return h, nil
}

func headerAllowed(canon string, svc *aiproxy.Service) bool {
	if strings.EqualFold(canon, svc.Upstream.AuthHeader) {
		return false
	}
	for _, a := range clientHeaders {
		if a == canon {
			return true
		}
	}
	for _, a := range svc.Upstream.RequestHeaders {
		if http.CanonicalHeaderKey(a) == canon {
			return true
		}
	}
	return false
}

// copyResponseHeaders copies the allowed provider headers to the client.
func copyResponseHeaders(dst, src http.Header, svc *aiproxy.Service) {
	for _, name := range providerHeaders {
		copyHeader(dst, src, name)
	}
	for _, name := range svc.Upstream.ResponseHeaders {
		copyHeader(dst, src, name)
	}
}

func copyHeader(dst, src http.Header, name string) {
	if v := src.Values(name); len(v) > 0 {
		dst[http.CanonicalHeaderKey(name)] = append([]string(nil), v...)
	}
}

// validHeaderValue reports whether a header value holds no control
// character but tab. Go's transport would refuse the others when sending,
// which would look like the provider's failure.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

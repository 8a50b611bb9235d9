package jobs

import (
	"maps"
	"net/http"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// headerIdempotencyKey is the request header that carries an idempotency key,
// to aiproxy and to providers that honour one.
const headerIdempotencyKey = "Idempotency-Key"

// forwardIdempotencyKey adds the client's Idempotency-Key to the provider
// request of a job start whose catalog entry says the provider honours one
// (HeyGen v3). aiproxy's own replay answers repeats before they reach the
// provider; the provider's covers the window aiproxy cannot, a crash after
// the provider accepted the job and before its answer was stored. The proxy
// scopes the value to the org on the way out, so that orgs sharing a
// platform key never replay each other's answers. The envelope is copied,
// not changed, since the fingerprint was taken from it.
func forwardIdempotencyKey(ep *aiproxy.Endpoint, env proxy.Envelope, key string) proxy.Envelope {
	if key == "" || ep.Job == nil || !ep.Job.ForwardIdempotencyKey {
		return env
	}
	h := make(map[string]string, len(env.Headers)+1)
	maps.Copy(h, env.Headers)
	for name := range h {
		if http.CanonicalHeaderKey(name) == headerIdempotencyKey {
			delete(h, name)
		}
	}
	h[headerIdempotencyKey] = key
	env.Headers = h
	return env
}

// retryable reports whether a provider status invites the same request
// again, so that an Idempotency-Key that got it is released rather than
// pinned to it: 429, a server error, or a 409 (HeyGen v3's
// request_in_progress, a conflict with a request still in flight).
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusConflict || status >= 500
}

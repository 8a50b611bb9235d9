package jobs

import (
	"net/http"
)

// headerIdempotencyKey is the request header that carries an idempotency key,
// to aiproxy and to providers that honour one.
const headerIdempotencyKey = "Idempotency-Key"

// retryable reports whether a provider status invites the same request
// again, so that an Idempotency-Key that got it is released rather than
// pinned to it: 429, a server error, or a 409 (HeyGen v3's
// request_in_progress, a conflict with a request still in flight).
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusConflict || status >= 500
}

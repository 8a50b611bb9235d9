// Package idempotency honours the Idempotency-Key header on the endpoints
// that start provider jobs, as a hook on the proxy's call pipeline: the
// first request with a key is sent, a repeat gets the first answer
// replayed, the same key with another request is a 409, and a request that
// failed frees its key for a retry. Keys are scoped to the org and kept in
// the store, so that they hold across replicas and restarts.
package idempotency

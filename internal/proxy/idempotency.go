package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
)

// idempotencyKeyPrefix marks an Idempotency-Key that aiproxy derived.
const idempotencyKeyPrefix = "aiproxy:"

// scopeIdempotencyKey replaces an outbound Idempotency-Key with one derived
// from the org and the client's value. A provider that honours the header
// (HeyGen v3) replays the first answer to any request with the same key on
// the same account, and orgs may share the platform's account: with the raw
// value, one org could be handed another's video. The derived key is stable
// for an org and a value, so the provider's replay still works for the org
// that sent it, and it always fits HeyGen's syntax ([A-Za-z0-9_:.-]{1,255}).
// A call made for a user derives the key from the user too, so that two
// users of one org never share a provider replay either.
func scopeIdempotencyKey(h http.Header, org, user string) {
	v := h.Get("Idempotency-Key")
	if v == "" {
		return
	}
	scope := org
	if user != "" {
		scope += "\x00user\x00" + user
	}
	sum := sha256.Sum256([]byte(scope + "\x00" + v))
	h.Set("Idempotency-Key", idempotencyKeyPrefix+hex.EncodeToString(sum[:]))
}

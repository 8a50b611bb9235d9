package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The aiproxy headers of an outbound webhook, beside the Standard Webhooks
// ones (standard.go). Aiproxy-Timestamp and Aiproxy-Signature are
// deprecated: they stay while receivers move to Webhook-Signature.
const (
	HeaderEventID   = "Aiproxy-Event-Id"
	HeaderEventType = "Aiproxy-Event-Type"
	HeaderTimestamp = "Aiproxy-Timestamp"
	HeaderSignature = "Aiproxy-Signature"
)

// Sign returns the Aiproxy-Signature value of a body sent at a time:
// "v1=" and the hex HMAC-SHA256, keyed by the endpoint's secret, of the
// unix-seconds timestamp, a dot and the raw body.
func Sign(secret string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts.Unix(), 10) + "."))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// DefaultVerifyTolerance is how far Verify lets a webhook's timestamp be
// from the receiver's clock, in either direction, when given no tolerance.
const DefaultVerifyTolerance = 5 * time.Minute

// Verify checks an outbound webhook as a receiver should: the signature
// over the timestamp and body, and a timestamp within tolerance of now, in
// the past or in the future (a timestamp ahead of the clock is no fresher
// than one behind it: accepting it would stretch a captured delivery's
// replay window). A tolerance of zero or less means
// DefaultVerifyTolerance.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultVerifyTolerance
	}
	sec, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return errors.New("missing or malformed " + HeaderTimestamp)
	}
	ts := time.Unix(sec, 0)
	if !withinSkew(now, ts, tolerance) {
		return errors.New("timestamp outside the tolerance")
	}
	want := Sign(secret, ts, body)
	for _, got := range strings.Split(h.Get(HeaderSignature), ",") {
		if hmac.Equal([]byte(strings.TrimSpace(got)), []byte(want)) {
			return nil
		}
	}
	return errors.New("signature mismatch")
}

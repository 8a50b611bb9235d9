package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of the Standard Webhooks scheme (standardwebhooks.com), which
// every outbound webhook carries, so that a receiver can verify it with the
// scheme's published libraries.
const (
	HeaderWebhookID        = "Webhook-Id"
	HeaderWebhookTimestamp = "Webhook-Timestamp"
	HeaderWebhookSignature = "Webhook-Signature"
)

// secretPrefix starts every endpoint secret.
const secretPrefix = "whsec_"

// secretKey returns the HMAC key of an endpoint secret: the bytes its
// base64 after "whsec_" encodes. Secrets are standard base64 with padding,
// as the scheme's libraries expect; aiproxy issued unpadded base64url ones
// before, which decode to their key the same way.
func secretKey(secret string) ([]byte, error) {
	b64 := strings.TrimPrefix(secret, secretPrefix)
	if key, err := base64.StdEncoding.DecodeString(b64); err == nil {
		return key, nil
	}
	if key, err := base64.RawURLEncoding.DecodeString(b64); err == nil {
		return key, nil
	}
	return nil, errors.New("webhook secret is not whsec_ and base64")
}

// SignStandard returns the Webhook-Signature value of a message: "v1," and
// the base64 HMAC-SHA256, keyed by the secret's key, of the message id, the
// unix-seconds timestamp and the raw body, joined by dots.
func SignStandard(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, ts.Unix())
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// VerifyStandard checks a webhook as a Standard Webhooks receiver does:
// one of the space-separated v1 signatures matches the id, timestamp and
// body, and the timestamp is within tolerance of now, in the past or the
// future. A tolerance of zero or less means DefaultVerifyTolerance.
func VerifyStandard(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultVerifyTolerance
	}
	id := h.Get(HeaderWebhookID)
	sec, err := strconv.ParseInt(h.Get(HeaderWebhookTimestamp), 10, 64)
	if id == "" || err != nil {
		return errors.New("missing or malformed " + HeaderWebhookID + " or " + HeaderWebhookTimestamp)
	}
	ts := time.Unix(sec, 0)
	if !withinSkew(now, ts, tolerance) {
		return errors.New("timestamp outside the tolerance")
	}
	want, err := SignStandard(secret, id, ts, body)
	if err != nil {
		return err
	}
	for _, got := range strings.Fields(h.Get(HeaderWebhookSignature)) {
		if hmac.Equal([]byte(got), []byte(want)) {
			return nil
		}
	}
	return errors.New("signature mismatch")
}

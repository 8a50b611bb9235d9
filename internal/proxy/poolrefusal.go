package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// refusal is a provider's answer that refused the key itself before doing
// any work: the key rests (a rate limit, or a quota or credit refusal) or
// is removed (invalid or revoked).
type refusal struct {
	state aiproxy.KeyState
	// quota says the rest is for credits or a quota, whose default rest is
	// long; retryAfter is the provider's own wait, 0 when it gave none.
	quota      bool
	reason     string
	retryAfter time.Duration
}

// The provider error codes (HeyGen's v1 numbers and v2/v3 strings,
// ElevenLabs' detail.status), lowercased, that decide a refusal.
var (
	// quotaCodes say the key's account has run out of credits or hit a
	// quota window: it rests.
	quotaCodes = codeSet("quota_exceeded", "insufficient_credit", "insufficient_credits", "insufficient_quota",
		"trial_video_limit_exceeded", "movio_payment_insufficient_credit", "payment_required", "900001", "400664")
	// permissionCodes, on a 401, say the key may not do this one thing (a
	// plan feature, a key scoped to some endpoints) but is sound: the
	// answer is the request's, and the key stays.
	permissionCodes = codeSet("missing_permissions", "only_for_creator+", "tier_not_support", "permission_denied",
		"400599", "400573")
	// badKeyCodes, on a 403, say the key itself is invalid, revoked or
	// blocked: it is removed. Any other 403 (a plan feature, an expired
	// media link's CloudFront page) is the request's answer.
	badKeyCodes = codeSet("invalid_api_key", "needs_authorization", "unauthorized", "invalid_credentials",
		"invalid_access_token", "access_token_expired", "user_blocked", "400112", "40009", "401057", "401056", "400631")
)

func codeSet(codes ...string) map[string]bool {
	m := make(map[string]bool, len(codes))
	for _, c := range codes {
		m[c] = true
	}
	return m
}

// classifyRefusal reads an answer of a pool key: a 429 rests the key; a
// 402, or a quota code on a 400, 401, 429 or HeyGen's 200 with an error
// body, rests it for its quota; a 401 removes it, unless its code is a
// permission's; a 403 removes it only when its code names a bad key.
// The body read to find the code is put back in front of the body.
func classifyRefusal(resp *http.Response, bodyErr bool) (refusal, bool) {
	status := resp.StatusCode
	switch {
	case status == http.StatusOK && bodyErr:
	case status == http.StatusBadRequest, status == http.StatusUnauthorized, status == http.StatusPaymentRequired,
		status == http.StatusForbidden, status == http.StatusTooManyRequests:
	default:
		return refusal{}, false
	}
	code := providerCode(peekBody(resp))
	r := refusal{reason: fmt.Sprintf("provider answered %d", status), retryAfter: retryAfterOf(resp.Header)}
	if code != "" {
		r.reason += " " + code
	}
	lower := strings.ToLower(code)
	switch {
	case quotaCodes[lower] || status == http.StatusPaymentRequired:
		r.state, r.quota = aiproxy.KeyResting, true
	case status == http.StatusTooManyRequests:
		r.state = aiproxy.KeyResting
	case status == http.StatusUnauthorized && !permissionCodes[lower]:
		r.state = aiproxy.KeyRemoved
	case status == http.StatusForbidden && badKeyCodes[lower]:
		r.state = aiproxy.KeyRemoved
	default:
		return refusal{}, false
	}
	return r, true
}

// peekBody reads up to maxInspect bytes of a body and puts them back.
func peekBody(resp *http.Response) []byte {
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxInspect))
	resp.Body = &prefixed{Reader: io.MultiReader(bytes.NewReader(head), resp.Body), Closer: resp.Body}
	return head
}

// providerCode finds the error code in a provider's error body: HeyGen's
// {"error":{"code":…}} (v2, v3) or {"code":…} (v1), ElevenLabs'
// {"detail":{"status":…}} or {"detail":{"code":…}}. It keeps at most 64
// characters of letters, digits and "_+.-", so that a reason never
// carries anything else from the body.
func providerCode(body []byte) string {
	var doc struct {
		Error  json.RawMessage `json:"error"`
		Code   json.RawMessage `json:"code"`
		Detail json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return ""
	}
	var nested struct {
		Code   json.RawMessage `json:"code"`
		Status json.RawMessage `json:"status"`
	}
	for _, raw := range []json.RawMessage{doc.Error, doc.Detail} {
		if json.Unmarshal(raw, &nested) == nil {
			if c := codeText(nested.Status); c != "" {
				return c
			}
			if c := codeText(nested.Code); c != "" {
				return c
			}
		}
	}
	return codeText(doc.Code)
}

// codeText is a JSON string or number as a short, safe code.
func codeText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return ""
		}
		s = n.String()
	}
	if len(s) > 64 {
		return ""
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_+.-", r)) {
			return ""
		}
	}
	return s
}

// retryAfterOf reads how long a provider asked to wait: Retry-After in
// seconds or as a date, or ElevenLabs' retry-after-ms; 0 when it did not.
func retryAfterOf(h http.Header) time.Duration {
	if ms, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After-Ms"))); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	v := h.Get("Retry-After")
	if d, ok := parseRetryAfter(v); ok {
		return d
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(t))
	}
	return 0
}

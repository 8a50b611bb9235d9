package oidc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// maxTokenBytes bounds the tokens looked at: a sign-in token with a long
// list of groups is a few kilobytes, and nothing larger is decoded.
const maxTokenBytes = 16 << 10

// LooksLikeJWT reports whether s is shaped like a compact JWT: three
// base64url segments separated by dots, the first two not empty (the
// third is empty for an unsigned token, which is still a JWT, and
// refused). aiproxy keys and user tokens hold no dots, so the
// authenticator can tell them apart without decoding anything.
func LooksLikeJWT(s string) bool {
	if len(s) > maxTokenBytes || strings.Count(s, ".") != 2 {
		return false
	}
	header, rest, _ := strings.Cut(s, ".")
	payload, sig, _ := strings.Cut(rest, ".")
	return header != "" && payload != "" && isBase64URL(header) && isBase64URL(payload) && isBase64URL(sig)
}

// isBase64URL reports whether s uses only the unpadded base64url alphabet.
func isBase64URL(s string) bool {
	for _, c := range []byte(s) {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// unverifiedIssuer returns the iss claim of a compact JWT without
// verifying anything: only to pick the issuer whose keys and rules then
// verify the token (go-oidc checks the same claim again once the
// signature holds).
func unverifiedIssuer(raw string) (string, error) {
	if !LooksLikeJWT(raw) {
		return "", errors.New("not a compact JWT")
	}
	_, rest, _ := strings.Cut(raw, ".")
	payload, _, _ := strings.Cut(rest, ".")
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", fmt.Errorf("payload: %w", err)
	}
	// A map, not a struct: encoding/json matches struct fields without
	// regard to case, and only "iss" names the issuer.
	var c map[string]json.RawMessage
	if err := json.Unmarshal(b, &c); err != nil {
		return "", fmt.Errorf("payload: %w", err)
	}
	var iss string
	if raw, ok := c["iss"]; !ok || json.Unmarshal(raw, &iss) != nil || iss == "" {
		return "", errors.New("the token names no issuer")
	}
	return iss, nil
}

// claims are a verified token's claims, numbers kept as json.Number.
type claims map[string]any

// decodeClaims decodes a verified token's payload.
func decodeClaims(payload []byte) (claims, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var c claims
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	if c == nil {
		return nil, errors.New("claims: not a JSON object")
	}
	return c, nil
}

// maxClaimSegments bounds the dots of a claim path: lookup may try every
// way of splitting a path at its dots, 2^(segments-1) at worst.
const maxClaimSegments = 8

// validClaimPath reports whether a claim name or dotted path is usable:
// at most 256 bytes, at most maxClaimSegments segments, none empty.
func validClaimPath(path string) bool {
	if path == "" || len(path) > 256 || strings.Count(path, ".") >= maxClaimSegments {
		return false
	}
	for seg := range strings.SplitSeq(path, ".") {
		if seg == "" {
			return false
		}
	}
	return true
}

// lookup returns the value at a claim path. A name that holds dots (as
// namespaced claims such as "https://example.com/groups" do) is found
// whole first; otherwise each dot, from the left, may step into a nested
// object, so "realm_access.roles" reaches {"realm_access":{"roles":…}}.
func (c claims) lookup(path string) (any, bool) {
	return lookupIn(map[string]any(c), path)
}

func lookupIn(m map[string]any, path string) (any, bool) {
	if v, ok := m[path]; ok {
		return v, true
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		inner, ok := m[path[:i]].(map[string]any)
		if !ok {
			continue
		}
		if v, ok := lookupIn(inner, path[i+1:]); ok {
			return v, true
		}
	}
	return nil, false
}

// str returns the string at a claim path, or "" when it is missing or not
// a string.
func (c claims) str(path string) string {
	v, _ := c.lookup(path)
	s, _ := v.(string)
	return s
}

// stringList returns the strings at a claim path: a list's string items, or
// a single string as a list of one.
func (c claims) stringList(path string) []string {
	v, _ := c.lookup(path)
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, item := range v {
			if s, ok := item.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// has reports whether the claim at path has the required value: a string
// equal to it, a list holding it as a string, or a boolean or number
// written as it.
func (c claims) has(path, want string) bool {
	v, ok := c.lookup(path)
	if !ok {
		return false
	}
	switch v := v.(type) {
	case string:
		return v == want
	case []any:
		for _, item := range v {
			if s, ok := item.(string); ok && s == want {
				return true
			}
		}
	case bool:
		return fmt.Sprint(v) == want
	case json.Number:
		return v.String() == want
	}
	return false
}

// numericDate returns a NumericDate claim (seconds since the epoch); ok is false
// when the claim is missing, and err is set when it is not a number in
// range.
func (c claims) numericDate(name string) (t time.Time, ok bool, err error) {
	v, found := c[name]
	if !found {
		return time.Time{}, false, nil
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return time.Time{}, true, fmt.Errorf("%s is not a number", name)
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > 1<<40 {
		return time.Time{}, true, fmt.Errorf("%s is out of range", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

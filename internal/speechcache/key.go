package speechcache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash"
	"net/http"
	"slices"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// keyVersion starts every key's material, so that a change to what a key
// is made of gives new keys rather than wrong hits.
const keyVersion = "aiproxy speech cache 1"

// present is one field a request carries, with its value in canonical form:
// the string itself for path, query and header fields (several query values
// as a JSON array), the canonical JSON for a body member.
type present struct {
	field aiproxy.RequestField
	value string
}

// keyOf returns the cache key of a call, or ok false when the rule makes
// the call uncacheable: a field matches Uncacheable, or the call carries a
// field that the rule's Key does not name, or its body is not one JSON
// object read the same way by every reader.
//
// The key is the SHA-256 of the org; the credential's source, owner, name
// and digest (CredentialDigest: a new key, even of the same account, starts
// afresh); the service and endpoint; and every key field, present or not,
// with its canonical value. So no entry is ever shared across orgs or
// provider accounts, while the org's own users share the org's entries.
func keyOf(c *proxy.Call, rule *aiproxy.SpeechCacheRule) (key string, ok bool) {
	fields, ok := requestFields(c.Envelope)
	if !ok {
		return "", false
	}
	for _, p := range fields {
		if matchesAny(rule.Uncacheable, p) || !slices.ContainsFunc(rule.Key, p.field.Same) {
			return "", false
		}
	}
	h := sha256.New()
	digest := c.CredentialDigest()
	owner := "platform"
	if c.Source != aiproxy.SourcePlatform {
		owner = "org:" + c.Org
	}
	for _, part := range []string{keyVersion, c.Org, string(c.Source), owner, c.Service.CredentialName,
		string(digest[:]), c.Service.Slug, c.Endpoint.Slug} {
		writePart(h, part)
	}
	for _, k := range rule.Key {
		i := slices.IndexFunc(fields, func(p present) bool { return p.field.Same(k) })
		if i < 0 {
			writePart(h, k.String()+" absent")
			continue
		}
		writePart(h, k.String())
		writePart(h, fields[i].value)
	}
	return hex.EncodeToString(h.Sum(nil)), true
}

// writePart writes one part of a key's material, prefixed by its length,
// so that no two lists of parts write the same bytes.
func writePart(h hash.Hash, s string) {
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
	h.Write([]byte(s))
}

// requestFields lists the fields an envelope carries.
func requestFields(env proxy.Envelope) ([]present, bool) {
	var out []present
	for name, v := range env.PathParams {
		out = append(out, present{aiproxy.RequestField{In: aiproxy.InPath, Name: name}, v})
	}
	for name, vs := range env.Query {
		v := ""
		switch len(vs) {
		case 0:
		case 1:
			v = vs[0]
		default:
			b, _ := json.Marshal(vs)
			v = string(b)
		}
		out = append(out, present{aiproxy.RequestField{In: aiproxy.InQuery, Name: name}, v})
	}
	seen := map[string]bool{}
	for name, v := range env.Headers {
		name = http.CanonicalHeaderKey(name)
		if seen[name] { // "accept" and "Accept": which one goes upstream is not fixed
			return nil, false
		}
		seen[name] = true
		out = append(out, present{aiproxy.RequestField{In: aiproxy.InHeader, Name: name}, v})
	}
	if env.Body != nil {
		members, err := canonicalMembers(env.Body)
		if err != nil {
			return nil, false
		}
		for name, v := range members {
			out = append(out, present{aiproxy.RequestField{In: aiproxy.InBody, Name: name}, v})
		}
	}
	return out, true
}

// matchesAny reports whether a field matches one of the conditions: the
// same field, with any value or the condition's value.
func matchesAny(conds []aiproxy.RequestField, p present) bool {
	for _, c := range conds {
		if c.Same(p.field) && (c.Value == "" || c.Value == p.value) {
			return true
		}
	}
	return false
}

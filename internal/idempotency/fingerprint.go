package idempotency

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"slices"
	"strings"

	"github.com/aiproxy/aiproxy/internal/proxy"
)

// fingerprint hashes what a request asks for: the endpoint, everything the
// envelope sends to the provider (body, query, headers and path
// parameters, so that a key reused with another template_id or video_id
// is a conflict), and whether the key is test-only, since the proxy puts a
// test-only key's call in test mode after this check. The body is compared
// in a canonical form, so that key order and spacing do not matter.
func fingerprint(service, action string, env proxy.Envelope, testOnly bool) string {
	fields := map[string]any{"service": service, "action": action, "body": canonicalBody(env.Body),
		"query": env.Query, "headers": env.Headers, "path_params": env.PathParams}
	if testOnly {
		fields["test_only"] = true
	}
	canon, _ := json.Marshal(fields)
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:])
}

// canonicalBody returns a body in canonical JSON: members sorted by key,
// no spacing, numbers as written. Unlike a decoded map it keeps every
// member of an object that repeats a key, so that two bodies a provider
// may read differently never compare equal. A body that is not JSON is
// compared as it is.
func canonicalBody(body []byte) any {
	if body == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var buf bytes.Buffer
	if err := canonicalValue(dec, &buf); err != nil {
		return string(body)
	}
	if _, err := dec.Token(); err != io.EOF {
		return string(body)
	}
	return json.RawMessage(buf.Bytes())
}

// canonicalValue writes the next JSON value of dec to buf in canonical form.
func canonicalValue(dec *json.Decoder, buf *bytes.Buffer) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return canonicalArray(dec, buf)
		}
		return canonicalObject(dec, buf)
	case json.Number:
		buf.WriteString(t.String())
	default: // string, bool or nil
		b, err := json.Marshal(t)
		if err != nil {
			return err
		}
		buf.Write(b)
	}
	return nil
}

func canonicalArray(dec *json.Decoder, buf *bytes.Buffer) error {
	buf.WriteByte('[')
	for i := 0; dec.More(); i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := canonicalValue(dec, buf); err != nil {
			return err
		}
	}
	buf.WriteByte(']')
	_, err := dec.Token()
	return err
}

func canonicalObject(dec *json.Decoder, buf *bytes.Buffer) error {
	type member struct {
		key   string
		value []byte
	}
	var members []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var v bytes.Buffer
		if err := canonicalValue(dec, &v); err != nil {
			return err
		}
		members = append(members, member{key, v.Bytes()})
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	// Stable, so that repeated keys keep their order.
	slices.SortStableFunc(members, func(a, b member) int { return strings.Compare(a.key, b.key) })
	buf.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(m.value)
	}
	buf.WriteByte('}')
	return nil
}

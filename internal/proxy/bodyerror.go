package proxy

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
)

// maxInspect bounds the body read to look for an error in a 200 answer.
// Error bodies are small; a larger body is a success payload and streams
// untouched.
const maxInspect = 64 << 10

// inspectBody reports whether a 200 JSON answer of a provider with an error
// envelope carries an error, such as HeyGen's {"data":null,"error":{...}}
// or {"code":400175,...}. It reads at most maxInspect bytes and puts them
// back in front of the body.
func inspectBody(envelope string, resp *http.Response) bool {
	if envelope == "" || (resp.StatusCode != http.StatusOK && (envelope != "liveavatar" || resp.StatusCode != http.StatusCreated)) {
		return false
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, maxInspect+1))
	resp.Body = &prefixed{Reader: io.MultiReader(bytes.NewReader(head), resp.Body), Closer: resp.Body}
	if err != nil || len(head) > maxInspect {
		return false
	}
	if envelope == "liveavatar" {
		return liveAvatarBodyError(head)
	}
	return heygenBodyError(head)
}

// liveAvatarBodyError recognises LiveAvatar's error envelope in a 200 or
// 201: a numeric top-level "code" other than 1000, the only code its web
// SDK takes for success. A body without a code is no error.
func liveAvatarBodyError(body []byte) bool {
	var env struct {
		Code *json.Number `json:"code"`
	}
	if json.Unmarshal(body, &env) != nil || env.Code == nil {
		return false
	}
	return env.Code.String() != "1000"
}

type prefixed struct {
	io.Reader
	io.Closer
}

// heygenBodyError recognises HeyGen's error envelopes: v2 and v3 carry a
// non-null "error"; v1 carries a numeric "code" other than 100.
//
// It answers exactly as unmarshalling the body into a
// map[string]json.RawMessage and reading "error" and "code" would (the last
// of duplicate keys wins; a body that is not a valid JSON object is no
// error), but validates without allocating and walks only the top level,
// decoding nothing unless a key needs unescaping or "code" is present.
func heygenBodyError(body []byte) bool {
	if !json.Valid(body) {
		return false
	}
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return false
	}
	var errVal, codeVal []byte
	hasErr, hasCode := false, false
	i = skipSpace(body, i+1)
	for i < len(body) && body[i] == '"' {
		end := skipString(body, i)
		key := body[i:end]
		i = skipSpace(body, end)
		i = skipSpace(body, i+1) // ':'
		vend := skipValue(body, i)
		switch topKey(key) {
		case "error":
			errVal, hasErr = body[i:vend], true
		case "code":
			codeVal, hasCode = body[i:vend], true
		}
		i = skipSpace(body, vend)
		if i < len(body) && body[i] == ',' {
			i = skipSpace(body, i+1)
		}
	}
	if hasErr && !isNull(errVal) && string(bytes.TrimSpace(errVal)) != `""` {
		return true
	}
	var code json.Number
	if hasCode && json.Unmarshal(codeVal, &code) == nil {
		return code.String() != "100"
	}
	return false
}

// topKey returns the "error" or "code" a quoted key spells, or "". Only a
// key with an escape in it is decoded.
func topKey(quoted []byte) string {
	inner := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		switch string(inner) {
		case "error":
			return "error"
		case "code":
			return "code"
		}
		return ""
	}
	var k string
	if json.Unmarshal(quoted, &k) != nil || (k != "error" && k != "code") {
		return ""
	}
	return k
}

// The scanners below walk JSON that json.Valid has accepted.

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

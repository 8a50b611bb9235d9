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
	if envelope == "" || resp.StatusCode != http.StatusOK {
		return false
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, maxInspect+1))
	resp.Body = &prefixed{Reader: io.MultiReader(bytes.NewReader(head), resp.Body), Closer: resp.Body}
	if err != nil || len(head) > maxInspect {
		return false
	}
	return heygenBodyError(head)
}

type prefixed struct {
	io.Reader
	io.Closer
}

// heygenBodyError recognises HeyGen's error envelopes: v2 and v3 carry a
// non-null "error"; v1 carries a numeric "code" other than 100.
func heygenBodyError(body []byte) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return false
	}
	if e, ok := top["error"]; ok && !isNull(e) && string(bytes.TrimSpace(e)) != `""` {
		return true
	}
	var code json.Number
	if raw, ok := top["code"]; ok && json.Unmarshal(raw, &code) == nil {
		return code.String() != "100"
	}
	return false
}

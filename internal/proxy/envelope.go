package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Envelope is the invoke request's payload: what goes into the upstream
// body, query string, headers and path. Every field is optional.
type Envelope struct {
	// Body is the raw JSON sent to the provider; nil when absent or null.
	Body json.RawMessage
	// Query holds the query parameters, each with one or more values.
	Query map[string][]string
	// Headers holds extra request headers, checked against an allow-list.
	Headers map[string]string
	// PathParams fills the endpoint's path template.
	PathParams map[string]string
}

// envelopeFields are the JSON keys of an envelope. "files" is accepted only
// when empty, because the contract's clients send it that way; real files
// travel as multipart parts.
var envelopeFields = map[string]bool{"body": true, "query": true, "headers": true, "path_params": true, "files": true}

// DecodeEnvelope parses a JSON envelope. Empty input is an empty envelope.
func DecodeEnvelope(data []byte) (Envelope, error) {
	var env Envelope
	if t := bytes.TrimSpace(data); len(t) == 0 || string(t) == "{}" {
		return env, nil // nothing to forward: the common case of a call with no input
	}
	if err := checkText(data, MaxJSONDepth); err != nil {
		return env, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil || top == nil {
		return env, invalidf("Invalid request envelope: expected a JSON object with body, query, headers and path_params.")
	}
	for _, k := range sortedKeys(top) {
		if !envelopeFields[k] {
			return env, invalidf("Invalid request envelope: unknown field %q.", k)
		}
	}
	if err := checkNoFiles(top["files"]); err != nil {
		return env, err
	}
	var err error
	if env.Body, err = decodeBody(top["body"]); err != nil {
		return env, err
	}
	if env.Query, err = decodeQuery(top["query"]); err != nil {
		return env, err
	}
	if env.Headers, err = decodeHeaders(top["headers"]); err != nil {
		return env, err
	}
	if env.PathParams, err = decodePathParams(top["path_params"]); err != nil {
		return env, err
	}
	return env, nil
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

func checkNoFiles(raw json.RawMessage) error {
	if isNull(raw) {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) == nil && len(m) == 0 {
		return nil
	}
	return invalidf("Invalid request envelope: files must be sent as multipart/form-data parts, not in JSON.")
}

func decodeBody(raw json.RawMessage) (json.RawMessage, error) {
	if isNull(raw) {
		return nil, nil
	}
	return bytes.TrimSpace(raw), nil
}

func decodeObject(raw json.RawMessage, field string) (map[string]json.RawMessage, error) {
	if isNull(raw) {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, invalidf("Invalid request envelope: %s must be a JSON object.", field)
	}
	return m, nil
}

func decodeQuery(raw json.RawMessage) (map[string][]string, error) {
	m, err := decodeObject(raw, "query")
	if err != nil || m == nil {
		return nil, err
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		if isNull(v) {
			continue
		}
		if bytes.HasPrefix(bytes.TrimSpace(v), []byte("[")) {
			var items []json.RawMessage
			if err := json.Unmarshal(v, &items); err != nil {
				return nil, invalidf("Invalid request envelope: query %q is not valid.", k)
			}
			for _, it := range items {
				s, err := scalar(it, "query", k)
				if err != nil {
					return nil, err
				}
				out[k] = append(out[k], s)
			}
			continue
		}
		s, err := scalar(v, "query", k)
		if err != nil {
			return nil, err
		}
		out[k] = []string{s}
	}
	return out, nil
}

// scalar turns a JSON string, number or boolean into its text form.
func scalar(raw json.RawMessage, field, key string) (string, error) {
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '"' {
		// Most values are strings, which need no general decoder.
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return "", invalidf("Invalid request envelope: %s %q is not valid.", field, key)
		}
		return s, nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", invalidf("Invalid request envelope: %s %q is not valid.", field, key)
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", invalidf("Invalid request envelope: %s %q must be a string, number or boolean.", field, key)
}

func decodeHeaders(raw json.RawMessage) (map[string]string, error) {
	m, err := decodeObject(raw, "headers")
	if err != nil || m == nil {
		return nil, err
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, invalidf("Invalid request envelope: header %q must be a string.", k)
		}
		if strings.ContainsAny(s, "\r\n\x00") {
			return nil, invalidf("Invalid request envelope: header %q has a forbidden character.", k)
		}
		out[k] = s
	}
	return out, nil
}

func decodePathParams(raw json.RawMessage) (map[string]string, error) {
	m, err := decodeObject(raw, "path_params")
	if err != nil || m == nil {
		return nil, err
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if isNull(v) {
			continue
		}
		s, err := scalar(v, "path parameter", k)
		if err != nil {
			return nil, pathParamError(k)
		}
		out[k] = s
	}
	return out, nil
}

func pathParamError(name string) error {
	e := aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid path parameter: %s", name)
	e.Field = aiproxy.FieldError
	return e
}

func invalidf(format string, args ...any) error {
	return aiproxy.Errorf(aiproxy.CodeInvalid, format, args...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// String describes the envelope for debugging without its values.
func (e Envelope) String() string {
	return fmt.Sprintf("envelope{body:%d bytes query:%v headers:%v path_params:%v}",
		len(e.Body), sortedKeys(e.Query), sortedKeys(e.Headers), sortedKeys(e.PathParams))
}

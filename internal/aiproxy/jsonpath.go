package aiproxy

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// DecodeJSON parses a JSON document, keeping numbers exact, for the
// catalog's JSON paths (LookupJSON).
func DecodeJSON(data []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

// LookupJSON follows a dotted path such as "data.video_id", as the catalog
// writes one, through a document DecodeJSON returned: a segment names an
// object's member, a numeric segment indexes an array.
func LookupJSON(doc any, path string) (any, bool) {
	if path == "" {
		return nil, false
	}
	cur := doc
	for _, seg := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// LookupJSONString returns a string or number at path as text; anything
// else, null included, is "".
func LookupJSONString(doc any, path string) string {
	v, _ := LookupJSON(doc, path)
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	}
	return ""
}

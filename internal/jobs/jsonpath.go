package jobs

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// decodeDoc parses a JSON document, keeping numbers exact.
func decodeDoc(data []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

// lookup follows a dotted path such as "data.video_id" through objects; a
// numeric segment indexes an array.
func lookup(doc any, path string) (any, bool) {
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

// lookupString returns a string or number at path as text; anything else,
// null included, is "".
func lookupString(doc any, path string) string {
	v, _ := lookup(doc, path)
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	}
	return ""
}

// lookupError words a provider's failure detail: a string as it is, an
// object by its message and detail (HeyGen's {code, message, detail}), and
// anything else as its JSON.
func lookupError(doc any, path string) string {
	v, ok := lookup(doc, path)
	if !ok || v == nil {
		return ""
	}
	switch t := v.(type) {
	case string:
		return t
	case map[string]any:
		msg, _ := t["message"].(string)
		detail, _ := t["detail"].(string)
		switch {
		case msg != "" && detail != "" && detail != msg:
			return msg + ": " + detail
		case msg != "":
			return msg
		case detail != "":
			return detail
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

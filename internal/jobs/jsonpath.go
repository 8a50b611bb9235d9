package jobs

import (
	"encoding/json"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// lookupError words a provider's failure detail: a string as it is, an
// object by its message and detail (HeyGen's {code, message, detail}), and
// anything else as its JSON.
func lookupError(doc any, path string) string {
	v, ok := aiproxy.LookupJSON(doc, path)
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

package jobs

import (
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// FuzzLookup feeds provider answers and catalog paths to the JSON path
// reader, which must never panic.
func FuzzLookup(f *testing.F) {
	f.Add([]byte(`{"code":100,"data":{"status":"failed","error":{"code":40119,"message":"m","detail":"d"}}}`), "data.error")
	f.Add([]byte(`{"data":{"video_id":"abc"}}`), "data.video_id")
	f.Add([]byte(`[1,{"a":[2,3]}]`), "1.a.0")
	f.Add([]byte(`null`), "a")
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		doc, ok := aiproxy.DecodeJSON(body)
		if !ok {
			return
		}
		_, _ = aiproxy.LookupJSON(doc, path)
		_ = aiproxy.LookupJSONString(doc, path)
		_ = lookupError(doc, path)
	})
}

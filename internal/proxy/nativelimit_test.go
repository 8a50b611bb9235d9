package proxy

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// TestNativeUploadsObeyTheBodyLimit checks that a native upload, multipart
// or raw, is held to the same body limit as an invoke call: refused with
// the contract's 413 whether it declares its length or streams it chunked,
// and never passed to the provider whole.
func TestNativeUploadsObeyTheBodyLimit(t *testing.T) {
	var received int64
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	svc := testService(up.URL, bothPolicy,
		aiproxy.Endpoint{Slug: "add-voice", HTTPMethod: "POST", PathTemplate: "/v1/voices/add", RequestMode: aiproxy.RequestMultipart,
			ResponseMode: aiproxy.ResponseJSON, IsEnabled: true},
		aiproxy.Endpoint{Slug: "isolate", HTTPMethod: "POST", PathTemplate: "/v1/isolate", RequestMode: aiproxy.RequestBinary,
			ResponseMode: aiproxy.ResponseJSON, IsEnabled: true})
	const limit = 4 << 10
	f := newFixture(t, services{"svc": svc}, Config{MaxBodyBytes: limit})
	f.setCredential(t, aiproxy.SourceTenant, "svc", tenantKey)

	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	_ = mw.WriteField("name", "v")
	part, _ := mw.CreateFormFile("files", "a.mp3")
	_, _ = part.Write(bytes.Repeat([]byte("a"), 3*limit))
	_ = mw.Close()
	raw := strings.Repeat("b", 3*limit)

	for _, tc := range []struct {
		name, path, contentType string
		body                    []byte
		chunked                 bool
	}{
		{"multipart, declared", "/v1/voices/add", mw.FormDataContentType(), form.Bytes(), false},
		{"multipart, chunked", "/v1/voices/add", mw.FormDataContentType(), form.Bytes(), true},
		{"raw, declared", "/v1/isolate", "audio/mpeg", []byte(raw), false},
		{"raw, chunked", "/v1/isolate", "audio/mpeg", []byte(raw), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = bytes.NewReader(tc.body)
			if tc.chunked {
				body = io.MultiReader(body) // hides the length
			}
			r := httptest.NewRequest(http.MethodPost, tc.path, body)
			if tc.chunked {
				r.ContentLength = -1
			}
			r.Header.Set("Content-Type", tc.contentType)
			_, err := f.proxy.InvokeNative(httptest.NewRecorder(), r, testOrg, "svc", tc.path)
			errorOf(t, err, aiproxy.CodeTooLarge, "")
		})
	}
	for _, req := range up.requests() {
		received += int64(len(req.Body))
	}
	if received >= 3*limit {
		t.Fatalf("the provider received %d bytes of uploads over a %d-byte limit", received, limit)
	}
}

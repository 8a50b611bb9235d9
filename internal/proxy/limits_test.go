package proxy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// depthCases seed FuzzCheckText.
var depthCases = []struct {
	name string
	in   string
	ok   bool
}{
	{"flat", `{"a":1}`, true},
	{"at the limit", strings.Repeat("[", MaxJSONDepth) + strings.Repeat("]", MaxJSONDepth), true},
	{"over the limit", strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1), false},
	{"brackets in strings", `{"a":"` + strings.Repeat("[", 200) + `"}`, true},
	{"escaped quote", `{"a":"\"[[[[","b":[1]}`, true},
	{"unclosed", strings.Repeat("{", 100), false},
	{"invalid UTF-8", "{\"a\":\"\xff\"}", false},
	{"NUL", "{\"a\":\"\x00\"}", true}, // valid UTF-8; the decoder refuses it
	{"empty", ``, true},
}

func TestCheckText(t *testing.T) {
	for _, tc := range depthCases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkText([]byte(tc.in), MaxJSONDepth)
			if (err == nil) != tc.ok {
				t.Fatalf("checkText = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && aiproxy.ErrorCode(err) != aiproxy.CodeInvalid {
				t.Fatalf("refusal %v is not invalid", err)
			}
		})
	}
}

// FuzzCheckText checks that the depth check never panics and that
// whatever it accepts, encoding/json can decode without nesting deeper
// than the limit.
func FuzzCheckText(f *testing.F) {
	for _, tc := range depthCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if checkText(data, MaxJSONDepth) != nil {
			return
		}
		var v any
		if json.Unmarshal(data, &v) == nil && depthOf(v) > MaxJSONDepth {
			t.Fatalf("accepted %q nests %d deep", data, depthOf(v))
		}
	})
}

func depthOf(v any) int {
	d := 0
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			d = max(d, depthOf(e))
		}
		return d + 1
	case []any:
		for _, e := range x {
			d = max(d, depthOf(e))
		}
		return d + 1
	}
	return 0
}

// inputCases seed FuzzReadInput: a content type and a body.
var inputCases = []struct{ contentType, body string }{
	{"application/json", `{"body":{"name":"v"},"headers":{"Accept":"x"}}`},
	{"application/json", strings.Repeat("x", 5000)},
	{"multipart/form-data; boundary=B", "--B\r\nContent-Disposition: form-data; name=\"body\"\r\n\r\n{\"name\":\"v\"}\r\n--B\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.mp3\"\r\n\r\nabc\r\n--B--\r\n"},
	{"multipart/form-data; boundary=B", "--B\r\nContent-Disposition: form-data; name=\"headers\"\r\n\r\n{\"Accept\":\"a\\r\\nb\"}\r\n--B--\r\n"},
	{"multipart/form-data", "x"},
	{"multipart/form-data; boundary=B", "--B\r\nbroken"},
}

// FuzzReadInput checks that reading a client's request, JSON or multipart,
// within limits, never panics, refuses only with the client's errors, and
// never accepts a header value that could split a header.
func FuzzReadInput(f *testing.F) {
	for _, tc := range inputCases {
		f.Add(tc.contentType, []byte(tc.body))
	}
	p := New(Config{MaxEnvelopeBytes: 4096, MaxBodyBytes: 4096})
	ep := &aiproxy.Endpoint{Slug: "add-voice", RequestMode: aiproxy.RequestMultipart}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		in, err := p.in.readInput(r, ep)
		if err != nil {
			if c := aiproxy.ErrorCode(err); c != aiproxy.CodeInvalid && c != aiproxy.CodeTooLarge {
				t.Fatalf("refusal %v has code %q", err, c)
			}
			return
		}
		defer in.close()
		for k, v := range in.env.Headers {
			if strings.ContainsAny(k+v, "\r\n\x00") {
				t.Fatalf("accepted header %q = %q", k, v)
			}
		}
	})
}

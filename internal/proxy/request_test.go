package proxy

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// TestInvokeJSONThroughRealCatalog sends a documented call through the
// built-in catalog and checks exactly what the provider received.
func TestInvokeJSONThroughRealCatalog(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/mpeg")
		w.Header().Set("Character-Cost", "22")
		w.Header().Set("Set-Cookie", "upstream=1")
		io.WriteString(w, "ID3-fake-mp3")
	})
	cat := realCatalog(t, up)
	f := newFixture(t, cat, Config{UserAgent: "aiproxy/test"})
	f.setCredential(t, aiproxy.SourceTenant, "elevenlabs", tenantKey)

	env := `{"path_params":{"voice_id":"21m00Tcm4TlvDq8ikWAM"},
		"query":{"output_format":"mp3_44100_128","enable_logging":false,"seed":[1,2]},
		"headers":{"accept":"audio/mpeg"},
		"body":{"text":"Hello, this is a test.","model_id":"eleven_multilingual_v2"}}`
	r := invokeRequest(env)
	before := snap(r)
	w := httptest.NewRecorder()
	out, err := f.proxy.Invoke(w, r, testOrg, "elevenlabs", "tts")
	if err != nil {
		t.Fatal(err)
	}
	assertUnchanged(t, before, r)

	got := up.only(t)
	if got.Method != http.MethodPost || got.Path != "/elevenlabs/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM" {
		t.Errorf("upstream got %s %s", got.Method, got.Path)
	}
	if got.RawQuery != "enable_logging=false&output_format=mp3_44100_128&seed=1&seed=2" {
		t.Errorf("upstream query = %q", got.RawQuery)
	}
	if want := `{"text":"Hello, this is a test.","model_id":"eleven_multilingual_v2"}`; string(got.Body) != want {
		t.Errorf("upstream body = %s, want %s", got.Body, want)
	}
	wantHeader := map[string]string{
		"Xi-Api-Key": tenantKey, "Content-Type": "application/json", "Accept": "audio/mpeg", "User-Agent": "aiproxy/test",
		"Authorization": "", "Cookie": "", "X-Forwarded-For": "",
	}
	for k, v := range wantHeader {
		if g := got.Header.Get(k); g != v {
			t.Errorf("upstream header %s = %q, want %q", k, g, v)
		}
	}
	if w.Code != 200 || w.Body.String() != "ID3-fake-mp3" || w.Header().Get("Content-Type") != "audio/mpeg" {
		t.Errorf("client got %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
	if w.Header().Get("Character-Cost") != "22" || w.Header().Get("Set-Cookie") != "" {
		t.Errorf("response headers not allow-listed: %v", w.Header())
	}
	if out.Source != aiproxy.SourceTenant || out.UpstreamStatus != 200 || out.Status != 200 || out.Bytes != 12 {
		t.Errorf("outcome = %+v", out)
	}
}

func TestRequestModes(t *testing.T) {
	tests := []struct {
		name       string
		ep         aiproxy.Endpoint
		envelope   string
		wantMethod string
		wantBody   string
		wantCT     string
	}{
		{"raw GET drops the body", aiproxy.Endpoint{Slug: "raw", HTTPMethod: "GET", RequestMode: aiproxy.RequestRaw},
			`{"body":{"x":1}}`, "GET", "", ""},
		{"raw POST drops the body", aiproxy.Endpoint{Slug: "rawpost", HTTPMethod: "POST", RequestMode: aiproxy.RequestRaw},
			`{"body":{"x":1}}`, "POST", "", ""},
		{"json GET sends no body", aiproxy.Endpoint{Slug: "jget", HTTPMethod: "GET", RequestMode: aiproxy.RequestJSON},
			`{"body":{}}`, "GET", "", ""},
		{"json POST sends the body verbatim", aiproxy.Endpoint{Slug: "jpost", RequestMode: aiproxy.RequestJSON},
			`{"body": {"b":[1, 2.50],"a":"é\u003c"} }`, "POST", `{"b":[1, 2.50],"a":"é\u003c"}`, "application/json"},
		{"json POST without body", aiproxy.Endpoint{Slug: "jnone", RequestMode: aiproxy.RequestJSON},
			`{}`, "POST", "", ""},
		{"json POST with null body", aiproxy.Endpoint{Slug: "jnull", RequestMode: aiproxy.RequestJSON},
			`{"body":null}`, "POST", "", ""},
		{"json DELETE sends a body", aiproxy.Endpoint{Slug: "jdel", HTTPMethod: "DELETE", RequestMode: aiproxy.RequestJSON},
			`{"body":{"id":"1"}}`, "DELETE", `{"id":"1"}`, "application/json"},
		{"empty envelope", aiproxy.Endpoint{Slug: "jempty", RequestMode: aiproxy.RequestJSON},
			``, "POST", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, nil)
			f := newFixture(t, services{"svc": testService(up.URL, bothPolicy, tc.ep)}, Config{})
			f.setCredential(t, aiproxy.SourceTenant, "svc", tenantKey)
			w := httptest.NewRecorder()
			if _, err := f.proxy.Invoke(w, invokeRequest(tc.envelope), testOrg, "svc", tc.ep.Slug); err != nil {
				t.Fatal(err)
			}
			got := up.only(t)
			if got.Method != tc.wantMethod || string(got.Body) != tc.wantBody || got.Header.Get("Content-Type") != tc.wantCT {
				t.Fatalf("upstream got %s body %q type %q; want %s %q %q", got.Method, got.Body,
					got.Header.Get("Content-Type"), tc.wantMethod, tc.wantBody, tc.wantCT)
			}
			if got.Header.Get("X-Test-Key") != tenantKey {
				t.Fatalf("credential header = %q", got.Header.Get("X-Test-Key"))
			}
		})
	}
}

// quoteEscaper escapes a Content-Disposition parameter as mime/multipart does.
var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// formPart is one part of a client's multipart upload.
type formPart struct {
	name, filename, contentType, data string
}

func multipartRequest(t *testing.T, parts ...formPart) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		disp := `form-data; name="` + quoteEscaper.Replace(p.name) + `"`
		if p.filename != "" {
			disp += `; filename="` + quoteEscaper.Replace(p.filename) + `"`
		}
		h.Set("Content-Disposition", disp)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p.data)
	}
	mw.Close()
	r := httptest.NewRequest(http.MethodPost, "/api/ai-proxy/orgs/acme/services/x/y/", &buf)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	r.Header.Set("Authorization", "Token aip_client_key_must_not_leak")
	return r
}

// upstreamPart is a part as the provider parsed it.
type upstreamPart struct {
	name, filename, contentType, data string
}

func parseUpstreamMultipart(t *testing.T, got received) []upstreamPart {
	t.Helper()
	mt, params, err := mime.ParseMediaType(got.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		t.Fatalf("upstream Content-Type = %q", got.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(bytes.NewReader(got.Body), params["boundary"])
	var out []upstreamPart
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("upstream multipart: %v", err)
		}
		data, _ := io.ReadAll(p)
		out = append(out, upstreamPart{p.FormName(), p.FileName(), p.Header.Get("Content-Type"), string(data)})
	}
}

// TestMultipartReencoded sends ElevenLabs add-voice as a real upload.
func TestMultipartReencoded(t *testing.T) {
	up := newUpstream(t, nil)
	f := newFixture(t, realCatalog(t, up), Config{})
	f.setCredential(t, aiproxy.SourceTenant, "elevenlabs", tenantKey)
	sample := string(bytes.Repeat([]byte{0xff, 0x00, 0x10, 'x'}, 20000)) // 80 KB, binary
	r := multipartRequest(t,
		formPart{name: "body", data: `{"name":"My voice","labels":["calm","deep"],"remove_background_noise":true,"n":3}`},
		formPart{name: "query", data: `{"dry":"1"}`},
		formPart{name: "headers", data: `{"Accept-Language":"en"}`},
		formPart{name: "files", filename: "a.mp3", contentType: "audio/mpeg", data: sample},
		formPart{name: "files", filename: "b \"q\".wav", data: "RIFF"},
		formPart{name: "files", filename: "voix é\\ñ.mp3", contentType: "audio/mpeg", data: "ID3"},
	)
	before := snap(r)
	w := httptest.NewRecorder()
	if _, err := f.proxy.Invoke(w, r, testOrg, "elevenlabs", "add-voice"); err != nil {
		t.Fatal(err)
	}
	assertUnchanged(t, before, r)
	got := up.only(t)
	if got.Path != "/elevenlabs/v1/voices/add" || got.RawQuery != "dry=1" || got.Header.Get("Xi-Api-Key") != tenantKey ||
		got.Header.Get("Accept-Language") != "en" || got.Header.Get("Authorization") != "" {
		t.Fatalf("upstream got %s?%s headers %v", got.Path, got.RawQuery, got.Header)
	}
	want := []upstreamPart{
		{"labels", "", "", "calm"},
		{"labels", "", "", "deep"},
		{"n", "", "", "3"},
		{"name", "", "", "My voice"},
		{"remove_background_noise", "", "", "true"},
		{"files", "a.mp3", "audio/mpeg", sample},
		{"files", `b "q".wav`, "", "RIFF"},
		{"files", `voix é\ñ.mp3`, "audio/mpeg", "ID3"},
	}
	parts := parseUpstreamMultipart(t, got)
	if len(parts) != len(want) {
		t.Fatalf("upstream got %d parts, want %d: %+v", len(parts), len(want), parts)
	}
	for i := range want {
		if parts[i] != want[i] {
			g := parts[i]
			g.data, want[i].data = g.data[:min(len(g.data), 20)], want[i].data[:min(len(want[i].data), 20)]
			t.Errorf("part %d = %+v, want %+v", i, g, want[i])
		}
	}
	if w.Code != 200 {
		t.Fatalf("client got %d", w.Code)
	}
}

func TestBinaryUpload(t *testing.T) {
	up := newUpstream(t, nil)
	f := newFixture(t, realCatalog(t, up), Config{})
	f.setCredential(t, aiproxy.SourcePlatform, "heygen", platformKey)
	png := "\x89PNG\r\n\x1a\n" + strings.Repeat("\x00\xff", 40000)
	r := multipartRequest(t,
		formPart{name: "query", data: `{"x":"1"}`},
		formPart{name: "file", filename: "cat.png", contentType: "image/png", data: png},
	)
	w := httptest.NewRecorder()
	out, err := f.proxy.Invoke(w, r, testOrg, "heygen", "upload-asset")
	if err != nil {
		t.Fatal(err)
	}
	got := up.only(t)
	if got.Path != "/heygen/v1/asset" || got.RawQuery != "x=1" || got.Header.Get("Content-Type") != "image/png" ||
		got.Header.Get("X-Api-Key") != platformKey || string(got.Body) != png {
		t.Fatalf("upstream got %s?%s type %q key %q body %d bytes (equal %v)", got.Path, got.RawQuery,
			got.Header.Get("Content-Type"), got.Header.Get("X-Api-Key"), len(got.Body), string(got.Body) == png)
	}
	if out.Source != aiproxy.SourcePlatform {
		t.Fatalf("source = %q, want platform fallback", out.Source)
	}

	t.Run("no content type means octet-stream", func(t *testing.T) {
		up := newUpstream(t, nil)
		f := newFixture(t, realCatalog(t, up), Config{})
		f.setCredential(t, aiproxy.SourceTenant, "heygen", tenantKey)
		r := multipartRequest(t, formPart{name: "file", filename: "x.bin", data: "abc"})
		if _, err := f.proxy.Invoke(httptest.NewRecorder(), r, testOrg, "heygen", "upload-asset"); err != nil {
			t.Fatal(err)
		}
		if got := up.only(t); got.Header.Get("Content-Type") != "application/octet-stream" || string(got.Body) != "abc" {
			t.Fatalf("upstream got %q %q", got.Header.Get("Content-Type"), got.Body)
		}
	})
}

// TestUploadRefusals covers the uploads the proxy must refuse, and that it
// refuses them with the client's error, not a 502.
func TestUploadRefusals(t *testing.T) {
	tests := []struct {
		name    string
		action  string
		req     func(t *testing.T) *http.Request
		code    aiproxy.Code
		message string
	}{
		{"binary with a JSON envelope", "upload-asset", func(*testing.T) *http.Request { return invokeRequest(`{}`) },
			aiproxy.CodeInvalid, "This endpoint takes a file upload as multipart/form-data."},
		{"binary without a file", "upload-asset", func(t *testing.T) *http.Request {
			return multipartRequest(t, formPart{name: "query", data: `{}`})
		}, aiproxy.CodeInvalid, "This endpoint takes a file upload as multipart/form-data."},
		{"binary with two files", "upload-asset", func(t *testing.T) *http.Request {
			return multipartRequest(t, formPart{name: "a", filename: "a", data: "1"}, formPart{name: "b", filename: "b", data: "2"})
		}, aiproxy.CodeInvalid, "This endpoint takes exactly one file part."},
		{"multipart to a JSON endpoint", "generate-video", func(t *testing.T) *http.Request {
			return multipartRequest(t, formPart{name: "body", data: `{}`})
		}, aiproxy.CodeInvalid, "This endpoint takes a JSON envelope, not multipart/form-data."},
		{"envelope field twice", "upload-asset", func(t *testing.T) *http.Request {
			return multipartRequest(t, formPart{name: "query", data: `{}`}, formPart{name: "query", data: `{}`},
				formPart{name: "f", filename: "f", data: "x"})
		}, aiproxy.CodeInvalid, `Invalid request envelope: field "query" appears twice.`},
		{"envelope field not JSON", "upload-asset", func(t *testing.T) *http.Request {
			return multipartRequest(t, formPart{name: "query", data: `{nope`}, formPart{name: "f", filename: "f", data: "x"})
		}, aiproxy.CodeInvalid, `Invalid request envelope: form field "query" must hold JSON.`},
		{"broken multipart", "upload-asset", func(t *testing.T) *http.Request {
			r := httptest.NewRequest("POST", "/", strings.NewReader("--zz\r\nnot a part"))
			r.Header.Set("Content-Type", "multipart/form-data; boundary=zz")
			return r
		}, aiproxy.CodeInvalid, "Invalid multipart/form-data request."},
		{"multipart body not an object", "v3-upload-asset", func(t *testing.T) *http.Request {
			return multipartRequest(t, formPart{name: "body", data: `[1]`}, formPart{name: "file", filename: "f", data: "x"})
		}, aiproxy.CodeInvalid, "Invalid request envelope: body must be a JSON object for a multipart endpoint."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, nil)
			f := newFixture(t, realCatalog(t, up), Config{})
			f.setCredential(t, aiproxy.SourceTenant, "heygen", tenantKey)
			w := httptest.NewRecorder()
			_, err := f.proxy.Invoke(w, tc.req(t), testOrg, "heygen", tc.action)
			errorOf(t, err, tc.code, tc.message)
			if w.Body.Len() != 0 || w.Code != 200 || len(w.Header()) != 0 {
				t.Fatalf("proxy wrote a response (%d, %v) although it returned an error", w.Code, w.Header())
			}
		})
	}
}

func TestEnvelopeTooLarge(t *testing.T) {
	up := newUpstream(t, nil)
	f := newFixture(t, realCatalog(t, up), Config{MaxEnvelopeBytes: 64})
	f.setCredential(t, aiproxy.SourceTenant, "heygen", tenantKey)
	big := `{"body":{"x":"` + strings.Repeat("a", 100) + `"}}`
	_, err := f.proxy.Invoke(httptest.NewRecorder(), invokeRequest(big), testOrg, "heygen", "generate-video")
	errorOf(t, err, aiproxy.CodeTooLarge, "Request body exceeds 64 bytes.")

	r := multipartRequest(t, formPart{name: "body", data: big}, formPart{name: "f", filename: "f", data: "x"})
	_, err = f.proxy.Invoke(httptest.NewRecorder(), r, testOrg, "heygen", "v3-upload-asset")
	errorOf(t, err, aiproxy.CodeTooLarge, `Envelope field "body" exceeds 64 bytes.`)
	if n := len(up.requests()); n != 0 {
		t.Fatalf("upstream received %d requests", n)
	}
}

// TestPrepareChecks covers the refusals that come before any upstream call.
func TestPrepareChecks(t *testing.T) {
	tests := []struct {
		name            string
		service, action string
		envelope        string
		code            aiproxy.Code
		field           aiproxy.Field
		message         string
	}{
		{"unknown service", "nope", "tts", `{}`, aiproxy.CodeNotFound, "", "External proxy service 'nope' not found or disabled."},
		{"unknown action", "elevenlabs", "nope", `{}`, aiproxy.CodeNotFound, "", "External proxy service 'elevenlabs/nope' not found or disabled."},
		{"missing path param", "elevenlabs", "tts", `{"body":{}}`, aiproxy.CodeInvalid, aiproxy.FieldError, "Missing required path parameter: voice_id"},
		{"traversal in path param", "elevenlabs", "tts", `{"path_params":{"voice_id":"../../v1/user"}}`, aiproxy.CodeInvalid, aiproxy.FieldError, "Invalid path parameter: voice_id"},
		{"unknown path param", "elevenlabs", "list-voices", `{"path_params":{"x":"1"}}`, aiproxy.CodeInvalid, aiproxy.FieldError, "Unknown path parameter: x"},
		{"auth header override", "elevenlabs", "list-voices", `{"headers":{"XI-API-KEY":"mine"}}`, aiproxy.CodeInvalid, "", `Header "XI-API-KEY" may not be sent to the provider.`},
		{"authorization header", "elevenlabs", "list-voices", `{"headers":{"Authorization":"Bearer x"}}`, aiproxy.CodeInvalid, "", `Header "Authorization" may not be sent to the provider.`},
		{"host header", "elevenlabs", "list-voices", `{"headers":{"Host":"evil.example"}}`, aiproxy.CodeInvalid, "", `Header "Host" may not be sent to the provider.`},
		{"bad envelope", "elevenlabs", "list-voices", `[]`, aiproxy.CodeInvalid, "", "Invalid request envelope: expected a JSON object with body, query, headers and path_params."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, nil)
			f := newFixture(t, realCatalog(t, up), Config{})
			// No credential is stored: each check must come before resolution.
			r := invokeRequest(tc.envelope)
			_, err := f.proxy.Invoke(httptest.NewRecorder(), r, testOrg, tc.service, tc.action)
			e := errorOf(t, err, tc.code, tc.message)
			if e.Field != tc.field {
				t.Fatalf("field = %q, want %q", e.Field, tc.field)
			}
			if n := len(up.requests()); n != 0 {
				t.Fatalf("upstream received %d requests", n)
			}
		})
	}
}

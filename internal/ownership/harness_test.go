package ownership_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/httpapi"
	"github.com/aiproxy/aiproxy/internal/ownership"
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/sandbox"
	"github.com/aiproxy/aiproxy/internal/sqlite"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// The provider keys the sandbox accepts: the platform's, which orgs bee and
// sea both fall back to, and org tee's own.
const (
	hgPlatform = "hg-platform-key"
	elPlatform = "el-platform-key"
	hgTee      = "hg-tee-key"
	elTee      = "el-tee-key"
	laPlatform = "la-platform-key"
	laTee      = "la-tee-key"
)

// A look and a voice the sandbox always has, and ElevenLabs' Rachel.
const (
	stockLook    = "Abigail_expressive_2024112501"
	stockHGVoice = "f38a635bee7a4d1f9b0a654a31d050d2"
	rachel       = "21m00Tcm4TlvDq8ikWAM"
)

// harness is aiproxy's HTTP API with the ownership hooks in front of the
// proxy, on SQLite, with the sandbox as both providers. Orgs bee and sea
// have no credential of their own and fall back to the platform's; org tee
// has its own.
type harness struct {
	t     *testing.T
	sb    *sandbox.Server
	api   string
	db    *sqlite.DB
	keys  map[string]string // org ("" for the platform admin) → aiproxy key
	owner *ownership.Owners
	cat   *catalog.Catalog
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx := context.Background()
	h := &harness{t: t, keys: map[string]string{}}
	h.sb = sandbox.New(sandbox.Config{HeyGenKeys: []string{hgPlatform, hgTee}, ElevenLabsKeys: []string{elPlatform, elTee},
		LiveAvatarKeys: []string{laPlatform, laTee}, RenderTime: 20 * time.Millisecond})
	sbSrv := httptest.NewServer(h.sb)
	t.Cleanup(sbSrv.Close)
	cat, err := catalog.Load(catalog.Options{BaseURLs: map[string]string{
		"heygen": sbSrv.URL + "/heygen", "elevenlabs": sbSrv.URL + "/elevenlabs", "liveavatar": sbSrv.URL + "/liveavatar"}})
	if err != nil {
		t.Fatal(err)
	}
	h.db, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "aiproxy.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.db.Close() })
	mk, _ := vault.GenerateMasterKey()
	raw, _ := vault.ParseMasterKey(mk)
	v, err := vault.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	adm := admin.New(h.db, v, cat, nil)
	for _, org := range []string{"bee", "sea", "tee"} {
		if _, err := adm.CreateOrg(ctx, org, "Org "+org); err != nil {
			t.Fatal(err)
		}
		full, _, err := adm.CreateKey(ctx, org, org+" app", aiproxy.RoleInvoke)
		if err != nil {
			t.Fatal(err)
		}
		h.keys[org] = full
	}
	full, _, err := adm.CreateKey(ctx, "", "operator", aiproxy.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	h.keys[""] = full
	creds := []struct {
		src       aiproxy.Source
		org, name string
		key       string
	}{
		{aiproxy.SourcePlatform, "", "heygen", hgPlatform}, {aiproxy.SourcePlatform, "", "elevenlabs", elPlatform},
		{aiproxy.SourceTenant, "tee", "heygen", hgTee}, {aiproxy.SourceTenant, "tee", "elevenlabs", elTee},
		{aiproxy.SourcePlatform, "", "liveavatar", laPlatform}, {aiproxy.SourceTenant, "tee", "liveavatar", laTee},
	}
	for _, c := range creds {
		if _, err := adm.SetCredential(ctx, c.src, c.org, c.name, aiproxy.CredentialValue{"key": c.key}); err != nil {
			t.Fatal(err)
		}
	}
	p := proxy.New(proxy.Config{Catalog: cat, Credentials: h.db, Vault: v})
	h.owner = ownership.New(h.db, nil)
	api := httptest.NewServer(httpapi.New(httpapi.Config{Catalog: cat, Invoker: p.WithHooks(h.owner), Keys: h.db,
		UserTokens: h.db, Orgs: h.db, Admin: adm}))
	h.cat = cat
	t.Cleanup(api.Close)
	h.api = api.URL + "/api/ai-proxy"
	return h
}

// reply is what a client got.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// detail is the message of an aiproxy error.
func (r reply) detail() string {
	var e struct {
		Detail, Error, Code string
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Detail + e.Error
}

func (h *harness) do(org, method, path, contentType string, body []byte) reply {
	h.t.Helper()
	req, err := http.NewRequest(method, h.api+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Api-Key "+h.keys[org])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, data}
}

// invoke calls an action for org; as is the org whose key is used ("" for
// the platform admin).
func (h *harness) invokeAs(as, org, service, action string, env map[string]any) reply {
	h.t.Helper()
	data, err := json.Marshal(env)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.do(as, "POST", fmt.Sprintf("/orgs/%s/services/%s/%s/", org, service, action), "application/json", data)
}

func (h *harness) invoke(org, service, action string, env map[string]any) reply {
	h.t.Helper()
	return h.invokeAs(org, org, service, action, env)
}

// native calls a provider route through the native passthrough.
func (h *harness) native(org, service, method, path, contentType string, body []byte) reply {
	h.t.Helper()
	return h.do(org, method, fmt.Sprintf("/orgs/%s/native/%s%s", org, service, path), contentType, body)
}

// ok fails the test unless r is a 200 and returns its JSON object.
func (h *harness) ok(what string, r reply) map[string]any {
	h.t.Helper()
	if r.status != 200 {
		h.t.Fatalf("%s = %d, want 200: %s", what, r.status, r.body)
	}
	if !strings.Contains(r.header.Get("Content-Type"), "json") {
		return nil
	}
	return r.json(h.t)
}

// providerCalls is how many requests the sandbox has received.
func (h *harness) providerCalls() int { return len(h.sb.Requests()) }

// refused checks that a call was refused with status and a message holding
// want, and that it reached no provider.
func (h *harness) refused(what string, status int, want string, call func() reply) {
	h.t.Helper()
	before := h.providerCalls()
	r := call()
	if r.status != status || !strings.Contains(r.detail(), want) {
		h.t.Errorf("%s = %d %s, want %d with %q", what, r.status, r.body, status, want)
	}
	if n := h.providerCalls() - before; n != 0 {
		h.t.Errorf("%s reached the provider %d times, want never", what, n)
	}
}

// get reads a string at a dotted path of a decoded answer.
func get(m map[string]any, path string) string {
	var cur any = m
	for _, seg := range strings.Split(path, ".") {
		obj, _ := cur.(map[string]any)
		cur = obj[seg]
	}
	s, _ := cur.(string)
	return s
}

// ids returns the field of every item of the array at path.
func ids(m map[string]any, path, field string) []string {
	var cur any = m
	for _, seg := range strings.Split(path, ".") {
		obj, _ := cur.(map[string]any)
		cur = obj[seg]
	}
	arr, _ := cur.([]any)
	var out []string
	for _, it := range arr {
		obj, _ := it.(map[string]any)
		s, _ := obj[field].(string)
		out = append(out, s)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// multipartBody writes fields and one file part.
func multipartBody(t *testing.T, fields map[string]string, fileField, fileName, fileType string, data []byte) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if fileField != "" {
		hdr := map[string][]string{
			"Content-Disposition": {fmt.Sprintf(`form-data; name=%q; filename=%q`, fileField, fileName)},
			"Content-Type":        {fileType},
		}
		part, err := mw.CreatePart(hdr)
		if err != nil {
			t.Fatal(err)
		}
		part.Write(data)
	}
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

// pngBytes is a tiny PNG the sandbox accepts as an image.
var pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

// generateBody is a v2 render of the stock look, in test mode.
func generateBody(character map[string]any) map[string]any {
	if character == nil {
		character = map[string]any{"type": "avatar", "avatar_id": stockLook, "avatar_style": "normal"}
	}
	return map[string]any{"test": true, "video_inputs": []any{map[string]any{
		"character": character,
		"voice":     map[string]any{"type": "text", "voice_id": stockHGVoice, "input_text": "Hello from a test."},
	}}}
}

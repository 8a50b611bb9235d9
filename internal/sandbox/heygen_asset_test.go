package sandbox_test

import (
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// jpegBytes is enough of a JPEG for the sandbox's type checks.
var jpegBytes = []byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00 fake image body")

// uploadImage uploads a JPEG through the upload host's raw-body route for key and returns
// the asset's id and image_key.
func uploadImage(t *testing.T, f *fixture, key string) (string, string) {
	t.Helper()
	resp, body := f.do(request{method: "POST", path: "/heygen/v1/asset", body: string(jpegBytes),
		header: map[string]string{"X-Api-Key": key, "Content-Type": "image/jpeg"}})
	wantStatus(t, resp, body, 200)
	id, _ := jsonField(t, body, "data.id").(string)
	imageKey, _ := jsonField(t, body, "data.image_key").(string)
	return id, imageKey
}

func TestHeyGenAssetLifecycle(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	first, _ := uploadImage(t, f, hgKey)
	resp, body := f.multipartAs(hgKey, "heygen", "POST", "/v3/assets", file("file", "a.mp3", "audio/mpeg",
		sandbox.Speech("an asset", "x", "eleven_multilingual_v2", "mp3_44100_128")))
	wantStatus(t, resp, body, 200)
	second, _ := jsonField(t, body, "data.asset_id").(string)

	resp, body = f.hg("GET", "/v1/asset/"+first, "")
	wantStatus(t, resp, body, 200)
	if jsonField(t, body, "code") != 100.0 || jsonField(t, body, "data.file_type") != "image" ||
		jsonField(t, body, "data.image_key") != "image/"+first+"/original" {
		t.Errorf("get-asset: %s", body)
	}
	_, body = f.hg("GET", "/v1/asset/list?limit=1", "")
	token, _ := jsonField(t, body, "data.token").(string)
	if !strings.Contains(string(body), `"id":"`+second+`"`) || token != "1" {
		t.Errorf("first page (newest first): %s", body)
	}
	_, body = f.hg("GET", "/v1/asset/list?limit=1&token=1", "")
	if !strings.Contains(string(body), `"id":"`+first+`"`) || jsonField(t, body, "data.token") != nil {
		t.Errorf("second page: %s", body)
	}
	_, body = f.hg("GET", "/v1/asset/list?file_type=audio", "")
	if strings.Contains(string(body), first) || !strings.Contains(string(body), second) {
		t.Errorf("file_type filter: %s", body)
	}
	resp, body = f.hg("GET", "/v3/assets/"+second, "")
	wantStatus(t, resp, body, 200)
	if jsonField(t, body, "data.type") != "audio" || jsonField(t, body, "data.id") != second {
		t.Errorf("v3 get: %s", body)
	}
	url, _ := jsonField(t, body, "data.url").(string)

	resp, body = f.hg("DELETE", "/v3/assets/"+second, "")
	wantResponse(t, resp, body, 200, `{"data":{"id":"`+second+`"}}`)
	resp, body = f.hg("GET", "/v1/asset/"+second, "")
	wantResponse(t, resp, body, 404, `{"code":404,"message":"Asset not found"}`)
	resp, body = f.hg("DELETE", "/v3/assets/"+second, "")
	wantResponse(t, resp, body, 404, `{"error":{"code":"asset_not_found","message":"Asset `+second+` not found","doc_url":"https://developers.heygen.com/docs/error-codes#asset-not-found"}}`)
	if resp, _ := f.do(request{path: strings.TrimPrefix(url, f.srv.URL)}); resp.StatusCode != 404 {
		t.Errorf("deleted file still served: %d", resp.StatusCode)
	}
}

func TestHeyGenAssetsArePerKey(t *testing.T) {
	f := newTwoKeyFixture(t, sandbox.Config{})
	id, _ := uploadImage(t, f, hgKey)
	resp, body := f.as(hgOther, "heygen", "GET", "/v1/asset/"+id, "")
	wantResponse(t, resp, body, 404, `{"code":404,"message":"Asset not found"}`)
	for _, m := range []string{"GET", "DELETE"} {
		if resp, body := f.as(hgOther, "heygen", m, "/v3/assets/"+id, ""); resp.StatusCode != 404 {
			t.Errorf("%s by another key: %d %s", m, resp.StatusCode, body)
		}
	}
	resp, body = f.as(hgOther, "heygen", "GET", "/v1/asset/list", "")
	wantResponse(t, resp, body, 200, `{"code":100,"data":{"assets":[],"token":null},"msg":null,"message":null}`)
	// Another key cannot render with the asset either.
	audio := `{"video_inputs":[{"voice":{"type":"audio","audio_asset_id":"` + id + `"}}]}`
	resp, body = f.as(hgOther, "heygen", "POST", "/v2/video/generate", audio)
	wantResponse(t, resp, body, 400, `{"data":null,"error":{"code":"asset_not_found","message":"Asset `+id+` not found"}}`)
	if resp, _ := f.hg("POST", "/v2/video/generate", audio); resp.StatusCode != 200 {
		t.Errorf("the owner cannot render with its asset: %d", resp.StatusCode)
	}
}

func TestHeyGenAssetListErrors(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	resp, body := f.hg("GET", "/v1/asset/list?limit=101", "")
	wantResponse(t, resp, body, 400, `{"code":40012,"message":"Invalid query parameter: limit must be between 0 and 100"}`)
	resp, body = f.hg("GET", "/v1/asset/list?token=x", "")
	wantResponse(t, resp, body, 400, `{"code":40012,"message":"Invalid query parameter: token"}`)
	resp, body = f.hg("GET", "/v3/assets?limit=0", "")
	wantStatus(t, resp, body, 400)
}

package sandbox_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// createPhotoAvatar makes a photo avatar from a fresh upload for key and returns its id.
func createPhotoAvatar(t *testing.T, f *fixture, key, name string) string {
	t.Helper()
	_, imageKey := uploadImage(t, f, key)
	resp, body := f.as(key, "heygen", "POST", "/v2/photo_avatar", `{"name":"`+name+`","image_key":"`+imageKey+`"}`)
	wantStatus(t, resp, body, 200)
	if jsonField(t, body, "data.status") != "pending" || jsonField(t, body, "data.business_type") != "uploaded" {
		t.Errorf("create answer: %s", body)
	}
	id, _ := jsonField(t, body, "data.id").(string)
	return id
}

// talkingPhotoVideo is a generate body with one talking-photo scene.
func talkingPhotoVideo(photoID string) string {
	return `{"test":true,"video_inputs":[{"character":{"type":"talking_photo","talking_photo_id":"` + photoID + `"},` +
		`"voice":{"type":"text","input_text":"Hello from a photo.","voice_id":"f38a635bee7a4d1f9b0a654a31d050d2"}}]}`
}

func TestHeyGenPhotoAvatarLifecycle(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	id := createPhotoAvatar(t, f, hgKey, "Me")
	// Not usable until trained.
	resp, body := f.hg("POST", "/v2/video/talking_photo", talkingPhotoVideo(id))
	wantResponse(t, resp, body, 400, `{"data":null,"error":{"code":"avatar_not_found","message":"Talking photo `+id+` not found"}}`)

	f.clock.Advance(7 * time.Second)
	_, body = f.hg("GET", "/v2/photo_avatar/"+id, "")
	if jsonField(t, body, "data.status") != "completed" || jsonField(t, body, "data.group_id") != id ||
		!strings.Contains(jsonField(t, body, "data.image_url").(string), "/media/asset/") {
		t.Errorf("trained: %s", body)
	}
	for _, path := range []string{"/v1/talking_photo.list", "/v2/avatars", "/v2/avatar_group.list"} {
		if _, body := f.hg("GET", path, ""); !strings.Contains(string(body), id) {
			t.Errorf("%s does not show the photo avatar", path)
		}
	}
	resp, body = f.hg("GET", "/v2/avatar_group/"+id+"/avatars", "")
	wantStatus(t, resp, body, 200)
	resp, body = f.hg("POST", "/v2/video/talking_photo", talkingPhotoVideo(id))
	wantStatus(t, resp, body, 200)
	video, _ := jsonField(t, body, "data.video_id").(string)
	_, body = f.hg("GET", "/v1/video_status.get?video_id="+video, "")
	if jsonField(t, body, "data.status") != "pending" {
		t.Errorf("talking-photo render: %s", body)
	}
}

func TestHeyGenPhotoAvatarsArePerKey(t *testing.T) {
	f := newTwoKeyFixture(t, sandbox.Config{})
	id := createPhotoAvatar(t, f, hgKey, "Private")
	f.clock.Advance(7 * time.Second)
	resp, body := f.as(hgOther, "heygen", "GET", "/v2/photo_avatar/"+id, "")
	wantResponse(t, resp, body, 404, `{"data":null,"error":{"code":"avatar_not_found","message":"Photo avatar `+id+` not found"}}`)
	resp, body = f.as(hgOther, "heygen", "GET", "/v2/avatar_group/"+id+"/avatars", "")
	wantResponse(t, resp, body, 404, `{"data":null,"error":{"code":"avatar_group_not_found","message":"Avatar group `+id+` not found"}}`)
	resp, body = f.as(hgOther, "heygen", "POST", "/v2/video/talking_photo", talkingPhotoVideo(id))
	wantStatus(t, resp, body, 400)
	for _, path := range []string{"/v1/talking_photo.list", "/v2/avatars", "/v2/avatar_group.list"} {
		if _, body := f.as(hgOther, "heygen", "GET", path, ""); strings.Contains(string(body), id) {
			t.Errorf("%s shows another key's photo avatar", path)
		}
	}
	// Another key's image cannot become a photo avatar either.
	_, imageKey := uploadImage(t, f, hgKey)
	resp, body = f.as(hgOther, "heygen", "POST", "/v2/photo_avatar", `{"name":"x","image_key":"`+imageKey+`"}`)
	wantResponse(t, resp, body, 400, `{"data":null,"error":{"code":"invalid_parameter","message":"image_key is invalid: no uploaded image has this image_key"}}`)
}

func TestHeyGenPhotoAvatarOutcomesAndErrors(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	failed := createPhotoAvatar(t, f, hgKey, "SANDBOX_FAIL")
	f.clock.Advance(7 * time.Second)
	if _, body := f.hg("GET", "/v2/photo_avatar/"+failed, ""); jsonField(t, body, "data.status") != "failed" {
		t.Errorf("failed training: %s", body)
	}
	tests := []struct{ name, path, body, want string }{
		{"name required", "/v2/photo_avatar", `{"image_key":"image/x/original"}`, `{"data":null,"error":{"code":"invalid_parameter","message":"name is invalid: field required"}}`},
		{"image_key required", "/v2/photo_avatar", `{"name":"x"}`, `{"data":null,"error":{"code":"invalid_parameter","message":"image_key is invalid: field required"}}`},
		{"avatar in a talking-photo video", "/v2/video/talking_photo",
			`{"video_inputs":[{"character":{"type":"avatar","avatar_id":"Abigail_expressive_2024112501","avatar_style":"normal"},"voice":{"type":"silence"}}]}`,
			`{"data":null,"error":{"code":"invalid_parameter","message":"video_inputs.0.character.type is invalid: value is not a valid enumeration member; permitted: 'talking_photo'"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.hg("POST", tt.path, tt.body)
			wantResponse(t, resp, body, 400, tt.want)
		})
	}
}

func TestHeyGenAvatarDetailsAndGroups(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	resp, body := f.hg("GET", "/v2/avatar/Abigail_expressive_2024112501/details", "")
	wantStatus(t, resp, body, 200)
	if jsonField(t, body, "data.type") != "avatar" || jsonField(t, body, "data.name") != "Abigail (Upper Body)" ||
		jsonField(t, body, "data.is_public") != true {
		t.Errorf("details: %s", body)
	}
	resp, body = f.hg("GET", "/v2/avatar/Nobody/details", "")
	wantResponse(t, resp, body, 404, `{"data":null,"error":{"code":"avatar_not_found","message":"Avatar Nobody not found or no longer available"}}`)

	resp, body = f.hg("GET", "/v2/avatar_group.list", "")
	wantResponse(t, resp, body, 200, `{"error":null,"data":{"total_count":0,"avatar_group_list":[]}}`)
	_, body = f.hg("GET", "/v2/avatar_group.list?include_public=true", "")
	var groups struct {
		Data struct {
			Total  int `json:"total_count"`
			Groups []struct {
				ID       string `json:"id"`
				NumLooks int    `json:"num_looks"`
			} `json:"avatar_group_list"`
		} `json:"data"`
	}
	decode(t, body, &groups)
	if groups.Data.Total < 10 || groups.Data.Total != len(groups.Data.Groups) {
		t.Fatalf("public groups: %d of %d", len(groups.Data.Groups), groups.Data.Total)
	}
	g := groups.Data.Groups[0]
	_, body = f.hg("GET", "/v2/avatar_group/"+g.ID+"/avatars", "")
	if n := strings.Count(string(body), `"group_id":"`+g.ID+`"`); n != g.NumLooks {
		t.Errorf("group %s lists %d looks, want %d", g.ID, n, g.NumLooks)
	}
	resp, body = f.hg("GET", "/v2/avatar_group.list?include_public=maybe", "")
	wantStatus(t, resp, body, 400)
}

func TestHeyGenWebhookEndpointUpdate(t *testing.T) {
	f := newTwoKeyFixture(t, sandbox.Config{})
	_, body := f.hg("POST", "/v1/webhook/endpoint.add", `{"url":"https://example.com/a"}`)
	id, _ := jsonField(t, body, "data.endpoint_id").(string)

	resp, body := f.hg("PATCH", "/v1/webhook/endpoint.update", `{"endpoint_id":"`+id+`","url":"https://example.com/b","events":["avatar_video.fail"]}`)
	wantStatus(t, resp, body, 200)
	if jsonField(t, body, "data.url") != "https://example.com/b" || !strings.Contains(string(body), `"events":["avatar_video.fail"]`) {
		t.Errorf("update answer: %s", body)
	}
	if _, body := f.hg("GET", "/v1/webhook/endpoint.list", ""); !strings.Contains(string(body), "https://example.com/b") {
		t.Errorf("list after update: %s", body)
	}
	tests := []struct {
		name, key, body string
		status          int
		want            string
	}{
		{"another key", hgOther, `{"endpoint_id":"` + id + `","url":"https://evil.example/"}`, 404, `{"code":404,"message":"Webhook endpoint not found"}`},
		{"no id", hgKey, `{"url":"https://example.com/c"}`, 400, `{"code":40001,"message":"Missing required parameter: endpoint_id"}`},
		{"bad url", hgKey, `{"endpoint_id":"` + id + `","url":"ftp://x"}`, 400, `{"code":400175,"message":"Invalid parameter: url"}`},
		{"bad event", hgKey, `{"endpoint_id":"` + id + `","events":["nope"]}`, 400, `{"code":400175,"message":"Invalid parameter: unknown event nope"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.as(tt.key, "heygen", "PATCH", "/v1/webhook/endpoint.update", tt.body)
			wantResponse(t, resp, body, tt.status, tt.want)
		})
	}
}

package sandbox_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

func TestHeyGenAuth(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	const v2Unauthorized = `{"data":null,"error":{"code":"internal_error","message":"Unauthorized"}}`
	const v1Unauthorized = `{"code":400112,"message":"Unauthorized"}`
	tests := []struct {
		name   string
		path   string
		header map[string]string
		status int
		body   string
	}{
		{"v2 missing key", "/heygen/v2/avatars", nil, 401, v2Unauthorized},
		{"v2 wrong key", "/heygen/v2/voices", map[string]string{"X-Api-Key": "nope"}, 401, v2Unauthorized},
		{"v1 missing key", "/heygen/v1/video_status.get?video_id=x", nil, 401, v1Unauthorized},
		{"v1 wrong key", "/heygen/v1/video.list", map[string]string{"X-Api-Key": "nope"}, 401, v1Unauthorized},
		{"lower-case header name", "/heygen/v2/templates", map[string]string{"x-api-key": hgKey}, 200, ""},
		{"upper-case header name", "/heygen/v2/templates", map[string]string{"X-API-KEY": hgKey}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.do(request{path: tt.path, header: tt.header})
			wantResponse(t, resp, body, tt.status, tt.body)
		})
	}
}

func TestHeyGenAddKey(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	req := request{path: "/heygen/v2/templates", header: map[string]string{"X-Api-Key": "later"}}
	if resp, _ := f.do(req); resp.StatusCode != 401 {
		t.Fatalf("before AddKey: status %d, want 401", resp.StatusCode)
	}
	f.sb.AddKey(sandbox.HeyGen, "later")
	if resp, _ := f.do(req); resp.StatusCode != 200 {
		t.Fatalf("after AddKey: status %d, want 200", resp.StatusCode)
	}
}

// avatarList is the part of GET /v2/avatars the tests read.
type avatarList struct {
	Error any `json:"error"`
	Data  struct {
		Avatars []struct {
			AvatarID        string   `json:"avatar_id"`
			AvatarName      string   `json:"avatar_name"`
			Gender          string   `json:"gender"`
			PreviewImageURL string   `json:"preview_image_url"`
			PreviewVideoURL string   `json:"preview_video_url"`
			Tags            []string `json:"tags"`
		} `json:"avatars"`
		TalkingPhotos []struct {
			TalkingPhotoID string `json:"talking_photo_id"`
		} `json:"talking_photos"`
	} `json:"data"`
}

func TestHeyGenAvatars(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	resp, body := f.hg("GET", "/v2/avatars", "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, truncate(body))
	}
	var list avatarList
	decode(t, body, &list)
	avatars := list.Data.Avatars
	if n := len(avatars); n < 300 || n > 600 {
		t.Errorf("got %d avatars, want 300–600", n)
	}
	if n := len(list.Data.TalkingPhotos); n < 24 {
		t.Errorf("got %d talking photos, want a few dozen", n)
	}
	byID := map[string]string{}
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	hexCount := 0
	for _, a := range avatars {
		if _, dup := byID[a.AvatarID]; dup {
			t.Errorf("duplicate avatar_id %s", a.AvatarID)
		}
		byID[a.AvatarID] = a.AvatarName
		if hex32.MatchString(a.AvatarID) {
			hexCount++
		}
		if !strings.HasPrefix(a.PreviewImageURL, f.srv.URL+"/heygen/") || a.Gender == "" {
			t.Fatalf("avatar %+v: want a preview URL on the sandbox and a gender", a)
		}
	}
	if byID["Abigail_expressive_2024112501"] != "Abigail (Upper Body)" {
		t.Errorf("Abigail missing or misnamed: %q", byID["Abigail_expressive_2024112501"])
	}
	if _, ok := byID["Kristin_public_3_20240108"]; !ok {
		t.Error("Kristin_public_3_20240108 missing")
	}
	if hexCount == 0 || hexCount == len(avatars) {
		t.Errorf("%d of %d avatar ids are 32-hex; want some but not all", hexCount, len(avatars))
	}
}

func TestHeyGenCatalogIsSeeded(t *testing.T) {
	get := func(seed int64) string {
		f := newFixture(t, sandbox.Config{Seed: seed})
		_, body := f.hg("GET", "/v2/avatars", "")
		_, voices := f.hg("GET", "/v2/voices", "")
		return strings.ReplaceAll(string(body)+string(voices), f.srv.URL, "")
	}
	tests := []struct {
		name     string
		a, b     int64
		wantSame bool
	}{
		{"same seed", 7, 7, true},
		{"different seed", 7, 8, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if same := get(tt.a) == get(tt.b); same != tt.wantSame {
				t.Errorf("catalogs equal = %v, want %v", same, tt.wantSame)
			}
		})
	}
}

func TestHeyGenVoices(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	_, body := f.hg("GET", "/v2/voices", "")
	var list struct {
		Data struct {
			Voices []map[string]any `json:"voices"`
		} `json:"data"`
	}
	decode(t, body, &list)
	if n := len(list.Data.Voices); n < 24 {
		t.Fatalf("got %d voices, want dozens", n)
	}
	found := map[string]map[string]any{}
	for _, v := range list.Data.Voices {
		found[v["voice_id"].(string)] = v
		for _, field := range []string{"language", "gender", "name", "preview_audio", "support_pause", "emotion_support", "support_interactive_avatar", "support_locale"} {
			if _, ok := v[field]; !ok {
				t.Fatalf("voice %v lacks %s", v["voice_id"], field)
			}
		}
	}
	brian := found["f38a635bee7a4d1f9b0a654a31d050d2"]
	if brian == nil || brian["name"] != "Chill Brian" || brian["language"] != "English" {
		t.Errorf("Chill Brian = %v", brian)
	}
	if found["2f72ee82b83d4b00af16c4771d611752"] == nil {
		t.Error("the Postman example voice is missing")
	}
}

func TestHeyGenTemplates(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	_, body := f.hg("GET", "/v2/templates", "")
	var list struct {
		Data struct {
			Templates []struct {
				TemplateID  string `json:"template_id"`
				AspectRatio string `json:"aspect_ratio"`
			} `json:"templates"`
		} `json:"data"`
	}
	decode(t, body, &list)
	if len(list.Data.Templates) < 2 {
		t.Fatalf("got %d templates", len(list.Data.Templates))
	}
	var withScript int
	for _, tpl := range list.Data.Templates {
		_, body := f.hg("GET", "/v2/template/"+tpl.TemplateID, "")
		var got struct {
			Data struct {
				Variables map[string]struct {
					Name, Type string
				} `json:"variables"`
			} `json:"data"`
		}
		decode(t, body, &got)
		if v, ok := got.Data.Variables["script"]; ok && v.Type == "text" && v.Name == "script" {
			withScript++
		}
	}
	if withScript == 0 {
		t.Error("no template has a text variable named script")
	}
	resp, body := f.hg("GET", "/v2/template/00000000000000000000000000000000", "")
	wantResponse(t, resp, body, 404, `{"data":null,"error":{"code":"template_not_found","message":"Template 00000000000000000000000000000000 not found"}}`)
}

func TestHeyGenRouting(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	tests := []struct {
		name, method, path string
		status             int
		body               string
	}{
		{"method not allowed", "POST", "/v2/avatars", 405,
			`{"data":null,"error":{"code":"method_not_allowed","message":"Method Not Allowed"},"sandbox_unknown_route":"POST /v2/avatars"}`},
		{"unknown v2 path", "GET", "/v2/nothing", 404,
			`{"data":null,"error":{"code":"not_found","message":"Not Found"},"sandbox_unknown_route":"GET /v2/nothing"}`},
		{"unknown v1 path", "GET", "/v1/nothing", 404, `{"code":404,"message":"Not Found","sandbox_unknown_route":"GET /v1/nothing"}`},
		{"preflight", "OPTIONS", "/v2/video/generate", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.hg(tt.method, tt.path, "")
			wantResponse(t, resp, body, tt.status, tt.body)
		})
	}
}

func TestHeyGenGenerateValidation(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	scene := func(character, voice string) string {
		return `{"video_inputs":[{"character":` + character + `,"voice":` + voice + `}]}`
	}
	avatar := `{"type":"avatar","avatar_id":"Abigail_expressive_2024112501","avatar_style":"normal"}`
	voice := `{"type":"text","input_text":"Hello there.","voice_id":"f38a635bee7a4d1f9b0a654a31d050d2"}`
	invalid := func(msg string) string {
		return `{"data":null,"error":{"code":"invalid_parameter","message":"` + msg + `"}}`
	}
	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"missing video_inputs", `{"test":true}`, 400, invalid("video_inputs is invalid: field required")},
		{"empty video_inputs", `{"video_inputs":[]}`, 400, invalid("video_inputs is invalid: field required")},
		{"malformed JSON", `{"video_inputs":`, 400, invalid("body is invalid: request body is not valid JSON")},
		{"wrong character type", scene(`{"type":"robot"}`, voice), 400,
			invalid("video_inputs.0.character.type is invalid: value is not a valid enumeration member; permitted: 'avatar', 'talking_photo'")},
		{"missing avatar_style", scene(`{"type":"avatar","avatar_id":"Abigail_expressive_2024112501"}`, voice), 400,
			invalid("video_inputs.0.character.avatar_style is invalid: field required")},
		{"missing avatar_id", scene(`{"type":"avatar","avatar_style":"normal"}`, voice), 400,
			invalid("video_inputs.0.character.avatar_id is invalid: field required")},
		{"unknown avatar", scene(`{"type":"avatar","avatar_id":"Nobody_1","avatar_style":"normal"}`, voice), 400,
			`{"data":null,"error":{"code":"avatar_not_found","message":"Avatar Nobody_1 not found or no longer available"}}`},
		{"missing voice", `{"video_inputs":[{"character":` + avatar + `}]}`, 400, invalid("video_inputs.0.voice is invalid: field required")},
		{"wrong voice type", scene(avatar, `{"type":"song"}`), 400,
			invalid("video_inputs.0.voice.type is invalid: value is not a valid enumeration member; permitted: 'text', 'audio', 'silence'")},
		{"missing input_text", scene(avatar, `{"type":"text","voice_id":"f38a635bee7a4d1f9b0a654a31d050d2"}`), 400,
			invalid("video_inputs.0.voice.input_text is invalid: field required")},
		{"input_text too long", scene(avatar, `{"type":"text","voice_id":"f38a635bee7a4d1f9b0a654a31d050d2","input_text":"`+strings.Repeat("a", 5001)+`"}`), 400,
			invalid("video_inputs.0.voice.input_text is invalid: ensure this value has at most 5000 characters")},
		{"missing voice_id", scene(avatar, `{"type":"text","input_text":"Hi"}`), 400,
			invalid("video_inputs.0.voice.voice_id is invalid: field required")},
		{"unknown voice", scene(avatar, `{"type":"text","input_text":"Hi","voice_id":"ffffffffffffffffffffffffffffffff"}`), 400,
			`{"data":null,"error":{"code":"voice_not_found","message":"Voice ffffffffffffffffffffffffffffffff not found"}}`},
		{"odd width", `{"dimension":{"width":1279,"height":720},"video_inputs":[{"character":` + avatar + `,"voice":` + voice + `}]}`, 400,
			invalid("dimension.width is invalid: must be an even number")},
		{"tiny height", `{"dimension":{"width":1280,"height":64},"video_inputs":[{"character":` + avatar + `,"voice":` + voice + `}]}`, 400,
			invalid("dimension.height is invalid: ensure this value is between 128 and 4096")},
		{"mistyped field", `{"video_inputs":"yes"}`, 400, invalid("video_inputs is invalid: value is not a valid slice")},
		{"silence scene", `{"video_inputs":[{"voice":{"type":"silence","duration":2}}]}`, 200, ""},
		{"contract example", `{"test":true,"video_inputs":[{"character":` + avatar + `,"voice":` + voice + `}],"dimension":{"width":1280,"height":720}}`, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.hg("POST", "/v2/video/generate", tt.body)
			wantResponse(t, resp, body, tt.status, tt.want)
			if tt.status == 200 && !regexp.MustCompile(`^\{"data":\{"video_id":"[0-9a-f]{32}"\},"error":null\}$`).Match(body) {
				t.Errorf("success body = %s", body)
			}
		})
	}
}

func TestHeyGenHeaders(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	resp, _ := f.hg("GET", "/v2/templates", "")
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := resp.Header.Get("Server"); got != "gunicorn" {
		t.Errorf("Server = %q", got)
	}
}

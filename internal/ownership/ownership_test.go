package ownership_test

import (
	"encoding/json"
	"testing"
	"time"
)

// beeObjects are the provider objects org bee made on the shared platform
// credential, one of every kind the catalog records.
type beeObjects struct {
	video, v3video, asset, imageKey, v3asset, photo, translation, history, dubbing, voice string
}

// makeBeeObjects creates them through aiproxy, on the invoke and native
// routes alike.
func makeBeeObjects(h *harness) beeObjects {
	t := h.t
	var o beeObjects
	o.video = get(h.ok("generate-video", h.invoke("bee", "heygen", "generate-video", map[string]any{"body": generateBody(nil)})), "data.video_id")
	o.v3video = get(h.ok("v3-create-video", h.invoke("bee", "heygen", "v3-create-video", map[string]any{"body": map[string]any{
		"type": "avatar", "avatar_id": stockLook, "script": "Hello.", "voice_id": stockHGVoice}})), "data.video_id")
	asset := h.ok("upload-asset", h.native("bee", "heygen", "POST", "/v1/asset", "image/png", pngBytes))
	o.asset, o.imageKey = get(asset, "data.id"), get(asset, "data.image_key")
	body, ct := multipartBody(t, nil, "file", "pic.png", "image/png", pngBytes)
	o.v3asset = get(h.ok("v3-upload-asset", h.native("bee", "heygen", "POST", "/v3/assets", ct, body)), "data.asset_id")
	o.photo = get(h.ok("create-photo-avatar", h.invoke("bee", "heygen", "create-photo-avatar", map[string]any{
		"body": map[string]any{"name": "Bee's CEO", "image_key": o.imageKey}})), "data.id")
	o.translation = get(h.ok("translate-video", h.invoke("bee", "heygen", "translate-video", map[string]any{
		"body": map[string]any{"video_url": "https://example.com/bee.mp4", "output_language": "Spanish"}})), "data.video_translate_id")
	tts := h.invoke("bee", "elevenlabs", "tts", map[string]any{"path_params": map[string]any{"voice_id": rachel},
		"body": map[string]any{"text": "Bee's secret memo."}})
	h.ok("tts", tts)
	o.history = tts.header.Get("History-Item-Id")
	body, ct = multipartBody(t, map[string]string{"target_lang": "es", "source_url": "https://example.com/bee.mp3"}, "", "", "", nil)
	o.dubbing = get(h.ok("create-dubbing", h.native("bee", "elevenlabs", "POST", "/v1/dubbing", ct, body)), "dubbing_id")
	body, ct = multipartBody(t, map[string]string{"name": "Bee's CEO"}, "files", "ceo.mp3", "audio/mpeg", []byte("ID3 not really"))
	o.voice = get(h.ok("add-voice", h.native("bee", "elevenlabs", "POST", "/v1/voices/add", ct, body)), "voice_id")
	for name, id := range map[string]string{"video": o.video, "v3 video": o.v3video, "asset": o.asset, "v3 asset": o.v3asset,
		"photo avatar": o.photo, "translation": o.translation, "history item": o.history, "dubbing": o.dubbing, "voice": o.voice} {
		if id == "" {
			t.Fatalf("bee's %s has no id", name)
		}
	}
	time.Sleep(50 * time.Millisecond) // renders and photo avatar training finish (RenderTime)
	return o
}

func path(id string) map[string]any {
	return map[string]any{"path_params": map[string]any{"video_id": id}}
}

func pathParam(name, id string) map[string]any {
	return map[string]any{"path_params": map[string]any{name: id}}
}

func query(name, id string) map[string]any { return map[string]any{"query": map[string]any{name: id}} }

// TestSharedAccountIsCarvedPerOrg is the attacker's walk through the shared
// platform account: org sea tries to reach every object org bee made, by
// every endpoint that takes an id, on the invoke and native routes. Each
// try is the contract's 404 and reaches no provider; bee still reaches
// its own.
func TestSharedAccountIsCarvedPerOrg(t *testing.T) {
	h := newHarness(t)
	o := makeBeeObjects(h)
	const hg, el = "heygen", "elevenlabs"
	cases := []struct {
		service, action string
		env             map[string]any
		want            string
	}{
		{hg, "video-status", query("video_id", o.video), "Job '" + o.video + "' of external proxy service 'heygen' not found."},
		{hg, "delete-video", query("video_id", o.video), "Video '" + o.video + "' of external proxy service 'heygen' not found."},
		{hg, "delete-video", query("video_id", o.translation), "Video '" + o.translation + "'"},
		{hg, "v3-get-video", path(o.v3video), "Job '" + o.v3video + "'"},
		{hg, "v3-delete-video", path(o.v3video), "Video '" + o.v3video + "'"},
		{hg, "v3-delete-video", path(o.video), "Video '" + o.video + "'"},
		{hg, "get-asset", pathParam("asset_id", o.asset), "Asset '" + o.asset + "'"},
		{hg, "get-asset", pathParam("asset_id", o.v3asset), "Asset '" + o.v3asset + "'"},
		{hg, "photo-avatar-train-status", pathParam("photo_avatar_id", o.photo), "Photo avatar '" + o.photo + "'"},
		{hg, "get-avatar-details", pathParam("avatar_id", o.photo), "Photo avatar '" + o.photo + "'"},
		{hg, "list-avatar-group-avatars", pathParam("group_id", o.photo), "Photo avatar '" + o.photo + "'"},
		{hg, "v3-get-avatar-group", pathParam("group_id", o.photo), "Photo avatar '" + o.photo + "'"},
		{hg, "translation-status", pathParam("video_translate_id", o.translation), "Translation '" + o.translation + "'"},
		{hg, "generate-talking-photo", map[string]any{"body": generateBody(map[string]any{"type": "talking_photo", "talking_photo_id": o.photo})},
			"Photo avatar '" + o.photo + "'"},
		{hg, "generate-video", map[string]any{"body": map[string]any{"test": true, "video_inputs": []any{map[string]any{
			"character": map[string]any{"type": "avatar", "avatar_id": stockLook, "avatar_style": "normal"},
			"voice":     map[string]any{"type": "audio", "audio_asset_id": o.asset}}}}}, "Asset '" + o.asset + "'"},
		{hg, "v3-create-video", map[string]any{"body": map[string]any{"type": "avatar", "avatar_id": o.photo, "script": "Hi.",
			"voice_id": stockHGVoice}}, "Photo avatar '" + o.photo + "'"},
		{el, "get-history-item", pathParam("history_item_id", o.history), "History item '" + o.history + "'"},
		{el, "get-history-audio", pathParam("history_item_id", o.history), "History item '" + o.history + "'"},
		{el, "delete-history-item", pathParam("history_item_id", o.history), "History item '" + o.history + "'"},
		{el, "get-dubbing", pathParam("dubbing_id", o.dubbing), "Dubbing '" + o.dubbing + "'"},
		{el, "get-dubbed-audio", map[string]any{"path_params": map[string]any{"dubbing_id": o.dubbing, "language_code": "es"}}, "Dubbing '" + o.dubbing + "'"},
		{el, "delete-dubbing", pathParam("dubbing_id", o.dubbing), "Dubbing '" + o.dubbing + "'"},
		{el, "get-voice", pathParam("voice_id", o.voice), "Voice '" + o.voice + "'"},
		{el, "get-voice-settings", pathParam("voice_id", o.voice), "Voice '" + o.voice + "'"},
		{el, "delete-voice", pathParam("voice_id", o.voice), "Voice '" + o.voice + "'"},
		{el, "tts", map[string]any{"path_params": map[string]any{"voice_id": o.voice}, "body": map[string]any{"text": "Say it as bee."}},
			"Voice '" + o.voice + "'"},
		{el, "tts-stream", map[string]any{"path_params": map[string]any{"voice_id": o.voice}, "body": map[string]any{"text": "Hi."}},
			"Voice '" + o.voice + "'"},
	}
	for _, tc := range cases {
		h.refused("sea "+tc.service+"/"+tc.action, 404, tc.want, func() reply { return h.invoke("sea", tc.service, tc.action, tc.env) })
	}
	// A case variant of bee's id is bee's id.
	h.refused("sea get-history-item with bee's id in upper case", 404, "History item", func() reply {
		return h.invoke("sea", el, "get-history-item", pathParam("history_item_id", upper(o.history)))
	})

	// The native routes run the same hooks.
	natives := []struct{ service, method, path, want string }{
		{hg, "DELETE", "/v1/video.delete?video_id=" + o.video, "Video '" + o.video + "'"},
		{hg, "GET", "/v1/video_status.get?video_id=" + o.video, "Job '" + o.video + "'"},
		{hg, "GET", "/v3/videos/" + o.v3video, "Job '" + o.v3video + "'"},
		{hg, "GET", "/v1/asset/" + o.asset, "Asset '" + o.asset + "'"},
		{el, "GET", "/v1/history/" + o.history + "/audio", "History item '" + o.history + "'"},
		{el, "DELETE", "/v1/voices/" + o.voice, "Voice '" + o.voice + "'"},
	}
	for _, tc := range natives {
		h.refused("sea native "+tc.method+" "+tc.path, 404, tc.want, func() reply { return h.native("sea", tc.service, tc.method, tc.path, "", nil) })
	}
	body, ct := multipartBody(t, map[string]string{"name": "Mine now"}, "", "", "", nil)
	h.refused("sea native edit of bee's voice", 404, "Voice '"+o.voice+"'", func() reply {
		return h.native("sea", el, "POST", "/v1/voices/"+o.voice+"/edit", ct, body)
	})

	// Bee still reaches every object.
	h.ok("bee video-status", h.invoke("bee", hg, "video-status", query("video_id", o.video)))
	h.ok("bee v3-get-video", h.invoke("bee", hg, "v3-get-video", path(o.v3video)))
	h.ok("bee get-asset", h.invoke("bee", hg, "get-asset", pathParam("asset_id", o.asset)))
	h.ok("bee photo-avatar-train-status", h.invoke("bee", hg, "photo-avatar-train-status", pathParam("photo_avatar_id", o.photo)))
	h.ok("bee translation-status", h.invoke("bee", hg, "translation-status", pathParam("video_translate_id", o.translation)))
	h.ok("bee get-history-item", h.invoke("bee", el, "get-history-item", pathParam("history_item_id", o.history)))
	h.ok("bee get-history-audio", h.invoke("bee", el, "get-history-audio", pathParam("history_item_id", o.history)))
	h.ok("bee get-dubbing", h.invoke("bee", el, "get-dubbing", pathParam("dubbing_id", o.dubbing)))
	h.ok("bee get-voice", h.invoke("bee", el, "get-voice", pathParam("voice_id", o.voice)))
	h.ok("bee tts with its own voice", h.invoke("bee", el, "tts", map[string]any{"path_params": map[string]any{"voice_id": o.voice},
		"body": map[string]any{"text": "Hi."}}))
	h.ok("bee generate-talking-photo", h.invoke("bee", hg, "generate-talking-photo", map[string]any{
		"body": generateBody(map[string]any{"type": "talking_photo", "talking_photo_id": o.photo})}))
	h.ok("bee native video.delete", h.native("bee", hg, "DELETE", "/v1/video.delete?video_id="+o.video, "", nil))
	h.ok("bee delete-history-item", h.invoke("bee", el, "delete-history-item", pathParam("history_item_id", o.history)))

	// Stock objects stay everyone's.
	h.ok("sea get-voice of Rachel", h.invoke("sea", el, "get-voice", pathParam("voice_id", rachel)))
	h.ok("sea tts with Rachel", h.invoke("sea", el, "tts", map[string]any{"path_params": map[string]any{"voice_id": rachel},
		"body": map[string]any{"text": "Hi."}}))
	h.ok("sea v3-create-video with a stock look", h.invoke("sea", hg, "v3-create-video", map[string]any{"body": map[string]any{
		"type": "avatar", "avatar_id": stockLook, "script": "Hi.", "voice_id": stockHGVoice}}))
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// TestUnrecordedIDs: on the shared account an id aiproxy never saw could be
// anyone's (made before aiproxy recorded objects, or by hand), so acting
// on it is refused unless the kind has stock objects. Ids given twice, or
// not at all, are refused before anything is looked up.
func TestUnrecordedIDs(t *testing.T) {
	h := newHarness(t)
	never := "0123456789abcdef0123456789abcdef"
	h.refused("delete of a never-seen video", 404, "Video '"+never+"'", func() reply {
		return h.invoke("sea", "heygen", "delete-video", query("video_id", never))
	})
	h.refused("read of a never-seen history item", 404, "History item 'nope'", func() reply {
		return h.invoke("sea", "elevenlabs", "get-history-item", pathParam("history_item_id", "nope"))
	})
	h.refused("delete without a video id", 400, "exactly one query parameter video_id", func() reply {
		return h.invoke("sea", "heygen", "delete-video", map[string]any{})
	})
	h.refused("delete with two video ids", 400, "only once", func() reply {
		return h.invoke("sea", "heygen", "delete-video", map[string]any{"query": map[string]any{"video_id": []any{"a", "b"}}})
	})
	h.refused("delete with video_id and VIDEO_ID", 400, "only once", func() reply {
		return h.native("sea", "heygen", "DELETE", "/v1/video.delete?video_id=a&VIDEO_ID=b", "", nil)
	})
	// A body that names a member twice, in another letter case: both
	// values are checked.
	o := makeBeeObjects(h)
	dup := []byte(`{"type":"avatar","avatar_id":"` + stockLook + `","Avatar_ID":"` + o.photo + `","script":"Hi.","voice_id":"` + stockHGVoice + `"}`)
	h.refused("v3-create-video with bee's look in a second member", 404, "Photo avatar '"+o.photo+"'", func() reply {
		return h.invoke("sea", "heygen", "v3-create-video", map[string]any{"body": json.RawMessage(dup)})
	})
	// Stock kinds: an unrecorded voice may be a premade one, and passes to
	// the provider, which answers for itself.
	before := h.providerCalls()
	if r := h.invoke("sea", "elevenlabs", "get-voice", pathParam("voice_id", "NoSuchVoice0000000000")); r.status != 404 {
		t.Errorf("get-voice of an unknown voice = %d %s, want the provider's 404", r.status, r.body)
	}
	if h.providerCalls() != before+1 {
		t.Errorf("get-voice of an unknown stock-kind id made %d provider calls, want 1", h.providerCalls()-before)
	}
}

// TestListsShowOnlyTheOrgsOwn: every list on the shared account shows an
// org its own objects and the stock ones, never another org's.
func TestListsShowOnlyTheOrgsOwn(t *testing.T) {
	h := newHarness(t)
	o := makeBeeObjects(h)
	sea := makeSeaVideo(h)
	const hg, el = "heygen", "elevenlabs"
	lists := []struct {
		service, action string
		env             map[string]any
		items, field    string
		bee             string // bee's object the list would show
		stock           bool   // the list also holds stock items that must stay
	}{
		{hg, "list-videos", nil, "data.videos", "video_id", o.video, false},
		{hg, "list-videos", nil, "data.videos", "video_id", o.translation, false},
		{hg, "v3-list-videos", nil, "data", "id", o.v3video, false},
		{hg, "list-assets", nil, "data.assets", "id", o.asset, false},
		{hg, "list-assets", nil, "data.assets", "id", o.v3asset, false},
		{hg, "list-talking-photos", nil, "data", "id", o.photo, true},
		{hg, "list-avatars", nil, "data.talking_photos", "talking_photo_id", o.photo, true},
		{hg, "list-avatar-groups", query("include_public", "true"), "data.avatar_group_list", "id", o.photo, true},
		{el, "get-history", nil, "history", "history_item_id", o.history, false},
		{el, "list-voices", nil, "voices", "voice_id", o.voice, true},
		{el, "search-voices", query("page_size", "100"), "voices", "voice_id", o.voice, true},
	}
	for _, l := range lists {
		env := l.env
		if env == nil {
			env = map[string]any{}
		}
		beeSees := ids(h.ok("bee "+l.action, h.invoke("bee", l.service, l.action, env)), l.items, l.field)
		if !contains(beeSees, l.bee) {
			t.Errorf("bee's %s lacks its own %s: %v", l.action, l.bee, beeSees)
		}
		seaSees := ids(h.ok("sea "+l.action, h.invoke("sea", l.service, l.action, env)), l.items, l.field)
		if contains(seaSees, l.bee) {
			t.Errorf("sea's %s shows bee's %s", l.action, l.bee)
		}
		if l.stock && len(seaSees) == 0 {
			t.Errorf("sea's %s lost the stock items", l.action)
		}
		// The native route is filtered the same way.
		u := map[string]string{"list-videos": "/v1/video.list", "get-history": "/v1/history", "list-voices": "/v1/voices"}[l.action]
		if u != "" {
			n := ids(h.ok("sea native "+u, h.native("sea", l.service, "GET", u, "", nil)), l.items, l.field)
			if contains(n, l.bee) {
				t.Errorf("sea's native %s shows bee's %s", u, l.bee)
			}
		}
	}
	seaVideos := ids(h.ok("sea list-videos", h.invoke("sea", hg, "list-videos", map[string]any{})), "data.videos", "video_id")
	if len(seaVideos) != 1 || seaVideos[0] != sea {
		t.Errorf("sea's list-videos = %v, want exactly its own %s", seaVideos, sea)
	}
}

// makeSeaVideo starts one video for sea.
func makeSeaVideo(h *harness) string {
	return get(h.ok("sea generate-video", h.invoke("sea", "heygen", "generate-video", map[string]any{"body": generateBody(nil)})), "data.video_id")
}

// TestListPaging: a page keeps the provider's token, so an org that follows
// tokens sees all of its own items and none of another's, while pages may
// hold fewer items than asked for.
func TestListPaging(t *testing.T) {
	h := newHarness(t)
	want, bees := map[string]bool{}, map[string]bool{}
	for i := range 6 {
		org := "bee"
		if i%2 == 1 {
			org = "sea"
		}
		r := h.invoke(org, "elevenlabs", "tts", map[string]any{"path_params": map[string]any{"voice_id": rachel},
			"body": map[string]any{"text": "Line " + string(rune('a'+i))}})
		h.ok("tts", r)
		if org == "sea" {
			want[r.header.Get("History-Item-Id")] = true
		} else {
			bees[r.header.Get("History-Item-Id")] = true
		}
	}
	got := map[string]bool{}
	pages, short := 0, 0
	q := map[string]any{"page_size": "2"}
	for pages < 10 {
		page := h.ok("sea get-history", h.invoke("sea", "elevenlabs", "get-history", map[string]any{"query": q}))
		pages++
		items := ids(page, "history", "history_item_id")
		if len(items) < 2 {
			short++
		}
		for _, id := range items {
			if !want[id] {
				t.Errorf("sea's history page holds %s, not sea's", id)
			}
			got[id] = true
		}
		more, _ := page["has_more"].(bool)
		// The cursor is an item's id: it names one of bee's only when no
		// other value moves paging on, a page of bee's alone with more to
		// come.
		if cur, _ := page["last_history_item_id"].(string); bees[cur] && (len(items) > 0 || !more) {
			t.Errorf("sea's page %d (%d items, has_more %v) names bee's item %s as its cursor", pages, len(items), more, cur)
		}
		if !more {
			break
		}
		q = map[string]any{"page_size": "2", "start_after_history_item_id": page["last_history_item_id"]}
	}
	if len(got) != len(want) {
		t.Errorf("sea saw %d of its %d history items over %d pages", len(got), len(want), pages)
	}
	if short == 0 {
		t.Errorf("no page was short: the test did not interleave orgs")
	}
}

// TestAccountWideEndpoints: the shared account's settings are a platform
// admin's; an org key gets a 403 that points to aiproxy's own webhooks.
func TestAccountWideEndpoints(t *testing.T) {
	h := newHarness(t)
	account := []struct {
		service, action string
		env             map[string]any
		hint            bool
	}{
		{"heygen", "add-webhook", map[string]any{"body": map[string]any{"url": "https://sea.example/hook"}}, true},
		{"heygen", "list-webhooks", nil, true},
		{"heygen", "update-webhook", map[string]any{"body": map[string]any{"endpoint_id": "x", "url": "https://sea.example/h"}}, true},
		{"heygen", "delete-webhook", query("endpoint_id", "x"), true},
		{"heygen", "get-remaining-quota", nil, false},
		{"heygen", "v3-get-current-user", nil, false},
		{"elevenlabs", "get-user", nil, false},
		{"elevenlabs", "get-subscription", nil, false},
		// Provider tokens reach the provider directly, outside aiproxy's
		// ownership and metering: account-wide too.
		{"elevenlabs", "single-use-token", map[string]any{"path_params": map[string]any{"token_type": "realtime_scribe"}}, false},
		{"elevenlabs", "agent-signed-url", query("agent_id", "agent_x"), false},
		{"elevenlabs", "agent-conversation-token", query("agent_id", "agent_x"), false},
	}
	for _, a := range account {
		env := a.env
		if env == nil {
			env = map[string]any{}
		}
		want := "only a platform admin key may call it"
		if a.hint {
			want = "Use /api/ai-proxy/orgs/sea/webhooks/ for the org's own webhooks."
		}
		h.refused("sea "+a.action, 403, want, func() reply { return h.invoke("sea", a.service, a.action, env) })
	}
	h.refused("sea native webhook add", 403, "/api/ai-proxy/orgs/sea/webhooks/", func() reply {
		return h.native("sea", "heygen", "POST", "/v1/webhook/endpoint.add", "application/json", []byte(`{"url":"https://sea.example/h"}`))
	})
	// The platform admin may, acting for any org.
	h.ok("admin list-webhooks", h.invokeAs("", "sea", "heygen", "list-webhooks", map[string]any{}))
	h.ok("admin get-subscription", h.invokeAs("", "sea", "elevenlabs", "get-subscription", map[string]any{}))
	// On its own credential, the account is the org's.
	h.ok("tee list-webhooks", h.invoke("tee", "heygen", "list-webhooks", map[string]any{}))
	h.ok("tee get-user", h.invoke("tee", "elevenlabs", "get-user", map[string]any{}))
	h.ok("tee single-use-token", h.invoke("tee", "elevenlabs", "single-use-token",
		map[string]any{"path_params": map[string]any{"token_type": "realtime_scribe"}}))
}

// TestTenantCredentialPasses: on an org's own credential nothing is
// refused or filtered, and what it makes is recorded all the same.
func TestTenantCredentialPasses(t *testing.T) {
	h := newHarness(t)
	never := "0123456789abcdef0123456789abcdef"
	before := h.providerCalls()
	if r := h.invoke("tee", "heygen", "delete-video", query("video_id", never)); r.status == 404 && h.providerCalls() == before {
		t.Errorf("tee's delete of an id aiproxy never saw was refused by aiproxy: %s", r.body)
	}
	if h.providerCalls() != before+1 {
		t.Errorf("tee's delete made %d provider calls, want 1", h.providerCalls()-before)
	}
	tts := h.invoke("tee", "elevenlabs", "tts", map[string]any{"path_params": map[string]any{"voice_id": rachel},
		"body": map[string]any{"text": "Tee's own."}})
	h.ok("tee tts", tts)
	id := tts.header.Get("History-Item-Id")
	// Tee's history item is recorded as tee's: another org may not name it
	// on the shared account.
	h.refused("sea read of tee's history item", 404, "History item '"+id+"'", func() reply {
		return h.invoke("sea", "elevenlabs", "get-history-item", pathParam("history_item_id", id))
	})
	hist := ids(h.ok("tee get-history", h.invoke("tee", "elevenlabs", "get-history", map[string]any{})), "history", "history_item_id")
	if !contains(hist, id) {
		t.Errorf("tee's history %v lacks %s", hist, id)
	}
}

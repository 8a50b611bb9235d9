package sandbox_test

import (
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// addVoice creates a cloned voice for key and returns its id.
func addVoice(t *testing.T, f *fixture, key, name string) string {
	t.Helper()
	sample := sandbox.Speech("a voice sample", "x", "eleven_multilingual_v2", "mp3_44100_128")
	resp, body := f.multipartAs(key, "elevenlabs", "POST", "/v1/voices/add", field("name", name),
		field("labels", `{"accent":"irish"}`), file("files", "sample.mp3", "audio/mpeg", sample))
	wantStatus(t, resp, body, 200)
	if jsonField(t, body, "requires_verification") != false {
		t.Errorf("add-voice answer %s", body)
	}
	id, _ := jsonField(t, body, "voice_id").(string)
	if len(id) != 20 {
		t.Fatalf("voice_id %q", id)
	}
	return id
}

func TestElevenLabsVoiceLifecycle(t *testing.T) {
	f := newTwoKeyFixture(t, sandbox.Config{})
	id := addVoice(t, f, elKey, "My Clone")

	resp, body := f.as(elKey, "elevenlabs", "GET", "/v1/voices/"+id, "")
	wantStatus(t, resp, body, 200)
	if jsonField(t, body, "category") != "cloned" || jsonField(t, body, "name") != "My Clone" ||
		jsonField(t, body, "labels.accent") != "irish" || jsonField(t, body, "preview_url") != nil {
		t.Errorf("new voice: %s", truncate(body))
	}
	if !strings.Contains(string(body), `"file_name":"sample.mp3"`) {
		t.Errorf("samples missing: %s", truncate(body))
	}
	if _, body := f.as(elKey, "elevenlabs", "GET", "/v2/voices?search=my%20clone", ""); jsonField(t, body, "total_count") != 1.0 {
		t.Errorf("search: %s", truncate(body))
	}
	resp, body = f.as(elKey, "elevenlabs", "GET", "/v1/voices/"+id+"/settings", "")
	wantResponse(t, resp, body, 200, `{"stability":0.5,"similarity_boost":0.75,"style":0,"use_speaker_boost":true,"speed":1}`)

	resp, body = f.multipartAs(elKey, "elevenlabs", "POST", "/v1/voices/"+id+"/edit", field("name", "Renamed"), field("description", "calm"))
	wantResponse(t, resp, body, 200, `{"status":"ok"}`)
	if _, body := f.as(elKey, "elevenlabs", "GET", "/v1/voices/"+id, ""); jsonField(t, body, "name") != "Renamed" || jsonField(t, body, "description") != "calm" {
		t.Errorf("after edit: %s", truncate(body))
	}
	resp, body = f.as(elKey, "elevenlabs", "POST", "/v1/text-to-speech/"+id, `{"text":"Cloned speech."}`)
	wantStatus(t, resp, body, 200)

	resp, body = f.as(elKey, "elevenlabs", "DELETE", "/v1/voices/"+id, "")
	wantResponse(t, resp, body, 200, `{"status":"ok"}`)
	resp, body = f.as(elKey, "elevenlabs", "GET", "/v1/voices/"+id, "")
	wantResponse(t, resp, body, 404, `{"detail":{"status":"voice_not_found","message":"A voice with the voice_id `+id+` was not found."}}`)
}

func TestElevenLabsVoicesArePerKey(t *testing.T) {
	f := newTwoKeyFixture(t, sandbox.Config{})
	id := addVoice(t, f, elKey, "Private Clone")
	notFound := `{"detail":{"status":"voice_not_found","message":"A voice with the voice_id ` + id + ` was not found."}}`
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/voices/" + id}, {"GET", "/v1/voices/" + id + "/settings"}, {"DELETE", "/v1/voices/" + id},
	} {
		resp, body := f.as(elOther, "elevenlabs", c.method, c.path, "")
		wantResponse(t, resp, body, 404, notFound)
	}
	resp, body := f.multipartAs(elOther, "elevenlabs", "POST", "/v1/voices/"+id+"/edit", field("name", "Stolen"))
	wantResponse(t, resp, body, 404, notFound)
	resp, body = f.as(elOther, "elevenlabs", "POST", "/v1/text-to-speech/"+id, `{"text":"x"}`)
	wantResponse(t, resp, body, 404, notFound)
	if _, body := f.as(elOther, "elevenlabs", "GET", "/v1/voices", ""); strings.Contains(string(body), id) {
		t.Error("the other key lists the clone")
	}

	// Deleting a seeded voice hides it from that key only.
	const rachel = "21m00Tcm4TlvDq8ikWAM"
	resp, body = f.as(elOther, "elevenlabs", "DELETE", "/v1/voices/"+rachel, "")
	wantStatus(t, resp, body, 200)
	if resp, _ := f.as(elOther, "elevenlabs", "GET", "/v1/voices/"+rachel, ""); resp.StatusCode != 404 {
		t.Errorf("deleted seeded voice: %d", resp.StatusCode)
	}
	if resp, _ := f.as(elKey, "elevenlabs", "GET", "/v1/voices/"+rachel, ""); resp.StatusCode != 200 {
		t.Errorf("first key lost the seeded voice: %d", resp.StatusCode)
	}
	_, body = f.as(elKey, "elevenlabs", "GET", "/v1/user/subscription", "")
	if jsonField(t, body, "voice_slots_used") != 4.0 {
		t.Errorf("voice_slots_used after one clone: %v", jsonField(t, body, "voice_slots_used"))
	}
}

func TestElevenLabsVoiceFormErrors(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	tests := []struct {
		name  string
		path  string
		parts []formPart
		want  string
	}{
		{"add needs name and files", "/v1/voices/add", nil,
			`{"detail":[{"type":"missing","loc":["body","name"],"msg":"Field required","input":null},{"type":"missing","loc":["body","files"],"msg":"Field required","input":null}]}`},
		{"add needs files", "/v1/voices/add", []formPart{field("name", "x")},
			`{"detail":[{"type":"missing","loc":["body","files"],"msg":"Field required","input":null}]}`},
		{"labels must be an object", "/v1/voices/add", []formPart{field("name", "x"), field("labels", "[1]"), file("files", "a.mp3", "audio/mpeg", []byte("ID3"))},
			`{"detail":[{"type":"value_error","loc":["body","labels"],"msg":"Value error, labels must be a JSON object of strings","input":"[1]"}]}`},
		{"edit needs name", "/v1/voices/21m00Tcm4TlvDq8ikWAM/edit", []formPart{field("remove_background_noise", "maybe")},
			`{"detail":[{"type":"missing","loc":["body","name"],"msg":"Field required","input":null},{"type":"bool_parsing","loc":["body","remove_background_noise"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.multipartAs(elKey, "elevenlabs", "POST", tt.path, tt.parts...)
			wantResponse(t, resp, body, 422, tt.want)
		})
	}
}

func TestElevenLabsVoiceLimit(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	for range 27 {
		addVoice(t, f, elKey, "Clone")
	}
	resp, body := f.multipartAs(elKey, "elevenlabs", "POST", "/v1/voices/add", field("name", "One too many"),
		file("files", "a.mp3", "audio/mpeg", []byte("ID3")))
	wantStatus(t, resp, body, 400)
	if jsonField(t, body, "detail.status") != "voice_limit_reached" {
		t.Errorf("body %s", body)
	}
}

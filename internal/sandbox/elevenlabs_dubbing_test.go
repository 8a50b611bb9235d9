package sandbox_test

import (
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// createDubbing starts a dub of an MP3 into Spanish for key and returns its id.
func createDubbing(t *testing.T, f *fixture, key, name string) string {
	t.Helper()
	src := sandbox.Speech("Hello, this is the original.", "x", "eleven_multilingual_v2", "mp3_44100_128")
	resp, body := f.multipartAs(key, "elevenlabs", "POST", "/v1/dubbing", field("target_lang", "es"),
		field("name", name), field("num_speakers", "1"), file("file", "talk.mp3", "audio/mpeg", src))
	wantStatus(t, resp, body, 200)
	if jsonField(t, body, "expected_duration_sec") != 6.0 {
		t.Errorf("create answer %s", body)
	}
	id, _ := jsonField(t, body, "dubbing_id").(string)
	return id
}

func TestElevenLabsDubbingLifecycle(t *testing.T) {
	f := newTwoKeyFixture(t, sandbox.Config{})
	id := createDubbing(t, f, elKey, "Launch video")

	resp, body := f.as(elKey, "elevenlabs", "GET", "/v1/dubbing/"+id, "")
	wantStatus(t, resp, body, 200)
	if jsonField(t, body, "status") != "dubbing" || jsonField(t, body, "name") != "Launch video" ||
		jsonField(t, body, "media_metadata.content_type") != "audio/mpeg" || jsonField(t, body, "created_at") != "2026-03-04T10:00:00.000000" {
		t.Errorf("while dubbing: %s", body)
	}
	resp, body = f.as(elKey, "elevenlabs", "GET", "/v1/dubbing/"+id+"/audio/es", "")
	wantResponse(t, resp, body, 425, `{"error":"dubbing_not_dubbed","message":"Dubbing has not finished yet."}`)

	f.clock.Advance(7 * time.Second)
	_, body = f.as(elKey, "elevenlabs", "GET", "/v1/dubbing/"+id, "")
	if jsonField(t, body, "status") != "dubbed" || jsonField(t, body, "error") != nil {
		t.Errorf("after render time: %s", body)
	}
	resp, audio := f.as(elKey, "elevenlabs", "GET", "/v1/dubbing/"+id+"/audio/es", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/mpeg" || len(audio) < 1000 || audio[0] != 0xFF {
		t.Errorf("dubbed audio: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(audio))
	}
	resp, body = f.as(elKey, "elevenlabs", "GET", "/v1/dubbing/"+id+"/audio/fr", "")
	wantResponse(t, resp, body, 404, `{"error":"dubbing_not_found","message":"There is no dubbing for language fr."}`)

	resp, body = f.as(elKey, "elevenlabs", "DELETE", "/v1/dubbing/"+id, "")
	wantResponse(t, resp, body, 200, `{"status":"ok"}`)
	resp, body = f.as(elKey, "elevenlabs", "GET", "/v1/dubbing/"+id, "")
	wantResponse(t, resp, body, 404, `{"detail":{"status":"dubbing_not_found","message":"There is no dubbing with the id `+id+`."}}`)
}

func TestElevenLabsDubbingIsPerKey(t *testing.T) {
	f := newTwoKeyFixture(t, sandbox.Config{})
	id := createDubbing(t, f, elKey, "Mine")
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/dubbing/" + id}, {"DELETE", "/v1/dubbing/" + id}, {"GET", "/v1/dubbing/" + id + "/audio/es"},
	} {
		if resp, body := f.as(elOther, "elevenlabs", c.method, c.path, ""); resp.StatusCode != 404 {
			t.Errorf("%s %s by another key: %d %s", c.method, c.path, resp.StatusCode, body)
		}
	}
	if resp, _ := f.as(elKey, "elevenlabs", "GET", "/v1/dubbing/"+id, ""); resp.StatusCode != 200 {
		t.Errorf("owner: %d", resp.StatusCode)
	}
}

func TestElevenLabsDubbingOutcomes(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	resp, body := f.multipartAs(elKey, "elevenlabs", "POST", "/v1/dubbing", field("target_lang", "de"),
		field("source_url", "https://example.com/SANDBOX_FAIL/clip.mp4"))
	wantStatus(t, resp, body, 200)
	id, _ := jsonField(t, body, "dubbing_id").(string)
	f.clock.Advance(7 * time.Second)
	_, body = f.el("GET", "/v1/dubbing/"+id, "")
	if jsonField(t, body, "status") != "failed" || jsonField(t, body, "error") == nil ||
		jsonField(t, body, "media_metadata.content_type") != "video/mp4" {
		t.Errorf("failed dub: %s", body)
	}
	resp, body = f.el("GET", "/v1/dubbing/"+id+"/audio/de", "")
	wantStatus(t, resp, body, 404)
}

func TestElevenLabsDubbingErrors(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	mp3 := file("file", "a.mp3", "audio/mpeg", sandbox.Speech("x", "x", "eleven_multilingual_v2", "mp3_44100_128"))
	tests := []struct {
		name   string
		parts  []formPart
		status int
		want   string
	}{
		{"target_lang required", []formPart{mp3}, 422,
			`{"detail":[{"type":"missing","loc":["body","target_lang"],"msg":"Field required","input":null}]}`},
		{"num_speakers not a number", []formPart{mp3, field("target_lang", "es"), field("num_speakers", "two")}, 422,
			`{"detail":[{"type":"int_parsing","loc":["body","num_speakers"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"two"}]}`},
		{"no source", []formPart{field("target_lang", "es")}, 400,
			`{"detail":{"status":"invalid_parameters","message":"Provide either file or source_url, not both and not neither."}}`},
		{"two sources", []formPart{mp3, field("target_lang", "es"), field("source_url", "https://example.com/a.mp3")}, 400,
			`{"detail":{"status":"invalid_parameters","message":"Provide either file or source_url, not both and not neither."}}`},
		{"bad url", []formPart{field("target_lang", "es"), field("source_url", "ftp://example.com/a.mp3")}, 400,
			`{"detail":{"status":"invalid_parameters","message":"source_url must be an http or https URL."}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.multipartAs(elKey, "elevenlabs", "POST", "/v1/dubbing", tt.parts...)
			wantResponse(t, resp, body, tt.status, tt.want)
		})
	}
}

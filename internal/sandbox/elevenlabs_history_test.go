package sandbox_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

const rachelVoice = "21m00Tcm4TlvDq8ikWAM"

// speak makes key generate text with Rachel and returns the history-item-id and the audio.
func speak(t *testing.T, f *fixture, key, text, query string) (string, []byte) {
	t.Helper()
	resp, body := f.as(key, "elevenlabs", "POST", "/v1/text-to-speech/"+rachelVoice+query, `{"text":"`+text+`"}`)
	wantStatus(t, resp, body, 200)
	return resp.Header.Get("History-Item-Id"), body
}

func TestElevenLabsHistory(t *testing.T) {
	f := newTwoKeyFixture(t, sandbox.Config{})
	first, _ := speak(t, f, elKey, "First words.", "")
	f.clock.Advance(time.Second)
	id, audio := speak(t, f, elKey, "Hello history.", "?output_format=pcm_16000")
	if len(id) != 20 || id == first {
		t.Fatalf("history-item-id %q (first %q)", id, first)
	}

	resp, body := f.as(elKey, "elevenlabs", "GET", "/v1/history/"+id, "")
	wantStatus(t, resp, body, 200)
	for k, want := range map[string]any{"history_item_id": id, "voice_id": rachelVoice, "voice_name": "Rachel",
		"voice_category": "premade", "text": "Hello history.", "model_id": "eleven_multilingual_v2",
		"content_type": "audio/pcm", "state": "created", "source": "TTS", "character_count_change_from": 12.0,
		"character_count_change_to": 26.0, "settings.stability": 0.5} {
		if got := jsonField(t, body, k); got != want {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
	resp, got := f.as(elKey, "elevenlabs", "GET", "/v1/history/"+id+"/audio", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/pcm" || !bytes.Equal(got, audio) {
		t.Errorf("history audio: %d %s, %d bytes (generation had %d)", resp.StatusCode, resp.Header.Get("Content-Type"), len(got), len(audio))
	}

	_, body = f.as(elKey, "elevenlabs", "GET", "/v1/history?page_size=1", "")
	if jsonField(t, body, "last_history_item_id") != id || jsonField(t, body, "has_more") != true {
		t.Errorf("first page: %s", truncate(body))
	}
	_, body = f.as(elKey, "elevenlabs", "GET", "/v1/history?page_size=1&start_after_history_item_id="+id, "")
	if jsonField(t, body, "last_history_item_id") != first || jsonField(t, body, "has_more") != false {
		t.Errorf("second page: %s", truncate(body))
	}
	_, body = f.as(elKey, "elevenlabs", "GET", "/v1/history?search=FIRST", "")
	if jsonField(t, body, "last_history_item_id") != first {
		t.Errorf("search: %s", truncate(body))
	}

	resp, body = f.as(elKey, "elevenlabs", "DELETE", "/v1/history/"+id, "")
	wantResponse(t, resp, body, 200, `{"status":"ok"}`)
	resp, body = f.as(elKey, "elevenlabs", "GET", "/v1/history/"+id, "")
	wantResponse(t, resp, body, 404, `{"detail":{"status":"history_item_not_found","message":"Could not find history item with id `+id+`."}}`)
}

func TestElevenLabsHistoryIsPerKey(t *testing.T) {
	f := newTwoKeyFixture(t, sandbox.Config{})
	id, _ := speak(t, f, elKey, "Mine only.", "")
	notFound := `{"detail":{"status":"history_item_not_found","message":"Could not find history item with id ` + id + `."}}`
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/history/" + id}, {"GET", "/v1/history/" + id + "/audio"}, {"DELETE", "/v1/history/" + id},
	} {
		resp, body := f.as(elOther, "elevenlabs", c.method, c.path, "")
		wantResponse(t, resp, body, 404, notFound)
	}
	resp, body := f.as(elOther, "elevenlabs", "GET", "/v1/history", "")
	wantResponse(t, resp, body, 200, `{"history":[],"last_history_item_id":null,"has_more":false}`)
	if resp, _ := f.as(elKey, "elevenlabs", "GET", "/v1/history/"+id, ""); resp.StatusCode != 200 {
		t.Errorf("owner lost the item: %d", resp.StatusCode)
	}
}

func TestElevenLabsHistoryOptOut(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	if id, _ := speak(t, f, elKey, "Not kept.", "?enable_logging=false"); id != "" {
		t.Errorf("zero-retention generation has history-item-id %q", id)
	}
	_, body := f.as(elKey, "elevenlabs", "GET", "/v1/history", "")
	if strings.Contains(string(body), "Not kept.") {
		t.Errorf("history: %s", body)
	}
}

func TestElevenLabsHistoryErrors(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	tests := []struct {
		name, query string
		status      int
		want        string
	}{
		{"page_size too big", "?page_size=1001", 422,
			`{"detail":[{"type":"less_than_equal","loc":["query","page_size"],"msg":"Input should be less than or equal to 1000","input":"1001","ctx":{"le":1000}}]}`},
		{"page_size not a number", "?page_size=ten", 422,
			`{"detail":[{"type":"int_parsing","loc":["query","page_size"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"ten"}]}`},
		{"unknown source", "?source=XYZ", 422,
			`{"detail":[{"type":"enum","loc":["query","source"],"msg":"Input should be 'TTS' or 'STS'","input":"XYZ","ctx":{"expected":"'TTS' or 'STS'"}}]}`},
		{"unknown cursor", "?start_after_history_item_id=nope", 400,
			`{"detail":{"status":"invalid_history_item_id","message":"The history item nope given as start_after_history_item_id does not exist."}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.el("GET", "/v1/history"+tt.query, "")
			wantResponse(t, resp, body, tt.status, tt.want)
		})
	}
	t.Run("no key", func(t *testing.T) {
		resp, body := f.do(request{path: "/elevenlabs/v1/history"})
		wantResponse(t, resp, body, 401, `{"detail":{"status":"needs_authorization","message":"Neither authorization header nor xi-api-key received, please provide one."}}`)
	})
}

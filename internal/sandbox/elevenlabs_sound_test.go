package sandbox_test

import (
	"strconv"
	"testing"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

func TestElevenLabsSoundGeneration(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	_, short := f.el("POST", "/v1/sound-generation", `{"text":"A door creaks","duration_seconds":2}`)
	resp, long := f.el("POST", "/v1/sound-generation", `{"text":"A door creaks","duration_seconds":20,"prompt_influence":0.5}`)
	wantStatus(t, resp, long, 200)
	if resp.Header.Get("Content-Type") != "audio/mpeg" || resp.Header.Get("Character-Cost") != "800" || long[0] != 0xFF {
		t.Errorf("answer: %s cost %s", resp.Header.Get("Content-Type"), resp.Header.Get("Character-Cost"))
	}
	if r := float64(len(long)) / float64(len(short)); r < 8 || r > 12 {
		t.Errorf("20 s of sound is %.1f times 2 s of it, want about 10", r)
	}
	resp, auto := f.el("POST", "/v1/sound-generation?output_format=pcm_16000", `{"text":"Rain"}`)
	if resp.Header.Get("Character-Cost") != "200" || resp.Header.Get("Content-Type") != "audio/pcm" {
		t.Errorf("auto duration: cost %s, %s", resp.Header.Get("Character-Cost"), resp.Header.Get("Content-Type"))
	}
	if secs := float64(len(auto)) / 32000; secs < 4 || secs > 6 {
		t.Errorf("auto duration made %.1f s, want about 5", secs)
	}
	_, body := f.el("GET", "/v1/user/subscription", "")
	if got := jsonField(t, body, "character_count"); got != 1080.0 {
		t.Errorf("character_count = %v, want 1080", got)
	}
}

func TestElevenLabsSoundGenerationErrors(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	tests := []struct {
		name, body string
		header     map[string]string
		status     int
		want       string
	}{
		{"text required", `{}`, nil, 422, `{"detail":[{"type":"missing","loc":["body","text"],"msg":"Field required","input":null}]}`},
		{"duration too long", `{"text":"x","duration_seconds":31}`, nil, 422,
			`{"detail":[{"type":"less_than_equal","loc":["body","duration_seconds"],"msg":"Input should be less than or equal to 30","input":31,"ctx":{"le":30}}]}`},
		{"influence too high", `{"text":"x","prompt_influence":2}`, nil, 422,
			`{"detail":[{"type":"less_than_equal","loc":["body","prompt_influence"],"msg":"Input should be less than or equal to 1","input":2,"ctx":{"le":1}}]}`},
		{"validation before auth", `{}`, map[string]string{"xi-api-key": "wrong"}, 422, ""},
		{"wrong key", `{"text":"x"}`, map[string]string{"xi-api-key": "wrong"}, 401, `{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{"xi-api-key": elKey, "Content-Type": "application/json"}
			for k, v := range tt.header {
				h[k] = v
			}
			resp, body := f.do(request{method: "POST", path: "/elevenlabs/v1/sound-generation", body: tt.body, header: h})
			wantResponse(t, resp, body, tt.status, tt.want)
		})
	}
}

func TestElevenLabsAudioIsolation(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	pcm := make([]byte, 32000*6) // 6 s of 16 kHz PCM
	for _, path := range []string{"/v1/audio-isolation", "/v1/audio-isolation/stream"} {
		resp, out := f.multipartAs(elKey, "elevenlabs", "POST", path, field("file_format", "pcm_s16le_16"),
			file("audio", "noisy.pcm", "application/octet-stream", pcm))
		wantStatus(t, resp, out, 200)
		if resp.Header.Get("Content-Type") != "audio/mpeg" || resp.Header.Get("Character-Cost") != "100" || out[0] != 0xFF {
			t.Errorf("%s: %s cost %s", path, resp.Header.Get("Content-Type"), resp.Header.Get("Character-Cost"))
		}
		// 6 s at 128 kbit/s is about 96 kB.
		if n := len(out); n < 80_000 || n > 115_000 {
			t.Errorf("%s: %d bytes for 6 s", path, n)
		}
	}
	tests := []struct {
		name  string
		parts []formPart
		want  string
	}{
		{"audio required", nil, `{"detail":[{"type":"missing","loc":["body","audio"],"msg":"Field required","input":null}]}`},
		{"bad file_format", []formPart{file("audio", "a.mp3", "audio/mpeg", []byte("x")), field("file_format", "flac")},
			`{"detail":[{"type":"enum","loc":["body","file_format"],"msg":"Input should be 'pcm_s16le_16' or 'other'","input":"flac","ctx":{"expected":"'pcm_s16le_16' or 'other'"}}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.multipartAs(elKey, "elevenlabs", "POST", "/v1/audio-isolation", tt.parts...)
			wantResponse(t, resp, body, 422, tt.want)
		})
	}
}

func TestElevenLabsAudioQuota(t *testing.T) {
	f := newFixture(t, sandbox.Config{CharacterLimit: 500})
	resp, body := f.el("POST", "/v1/sound-generation", `{"text":"x","duration_seconds":30}`)
	wantResponse(t, resp, body, 401, `{"detail":{"status":"quota_exceeded","message":"This request exceeds your quota of 500. You have 500 credits remaining, while `+strconv.Itoa(1200)+` credits are required for this request."}}`)
}

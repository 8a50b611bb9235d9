package sandbox_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

const rachel = "21m00Tcm4TlvDq8ikWAM"

func TestTTSValidation(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	tests := []struct {
		name, path, body string
		key              string
		status           int
		want             string
	}{
		{"missing text", "/" + rachel, `{"model_id":"eleven_multilingual_v2"}`, elKey, 422,
			`{"detail":[{"type":"missing","loc":["body","text"],"msg":"Field required","input":null}]}`},
		{"validation before auth", "/" + rachel, `{}`, "wrong", 422,
			`{"detail":[{"type":"missing","loc":["body","text"],"msg":"Field required","input":null}]}`},
		{"malformed JSON", "/" + rachel, `{"text":`, elKey, 422,
			`{"detail":[{"type":"json_invalid","loc":["body",8],"msg":"JSON decode error","input":{},"ctx":{"error":"Expecting value"}}]}`},
		{"null stability", "/" + rachel, `{"text":"hi","voice_settings":{"stability":null,"similarity_boost":0.5}}`, elKey, 422,
			`{"detail":[{"type":"float_type","loc":["body","voice_settings","stability"],"msg":"Input should be a valid number","input":null}]}`},
		{"stability above 1", "/" + rachel, `{"text":"hi","voice_settings":{"stability":2}}`, elKey, 422,
			`{"detail":[{"type":"less_than_equal","loc":["body","voice_settings","stability"],"msg":"Input should be less than or equal to 1","input":2,"ctx":{"le":1}}]}`},
		{"negative similarity", "/" + rachel, `{"text":"hi","voice_settings":{"similarity_boost":-0.1}}`, elKey, 422,
			`{"detail":[{"type":"greater_than_equal","loc":["body","voice_settings","similarity_boost"],"msg":"Input should be greater than or equal to 0","input":-0.1,"ctx":{"ge":0}}]}`},
		{"unknown output format", "/" + rachel + "?output_format=flac_1", `{"text":"hi"}`, elKey, 422, ""},
		{"missing key after valid body", "/" + rachel, `{"text":"hi"}`, "", 401,
			`{"detail":{"status":"needs_authorization","message":"Neither authorization header nor xi-api-key received, please provide one."}}`},
		{"unknown voice", "/nosuchvoice", `{"text":"hi"}`, elKey, 404,
			`{"detail":{"status":"voice_not_found","message":"A voice with the voice_id nosuchvoice was not found."}}`},
		{"unknown model", "/" + rachel, `{"text":"hi","model_id":"eleven_multilingual_v2\u00a0"}`, elKey, 400,
			`{"detail":{"status":"invalid_uid","message":"An invalid ID has been received: 'eleven_multilingual_v2\u00a0'. Make sure to provide a correct one."}}`},
		{"text over the model limit", "/" + rachel, `{"text":"` + strings.Repeat("a", 3001) + `","model_id":"eleven_v3"}`, elKey, 400,
			`{"detail":{"status":"max_character_limit_exceeded","message":"This request's text has 3001 characters and exceeds the character limit of 3000 characters."}}`},
		{"stream validates too", "/" + rachel + "/stream", `{"text":5}`, elKey, 422,
			`{"detail":[{"type":"string_type","loc":["body","text"],"msg":"Input should be a valid string","input":5}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := map[string]string{"Content-Type": "application/json"}
			if tt.key != "" {
				header["xi-api-key"] = tt.key
			}
			resp, body := f.do(request{method: "POST", path: "/elevenlabs/v1/text-to-speech" + tt.path, body: tt.body, header: header})
			wantResponse(t, resp, body, tt.status, tt.want)
			if tt.status == 422 && !strings.Contains(string(body), `"detail":[`) {
				t.Errorf("422 body is not a pydantic list: %s", truncate(body))
			}
		})
	}
}

func TestTTSAudio(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	tests := []struct {
		name, query, model string
		contentType        string
		wantCost           int
	}{
		{"default mp3", "", "eleven_multilingual_v2", "audio/mpeg", 22},
		{"flash costs half", "?output_format=mp3_22050_32", "eleven_flash_v2_5", "audio/mpeg", 11},
		{"pcm", "?output_format=pcm_16000", "eleven_turbo_v2_5", "audio/pcm", 11},
	}
	const text = "Hello, this is a test."
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.el("POST", "/v1/text-to-speech/"+rachel+tt.query, `{"text":"`+text+`","model_id":"`+tt.model+`"}`)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, truncate(body))
			}
			format := strings.TrimPrefix(tt.query, "?output_format=")
			if format == "" {
				format = "mp3_44100_128"
			}
			if want := sandbox.Speech(text, rachel, tt.model, format); !bytes.Equal(body, want) {
				t.Fatalf("body (%d bytes) differs from Speech (%d bytes)", len(body), len(want))
			}
			if tt.contentType == "audio/mpeg" && !(body[0] == 0xFF && body[1]&0xE0 == 0xE0) && !bytes.HasPrefix(body, []byte("ID3")) {
				t.Errorf("MP3 starts % x", body[:4])
			}
			h := resp.Header
			checks := map[string]bool{
				"content-type":   h.Get("Content-Type") == tt.contentType,
				"content-length": h.Get("Content-Length") == strconv.Itoa(len(body)),
				"request-id":     regexp.MustCompile(`^[A-Za-z0-9]{20}$`).MatchString(h.Get("Request-Id")),
				"history-item":   h.Get("History-Item-Id") != "",
				"character-cost": h.Get("Character-Cost") == strconv.Itoa(tt.wantCost),
				"concurrency":    h.Get("Current-Concurrent-Requests") == "1" && h.Get("Maximum-Concurrent-Requests") == "10",
				"latency":        h.Get("Tts-Latency-Ms") != "",
				"trace":          regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(h.Get("X-Trace-Id")),
				"server":         h.Get("Server") == "uvicorn",
				"cors expose":    strings.Contains(h.Get("Access-Control-Expose-Headers"), "character-cost"),
			}
			for name, ok := range checks {
				if !ok {
					t.Errorf("header check %q failed: %v", name, h)
				}
			}
		})
	}
}

func TestTTSChargesSubscription(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	count := func() int {
		var sub struct {
			CharacterCount int `json:"character_count"`
		}
		_, b := f.el("GET", "/v1/user/subscription", "")
		decode(t, b, &sub)
		return sub.CharacterCount
	}
	before := count()
	f.el("POST", "/v1/text-to-speech/"+rachel, `{"text":"twelve chars"}`)
	f.el("POST", "/v1/text-to-speech/"+rachel, `{"text":"twelve chars","model_id":"eleven_flash_v2_5"}`)
	if got := count(); got != before+12+6 {
		t.Errorf("character_count %d → %d, want +18", before, got)
	}
}

// readChunks reads a streamed body, returning the pieces as they arrived.
func readChunks(t *testing.T, resp *http.Response) [][]byte {
	t.Helper()
	var chunks [][]byte
	buf := make([]byte, 1<<20)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			chunks = append(chunks, bytes.Clone(buf[:n]))
		}
		if err == io.EOF {
			return chunks
		}
		if err != nil {
			t.Fatalf("read stream: %v", err)
		}
	}
}

// postTTS starts a text-to-speech request and returns the unread response.
func (f *fixture) postTTS(ctx context.Context, path, body string) *http.Response {
	f.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "POST", f.srv.URL+"/elevenlabs/v1/text-to-speech/"+path, strings.NewReader(body))
	req.Header.Set("xi-api-key", elKey)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp
}

func TestTTSStream(t *testing.T) {
	f := newFixture(t, sandbox.Config{StreamChunkDelay: 20 * time.Millisecond})
	const text = "Hi." // About 7 KB of audio, so each of the eight chunks is under 1 KB.
	resp := f.postTTS(context.Background(), rachel+"/stream", `{"text":"`+text+`"}`)
	defer resp.Body.Close()
	chunks := readChunks(t, resp)
	if resp.ContentLength != -1 || len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("ContentLength %d, TransferEncoding %v; want chunked", resp.ContentLength, resp.TransferEncoding)
	}
	// Eight flushed chunks of under 1 KB, 20 ms apart, arrive as separate reads. Without
	// flushing, nothing would arrive before net/http's 2 KiB response buffer filled.
	if len(chunks) < 4 || len(chunks[0]) >= 2048 {
		t.Errorf("stream arrived in %d reads, the first of %d bytes; want ≥ 4 reads, the first < 2048 bytes", len(chunks), len(chunks[0]))
	}
	if got, want := bytes.Join(chunks, nil), sandbox.Speech(text, rachel, "eleven_multilingual_v2", "mp3_44100_128"); !bytes.Equal(got, want) {
		t.Errorf("streamed %d bytes, Speech gives %d", len(got), len(want))
	}
}

// timestamps is AudioWithTimestampsResponseModel.
type timestamps struct {
	AudioBase64 string `json:"audio_base64"`
	Alignment   struct {
		Characters []string  `json:"characters"`
		Starts     []float64 `json:"character_start_times_seconds"`
		Ends       []float64 `json:"character_end_times_seconds"`
	} `json:"alignment"`
	NormalizedAlignment *struct {
		Characters []string `json:"characters"`
	} `json:"normalized_alignment"`
}

// check verifies one timestamps object and returns its audio.
func (ts timestamps) check(t *testing.T) []byte {
	t.Helper()
	a := ts.Alignment
	if len(a.Characters) != len(a.Starts) || len(a.Starts) != len(a.Ends) || ts.NormalizedAlignment == nil {
		t.Fatalf("alignment arrays differ in length: %d %d %d", len(a.Characters), len(a.Starts), len(a.Ends))
	}
	for i := range a.Starts {
		if a.Ends[i] < a.Starts[i] || (i > 0 && a.Starts[i] < a.Starts[i-1]) {
			t.Fatalf("times out of order at %d: %v", i, a)
		}
	}
	audio, err := base64.StdEncoding.DecodeString(ts.AudioBase64)
	if err != nil {
		t.Fatal(err)
	}
	return audio
}

func TestTTSWithTimestamps(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	const text = "Time me, please."
	want := sandbox.Speech(text, rachel, "eleven_multilingual_v2", "mp3_44100_128")
	t.Run("whole", func(t *testing.T) {
		resp, body := f.el("POST", "/v1/text-to-speech/"+rachel+"/with-timestamps", `{"text":"`+text+`"}`)
		var ts timestamps
		decode(t, body, &ts)
		if resp.StatusCode != 200 || !bytes.Equal(ts.check(t), want) || strings.Join(ts.Alignment.Characters, "") != text {
			t.Fatalf("with-timestamps: %d %s", resp.StatusCode, truncate(body))
		}
	})
	t.Run("stream", func(t *testing.T) {
		resp := f.postTTS(context.Background(), rachel+"/stream/with-timestamps", `{"text":"`+text+`"}`)
		defer resp.Body.Close()
		var audio []byte
		var chars []string
		lines := 0
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<22)
		for sc.Scan() {
			var ts timestamps
			if err := json.Unmarshal(sc.Bytes(), &ts); err != nil {
				t.Fatalf("line %d is not JSON: %v", lines, err)
			}
			audio = append(audio, ts.check(t)...)
			chars = append(chars, ts.Alignment.Characters...)
			lines++
		}
		if lines < 2 || !bytes.Equal(audio, want) || strings.Join(chars, "") != text {
			t.Fatalf("%d lines, %d audio bytes (want %d), text %q", lines, len(audio), len(want), strings.Join(chars, ""))
		}
	})
}

func TestTTSConcurrencyCap(t *testing.T) {
	f := newFixture(t, sandbox.Config{MaxConcurrentTTS: 1, StreamChunkDelay: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	first := f.postTTS(ctx, rachel+"/stream", `{"text":"Hold the only slot for a while."}`)
	defer first.Body.Close()
	if first.Header.Get("Current-Concurrent-Requests") != "1" || first.Header.Get("Maximum-Concurrent-Requests") != "1" {
		t.Errorf("first request headers: %v", first.Header)
	}
	resp, body := f.el("POST", "/v1/text-to-speech/"+rachel, `{"text":"second"}`)
	wantResponse(t, resp, body, 429, `{"detail":{"status":"too_many_concurrent_requests","message":"Too many concurrent requests. Your current subscription is associated with a maximum of 1 concurrent requests (running in parallel). Please upgrade your subscription or contact sales if you want to increase this limit."}}`)
	cancel()
	deadline := time.Now().Add(2 * time.Second)
	for {
		resp, body := f.el("POST", "/v1/text-to-speech/"+rachel, `{"text":"third"}`)
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot never freed after the client left: %d %s", resp.StatusCode, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// runClient runs a client command of the program against a demo, with the
// demo's AIPROXY_* variables, and returns stdout, stderr and the error.
func runClient(d *demo, args ...string) (string, string, error) {
	d.t.Helper()
	vars := map[string]string{"AIPROXY_URL": d.url, "AIPROXY_ORG": d.org, "AIPROXY_API_KEY": d.key}
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return vars[k] }, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

func mustRunClient(d *demo, args ...string) (string, string) {
	d.t.Helper()
	out, errOut, err := runClient(d, args...)
	if err != nil {
		d.t.Fatalf("aiproxy %v: %v\nstderr:\n%s", args, err, errOut)
	}
	return out, errOut
}

func TestClientCommands(t *testing.T) {
	d := startDemo(t)
	dir := t.TempDir()
	const rachel = "21m00Tcm4TlvDq8ikWAM"

	t.Run("services", func(t *testing.T) {
		out, _ := mustRunClient(d, "services")
		if !strings.Contains(out, "SERVICE") || !strings.Contains(out, "ElevenLabs") || !strings.Contains(out, "heygen") {
			t.Fatalf("services:\n%s", out)
		}
		out, _ = mustRunClient(d, "services", "--json")
		var list []map[string]any
		if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 3 {
			t.Fatalf("services --json: %v\n%s", err, out)
		}
	})

	t.Run("services SERVICE", func(t *testing.T) {
		out, _ := mustRunClient(d, "services", "heygen")
		if !strings.Contains(out, "generate-video") || !strings.Contains(out, "/v2/video/generate") {
			t.Fatalf("services heygen:\n%s", out)
		}
		out, _ = mustRunClient(d, "services", "--json", "elevenlabs")
		var detail struct {
			Endpoints []struct{ Slug string } `json:"endpoints"`
		}
		if err := json.Unmarshal([]byte(out), &detail); err != nil || len(detail.Endpoints) < 3 {
			t.Fatalf("services elevenlabs --json: %v\n%s", err, out)
		}
	})

	t.Run("call JSON", func(t *testing.T) {
		out, _ := mustRunClient(d, "call", "heygen", "list-avatars", "--json")
		var avatars struct {
			Data struct {
				Avatars []map[string]any `json:"avatars"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(out), &avatars); err != nil || len(avatars.Data.Avatars) == 0 {
			t.Fatalf("call list-avatars: %v\n%.300s", err, out)
		}
		if strings.Count(out, "\n") != 1 {
			t.Error("--json output is not one line")
		}
		human, _ := mustRunClient(d, "call", "heygen", "list-avatars")
		if !strings.Contains(human, "\n  ") {
			t.Error("human output is not indented")
		}
	})

	t.Run("call binary to a file", func(t *testing.T) {
		file := filepath.Join(dir, "call.mp3")
		_, stderr := mustRunClient(d, "call", "elevenlabs", "tts", "--path", "voice_id="+rachel,
			"--body", `{"text":"Hello from call.","model_id":"eleven_multilingual_v2"}`, "--query", "output_format=mp3_44100_128", "-o", file)
		got, _ := os.ReadFile(file)
		if want := sandbox.Speech("Hello from call.", rachel, "eleven_multilingual_v2", "mp3_44100_128"); !bytes.Equal(got, want) {
			t.Fatalf("%s holds %d bytes, want %d", file, len(got), len(want))
		}
		if !strings.Contains(stderr, "wrote "+file) || !strings.Contains(stderr, "audio/mpeg") {
			t.Errorf("stderr: %s", stderr)
		}
		_, _, err := runClient(d, "call", "elevenlabs", "tts", "--path", "voice_id="+rachel, "--body", `{"text":"x","model_id":"eleven_multilingual_v2"}`)
		if err == nil || !strings.Contains(err.Error(), "-o FILE") {
			t.Errorf("binary answer without -o: %v", err)
		}
	})

	t.Run("call with an envelope file", func(t *testing.T) {
		env := filepath.Join(dir, "env.json")
		if err := os.WriteFile(env, []byte(`{"path_params":{"voice_id":"nobody"},"body":{"text":"x","model_id":"eleven_multilingual_v2"}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, "env.mp3")
		mustRunClient(d, "call", "elevenlabs", "tts", "--envelope", "@"+env, "--path", "voice_id="+rachel, "-o", file)
		if got, _ := os.ReadFile(file); !bytes.Equal(got, sandbox.Speech("x", rachel, "eleven_multilingual_v2", "mp3_44100_128")) {
			t.Fatalf("--path did not override the envelope file")
		}
	})

	t.Run("call errors", func(t *testing.T) {
		out, _, err := runClient(d, "call", "heygen", "nope", "--json")
		if err == nil || !strings.Contains(err.Error(), "External proxy service 'heygen/nope' not found or disabled.") || !strings.Contains(err.Error(), "404") {
			t.Fatalf("err = %v", err)
		}
		var e struct {
			Status int    `json:"status"`
			Code   string `json:"code"`
		}
		if json.Unmarshal([]byte(out), &e) != nil || e.Status != 404 || e.Code != "not_found" {
			t.Errorf("--json error: %s", out)
		}
		_, _, err = runClient(d, "call", "elevenlabs", "tts", "--body", `{"text":"x"}`)
		if err == nil || !strings.Contains(err.Error(), "Missing required path parameter: voice_id") {
			t.Errorf("missing path param: %v", err)
		}
		if _, _, err := runClient(d, "call", "heygen"); err != errUsage {
			t.Errorf("call with one argument = %v, want usage", err)
		}
		var out2, errOut bytes.Buffer
		err = run(context.Background(), []string{"services"}, func(string) string { return "" }, strings.NewReader(""), &out2, &errOut)
		if err == nil || !strings.Contains(err.Error(), "AIPROXY_URL") {
			t.Errorf("without env: %v", err)
		}
	})

	t.Run("video generate", func(t *testing.T) {
		file := filepath.Join(dir, "out.mp4")
		out, stderr := mustRunClient(d, "video", "generate", "--avatar", "Abigail_expressive_2024112501",
			"--voice", "f38a635bee7a4d1f9b0a654a31d050d2", "--text", "Hello from the CLI.", "--test", "--interval", "100ms", "-o", file)
		mp4, _ := os.ReadFile(file)
		if len(mp4) < 12 || string(mp4[4:8]) != "ftyp" {
			t.Fatalf("%s is not an MP4 (%d bytes)", file, len(mp4))
		}
		// stderr is not a terminal here: plain lines, no bar redrawn with \r.
		for _, want := range []string{"submitted", "\nstatus completed after ", "saved " + file} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
		if strings.ContainsAny(stderr, "\r[") {
			t.Errorf("a progress bar was drawn into a file:\n%q", stderr)
		}
		if !strings.Contains(out, "completed in") {
			t.Errorf("stdout: %s", out)
		}
	})

	t.Run("video generate --json", func(t *testing.T) {
		file := filepath.Join(dir, "json.mp4")
		out, stderr := mustRunClient(d, "video", "generate", "--json", "--avatar", "Abigail_expressive_2024112501",
			"--voice", "f38a635bee7a4d1f9b0a654a31d050d2", "--text", "Hello.", "--interval", "100ms", "-o", file)
		var res videoResult
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.Status != "completed" || res.File != file || res.Bytes == 0 || res.VideoID == "" {
			t.Fatalf("--json: %v %s", err, out)
		}
		if strings.Contains(stderr, "[") {
			t.Errorf("--json drew a progress bar: %q", stderr)
		}
		status, _ := mustRunClient(d, "video", "status", res.VideoID)
		if !strings.Contains(status, "completed") {
			t.Errorf("video status: %s", status)
		}
	})

	t.Run("video generate failure", func(t *testing.T) {
		_, _, err := runClient(d, "video", "generate", "--avatar", "Abigail_expressive_2024112501",
			"--voice", "f38a635bee7a4d1f9b0a654a31d050d2", "--text", "SANDBOX_FAIL", "--interval", "100ms", "-o", filepath.Join(dir, "never.mp4"))
		if err == nil || !strings.Contains(err.Error(), "failed") {
			t.Fatalf("err = %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "never.mp4")); err == nil {
			t.Error("a failed render left a file")
		}
		if _, _, err := runClient(d, "video", "generate", "--text", "x"); err == nil || !strings.Contains(err.Error(), "--avatar, --voice required") {
			t.Errorf("missing flags: %v", err)
		}
	})

	t.Run("tts", func(t *testing.T) {
		for _, stream := range []string{"", "--stream"} {
			file := filepath.Join(dir, "tts"+stream+".mp3")
			args := []string{"tts", "--voice", rachel, "--text", "Hello from tts.", "-o", file}
			if stream != "" {
				args = append(args, stream)
			}
			mustRunClient(d, args...)
			got, _ := os.ReadFile(file)
			if want := sandbox.Speech("Hello from tts.", rachel, "eleven_multilingual_v2", "mp3_44100_128"); !bytes.Equal(got, want) {
				t.Fatalf("tts %s: %d bytes, want %d", stream, len(got), len(want))
			}
		}
		out, _ := mustRunClient(d, "tts", "--json", "--voice", rachel, "--text", "Hi.", "-o", filepath.Join(dir, "j.mp3"))
		var r fileReport
		if err := json.Unmarshal([]byte(out), &r); err != nil || r.ContentType != "audio/mpeg" || r.Bytes == 0 {
			t.Errorf("tts --json: %v %s", err, out)
		}
		if _, _, err := runClient(d, "tts", "--voice", rachel, "--text", "x"); err == nil {
			t.Error("tts without -o succeeded")
		}
	})
}

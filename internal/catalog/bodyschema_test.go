package catalog

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// override is an extra-directory heygen.json that changes one endpoint.
func override(endpoint string) string {
	return `{"slug": "heygen", "endpoints": [` + endpoint + `]}`
}

// writeSchemas adds a schemas/ directory to dir.
func writeSchemas(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	sub := filepath.Join(dir, schemaDir)
	if err := os.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(sub, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRequestSchemaProblems(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		schemas map[string]string
		want    string
	}{
		{"unknown file", override(`{"slug": "generate-video", "request_schema": "nope.json"}`), nil,
			`heygen/generate-video: request_schema "nope.json" names no file in schemas/`},
		{"bad file name", override(`{"slug": "generate-video", "request_schema": "../x.json"}`), nil,
			`heygen/generate-video: request_schema "../x.json" must be a file name matching`},
		{"neither object nor name", override(`{"slug": "generate-video", "request_schema": 3}`), nil,
			"heygen/generate-video: request_schema must be a JSON Schema object or the name of a file in schemas/"},
		{"inline schema invalid", override(`{"slug": "generate-video", "request_schema": {"type": "objekt"}}`), nil,
			"heygen/generate-video: request_schema: invalid JSON Schema:"},
		{"inline $ref", override(`{"slug": "generate-video", "request_schema": {"$ref": "https://evil.example/s.json"}}`), nil,
			"heygen/generate-video: request_schema: $ref is not supported: a request schema must be self-contained"},
		{"other draft", override(`{"slug": "generate-video", "request_schema": {"$schema": "http://json-schema.org/draft-07/schema#"}}`), nil,
			"is not \"https://json-schema.org/draft/2020-12/schema\""},
		{"raw endpoint", override(`{"slug": "list-avatars", "request_schema": {"type": "object"}}`), nil,
			"heygen/list-avatars: request_schema needs request_mode json or multipart"},
		{"bad schema file, unused", `{"slug": "heygen"}`, map[string]string{"broken.json": `{"minLength": -1}`},
			"broken.json: invalid JSON Schema:"},
		{"schema file not JSON", `{"slug": "heygen"}`, map[string]string{"broken.json": `{`},
			"broken.json: invalid JSON:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeDir(t, map[string]string{"heygen.json": tc.file})
			if tc.schemas != nil {
				writeSchemas(t, dir, tc.schemas)
			}
			_, err := Load(Options{Dir: dir})
			problems := problemsOf(t, err)
			if !containsProblem(problems, tc.want) {
				t.Fatalf("no problem contains %q; got:\n%v", tc.want, err)
			}
		})
	}
}

// TestRequestSchemaReported checks that a bad schema is one problem among
// the others, not a stop.
func TestRequestSchemaReported(t *testing.T) {
	dir := writeDir(t, map[string]string{"heygen.json": override(
		`{"slug": "generate-video", "request_schema": "nope.json", "timeout_seconds": -1}`)})
	problems := problemsOf(t, func() error { _, err := Load(Options{Dir: dir}); return err }())
	if len(problems) != 2 {
		t.Fatalf("problems = %q, want the schema and the timeout", problems)
	}
}

func TestRequestSchemaOverrides(t *testing.T) {
	t.Run("inline replaces whole", func(t *testing.T) {
		dir := writeDir(t, map[string]string{"heygen.json": override(
			`{"slug": "generate-video", "request_schema": {"type": "object", "required": ["title"]}}`)})
		_, ep, _ := mustLoad(t, Options{Dir: dir}).Lookup("heygen", "generate-video")
		if ep.RequestSchema.Name != "" || string(ep.RequestSchema.Document) != `{"required":["title"],"type":"object"}` {
			t.Fatalf("schema = %s %s", ep.RequestSchema.Name, ep.RequestSchema.Document)
		}
		violation(t, ep, `{"video_inputs":[]}`, "/title: is required")
	})
	t.Run("null removes", func(t *testing.T) {
		dir := writeDir(t, map[string]string{"heygen.json": override(`{"slug": "generate-video", "request_schema": null}`)})
		if _, ep, _ := mustLoad(t, Options{Dir: dir}).Lookup("heygen", "generate-video"); ep.RequestSchema != nil {
			t.Fatal("request_schema not removed")
		}
	})
	t.Run("directory file replaces built-in", func(t *testing.T) {
		dir := writeDir(t, map[string]string{})
		writeSchemas(t, dir, map[string]string{"elevenlabs-tts.json": `{"type": "object", "required": ["text", "model_id"]}`})
		_, ep, _ := mustLoad(t, Options{Dir: dir}).Lookup("elevenlabs", "tts")
		violation(t, ep, `{"text":"hi"}`, "/model_id: is required")
	})
}

// TestBuiltinRequestSchemas walks the contract's generate-video table
// (section 7.3), the template body and the tts body (section 7.1).
func TestBuiltinRequestSchemas(t *testing.T) {
	c := mustLoad(t, Options{})
	avatar := `{"type":"avatar","avatar_id":"a","avatar_style":"normal"}`
	voice := `{"type":"text","input_text":"hi","voice_id":"v"}`
	scene := `{"character":` + avatar + `,"voice":` + voice + `}`
	many := strings.TrimSuffix(strings.Repeat(scene+",", 51), ",")
	tests := []struct {
		service, action, body, want string
	}{
		{"heygen", "generate-video", `{"test":true,"video_inputs":[` + scene + `],"dimension":{"width":1280,"height":720}}`, ""},
		{"heygen", "generate-video", `{"video_inputs":[{"voice":{"type":"silence"}}],"brand_new_field":[1]}`, ""},
		{"heygen", "generate-video", `{"video_inputs":[{"character":{"type":"talking_photo","talking_photo_id":"p"},"voice":{"type":"audio","audio_url":"https://x"}}]}`, ""},
		{"heygen", "generate-video", ``, "must be object, not null"},
		{"heygen", "generate-video", `{}`, "/video_inputs: is required"},
		{"heygen", "generate-video", `{"video_inputs":[` + many + `]}`, "/video_inputs: must have at most 50 items, but has 51"},
		{"heygen", "generate-video", `{"video_inputs":[{"character":{"avatar_id":"a"},"voice":` + voice + `}]}`, "/video_inputs/0/character/type: is required"},
		{"heygen", "generate-video", `{"video_inputs":[{"character":{"type":"avatar","avatar_style":"normal"},"voice":` + voice + `}]}`, "/video_inputs/0/character/avatar_id: is required"},
		{"heygen", "generate-video", `{"video_inputs":[{"character":{"type":"talking_photo"},"voice":` + voice + `}]}`, "/video_inputs/0/character/talking_photo_id: is required"},
		{"heygen", "generate-video", `{"video_inputs":[{"character":` + avatar + `}]}`, "/video_inputs/0/voice: is required"},
		{"heygen", "generate-video", `{"video_inputs":[` + scene + `,{"voice":{"type":"text","voice_id":"v"}}]}`, "/video_inputs/1/voice/input_text: is required"},
		{"heygen", "generate-video", `{"video_inputs":[{"voice":{"type":"text","input_text":"` + strings.Repeat("é", 5001) + `","voice_id":"v"}}]}`,
			"/video_inputs/0/voice/input_text: length must be <= 5000, but got 5001"},
		{"heygen", "generate-video", `{"video_inputs":[{"voice":{"type":"silence"}}],"dimension":{"width":1280}}`, "/dimension/height: is required"},
		{"heygen", "generate-video", `{"video_inputs":[{"voice":{"type":"silence"}}],"dimension":{"width":1280,"height":5000}}`, "/dimension/height: must be <= 4096, but got 5000"},
		{"heygen", "generate-video", `{"video_inputs":[{"voice":{"type":"silence"}}],"dimension":{"width":"1280","height":720}}`, "/dimension/width: must be integer, not string"},
		{"heygen", "generate-template-video", `{"test":true,"caption":false,"variables":{"script":{"name":"script","type":"text","properties":{"content":"Hi"}}}}`, ""},
		{"heygen", "generate-template-video", `{"variables":[]}`, "/variables: must be object, not array"},
		{"elevenlabs", "tts", `{"text":"Hello","model_id":"eleven_multilingual_v2","voice_settings":{"stability":0.5,"similarity_boost":0.5}}`, ""},
		{"elevenlabs", "tts", `{"text":"Hello","voice_settings":{"similarity_boost":-0.1}}`, "/voice_settings/similarity_boost: must be >= 0, but got -0.1"},
		{"elevenlabs", "tts-stream-timestamps", `{"text":["Hello"]}`, "/text: must be string, not array"},
	}
	for _, tc := range tests {
		t.Run(tc.action+" "+tc.want, func(t *testing.T) {
			_, ep, ok := c.Lookup(tc.service, tc.action)
			if !ok || ep.RequestSchema == nil {
				t.Fatalf("%s/%s has no request_schema", tc.service, tc.action)
			}
			violation(t, ep, tc.body, tc.want)
		})
	}
}

// violation checks ValidateBody's answer; want "" means valid.
func violation(t *testing.T, ep *aiproxy.Endpoint, body, want string) {
	t.Helper()
	var raw json.RawMessage
	if body != "" {
		raw = json.RawMessage(body)
	}
	err := ep.RequestSchema.Validator.ValidateBody(raw)
	var v *aiproxy.BodyViolation
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected violation: %v", err)
	case want == "":
	case !errors.As(err, &v):
		t.Fatalf("err = %v, want a *BodyViolation %q", err, want)
	case v.Error() != want:
		t.Fatalf("violation = %q, want %q", v.Error(), want)
	}
}

// TestRequestSchemaFirstFailureIsStable checks that of several failures the
// earliest in the body is reported, every time.
func TestRequestSchemaFirstFailureIsStable(t *testing.T) {
	_, ep, _ := mustLoad(t, Options{}).Lookup("heygen", "generate-video")
	body := `{"test":"no","video_inputs":[{"voice":{"type":"x"}},{"voice":{}}],"dimension":{"width":1,"height":1}}`
	for range 20 {
		violation(t, ep, body, "/dimension/height: must be >= 128, but got 1")
	}
}

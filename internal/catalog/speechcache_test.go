package catalog

import (
	"errors"
	"slices"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// speechEdits turn validDoc's get-thing into a speech endpoint (POST, JSON
// body) with the given speech_cache block.
func speechEdits(block map[string]any, more ...any) map[string]any {
	edits := map[string]any{"endpoints.0.http_method": "POST", "endpoints.0.request_mode": "json",
		"endpoints.0.response_mode": "binary", "endpoints.0.speech_cache": block}
	for i := 0; i+1 < len(more); i += 2 {
		edits[more[i].(string)] = more[i+1]
	}
	return edits
}

// speechCases break one speech_cache block at a time.
var speechCases = []validationCase{
	{name: "valid", edits: speechEdits(map[string]any{
		"key":         []any{"path.id", "query.format", "header.accept", "body.text", "body.settings", "query.log"},
		"uncacheable": []any{"query.log=false", "body.history_ids"},
		"cost_header": "Cost", "drop_headers": []any{"Thing-Id"},
	})},
	{name: "no key", edits: speechEdits(map[string]any{"cost_header": "Cost"}),
		want: []string{ep + "speech_cache.key is required", ep + `speech_cache.key must hold "path.id"`}},
	{name: "path placeholder missing", edits: speechEdits(map[string]any{"key": []any{"body.text"}}),
		want: []string{ep + `speech_cache.key must hold "path.id": calls with another id would share an entry`}},
	{name: "bad fields", edits: speechEdits(map[string]any{"key": []any{"path.id", "cookie.x", "body", "body.", "path.voice", "body.a-b", "header.bad header"}}),
		want: []string{
			ep + `speech_cache.key "cookie.x" must start with one of "path.", "query.", "body.", "header."`,
			ep + `speech_cache.key "body" must be "IN.NAME"`,
			ep + `speech_cache.key "body." names no field`,
			ep + `speech_cache.key "path.voice" names no valid path field (not a placeholder of path_template)`,
			ep + `speech_cache.key "body.a-b" names no valid body field`,
			ep + `speech_cache.key "header.bad header" names no valid header field`,
		}},
	{name: "value in the key", edits: speechEdits(map[string]any{"key": []any{"path.id", "query.log=false"}}),
		want: []string{ep + `speech_cache.key "query.log=false" may not hold a value`}},
	{name: "listed twice", edits: speechEdits(map[string]any{"key": []any{"path.id", "header.Accept", "header.accept"},
		"uncacheable": []any{"body.x", "body.x"}}),
		want: []string{ep + `speech_cache.key "header.accept" is listed twice`, ep + `speech_cache.uncacheable "body.x" is listed twice`}},
	{name: "uncacheable with any value and in the key", edits: speechEdits(map[string]any{"key": []any{"path.id", "body.seed"},
		"uncacheable": []any{"body.seed", "body.seed=1"}}),
		want: []string{ep + `speech_cache.uncacheable "body.seed" is also in speech_cache.key`}},
	{name: "bad headers", edits: speechEdits(map[string]any{"key": []any{"path.id"}, "cost_header": "a b",
		"drop_headers": []any{"X-Id", "x-id", "c:d"}}),
		want: []string{ep + `speech_cache.cost_header "a b" is not a valid header name`,
			ep + `speech_cache.drop_headers: "x-id" is listed twice`, ep + `speech_cache.drop_headers "c:d" is not a valid header name`}},
	{name: "raw request", edits: map[string]any{"endpoints.0.speech_cache": map[string]any{"key": []any{"path.id"}}},
		want: []string{ep + "speech_cache keys on a JSON body: it needs request_mode json"}},
	{name: "job start", edits: speechEdits(map[string]any{"key": []any{"path.id"}}, "endpoints.0.callback_mode", "poll"),
		want: []string{ep + "speech_cache may not be on a job-starting endpoint"}},
	{name: "unknown member", edits: speechEdits(map[string]any{"key": []any{"path.id"}, "ttl": 5}),
		want: []string{`unknown field "endpoints[0].speech_cache.ttl"`}},
}

func TestSpeechCacheValidation(t *testing.T) {
	for _, tc := range speechCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := compile(nil, []sourceFile{{name: "test.json", data: tc.data()}}, nil)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("want no problems, got %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) != len(tc.want) {
				t.Fatalf("got %v, want %d problems", err, len(tc.want))
			}
			for _, w := range tc.want {
				if !containsProblem(ve.Problems, w) {
					t.Errorf("no problem contains %q; got:\n%s", w, err)
				}
			}
		})
	}
}

// TestSpeechCacheCompiled checks the compiled rule of a valid block and of
// the built-in ElevenLabs endpoints.
func TestSpeechCacheCompiled(t *testing.T) {
	c, err := compile(nil, []sourceFile{{name: "test.json", data: speechCases[0].data()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := c.Service("testsvc")
	got := svc.Endpoints[0].SpeechCache
	want := &aiproxy.SpeechCacheRule{
		Key: []aiproxy.RequestField{{In: aiproxy.InPath, Name: "id"}, {In: aiproxy.InQuery, Name: "format"},
			{In: aiproxy.InHeader, Name: "accept"}, {In: aiproxy.InBody, Name: "text"}, {In: aiproxy.InBody, Name: "settings"},
			{In: aiproxy.InQuery, Name: "log"}},
		Uncacheable: []aiproxy.RequestField{{In: aiproxy.InQuery, Name: "log", Value: "false"}, {In: aiproxy.InBody, Name: "history_ids"}},
		CostHeader:  "Cost", DropHeaders: []string{"Thing-Id"},
	}
	if got == nil || !slices.Equal(got.Key, want.Key) || !slices.Equal(got.Uncacheable, want.Uncacheable) ||
		got.CostHeader != want.CostHeader || !slices.Equal(got.DropHeaders, want.DropHeaders) {
		t.Fatalf("rule = %+v\nwant %+v", got, want)
	}
	if svc.Endpoints[1].SpeechCache != nil {
		t.Error("an endpoint without a block has a rule")
	}

	builtin := mustLoad(t, Options{})
	for _, action := range []string{"tts", "tts-stream", "tts-timestamps", "tts-stream-timestamps"} {
		_, e, ok := builtin.Lookup("elevenlabs", action)
		if !ok || e.SpeechCache == nil {
			t.Fatalf("elevenlabs/%s has no speech_cache rule", action)
		}
		r := e.SpeechCache
		if r.CostHeader != "character-cost" || !slices.Equal(r.DropHeaders, []string{"history-item-id"}) ||
			!slices.Contains(r.Key, aiproxy.RequestField{In: aiproxy.InPath, Name: "voice_id"}) ||
			!slices.Contains(r.Uncacheable, aiproxy.RequestField{In: aiproxy.InQuery, Name: "enable_logging", Value: "false"}) {
			t.Errorf("elevenlabs/%s: rule = %+v", action, r)
		}
	}
	for _, s := range builtin.Services() {
		for _, e := range s.Endpoints {
			if e.SpeechCache != nil && (s.Slug != "elevenlabs" || !slices.Contains([]string{"tts", "tts-stream", "tts-timestamps", "tts-stream-timestamps"}, e.Slug)) {
				t.Errorf("%s/%s has a speech_cache rule", s.Slug, e.Slug)
			}
		}
	}
}

// TestSpeechCacheOverride turns the cache off for one endpoint with null,
// and shows that an override's key replaces the built-in list whole.
func TestSpeechCacheOverride(t *testing.T) {
	dir := writeDir(t, map[string]string{"el.json": `{"slug":"elevenlabs","endpoints":[
		{"slug":"tts-stream","speech_cache":null},
		{"slug":"tts","speech_cache":{"key":["path.voice_id","body.text"]}}]}`})
	c := mustLoad(t, Options{Dir: dir})
	if _, e, _ := c.Lookup("elevenlabs", "tts-stream"); e.SpeechCache != nil {
		t.Error("tts-stream still has a rule after null")
	}
	_, e, _ := c.Lookup("elevenlabs", "tts")
	if r := e.SpeechCache; len(r.Key) != 2 || r.CostHeader != "character-cost" || len(r.Uncacheable) != 3 {
		t.Errorf("tts rule = %+v, want the override's key and the built-in rest", r)
	}
}

func TestParseRequestField(t *testing.T) {
	tests := []struct {
		in   string
		want aiproxy.RequestField
		bad  bool
	}{
		{in: "body.text", want: aiproxy.RequestField{In: aiproxy.InBody, Name: "text"}},
		{in: "query.enable_logging=false", want: aiproxy.RequestField{In: aiproxy.InQuery, Name: "enable_logging", Value: "false"}},
		{in: `body.seed=1=2`, want: aiproxy.RequestField{In: aiproxy.InBody, Name: "seed", Value: "1=2"}},
		{in: "path.voice_id", want: aiproxy.RequestField{In: aiproxy.InPath, Name: "voice_id"}},
		{in: "header.Accept", want: aiproxy.RequestField{In: aiproxy.InHeader, Name: "Accept"}},
		{in: "text", bad: true},
		{in: "form.text", bad: true},
		{in: "body.=x", bad: true},
	}
	for _, tt := range tests {
		got, err := aiproxy.ParseRequestField(tt.in)
		if (err != nil) != tt.bad || (!tt.bad && got != tt.want) {
			t.Errorf("ParseRequestField(%q) = %+v, %v", tt.in, got, err)
		}
		if !tt.bad && got.String() != tt.in {
			t.Errorf("%q written back as %q", tt.in, got.String())
		}
	}
}

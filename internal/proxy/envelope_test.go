package proxy

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// envelopeCases seed FuzzDecodeEnvelope.
var envelopeCases = []struct {
	name    string
	in      string
	want    Envelope
	wantErr string
}{
	{"empty input", ``, Envelope{}, ""},
	{"whitespace", " \n\t", Envelope{}, ""},
	{"empty object", `{}`, Envelope{}, ""},
	{"all null", `{"body":null,"query":null,"headers":null,"path_params":null,"files":null}`, Envelope{}, ""},
	{"empty files", `{"files":{}}`, Envelope{}, ""},
	{"documented tts", `{"path_params":{"voice_id":"21m00Tcm4TlvDq8ikWAM"},"body":{"text":"Hi","model_id":"m"}}`,
		Envelope{Body: json.RawMessage(`{"text":"Hi","model_id":"m"}`), PathParams: map[string]string{"voice_id": "21m00Tcm4TlvDq8ikWAM"}}, ""},
	{"body kept verbatim but trimmed", `{"body":  [1, "a" ,{"b":null}]  }`, Envelope{Body: json.RawMessage(`[1, "a" ,{"b":null}]`)}, ""},
	{"body scalar", `{"body":"text"}`, Envelope{Body: json.RawMessage(`"text"`)}, ""},
	{"query scalars", `{"query":{"s":"x","n":1.50,"b":true,"big":12345678901234567890,"nul":null}}`,
		Envelope{Query: map[string][]string{"s": {"x"}, "n": {"1.50"}, "b": {"true"}, "big": {"12345678901234567890"}}}, ""},
	{"query list", `{"query":{"id":["a",2,false]}}`, Envelope{Query: map[string][]string{"id": {"a", "2", "false"}}}, ""},
	{"query empty list", `{"query":{"id":[]}}`, Envelope{Query: map[string][]string{}}, ""},
	{"headers", `{"headers":{"Accept":"audio/mpeg"}}`, Envelope{Headers: map[string]string{"Accept": "audio/mpeg"}}, ""},
	{"path param number", `{"path_params":{"id":42}}`, Envelope{PathParams: map[string]string{"id": "42"}}, ""},
	{"path param null skipped", `{"path_params":{"id":null}}`, Envelope{PathParams: map[string]string{}}, ""},

	{"not an object", `[]`, Envelope{}, "Invalid request envelope: expected a JSON object with body, query, headers and path_params."},
	{"null", `null`, Envelope{}, "Invalid request envelope: expected a JSON object with body, query, headers and path_params."},
	{"broken", `{"body":`, Envelope{}, "Invalid request envelope: expected a JSON object with body, query, headers and path_params."},
	{"trailing garbage", `{} x`, Envelope{}, "Invalid request envelope: expected a JSON object with body, query, headers and path_params."},
	{"unknown field", `{"bdy":{}}`, Envelope{}, `Invalid request envelope: unknown field "bdy".`},
	{"files with content", `{"files":{"f":"data"}}`, Envelope{}, "Invalid request envelope: files must be sent as multipart/form-data parts, not in JSON."},
	{"files as list", `{"files":[]}`, Envelope{}, "Invalid request envelope: files must be sent as multipart/form-data parts, not in JSON."},
	{"query not object", `{"query":"a=b"}`, Envelope{}, "Invalid request envelope: query must be a JSON object."},
	{"query nested object", `{"query":{"a":{"b":1}}}`, Envelope{}, `Invalid request envelope: query "a" must be a string, number or boolean.`},
	{"query nested list", `{"query":{"a":[[1]]}}`, Envelope{}, `Invalid request envelope: query "a" must be a string, number or boolean.`},
	{"query null in list", `{"query":{"a":[null]}}`, Envelope{}, `Invalid request envelope: query "a" must be a string, number or boolean.`},
	{"headers not object", `{"headers":[]}`, Envelope{}, "Invalid request envelope: headers must be a JSON object."},
	{"header number", `{"headers":{"Accept":1}}`, Envelope{}, `Invalid request envelope: header "Accept" must be a string.`},
	{"header CRLF", `{"headers":{"Accept":"a\r\nX-Api-Key: stolen"}}`, Envelope{}, `Invalid request envelope: header "Accept" has a forbidden character.`},
	{"header NUL", `{"headers":{"Accept":"a\u0000"}}`, Envelope{}, `Invalid request envelope: header "Accept" has a forbidden character.`},
	{"path params not object", `{"path_params":"x"}`, Envelope{}, "Invalid request envelope: path_params must be a JSON object."},
	{"path param object", `{"path_params":{"id":{}}}`, Envelope{}, "Invalid path parameter: id"},
}

func TestDecodeEnvelope(t *testing.T) {
	for _, tc := range envelopeCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeEnvelope([]byte(tc.in))
			if tc.wantErr != "" {
				errorOf(t, err, aiproxy.CodeInvalid, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("DecodeEnvelope(%s) =\n%#v, want\n%#v", tc.in, got, tc.want)
			}
		})
	}
}

func TestEnvelopeStringHidesValues(t *testing.T) {
	env, err := DecodeEnvelope([]byte(`{"body":{"text":"secret words"},"headers":{"Accept":"hidden-value"},"query":{"q":"hidden-q"}}`))
	if err != nil {
		t.Fatal(err)
	}
	s := env.String()
	for _, v := range []string{"secret words", "hidden-value", "hidden-q"} {
		if strings.Contains(s, v) {
			t.Fatalf("String() = %q shows %q", s, v)
		}
	}
	if !strings.Contains(s, "Accept") || !strings.Contains(s, "q") {
		t.Fatalf("String() = %q lacks the keys", s)
	}
}

// encodeEnvelope writes an envelope back as JSON, keeping Body's bytes.
func encodeEnvelope(t *testing.T, env Envelope) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(`{`)
	if env.Body != nil {
		b.WriteString(`"body":`)
		b.Write(env.Body)
		b.WriteString(`,`)
	}
	for _, f := range []struct {
		name string
		v    any
	}{{"query", env.Query}, {"headers", env.Headers}, {"path_params", env.PathParams}} {
		data, err := json.Marshal(f.v)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(`"` + f.name + `":`)
		b.Write(data)
		b.WriteString(`,`)
	}
	b.WriteString(`"files":{}}`)
	return b.Bytes()
}

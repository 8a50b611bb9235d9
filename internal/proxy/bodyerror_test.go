package proxy

import (
	"bytes"
	"encoding/json"
	"testing"
)

// heygenBodyErrorByMap is the reference heygenBodyError must agree with:
// the whole body unmarshalled into a map.
func heygenBodyErrorByMap(body []byte) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return false
	}
	if e, ok := top["error"]; ok && !isNull(e) && string(bytes.TrimSpace(e)) != `""` {
		return true
	}
	var code json.Number
	if raw, ok := top["code"]; ok && json.Unmarshal(raw, &code) == nil {
		return code.String() != "100"
	}
	return false
}

var heygenBodies = []struct {
	body string
	want bool
}{
	{`{"error":null,"data":{"remaining_quota":6000,"details":{"api":6000}}}`, false},
	{`{"data":null,"error":{"code":"invalid_parameter","message":"bad"}}`, true},
	{`{"error":"","data":{}}`, false},
	{`{"error" : "" , "data":{}}`, false},
	{`{"error":"boom"}`, true},
	{`{"error":0}`, true},
	{`{"error":false}`, true},
	{`{"error":[]}`, true},
	{`{"error":{}}`, true},
	{` { "error" :  null } `, false},
	{`{"code":100,"data":{},"message":"Success"}`, false},
	{`{"code":400175,"message":"quota"}`, true},
	{`{"code":"100"}`, false},
	{`{"code":"400"}`, true},
	{`{"code":"abc"}`, false},
	{`{"code":null}`, true},
	{`{"code":true}`, false},
	{`{"code":{"x":1}}`, false},
	{`{"code":1.0e2}`, true},
	{`{"code":100,"code":101}`, true},
	{`{"code":101,"code":100}`, false},
	{`{"error":{"a":1},"error":null}`, false},
	{`{"error":null,"error":"x"}`, true},
	{`{"\u0065rror":"x"}`, true},
	{`{"c\u006fde":5}`, true},
	{`{"err\"or":"x"}`, false},
	{`{"data":{"error":"nested","code":5}}`, false},
	{`{"data":["}", "{", "\"error\":1"],"error":null}`, false},
	{`{"data":"\\","error":1}`, true},
	{`{"ERROR":"x","Code":5}`, false},
	{`{}`, false},
	{`[]`, false},
	{`[{"error":1}]`, false},
	{`null`, false},
	{`"error"`, false},
	{`123`, false},
	{``, false},
	{`{"error":1`, false},
	{`{"error":1} x`, false},
	{`{"error":1,}`, false},
	{"{\"error\":\"\xff\"}", true},
}

func TestHeygenBodyError(t *testing.T) {
	for _, c := range heygenBodies {
		if got := heygenBodyError([]byte(c.body)); got != c.want {
			t.Errorf("heygenBodyError(%s) = %v, want %v", c.body, got, c.want)
		}
		if ref := heygenBodyErrorByMap([]byte(c.body)); ref != c.want {
			t.Errorf("reference(%s) = %v, want %v", c.body, ref, c.want)
		}
	}
}

func FuzzHeygenBodyError(f *testing.F) {
	for _, c := range heygenBodies {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if got, want := heygenBodyError(body), heygenBodyErrorByMap(body); got != want {
			t.Fatalf("heygenBodyError(%q) = %v, the map decode says %v", body, got, want)
		}
	})
}

func BenchmarkHeygenBodyError(b *testing.B) {
	body := []byte(`{"error":null,"data":{"remaining_quota":6000,"details":{"api":6000}}}`)
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			heygenBodyError(body)
		}
	})
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			heygenBodyErrorByMap(body)
		}
	})
}

package budget_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/budget"
)

// Endpoints as the catalog describes them, as far as the pricer reads.
var (
	tts        = &aiproxy.Endpoint{Slug: "tts", Meter: aiproxy.MetricCharacters}
	listVoices = &aiproxy.Endpoint{Slug: "list-voices"}
	v2Generate = &aiproxy.Endpoint{Slug: "generate-video", Meter: aiproxy.MetricRenders, TestModeField: "test",
		Job: &aiproxy.JobSpec{IDPath: "data.video_id"}}
	v2Template = &aiproxy.Endpoint{Slug: "generate-template-video", Meter: aiproxy.MetricRenders, TestModeField: "test"}
	v2Photo    = &aiproxy.Endpoint{Slug: "generate-talking-photo", Meter: aiproxy.MetricRenders}
	v3Create   = &aiproxy.Endpoint{Slug: "v3-create-video", Meter: aiproxy.MetricRenders}
	translate  = &aiproxy.Endpoint{Slug: "translate-video", Meter: aiproxy.MetricRenders}
)

func defaultPricer(t *testing.T) *budget.Pricer {
	t.Helper()
	p, err := budget.NewPricer(budget.DefaultPrices())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func quote(t *testing.T, p *budget.Pricer, service string, ep *aiproxy.Endpoint, body string) budget.Quote {
	t.Helper()
	q, err := p.Quote(budget.Call{Org: "acme", Service: service, Endpoint: ep, Body: []byte(body)})
	if err != nil {
		t.Fatalf("Quote(%s/%s, %s): %v", service, ep.Slug, body, err)
	}
	return q
}

func TestQuote(t *testing.T) {
	p := defaultPricer(t)
	scene := func(char, voice string) string {
		return `{"character":{"type":"` + char + `"},"voice":` + voice + `}`
	}
	text140 := strings.Repeat("a", 140) // 10 s at 14 characters a second
	tests := []struct {
		name        string
		service     string
		ep          *aiproxy.Endpoint
		body        string
		micros      int64
		exact, free bool
		variant     string
	}{
		{"tts on the default model", "elevenlabs", tts, `{"text":"Hello, world"}`, 1200, true, false, "eleven_multilingual_v2"},
		{"tts on Flash", "elevenlabs", tts, `{"text":"Hello, world","model_id":"eleven_flash_v2_5"}`, 600, true, false, "eleven_flash_v2_5"},
		{"tts on v3", "elevenlabs", tts, `{"text":"Héllo","model_id":"eleven_v3"}`, 500, true, false, "eleven_v3"},
		{"tts of nothing", "elevenlabs", tts, `{}`, 0, true, false, "eleven_multilingual_v2"},
		{"a free endpoint", "elevenlabs", listVoices, ``, 0, true, true, ""},
		{"v2 avatar speaking", "heygen", v2Generate, `{"video_inputs":[` + scene("avatar", `{"type":"text","input_text":"`+text140+`"}`) + `]}`,
			30 * 16500, false, false, ""},
		{"v2 talking photos", "heygen", v2Generate, `{"video_inputs":[` + scene("talking_photo", `{"type":"text","input_text":"`+text140+`"}`) + `]}`,
			30 * 3300, false, false, "photo_avatar"},
		{"v2 audio scene at the audio length", "heygen", v2Generate, `{"video_inputs":[` + scene("avatar", `{"type":"audio","audio_url":"https://x/a.mp3"}`) + `]}`,
			300 * 16500, false, false, ""},
		{"v2 scenes add up", "heygen", v2Generate, `{"video_inputs":[` + scene("avatar", `{"type":"silence","duration":20}`) + `,` +
			scene("avatar", `{"type":"text","input_text":"`+text140+`"}`) + `]}`, 30 * 16500, false, false, ""},
		{"v2 test mode is free", "heygen", v2Generate, `{"test":true,"video_inputs":[]}`, 0, true, true, ""},
		{"v2 template from its text", "heygen", v2Template, `{"variables":{"intro":{"name":"intro","type":"text","properties":{"content":"` +
			strings.Repeat("b", 600) + `"}}}}`, 60 * 16500, false, false, ""},
		{"v2 template without text", "heygen", v2Template, `{"variables":{}}`, 300 * 16500, false, false, ""},
		{"v2 talking photo endpoint", "heygen", v2Photo, `{"video_inputs":[` + scene("talking_photo", `{"type":"text","input_text":"hi"}`) + `]}`,
			30 * 3300, false, false, "photo_avatar"},
		{"v3 avatar script", "heygen", v3Create, `{"type":"avatar","script":"` + text140 + `"}`, 1_000_000, false, false, "avatar_iv"},
		{"v3 engine", "heygen", v3Create, `{"type":"avatar","script":"` + text140 + `","engine":{"type":"avatar_v"}}`, 1_000_000, false, false, "avatar_v"},
		{"v3 audio", "heygen", v3Create, `{"type":"avatar","audio_url":"https://x/a.mp3"}`, 30_000_000, false, false, "avatar_iv"},
		{"v3 cinematic", "heygen", v3Create, `{"type":"cinematic_avatar","prompt":"p","duration":8}`, 800_000, false, false, "cinematic_avatar"},
		{"v3 cinematic default", "heygen", v3Create, `{"type":"cinematic_avatar","prompt":"p"}`, 1_000_000, false, false, "cinematic_avatar"},
		{"v3 studio", "heygen", v3Create, `{"type":"studio","scenes":[{"type":"avatar_video","input":{"script":"` + text140 +
			`"}},{"type":"image","duration":5}]}`, 1_500_000, false, false, "studio"},
		{"v3 capped at the longest video", "heygen", v3Create, `{"type":"studio","scenes":[` +
			strings.TrimSuffix(strings.Repeat(`{"type":"video"},`, 7), ",") + `]}`, 180_000_000, false, false, "studio"},
		{"unreadable video body", "heygen", v3Create, `[1,2]`, 30_000_000, false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := quote(t, p, tt.service, tt.ep, tt.body)
			if q.Micros != tt.micros || q.Exact != tt.exact || q.Free != tt.free || q.Variant != tt.variant {
				t.Fatalf("Quote = %d micros, exact %v, free %v, variant %q; want %d, %v, %v, %q",
					q.Micros, q.Exact, q.Free, q.Variant, tt.micros, tt.exact, tt.free, tt.variant)
			}
		})
	}
}

func TestQuoteUnpriced(t *testing.T) {
	p := defaultPricer(t)
	_, err := p.Quote(budget.Call{Org: "acme", Service: "heygen", Endpoint: translate, Body: []byte(`{}`)})
	if !errors.Is(err, budget.ErrUnpriced) {
		t.Fatalf("Quote(translate-video) = %v, want ErrUnpriced", err)
	}
	_, err = p.Quote(budget.Call{Org: "acme", Service: "elevenlabs", Endpoint: tts, Body: []byte(`"text"`)})
	if !errors.Is(err, budget.ErrUnpriced) {
		t.Fatalf("Quote(tts with a body that is no object) = %v, want ErrUnpriced", err)
	}
	if !p.Claims(translate) || !p.Claims(tts) || p.Claims(listVoices) {
		t.Fatal("Claims must take metered and priced endpoints and leave free ones")
	}
}

func TestOrgFlatPrices(t *testing.T) {
	flat, err := budget.LoadPrices(strings.NewReader(`{"version": "orgs", "org_prices": [
		{"org": "acme", "service": "heygen", "actions": ["*"], "micros": 500000},
		{"org": "acme", "service": "heygen", "actions": ["v3-create-video"], "micros": 700000},
		{"org": "acme", "service": "elevenlabs", "actions": ["add-voice"], "micros": 10000}]}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := budget.NewPricer(budget.DefaultPrices(), flat)
	if err != nil {
		t.Fatal(err)
	}
	addVoice := &aiproxy.Endpoint{Slug: "add-voice"}
	for _, tt := range []struct {
		service string
		ep      *aiproxy.Endpoint
		micros  int64
	}{
		{"heygen", translate, 500000}, {"heygen", v2Generate, 500000}, {"heygen", v3Create, 700000},
		{"elevenlabs", addVoice, 10000}, {"elevenlabs", tts, 1200},
	} {
		q := quote(t, p, tt.service, tt.ep, `{"text":"Hello, world"}`)
		if q.Micros != tt.micros || !q.Exact {
			t.Errorf("%s/%s = %+v, want %d", tt.service, tt.ep.Slug, q, tt.micros)
		}
		if q.JobActual([]byte(`{"data":{"duration":600}}`)) != q.Micros && q.Flat {
			t.Errorf("%s/%s: a flat price changed with the job's length", tt.service, tt.ep.Slug)
		}
	}
	// Another org pays the table, and cannot call the unpriced action.
	if _, err := p.Quote(budget.Call{Org: "other", Service: "heygen", Endpoint: translate}); !errors.Is(err, budget.ErrUnpriced) {
		t.Fatalf("another org's translate-video = %v, want ErrUnpriced", err)
	}
	if !p.Claims(addVoice) {
		t.Fatal("an action with an org's flat price must be claimed")
	}
}

func TestActualCost(t *testing.T) {
	p := defaultPricer(t)
	q := quote(t, p, "elevenlabs", tts, `{"text":"Hello","model_id":"eleven_flash_v2_5"}`)
	if q.Micros != 250 {
		t.Fatalf("estimate = %d", q.Micros)
	}
	h := http.Header{}
	if got := q.Actual(h); got != 250 {
		t.Fatalf("Actual without a header = %d, want the quote", got)
	}
	h.Set("Character-Cost", "3")
	if got := q.Actual(h); got != 300 {
		t.Fatalf("Actual with character-cost 3 = %d, want 300", got)
	}
	h.Set("Character-Cost", "lots")
	if got := q.Actual(h); got != 250 {
		t.Fatalf("Actual with a bad header = %d, want the quote", got)
	}
	v2 := quote(t, p, "heygen", v2Generate, `{"video_inputs":[{"voice":{"type":"text","input_text":"hi"}}]}`)
	for body, want := range map[string]int64{
		`{"data":{"duration":61.2}}`: 90 * 16500, // billed in 30 s steps
		`{"data":{"duration":30}}`:   30 * 16500,
		`{"data":{"duration":null}}`: v2.Micros,
		`not json`:                   v2.Micros,
	} {
		if got := v2.JobActual([]byte(body)); got != want {
			t.Errorf("JobActual(%s) = %d, want %d", body, got, want)
		}
	}
	v3 := quote(t, p, "heygen", v3Create, `{"type":"avatar","script":"hi"}`)
	if got := v3.JobActual([]byte(`{"data":{"duration":61.25}}`)); got != 6_125_000 {
		t.Fatalf("v3 JobActual = %d, want 6125000", got)
	}
	// A hold keeps the quote as a memo, for the process that settles it.
	back := budget.QuoteFromMemo(v2.Memo(), 1)
	if got := back.JobActual([]byte(`{"data":{"duration":61.2}}`)); got != 90*16500 {
		t.Fatalf("JobActual from the memo = %d", got)
	}
	if got := budget.QuoteFromMemo("garbage", 777).JobActual([]byte(`{"data":{"duration":5}}`)); got != 777 {
		t.Fatalf("JobActual from a bad memo = %d, want what was held", got)
	}
}

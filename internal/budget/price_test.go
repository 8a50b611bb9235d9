package budget_test

import (
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/budget"
)

func TestDefaultPricesAreDocumented(t *testing.T) {
	tbl := budget.DefaultPrices()
	if tbl.Version == "" || tbl.Effective == "" {
		t.Fatalf("the embedded table has no version or effective date: %q %q", tbl.Version, tbl.Effective)
	}
	for _, p := range tbl.Prices {
		if !strings.HasPrefix(p.Source, "https://") || p.Date == "" {
			t.Errorf("price of %s %v has no source URL or date", p.Service, p.Actions)
		}
	}
	for name, c := range tbl.Credits {
		if c.Source == "" || c.Date == "" || c.Micros <= 0 {
			t.Errorf("credit %s: %+v", name, c)
		}
	}
	if _, err := budget.NewPricer(tbl); err != nil {
		t.Fatalf("NewPricer(default): %v", err)
	}
}

func TestLoadPricesReportsEveryProblem(t *testing.T) {
	_, err := budget.LoadPrices(strings.NewReader(`{
		"prices": [
			{"service": "heygen", "actions": ["v3-create-video"], "unit": "minute", "micros": -1, "source": "x", "date": "y"},
			{"service": "elevenlabs", "actions": ["tts"], "unit": "character", "credits": 1, "source": "x", "date": "y"},
			{"service": "elevenlabs", "actions": ["tts"], "unit": "character", "micros": 1}
		],
		"org_prices": [{"org": "acme", "service": "heygen", "actions": [], "micros": -5}]
	}`))
	if err == nil {
		t.Fatal("LoadPrices accepted a bad file")
	}
	for _, want := range []string{"version is required", `unit "minute"`, "at least 0", "credits needs a credit",
		"elevenlabs/tts/ is priced twice", "source and date are required", "org_prices[0]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := budget.LoadPrices(strings.NewReader(`{"version": "1", "surprise": true}`)); err == nil {
		t.Error("LoadPrices accepted an unknown field")
	}
}

func TestOverrides(t *testing.T) {
	over, err := budget.LoadPrices(strings.NewReader(`{"version": "ops-7",
		"credits": {"elevenlabs": {"micros": 300, "source": "our contract", "date": "2026-11"}},
		"prices": [{"service": "heygen", "actions": ["v3-create-video"], "unit": "second", "micros": 50000,
			"source": "https://developers.heygen.com/docs/pricing", "date": "2026-12", "notes": "Avatar IV, photo, 1080p"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := budget.NewPricer(budget.DefaultPrices(), over)
	if err != nil {
		t.Fatal(err)
	}
	if v := p.Table().Version; !strings.HasSuffix(v, "+ops-7") {
		t.Errorf("Version = %q, want the override named", v)
	}
	q := quote(t, p, "elevenlabs", tts, `{"text":"abcd"}`)
	if q.Micros != 1200 {
		t.Errorf("tts at the overridden credit price = %d, want 1200", q.Micros)
	}
	q = quote(t, p, "heygen", v3Create, `{"type":"avatar","script":"`+strings.Repeat("a", 28)+`"}`)
	if q.Micros != 100_000 {
		t.Errorf("v3 video of 2 s at the overridden rate = %d, want 100000", q.Micros)
	}
	// An override may use the default table's credits, but not invent one.
	bad, err := budget.LoadPrices(strings.NewReader(`{"version": "x", "prices": [{"service": "s", "actions": ["a"],
		"unit": "call", "credits": 1, "credit": "nope", "source": "x", "date": "y"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := budget.NewPricer(budget.DefaultPrices(), bad); err == nil || !strings.Contains(err.Error(), `unknown credit "nope"`) {
		t.Fatalf("NewPricer with an unknown credit = %v", err)
	}
}

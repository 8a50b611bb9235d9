package speechcache_test

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/budget"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// budgetPricer prices hits with the budgets' price table, as cmd/aiproxy
// wires it.
type budgetPricer struct{ p *budget.Pricer }

func (b budgetPricer) Price(c *proxy.Call, h http.Header) (int64, bool) {
	q, err := b.p.Quote(budget.Call{Org: c.Org, Service: c.Service.Slug, Endpoint: c.Endpoint, Body: c.Envelope.Body})
	if err != nil {
		return 0, false
	}
	if q.Free {
		return 0, true
	}
	return q.Actual(h), true
}

// pricedHarness is the pipeline as serve builds it with budgets: the
// speech cache priced by the shipped price table, the budget enforcer
// inside it.
func pricedHarness(t *testing.T, opts ...func(*harnessOptions)) *harness {
	t.Helper()
	pricer, err := budget.NewPricer(budget.DefaultPrices())
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, append(opts, func(o *harnessOptions) { o.pricer = budgetPricer{pricer} })...)
	h.inner = []proxy.Hooks{budget.New(budget.Config{Budgets: h.db, Ledger: h.db, Pricer: pricer})}
	h.start() // again, with the enforcer
	return h
}

// The shipped prices: ElevenLabs' credit is 100 micro-USD; the default
// model costs a credit a character, Flash half a credit.
const creditMicros = 100

// TestHitRecordsSavedCost: the miss records what it cost and saves
// nothing; each hit costs nothing and records what the provider would have
// charged as saved, the same amount, also for callers that waited on the
// miss.
func TestHitRecordsSavedCost(t *testing.T) {
	h := pricedHarness(t, func(o *harnessOptions) { o.sandbox.TTSLatency = 50 * time.Millisecond })
	const text = "Welcome to lesson one."
	flash := tts(text)
	flash.body = map[string]any{"text": text, "model_id": "eleven_flash_v2_5"}
	cases := []struct {
		name string
		s    speak
		want int64
	}{
		{"default model", tts(text), int64(len(text)) * creditMicros},
		{"flash", flash, int64(len(text)) / 2 * creditMicros},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.meter.records())
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() { h.call("acme", tc.s) })
			}
			wg.Wait()
			h.settle()
			h.call("acme", tc.s)
			recs := h.meter.records()[before:]
			var misses, hits int
			for _, r := range recs {
				switch {
				case r.Cache == "HIT" && r.CostMicros == 0 && r.SavedMicros == tc.want:
					hits++
				case r.Cache == "" && r.UpstreamStatus == 200 && r.CostMicros == tc.want && r.SavedMicros == 0:
					misses++
				default:
					t.Errorf("record %+v; want a miss costing %d or a hit saving it", r, tc.want)
				}
			}
			if misses != 1 || hits != 4 {
				t.Errorf("%d misses and %d hits; want 1 and 4", misses, hits)
			}
		})
	}
	h.wantSent(2)
}

// headerPricer prices a call at rate micro-USD per credit of the header it
// is given, and remembers that header.
type headerPricer struct {
	rate int64
	ok   bool
	mu   sync.Mutex
	seen []string
}

func (p *headerPricer) Price(_ *proxy.Call, h http.Header) (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, h.Get("Character-Cost"))
	n, _ := strconv.ParseInt(h.Get("Character-Cost"), 10, 64)
	return n * p.rate, p.ok
}

// TestSavedCostFromStoredAnswer: a hit is priced from the provider's own
// count that the entry keeps (its Character-Cost, not the zero the hit
// sends), the pricer is asked only for hits, and a call it cannot price
// saves nothing.
func TestSavedCostFromStoredAnswer(t *testing.T) {
	for _, ok := range []bool{true, false} {
		t.Run("priced="+strconv.FormatBool(ok), func(t *testing.T) {
			p := &headerPricer{rate: 7, ok: ok}
			h := newHarness(t, func(o *harnessOptions) { o.pricer = p })
			const text = "A line every learner hears."
			miss := h.call("acme", tts(text))
			h.settle()
			hit := h.call("acme", tts(text))
			if miss.cache() != "MISS" || hit.cache() != "HIT" || hit.header.Get("Character-Cost") != "0" {
				t.Fatalf("miss %q, hit %q (cost %q)", miss.cache(), hit.cache(), hit.header.Get("Character-Cost"))
			}
			p.mu.Lock()
			seen := append([]string(nil), p.seen...)
			p.mu.Unlock()
			if len(seen) != 1 || seen[0] != strconv.Itoa(len(text)) {
				t.Errorf("the pricer saw Character-Cost %q; want one hit's stored %d", seen, len(text))
			}
			want := int64(0)
			if ok {
				want = 7 * int64(len(text))
			}
			recs := h.meter.records()
			if len(recs) != 2 || recs[0].SavedMicros != 0 || recs[1].Cache != "HIT" || recs[1].SavedMicros != want ||
				recs[1].CostMicros != 0 {
				t.Errorf("records %+v; want a miss saving nothing, then a hit saving %d", recs, want)
			}
		})
	}
}

// TestNoSavedCostWithoutCache: a call of an org without the cache, priced
// by the budget enforcer, costs what it costs every time and saves
// nothing.
func TestNoSavedCostWithoutCache(t *testing.T) {
	h := pricedHarness(t)
	for range 2 {
		r := h.invoke("off", orgKey("off"), tts("Not cached."))
		if r.err != nil || r.status != http.StatusOK {
			t.Fatalf("%d %v", r.status, r.err)
		}
	}
	for _, r := range h.meter.records() {
		if r.Cache != "" || r.CostMicros != int64(len("Not cached."))*creditMicros || r.SavedMicros != 0 {
			t.Errorf("record %+v", r)
		}
	}
}

package budget

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// ErrUnpriced is a call that costs money (its endpoint is metered or the
// table names it) but that no price covers: a budgeted caller may not
// make it unless its org has a flat price for it.
var ErrUnpriced = errors.New("the call cannot be priced")

// Pricer prices calls from the combined price tables. It is safe for
// concurrent use and never changes after NewPricer.
type Pricer struct {
	table PriceTable
	// rates by "service/action/variant" ("" variant: the default).
	rates map[string]rate
	// priced holds every action slug some price names, for Claims.
	priced map[string]bool
	// flat is the org prices by "org/service/action" (action "*" too).
	flat map[string]int64
	// sessions holds the "service/action"s whose price is a session's.
	sessions map[string]bool
}

// rate is one resolved price.
type rate struct {
	unit string
	// micros is the micro-USD per unit.
	micros    float64
	increment float64
	// credit is the micro-USD per provider credit when the price is in
	// credits, so that a provider's own count (character-cost) can be
	// priced; 0 otherwise.
	credit float64
	// session is the answer's path of a session's id (Price.Session).
	session string
}

// NewPricer combines price tables, each overriding the ones before it
// (DefaultPrices first, then a deployment's file), and checks that every
// price's credit exists.
func NewPricer(tables ...*PriceTable) (*Pricer, error) {
	var t PriceTable
	for _, o := range tables {
		if o != nil {
			t.merge(o)
		}
	}
	p := &Pricer{table: t, rates: map[string]rate{}, priced: map[string]bool{}, flat: map[string]int64{}, sessions: map[string]bool{}}
	var probs []string
	for _, pr := range t.Prices {
		r := rate{unit: pr.Unit, micros: pr.Micros, increment: pr.Increment, session: pr.Session}
		if pr.Credit != "" {
			c, ok := t.Credits[pr.Credit]
			if !ok {
				probs = append(probs, fmt.Sprintf("price of %s %v: unknown credit %q", pr.Service, pr.Actions, pr.Credit))
				continue
			}
			r.micros, r.credit = pr.Credits*c.Micros, c.Micros
		}
		if pr.Per > 0 {
			r.micros /= pr.Per
		}
		for _, k := range pr.keys() {
			if _, dup := p.rates[k]; !dup {
				p.rates[k] = r
			}
		}
		for _, a := range pr.Actions {
			p.priced[a] = true
			if pr.Session != "" {
				p.sessions[pr.Service+"/"+a] = true
			}
		}
	}
	for _, o := range t.OrgPrices {
		for _, a := range o.Actions {
			k := o.Org + "/" + o.Service + "/" + a
			if _, dup := p.flat[k]; !dup {
				p.flat[k] = o.Micros
			}
			p.priced[a] = true
		}
	}
	if len(probs) > 0 {
		return nil, fmt.Errorf("prices: %s", strings.Join(probs, "; "))
	}
	return p, nil
}

// Table returns the combined table, for documentation and the admin API.
func (p *Pricer) Table() PriceTable { return p.table }

// Claims reports whether calls of an endpoint may cost money, for some
// service and org: it is metered, or a price or an org's flat price names
// it. Other endpoints are free and never reach a budget.
func (p *Pricer) Claims(ep *aiproxy.Endpoint) bool { return ep.Meter != "" || p.priced[ep.Slug] }

// Call is what the pricer reads of a call before it is made.
type Call struct {
	Org      string
	Service  string
	Endpoint *aiproxy.Endpoint
	// Body is the JSON body the client sent, or nil.
	Body []byte
}

// Quote is a call's price before it is made, and how to price what it
// turns out to have done.
type Quote struct {
	// Micros is the cost held before the call: exact for text-to-speech
	// and flat prices, an estimate for a video.
	Micros int64
	// Exact says Micros is the cost, not an estimate.
	Exact bool
	// Free says nothing is charged: the call needs no budget.
	Free bool
	// Unit, Units and Variant are what the price counted: characters of a
	// model, estimated seconds of an avatar kind, or one call.
	Unit    string
	Units   float64
	Variant string
	// Rate is the micro-USD per unit, Increment the step units are
	// rounded up to, Credit the micro-USD per provider credit (0 when the
	// price is not in credits).
	Rate      float64
	Increment float64
	Credit    float64
	// DurationPath is where a finished job's status answer gives its
	// length in seconds.
	DurationPath string
	// SessionPath, for a call that opens a session billed by its length,
	// is where its answer gives the session's id.
	SessionPath string
	// Flat says the org's flat price applies.
	Flat bool
}

// Quote prices a call before it is made. A call that costs nothing (a
// free endpoint, or the provider's test mode) is a Free quote; one that
// costs money but has no price is ErrUnpriced. An org's flat price for
// the action wins over the table, and its flat price for every action of
// the service ("*") over the table for metered and priced actions.
func (p *Pricer) Quote(c Call) (Quote, error) {
	ep := c.Endpoint
	if testMode(ep, c.Body) {
		return Quote{Free: true, Exact: true}, nil
	}
	if v, ok := p.flat[c.Org+"/"+c.Service+"/"+ep.Slug]; ok {
		return flatQuote(v), nil
	}
	if ep.Meter == "" && !p.hasRate(c.Service, ep.Slug) {
		return Quote{Free: true, Exact: true}, nil
	}
	if v, ok := p.flat[c.Org+"/"+c.Service+"/*"]; ok {
		return flatQuote(v), nil
	}
	if p.sessions[c.Service+"/"+ep.Slug] && sandboxSession(c.Body) {
		return Quote{Free: true, Exact: true}, nil // session.go
	}
	variant, units, unitErr := p.measure(c)
	r, ok := p.rates[c.Service+"/"+ep.Slug+"/"+variant]
	if !ok {
		r, ok = p.rates[c.Service+"/"+ep.Slug+"/"]
	}
	if !ok {
		return Quote{}, fmt.Errorf("%s/%s: %w", c.Service, ep.Slug, ErrUnpriced)
	}
	q := Quote{Unit: r.unit, Variant: variant, Rate: r.micros, Increment: r.increment, Credit: r.credit,
		DurationPath: p.table.Estimates.DurationPaths[c.Service], SessionPath: r.session}
	switch r.unit {
	case UnitCharacter:
		q.Units, q.Exact = units.chars, true
		if unitErr != nil {
			return Quote{}, fmt.Errorf("%s/%s: %w: %w", c.Service, ep.Slug, ErrUnpriced, unitErr)
		}
	case UnitSecond:
		q.Units = units.seconds
	default:
		q.Units, q.Exact = 1, true
	}
	q.Micros = q.Cost(q.Units)
	return q, nil
}

func flatQuote(micros int64) Quote {
	return Quote{Micros: micros, Exact: true, Flat: true, Unit: UnitCall, Units: 1, Rate: float64(micros), Free: micros == 0}
}

func (p *Pricer) hasRate(service, action string) bool {
	if !p.priced[action] {
		return false
	}
	prefix := service + "/" + action + "/"
	for k := range p.rates {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// Cost prices a number of units: rounded up to the increment, times the
// rate, rounded up to a whole micro-USD, within aiproxy.MaxBudgetMicros.
func (q Quote) Cost(units float64) int64 {
	if q.Flat {
		return int64(q.Rate)
	}
	if !(units > 0) {
		return 0
	}
	if q.Increment > 0 {
		units = math.Ceil(units/q.Increment-1e-9) * q.Increment
	}
	c := math.Ceil(units*q.Rate - 1e-6)
	if c > float64(aiproxy.MaxBudgetMicros) {
		return aiproxy.MaxBudgetMicros
	}
	return int64(max(c, 0))
}

// Actual is what a call that ended cost: the provider's own count of
// credits when it sends one (ElevenLabs' character-cost header), else
// the quote.
func (q Quote) Actual(h http.Header) int64 {
	if q.Credit > 0 && !q.Flat {
		if credits, err := strconv.ParseFloat(strings.TrimSpace(h.Get("Character-Cost")), 64); err == nil && finite(credits) && credits >= 0 {
			return min(int64(math.Ceil(credits*q.Credit-1e-6)), aiproxy.MaxBudgetMicros)
		}
	}
	return q.Micros
}

// JobActual is what a finished job cost, from the provider's status
// answer: its length (DurationPath) priced at the quote's rate, or the
// estimate when the answer has no length.
func (q Quote) JobActual(statusBody []byte) int64 {
	if q.Flat || q.Unit != UnitSecond || q.DurationPath == "" {
		return q.Micros
	}
	doc, ok := aiproxy.DecodeJSON(statusBody)
	if !ok {
		return q.Micros
	}
	secs, err := strconv.ParseFloat(aiproxy.LookupJSONString(doc, q.DurationPath), 64)
	if err != nil || !finite(secs) || secs < 0 {
		return q.Micros
	}
	return q.Cost(secs)
}

// memo is a quote as a hold keeps it, to settle a job from another
// process.
type memo struct {
	Micros       int64   `json:"m"`
	Unit         string  `json:"u"`
	Rate         float64 `json:"r"`
	Increment    float64 `json:"i,omitempty"`
	DurationPath string  `json:"d,omitempty"`
	Flat         bool    `json:"f,omitempty"`
	Credit       float64 `json:"c,omitempty"`
}

// Memo encodes what JobActual needs of the quote.
func (q Quote) Memo() string {
	b, _ := json.Marshal(memo{Micros: q.Micros, Unit: q.Unit, Rate: q.Rate, Increment: q.Increment,
		DurationPath: q.DurationPath, Flat: q.Flat, Credit: q.Credit})
	return string(b)
}

// QuoteFromMemo decodes Memo; a memo it cannot read prices the job at
// what was held.
func QuoteFromMemo(s string, held int64) Quote {
	var m memo
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return Quote{Micros: held, Exact: true}
	}
	return Quote{Micros: m.Micros, Unit: m.Unit, Rate: m.Rate, Increment: m.Increment, DurationPath: m.DurationPath, Flat: m.Flat,
		Credit: m.Credit}
}

// units is what a call's body measures.
type units struct{ chars, seconds float64 }

// measure reads a call's body: the model and characters of a text, or the
// avatar kind and estimated seconds of a video.
func (p *Pricer) measure(c Call) (string, units, error) {
	est := p.table.Estimates
	if p.sessions[c.Service+"/"+c.Endpoint.Slug] {
		variant, secs := sessionSeconds(c.Body, est) // session.go
		return variant, units{seconds: secs}, nil
	}
	var b struct {
		Text    *string `json:"text"`
		ModelID string  `json:"model_id"`
	}
	if c.Endpoint.Meter == aiproxy.MetricCharacters || p.unitOf(c) == UnitCharacter {
		if len(c.Body) > 0 && json.Unmarshal(c.Body, &b) != nil {
			return "", units{}, errors.New("the body is not a JSON object")
		}
		model := b.ModelID
		if model == "" {
			model = est.DefaultModels[c.Service]
		}
		n := 0
		if b.Text != nil {
			n = utf8.RuneCountInString(*b.Text)
		}
		return model, units{chars: float64(n)}, nil
	}
	variant, secs := videoSeconds(c.Body, est)
	return variant, units{seconds: secs}, nil
}

// unitOf is the unit of the call's default price, or "".
func (p *Pricer) unitOf(c Call) string {
	return p.rates[c.Service+"/"+c.Endpoint.Slug+"/"].unit
}

// testMode reports whether a call asks for the provider's test mode
// (HeyGen's "test": true), in which it spends no credits.
func testMode(ep *aiproxy.Endpoint, body []byte) bool {
	if ep.TestModeField == "" || len(body) == 0 {
		return false
	}
	var m map[string]json.RawMessage
	return json.Unmarshal(body, &m) == nil && string(m[ep.TestModeField]) == "true"
}

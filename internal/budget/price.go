package budget

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// The price table says what a call costs in micro-USD. aiproxy embeds a
// versioned default (prices.json, every figure with its source and date);
// a deployment file in the same format overrides entries, and may give an
// org a flat price per call.

//go:embed prices.json
var defaultPrices []byte

// Units a price is per.
const (
	UnitCharacter = "character" // a character of the text spoken (ElevenLabs)
	UnitSecond    = "second"    // a second of output video (HeyGen)
	UnitCall      = "call"      // one call
)

// PriceTable is one price file: the embedded default, or a deployment's
// overrides.
type PriceTable struct {
	// Version and Effective date the table; Notes says what it is.
	Version   string `json:"version"`
	Effective string `json:"effective"`
	Notes     string `json:"notes,omitempty"`
	// Credits are providers' credit prices by name, which Prices refer to.
	Credits map[string]Credit `json:"credits,omitempty"`
	Prices  []Price           `json:"prices,omitempty"`
	// Estimates tunes how a video's length is estimated before it is made.
	Estimates Estimates `json:"estimates,omitzero"`
	// OrgPrices are flat prices per call that orgs pay instead of the
	// table's, or for actions the table cannot price.
	OrgPrices []OrgPrice `json:"org_prices,omitempty"`
}

// Credit is the price of one provider credit.
type Credit struct {
	// Micros is the micro-USD one credit costs.
	Micros float64 `json:"micros"`
	Source string  `json:"source"`
	Date   string  `json:"date"`
	Notes  string  `json:"notes,omitempty"`
}

// Price is what a unit of some actions of a service costs.
type Price struct {
	Service string   `json:"service"`
	Actions []string `json:"actions"`
	// Variants are the models or avatar kinds the price is for; none
	// means every variant without a price of its own.
	Variants []string `json:"variants,omitempty"`
	Unit     string   `json:"unit"`
	// Per is how many units the price covers; 0 means 1.
	Per float64 `json:"per,omitempty"`
	// Micros is the price in micro-USD, or Credits the price in credits of
	// Credit; exactly one is given.
	Micros  float64 `json:"micros,omitempty"`
	Credits float64 `json:"credits,omitempty"`
	Credit  string  `json:"credit,omitempty"`
	// Increment rounds the units up to a multiple (HeyGen bills video in
	// 30 s steps); 0 means none.
	Increment float64 `json:"increment,omitempty"`
	// Session, for a call that opens a session billed by its length (a
	// live avatar), is the answer's JSON path of the session's id: the
	// call's hold is kept, under SessionHoldID, until the session ends and
	// is settled from its length (session.go). Such a price is in seconds,
	// measured from the body's max_session_duration, its variant the
	// body's mode.
	Session string `json:"session,omitempty"`
	Source  string `json:"source"`
	Date    string `json:"date"`
	Notes   string `json:"notes,omitempty"`
}

// Estimates tunes the estimate of a video's length before it is made.
// Zero fields keep the values of the table below.
type Estimates struct {
	// DefaultModels is each service's model when a body names none.
	DefaultModels map[string]string `json:"default_models,omitempty"`
	// SpeechCharsPerSecond is how fast a script is spoken.
	SpeechCharsPerSecond float64 `json:"speech_chars_per_second,omitempty"`
	// AudioSeconds is the length assumed for a scene spoken from an audio
	// file, or a template whose script the call does not give.
	AudioSeconds float64 `json:"audio_seconds,omitempty"`
	// SilenceSeconds is a silent scene's length when it gives none.
	SilenceSeconds float64 `json:"silence_seconds,omitempty"`
	// CinematicSeconds is a HeyGen v3 cinematic video's length when it
	// gives none.
	CinematicSeconds float64 `json:"cinematic_seconds,omitempty"`
	// MaxVideoSeconds caps an estimate.
	MaxVideoSeconds float64 `json:"max_video_seconds,omitempty"`
	// SessionSeconds is a session's length when its body gives none.
	SessionSeconds float64 `json:"session_seconds,omitempty"`
	// DurationPaths is, per service, the dotted JSON path of a finished
	// job's length in seconds in the provider's status answer.
	DurationPaths map[string]string `json:"duration_paths,omitempty"`
	Notes         string            `json:"notes,omitempty"`
}

// OrgPrice is an org's flat price per call of some actions of a service;
// action "*" means every priced or metered action of the service.
type OrgPrice struct {
	Org     string   `json:"org"`
	Service string   `json:"service"`
	Actions []string `json:"actions"`
	// Micros is the price of one call in micro-USD.
	Micros int64  `json:"micros"`
	Notes  string `json:"notes,omitempty"`
}

// DefaultPrices returns the embedded price table.
func DefaultPrices() *PriceTable {
	t, err := LoadPrices(bytes.NewReader(defaultPrices))
	if err != nil {
		panic("budget: the embedded prices.json is invalid: " + err.Error()) // a test keeps it valid
	}
	return t
}

// LoadPrices reads and checks a price file. It reports every problem at
// once. References to credits are checked when the tables are combined
// (NewPricer), since an override may use a credit of the default table.
func LoadPrices(r io.Reader) (*PriceTable, error) {
	dec := json.NewDecoder(io.LimitReader(r, 4<<20))
	dec.DisallowUnknownFields()
	var t PriceTable
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("price file: %w", err)
	}
	if dec.More() {
		return nil, errors.New("price file: more than one JSON document")
	}
	if probs := t.check(); len(probs) > 0 {
		return nil, fmt.Errorf("price file: %s", strings.Join(probs, "; "))
	}
	return &t, nil
}

// check returns every problem of the table's own fields.
func (t *PriceTable) check() []string {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if t.Version == "" {
		add("version is required")
	}
	for name, c := range t.Credits {
		if !finite(c.Micros) || c.Micros < 0 {
			add("credit %q: micros must be a number of at least 0", name)
		}
		if c.Source == "" || c.Date == "" {
			add("credit %q: source and date are required", name)
		}
	}
	seen := map[string]bool{}
	for i, p := range t.Prices {
		probs = append(probs, p.check(i)...)
		for _, k := range p.keys() {
			if seen[k] {
				add("prices[%d]: %s is priced twice", i, k)
			}
			seen[k] = true
		}
	}
	probs = append(probs, t.Estimates.check()...)
	for i, o := range t.OrgPrices {
		if o.Org == "" || o.Service == "" || len(o.Actions) == 0 {
			add("org_prices[%d]: org, service and actions are required", i)
		}
		if o.Micros < 0 || o.Micros > maxPrice {
			add("org_prices[%d]: micros must be between 0 and %d", i, maxPrice)
		}
	}
	return probs
}

// maxPrice bounds one call's price: 1 million USD.
const maxPrice int64 = 1e12

func (p Price) check(i int) []string {
	var probs []string
	add := func(format string, args ...any) {
		probs = append(probs, fmt.Sprintf("prices[%d] (%s): ", i, p.Service)+fmt.Sprintf(format, args...))
	}
	if p.Service == "" || len(p.Actions) == 0 {
		add("service and actions are required")
	}
	if p.Unit != UnitCharacter && p.Unit != UnitSecond && p.Unit != UnitCall {
		add("unit %q must be character, second or call", p.Unit)
	}
	switch {
	case p.Credit == "" && p.Credits != 0:
		add("credits needs a credit")
	case p.Credit != "" && p.Micros != 0:
		add("give micros or credits, not both")
	}
	for _, v := range []float64{p.Micros, p.Credits, p.Per, p.Increment} {
		if !finite(v) || v < 0 {
			add("micros, credits, per and increment must be numbers of at least 0")
			break
		}
	}
	if p.Source == "" || p.Date == "" {
		add("source and date are required")
	}
	if p.Session != "" && p.Unit != UnitSecond {
		add("a session price is in seconds")
	}
	return probs
}

// keys names what the price prices: service/action/variant, "" for the
// default variant.
func (p Price) keys() []string {
	variants := p.Variants
	if len(variants) == 0 {
		variants = []string{""}
	}
	var out []string
	for _, a := range p.Actions {
		for _, v := range variants {
			out = append(out, p.Service+"/"+a+"/"+v)
		}
	}
	return out
}

func (e Estimates) check() []string {
	var probs []string
	for _, v := range []float64{e.SpeechCharsPerSecond, e.AudioSeconds, e.SilenceSeconds, e.CinematicSeconds, e.MaxVideoSeconds, e.SessionSeconds} {
		if !finite(v) || v < 0 {
			probs = append(probs, "estimates must be numbers of at least 0")
			break
		}
	}
	return probs
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// merge lays o over t: credits, prices (by service, action and variant),
// org prices (by org, service and action) and non-zero estimates replace
// t's.
func (t *PriceTable) merge(o *PriceTable) {
	if o.Version != "" {
		t.Version, t.Effective = t.Version+"+"+o.Version, o.Effective
	}
	if t.Credits == nil {
		t.Credits = map[string]Credit{}
	}
	for name, c := range o.Credits {
		t.Credits[name] = c
	}
	// The first match wins (pricer.go), so the override's entries go first.
	t.Prices = append(append([]Price(nil), o.Prices...), t.Prices...)
	t.OrgPrices = append(append([]OrgPrice(nil), o.OrgPrices...), t.OrgPrices...)
	t.Estimates.merge(o.Estimates)
}

func (e *Estimates) merge(o Estimates) {
	set := func(dst *float64, v float64) {
		if v > 0 {
			*dst = v
		}
	}
	set(&e.SpeechCharsPerSecond, o.SpeechCharsPerSecond)
	set(&e.AudioSeconds, o.AudioSeconds)
	set(&e.SilenceSeconds, o.SilenceSeconds)
	set(&e.CinematicSeconds, o.CinematicSeconds)
	set(&e.MaxVideoSeconds, o.MaxVideoSeconds)
	set(&e.SessionSeconds, o.SessionSeconds)
	e.DefaultModels = mergeMap(e.DefaultModels, o.DefaultModels)
	e.DurationPaths = mergeMap(e.DurationPaths, o.DurationPaths)
}

func mergeMap(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

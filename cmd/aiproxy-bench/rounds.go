package main

import (
	"fmt"
	"slices"
)

// A run of several rounds (--rounds) measures every path of a scenario
// once per round, the paths of each round in a rotated order, so that a
// neighbour's burst on a shared machine lands on different paths in
// different rounds instead of on one path's only measurement. The report
// gives each figure's median across the rounds and its range.

// roundOrder returns the order in which round r (from 0) measures paths:
// paths rotated left by r, so that over as many rounds as paths each path
// takes every place once.
func roundOrder(paths []string, r int) []string {
	if len(paths) == 0 {
		return nil
	}
	k := r % len(paths)
	return append(slices.Clone(paths[k:]), paths[:k]...)
}

// eachRound calls measure for every path in each of the scenario's rounds,
// in roundOrder, with b.round set so that the rows of a round carry its
// number (0 when there is only one round).
func (b *bench) eachRound(paths []string, measure func(path string) error) error {
	defer func() { b.round = 0 }()
	for r := range b.rounds {
		if b.rounds > 1 {
			b.round = r + 1
			b.logf("  round %d of %d", b.round, b.rounds)
		}
		for _, path := range roundOrder(paths, r) {
			if err := measure(path); err != nil {
				return err
			}
			if err := b.ctx.Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// spread is one figure across rounds: its median and its range.
type spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// spreadOf returns the median (the mean of the middle two of an even
// count), minimum and maximum of xs; zero for none.
func spreadOf(xs []float64) spread {
	if len(xs) == 0 {
		return spread{}
	}
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return spread{Median: med, Min: s[0], Max: s[n-1]}
}

// format prints the median and, when the rounds differ, the range after
// it: "455 (430–470)".
func (s spread) format(verb string) string {
	m := fmt.Sprintf(verb, s.Median)
	lo, hi := fmt.Sprintf(verb, s.Min), fmt.Sprintf(verb, s.Max)
	if lo == hi {
		return m
	}
	return fmt.Sprintf("%s (%s–%s)", m, lo, hi)
}

// overlaps reports whether two ranges share a value: two figures whose
// ranges overlap are within the run's noise of each other.
func (s spread) overlaps(o spread) bool {
	return s.Min <= o.Max && o.Min <= s.Max
}

// summary is one scenario, path and load measured in several rounds.
type summary struct {
	Scenario string `json:"scenario"`
	Path     string `json:"path"`
	Load     string `json:"load"`
	Rounds   int    `json:"rounds"`
	// Errors is the sum over the rounds, so that no failure hides behind
	// a median.
	Errors      int     `json:"errors"`
	AchievedRPS spread  `json:"achieved_rps"`
	P50         spread  `json:"p50_ms"`
	P99         spread  `json:"p99_ms"`
	AddedP50    *spread `json:"added_p50_ms,omitempty"`
	AddedP99    *spread `json:"added_p99_ms,omitempty"`
	AddedTTFB   *spread `json:"added_ttfb_p50_ms,omitempty"`
	CPUCores    spread  `json:"cpu_cores"`
	CPUPerReqUs spread  `json:"cpu_us_per_req"`
	PeakRSSMB   spread  `json:"peak_rss_mb"`
	RSSGrowthMB spread  `json:"rss_growth_mb"`

	rows []*row
}

// summarize groups the measured rows of a run of several rounds by
// scenario, path and load, in the order the groups first appear. Sweep
// points and rows that measured nothing are left out; a run of one round
// has no summaries.
func summarize(rows []*row) []*summary {
	var out []*summary
	byKey := map[string]*summary{}
	for _, r := range rows {
		if r.Sweep || r.Round == 0 || r.Requests == 0 {
			continue
		}
		k := r.Scenario + "|" + r.Path + "|" + r.Load
		s := byKey[k]
		if s == nil {
			s = &summary{Scenario: r.Scenario, Path: r.Path, Load: r.Load}
			byKey[k] = s
			out = append(out, s)
		}
		s.rows = append(s.rows, r)
	}
	for _, s := range out {
		s.fill()
	}
	return out
}

func (s *summary) fill() {
	s.Rounds = len(s.rows)
	for _, r := range s.rows {
		s.Errors += r.Errors
	}
	s.AchievedRPS = s.of(func(r *row) float64 { return r.AchievedRPS })
	s.P50 = s.of(func(r *row) float64 { return r.P50 })
	s.P99 = s.of(func(r *row) float64 { return r.P99 })
	s.CPUCores = s.of(func(r *row) float64 { return r.CPUCores })
	s.CPUPerReqUs = s.of(func(r *row) float64 { return r.CPUPerReqUs })
	s.PeakRSSMB = s.of(func(r *row) float64 { return r.PeakRSSMB })
	s.RSSGrowthMB = s.of(func(r *row) float64 { return r.RSSGrowthMB })
	s.AddedP50 = s.ofAdded(func(r *row) *float64 { return r.AddedP50 })
	s.AddedP99 = s.ofAdded(func(r *row) *float64 { return r.AddedP99 })
	s.AddedTTFB = s.ofAdded(func(r *row) *float64 { return r.AddedTTFB })
}

func (s *summary) of(get func(*row) float64) spread {
	xs := make([]float64, len(s.rows))
	for i, r := range s.rows {
		xs[i] = get(r)
	}
	return spreadOf(xs)
}

// ofAdded spreads an added latency over the rounds that have one (a round
// whose direct path failed entirely has none); nil if none has.
func (s *summary) ofAdded(get func(*row) *float64) *spread {
	var xs []float64
	for _, r := range s.rows {
		if p := get(r); p != nil {
			xs = append(xs, *p)
		}
	}
	if len(xs) == 0 {
		return nil
	}
	sp := spreadOf(xs)
	return &sp
}

// median returns a row for the targets and the info lines: the figures
// they read are medians of the rounds (the errors their sum), the others
// those of the first round.
func (s *summary) median() *row {
	m := *s.rows[0]
	m.Round = 0
	m.AchievedRPS, m.P50, m.P99 = s.AchievedRPS.Median, s.P50.Median, s.P99.Median
	m.CPUCores, m.CPUPerReqUs = s.CPUCores.Median, s.CPUPerReqUs.Median
	m.PeakRSSMB, m.RSSGrowthMB = s.PeakRSSMB.Median, s.RSSGrowthMB.Median
	m.AddedP50, m.AddedP99, m.AddedTTFB = medianOf(s.AddedP50), medianOf(s.AddedP99), medianOf(s.AddedTTFB)
	m.Requests = int(s.of(func(r *row) float64 { return float64(r.Requests) }).Median)
	m.MaxInFlight = int64(s.of(func(r *row) float64 { return float64(r.MaxInFlight) }).Median)
	m.Errors = s.Errors
	return &m
}

func medianOf(s *spread) *float64 {
	if s == nil {
		return nil
	}
	return &s.Median
}

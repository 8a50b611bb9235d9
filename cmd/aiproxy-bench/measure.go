package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"time"
)

// row is one line of the results: one scenario, one path, one load.
type row struct {
	Scenario string `json:"scenario"`
	Path     string `json:"path"`
	Load     string `json:"load"`
	// Round is the round (from 1) of a run of several; 0 in a run of one
	// and for the sweep drawn before the rounds.
	Round       int            `json:"round,omitempty"`
	OfferedRPS  float64        `json:"offered_rps,omitempty"`
	AchievedRPS float64        `json:"achieved_rps"`
	Requests    int            `json:"requests"`
	Errors      int            `json:"errors"`
	ErrorKinds  map[string]int `json:"error_kinds,omitempty"`
	P50         float64        `json:"p50_ms"`
	P99         float64        `json:"p99_ms"`
	P999        float64        `json:"p999_ms"`
	AddedP50    *float64       `json:"added_p50_ms,omitempty"`
	AddedP99    *float64       `json:"added_p99_ms,omitempty"`
	TTFB50      float64        `json:"ttfb_p50_ms"`
	AddedTTFB   *float64       `json:"added_ttfb_p50_ms,omitempty"`
	MBps        float64        `json:"mb_per_s"`
	CPUCores    float64        `json:"cpu_cores"`
	CPUPerReqUs float64        `json:"cpu_us_per_req"`
	StartRSSMB  float64        `json:"start_rss_mb"`
	PeakRSSMB   float64        `json:"peak_rss_mb"`
	RSSGrowthMB float64        `json:"rss_growth_mb"`
	SandboxCPU  float64        `json:"sandbox_cpu_cores,omitempty"`
	MaxInFlight int64          `json:"max_in_flight"`
	SchedLagMs  float64        `json:"scheduler_max_lag_ms"`
	Note        string         `json:"note,omitempty"`
	// Sweep marks a point of the offered-load sweep, drawn in the chart.
	Sweep bool `json:"sweep,omitempty"`
}

// bench runs the scenarios and collects their rows.
type bench struct {
	ctx  context.Context
	w    *world
	log  io.Writer
	rows []*row
	// rounds is how many rounds the running scenario measures, and round
	// the one being measured (from 1), or 0 outside eachRound and in a
	// scenario of one round.
	rounds, round int
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// measure runs one load phase on one path, charging the path's server
// process (and, behind a proxy, the sandbox separately) with its CPU and
// memory.
func (b *bench) measure(st *stack, scenario, path, load string, run func() loadResult) *row {
	_ = st.clearSandboxLog(b.ctx)
	m := startMeter(st.server(path).pids)
	var sbm *meter
	if path != pathDirect {
		sbm = startMeter(st.sandbox.pids)
	}
	res := run()
	u := m.stop()
	r := &row{
		Scenario: scenario, Path: path, Load: load, Round: b.round, OfferedRPS: res.Offered,
		AchievedRPS: res.achieved(), Requests: res.Sent, Errors: res.Errors,
		P50: pct(res.Latency, 0.5), P99: pct(res.Latency, 0.99), P999: pct(res.Latency, 0.999),
		TTFB50:     pct(res.TTFB, 0.5),
		MBps:       float64(res.Bytes) / (1 << 20) / res.Wall.Seconds(),
		CPUCores:   u.CPU.Seconds() / u.Wall.Seconds(),
		StartRSSMB: mb(u.StartRSS), PeakRSSMB: mb(u.PeakRSS), RSSGrowthMB: mb(u.PeakRSS - u.StartRSS),
		MaxInFlight: res.MaxFlight, SchedLagMs: float64(res.MaxLag) / float64(time.Millisecond),
	}
	if res.Errors > 0 {
		r.ErrorKinds = maps.Clone(res.ErrorKind)
	}
	if ok := len(res.Latency); ok > 0 {
		r.CPUPerReqUs = float64(u.CPU.Microseconds()) / float64(ok)
	}
	if sbm != nil {
		su := sbm.stop()
		r.SandboxCPU = su.CPU.Seconds() / su.Wall.Seconds()
	}
	b.rows = append(b.rows, r)
	b.logf("  %-12s %-28s %7.0f/s p50 %8.3f ms  p99 %8.3f ms  p99.9 %8.3f ms  cpu %.2f  rss %.1f MB  errors %d",
		path, load, r.AchievedRPS, r.P50, r.P99, r.P999, r.CPUCores, r.PeakRSSMB, r.Errors)
	for k, n := range res.ErrorKind {
		b.logf("           error x%d: %s", n, k)
	}
	return r
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// fillAdded sets each proxied row's added latency against the direct row of
// the same scenario, load and round.
func fillAdded(rows []*row) {
	key := func(r *row) string { return fmt.Sprintf("%s|%s|%d", r.Scenario, r.Load, r.Round) }
	direct := map[string]*row{}
	for _, r := range rows {
		if r.Path == pathDirect {
			direct[key(r)] = r
		}
	}
	for _, r := range rows {
		d, ok := direct[key(r)]
		if !ok || r.Path == pathDirect || r.Requests == r.Errors || d.Requests == d.Errors {
			continue
		}
		r.AddedP50 = diff(r.P50, d.P50)
		r.AddedP99 = diff(r.P99, d.P99)
		r.AddedTTFB = diff(r.TTFB50, d.TTFB50)
	}
}

func diff(a, b float64) *float64 {
	d := a - b
	return &d
}

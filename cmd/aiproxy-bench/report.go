package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// report is the whole result of a run, as results.json holds it.
type report struct {
	Machine   machine   `json:"machine"`
	Started   time.Time `json:"started"`
	Duration  string    `json:"duration"`
	Smoke     bool      `json:"smoke"`
	NginxNote string    `json:"nginx_note,omitempty"`
	// AIProxy and Baseline are the binaries of the aiproxy and
	// aiproxy-base paths.
	AIProxy  string `json:"aiproxy"`
	Baseline string `json:"baseline,omitempty"`
	// Rounds is the most rounds any scenario measured; with more than one,
	// Summaries gives each figure's median and range across them, and the
	// targets and info lines read the medians.
	Rounds    int        `json:"rounds"`
	Summaries []*summary `json:"summaries,omitempty"`
	Targets   []target   `json:"targets"`
	// Info are figures given for context beside the targets: no goal, no
	// verdict, no effect on the exit status.
	Info []figure `json:"info,omitempty"`
	Rows []*row   `json:"rows"`
}

type machine struct {
	CPU    string `json:"cpu"`
	Cores  int    `json:"cores"`
	Memory string `json:"memory"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
	Nginx  string `json:"nginx,omitempty"`
	// LoadStart and LoadEnd are /proc/loadavg when the run began and
	// ended: other work on the machine shows here.
	LoadStart string `json:"load_start"`
	LoadEnd   string `json:"load_end"`
}

// target is one of the goals beside what this run measured.
type target struct {
	Name     string `json:"name"`
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	// Met is nil when the run could not measure it.
	Met *bool `json:"met"`
}

// figure is one informational result, reported without a goal.
type figure struct {
	Name     string `json:"name"`
	Measured string `json:"measured"`
}

func newReport(opts options, rows []*row, started time.Time, loadStart, nginxNote string) *report {
	m := probeMachine(opts.nginx)
	m.LoadStart, m.LoadEnd = loadStart, loadAvg()
	r := &report{Machine: m, Started: started.UTC(), Smoke: opts.smoke,
		Duration: time.Since(started).Round(time.Second).String(), NginxNote: nginxNote,
		AIProxy: opts.aiproxy, Baseline: opts.baseline, Rows: rows}
	r.summarize()
	r.Targets = r.targets()
	r.Info = r.info()
	return r
}

// loadAvg returns the first three fields of /proc/loadavg.
func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func probeMachine(nginx string) machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		first, _, _ := strings.Cut(string(b), "\n")
		m.Memory = strings.Join(strings.Fields(strings.TrimPrefix(first, "MemTotal:")), " ")
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if nginx != "" {
		if out, err := exec.Command(nginx, "-v").CombinedOutput(); err == nil {
			m.Nginx = strings.TrimSpace(strings.TrimPrefix(string(out), "nginx version: "))
		}
	}
	return m
}

// summarize sets Rounds and Summaries from the rows.
func (r *report) summarize() {
	r.Rounds = 1
	for _, x := range r.Rows {
		r.Rounds = max(r.Rounds, x.Round)
	}
	r.Summaries = summarize(r.Rows)
}

// find returns the figures of a scenario and path whose load contains
// load: the medians of its rounds, or its one non-sweep row.
func (r *report) find(scenario, path, load string) *row {
	for _, s := range r.Summaries {
		if s.Scenario == scenario && s.Path == path && strings.Contains(s.Load, load) {
			return s.median()
		}
	}
	for _, x := range r.Rows {
		if x.Scenario == scenario && x.Path == path && !x.Sweep && strings.Contains(x.Load, load) {
			return x
		}
	}
	return nil
}

func check(ok bool) *bool { return &ok }

func (r *report) targets() []target {
	var ts []target
	add := func(name, goal string, measured string, met *bool) {
		ts = append(ts, target{Name: name, Goal: goal, Measured: measured, Met: met})
	}
	if a := r.find("small-json", pathAIProxy, "1000/s"); a != nil && a.AddedP99 != nil {
		add("small JSON, added p99 at 1,000 req/s", "≤ 1 ms", fmt.Sprintf("%.3f ms", *a.AddedP99), check(*a.AddedP99 <= 1))
	} else {
		add("small JSON, added p99 at 1,000 req/s", "≤ 1 ms", "not measured (smoke runs 100 req/s)", nil)
	}
	d, a, n := r.find("small-json-capacity", pathDirect, ""), r.find("small-json-capacity", pathAIProxy, ""), r.find("small-json-capacity", pathNginx, "")
	if d != nil && a != nil {
		ratio := a.AchievedRPS / d.AchievedRPS
		add("small JSON, aiproxy throughput vs direct", "≥ 50%", fmt.Sprintf("%.0f%% (%.0f vs %.0f req/s)", ratio*100, a.AchievedRPS, d.AchievedRPS), check(ratio >= 0.5))
	}
	if n != nil && a != nil {
		ratio := n.AchievedRPS / a.AchievedRPS
		add("small JSON, nginx throughput vs aiproxy", "≤ 2×", fmt.Sprintf("%.2f× (%.0f vs %.0f req/s)", ratio, n.AchievedRPS, a.AchievedRPS), check(ratio <= 2))
	} else {
		add("small JSON, nginx throughput vs aiproxy", "≤ 2×", "not measured (no nginx)", nil)
	}
	if s := r.find("stream-100mb", pathAIProxy, ""); s != nil {
		add("100 MB stream, aiproxy RSS growth", "≤ 16 MB", fmt.Sprintf("%.1f MB", s.RSSGrowthMB), check(s.RSSGrowthMB <= 16))
		if s.AddedTTFB != nil {
			add("100 MB stream, added time to first byte", "≤ 5 ms", fmt.Sprintf("%.2f ms", *s.AddedTTFB), check(*s.AddedTTFB <= 5))
		}
	}
	if w := r.find("waiting-10k", pathAIProxy, ""); w != nil && w.Requests == 0 {
		add("10,000 waiting clients, aiproxy peak RSS", "≤ 300 MB", w.Note, nil)
	} else if w != nil {
		met := check(w.PeakRSSMB <= 300 && w.Errors == 0 && w.MaxInFlight >= int64(w.Requests)*9/10)
		add(fmt.Sprintf("%d waiting clients, aiproxy peak RSS", w.Requests), "≤ 300 MB",
			fmt.Sprintf("%.1f MB with %d held at once", w.PeakRSSMB, w.MaxInFlight), met)
	}
	errs := r.errorCount()
	add("errors in every scenario", "0", fmt.Sprint(errs), check(errs == 0))
	return ts
}

// info compares the bare Go proxy's small-JSON capacity with direct and
// each aiproxy's with the bare Go proxy (how much of the gap to direct is
// net/http's own, and how much is aiproxy's work on top of it), then
// aiproxy with the baseline.
func (r *report) info() []figure {
	var fs []figure
	d, g := r.find("small-json-capacity", pathDirect, ""), r.find("small-json-capacity", pathGoProxy, "")
	if g != nil && d != nil {
		fs = append(fs, figure{"small JSON, bare Go proxy throughput vs direct",
			fmt.Sprintf("%.0f%% (%.0f vs %.0f req/s)", g.AchievedRPS/d.AchievedRPS*100, g.AchievedRPS, d.AchievedRPS)})
	}
	for _, path := range []string{pathAIProxy, pathBaseline} {
		if a := r.find("small-json-capacity", path, ""); a != nil && g != nil {
			fs = append(fs, figure{"small JSON, " + path + " throughput vs bare Go proxy",
				fmt.Sprintf("%.0f%% (%.0f vs %.0f req/s)", a.AchievedRPS/g.AchievedRPS*100, a.AchievedRPS, g.AchievedRPS)})
		}
	}
	return append(fs, r.versusBaseline()...)
}

// versusBaseline compares aiproxy with aiproxy-base in every scenario and
// load both measured: CPU per request, and req/s in closed loop, each as
// the ratio of the medians with both figures' medians and ranges, and, over
// several rounds, the median and range of the ratio within each round
// (the two were measured minutes apart in the same round, so a slow spell
// of the machine weighs on both).
func (r *report) versusBaseline() []figure {
	var fs []figure
	seen := map[string]bool{}
	for _, x := range r.Rows {
		k := x.Scenario + "|" + x.Load
		if x.Path != pathAIProxy || x.Sweep || x.Requests == 0 || seen[k] {
			continue
		}
		seen[k] = true
		compare := func(what, verb string, get func(*row) float64) {
			a, b := r.spread(x.Scenario, pathAIProxy, x.Load, get), r.spread(x.Scenario, pathBaseline, x.Load, get)
			if a == nil || b == nil || b.Median == 0 {
				return
			}
			name := fmt.Sprintf("%s vs %s, %s %s (%s)", pathAIProxy, pathBaseline, x.Scenario, what, x.Load)
			m := fmt.Sprintf("%.2f×: %s vs %s%s", a.Median/b.Median, a.format(verb), b.format(verb), overlapNote(*a, *b))
			if pr := r.pairedRatio(x.Scenario, x.Load, get); pr != nil {
				m += "; per-round ratio " + pr.format("%.2f")
			}
			fs = append(fs, figure{name, m})
		}
		compare("CPU µs/req", "%.0f", func(x *row) float64 { return x.CPUPerReqUs })
		if strings.HasPrefix(x.Load, "closed-loop") {
			compare("req/s", "%.0f", func(x *row) float64 { return x.AchievedRPS })
		}
	}
	return fs
}

// pairedRatio spreads aiproxy's figure over aiproxy-base's in the same
// round, over the rounds that measured both; nil in a run of one round.
func (r *report) pairedRatio(scenario, load string, get func(*row) float64) *spread {
	base := map[int]float64{}
	for _, x := range r.Rows {
		if x.Scenario == scenario && x.Load == load && x.Path == pathBaseline && x.Round > 0 && !x.Sweep && x.Requests > 0 {
			base[x.Round] = get(x)
		}
	}
	var ratios []float64
	for _, x := range r.Rows {
		if x.Scenario == scenario && x.Load == load && x.Path == pathAIProxy && x.Round > 0 && !x.Sweep && x.Requests > 0 {
			if b, ok := base[x.Round]; ok && b != 0 {
				ratios = append(ratios, get(x)/b)
			}
		}
	}
	if len(ratios) < 2 {
		return nil
	}
	s := spreadOf(ratios)
	return &s
}

// spread returns a figure of a scenario, path and load across the rounds
// that measured it (one value in a run of one round); nil if none did.
func (r *report) spread(scenario, path, load string, get func(*row) float64) *spread {
	var xs []float64
	for _, x := range r.Rows {
		if x.Scenario == scenario && x.Path == path && x.Load == load && !x.Sweep && x.Requests > 0 {
			xs = append(xs, get(x))
		}
	}
	if len(xs) == 0 {
		return nil
	}
	s := spreadOf(xs)
	return &s
}

// overlapNote says whether two figures' ranges overlap, when they are
// ranges: within one run's noise of each other, or apart.
func overlapNote(a, b spread) string {
	switch {
	case a.Min == a.Max && b.Min == b.Max:
		return ""
	case a.overlaps(b):
		return "; ranges overlap"
	}
	return "; ranges apart"
}

// errorCount counts failed requests outside the sweep, whose top rates are
// meant to saturate.
func (r *report) errorCount() int {
	n := 0
	for _, x := range r.Rows {
		if !x.Sweep {
			n += x.Errors
		}
	}
	return n
}

func opt(p *float64, format string) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf(format, *p)
}

// write prints the results table, the sweep, and the targets.
func (r *report) write(w io.Writer) error {
	fmt.Fprintf(w, "aiproxy-bench %s on %s (%d cores, %s), %s; nginx: %s; load average %s at start, %s at end\n\n",
		r.Started.Format(time.RFC3339), r.Machine.CPU, r.Machine.Cores, r.Machine.Memory, r.Machine.Kernel,
		orNote(r.Machine.Nginx, r.NginxNote), r.Machine.LoadStart, r.Machine.LoadEnd)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tpath\t"+r.roundHead("round\t")+"load\treq/s\tp50 ms\tp99 ms\tp99.9 ms\t+p99 ms\tttfb ms\t+ttfb ms\tMB/s\tcpu\tµs/req\tpeak MB\t+MB\terrors\t")
	for _, x := range r.Rows {
		if x.Sweep {
			continue
		}
		if x.Requests == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%s%s\t–\t\t\t\t\t\t\t\t\t\t\t\t\t\n", x.Scenario, x.Path, r.roundCell(x, "%s\t"), x.Load)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s%s\t%.0f\t%.3f\t%.3f\t%.3f\t%s\t%.3f\t%s\t%.1f\t%.2f\t%.0f\t%.1f\t%.1f\t%d\t\n",
			x.Scenario, x.Path, r.roundCell(x, "%s\t"), x.Load, x.AchievedRPS, x.P50, x.P99, x.P999, opt(x.AddedP99, "%.3f"),
			x.TTFB50, opt(x.AddedTTFB, "%.3f"), x.MBps, x.CPUCores, x.CPUPerReqUs, x.PeakRSSMB, x.RSSGrowthMB, x.Errors)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := r.writeSummaries(w); err != nil {
		return err
	}
	noted := map[string]bool{}
	for _, x := range r.Rows {
		line := fmt.Sprintf("note: %s %s: %s\n", x.Scenario, x.Path, x.Note)
		if x.Note != "" && !x.Sweep && !noted[line] {
			noted[line] = true
			fmt.Fprint(w, line)
		}
	}
	fmt.Fprintln(w, "\nsmall JSON, latency against offered load:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\toffered/s\tachieved/s\tp50 ms\tp99 ms\tp99.9 ms\terrors\t")
	for _, x := range r.Rows {
		if x.Scenario == "small-json" && x.Round == 0 {
			fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.3f\t%.3f\t%.3f\t%d\t\n", x.Path, x.OfferedRPS, x.AchievedRPS, x.P50, x.P99, x.P999, x.Errors)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\ntargets:")
	for _, t := range r.Targets {
		fmt.Fprintf(w, "  %-4s %-45s goal %-9s measured %s\n", verdict(t.Met), t.Name, t.Goal, t.Measured)
	}
	for _, f := range r.Info {
		fmt.Fprintf(w, "  info %-60s measured %s\n", f.Name, f.Measured)
	}
	return nil
}

// roundHead is the header of the round column, present when some
// scenario ran several rounds.
func (r *report) roundHead(h string) string {
	if r.Rounds <= 1 {
		return ""
	}
	return h
}

// roundCell is a row's cell in the round column: its round, or "–" for a
// scenario that ran once.
func (r *report) roundCell(x *row, format string) string {
	if r.Rounds <= 1 {
		return ""
	}
	v := "–"
	if x.Round > 0 {
		v = fmt.Sprint(x.Round)
	}
	return fmt.Sprintf(format, v)
}

// summaryCells are a summary's figures as the text and markdown tables
// print them: median, and the range when the rounds differ.
func (s *summary) cells() []string {
	return []string{s.Scenario, s.Path, s.Load, fmt.Sprint(s.Rounds), s.AchievedRPS.format("%.0f"),
		s.P50.format("%.3f"), s.P99.format("%.3f"), optSpread(s.AddedP50, "%.3f"), optSpread(s.AddedP99, "%.3f"),
		s.CPUPerReqUs.format("%.0f"), s.PeakRSSMB.format("%.1f"), fmt.Sprint(s.Errors)}
}

var summaryHeads = []string{"scenario", "path", "load", "rounds", "req/s", "p50 ms", "p99 ms", "+p50 ms", "+p99 ms", "µs/req", "peak MB", "errors"}

func optSpread(s *spread, verb string) string {
	if s == nil {
		return "–"
	}
	return s.format(verb)
}

// writeSummaries prints, for a run of several rounds, each figure's median
// and range across the rounds.
func (r *report) writeSummaries(w io.Writer) error {
	if len(r.Summaries) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nacross rounds: median (min–max)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(summaryHeads, "\t")+"\t")
	for _, s := range r.Summaries {
		fmt.Fprintln(tw, strings.Join(s.cells(), "\t")+"\t")
	}
	return tw.Flush()
}

func orNote(v, note string) string {
	if v != "" {
		return v
	}
	if note != "" {
		return "skipped"
	}
	return "–"
}

func verdict(met *bool) string {
	switch {
	case met == nil:
		return "n/a"
	case *met:
		return "met"
	}
	return "MISS"
}

// markdown writes the tables for docs/performance.md.
func (r *report) markdown(w io.Writer) {
	fmt.Fprintln(w, "| scenario | path | "+r.roundHead("round | ")+"load | req/s | p50 ms | p99 ms | p99.9 ms | added p99 ms | TTFB p50 ms | added TTFB ms | CPU (cores) | CPU µs/req | peak RSS MB | RSS growth MB | errors |")
	fmt.Fprintln(w, "|---|---|"+r.roundHead("--:|")+"---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, x := range r.Rows {
		if x.Sweep {
			continue
		}
		if x.Requests == 0 {
			fmt.Fprintf(w, "| %s | %s | %s%s | %s |  |  |  |  |  |  |  |  |  |  |  |\n", x.Scenario, x.Path, r.roundCell(x, "%s | "), x.Load, x.Note)
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s%s | %.0f | %.3f | %.3f | %.3f | %s | %.3f | %s | %.2f | %.0f | %.1f | %.1f | %d |\n",
			x.Scenario, x.Path, r.roundCell(x, "%s | "), x.Load, x.AchievedRPS, x.P50, x.P99, x.P999, opt(x.AddedP99, "%.3f"),
			x.TTFB50, opt(x.AddedTTFB, "%.3f"), x.CPUCores, x.CPUPerReqUs, x.PeakRSSMB, x.RSSGrowthMB, x.Errors)
	}
	if len(r.Summaries) > 0 {
		fmt.Fprint(w, "\nAcross rounds, median (min–max):\n\n")
		fmt.Fprintln(w, "| "+strings.Join(summaryHeads, " | ")+" |")
		fmt.Fprintln(w, "|---|---|---|"+strings.Repeat("--:|", len(summaryHeads)-3))
		for _, s := range r.Summaries {
			fmt.Fprintln(w, "| "+strings.Join(s.cells(), " | ")+" |")
		}
	}
	fmt.Fprintln(w, "\n| target | goal | measured | verdict |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, t := range r.Targets {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", t.Name, t.Goal, t.Measured, verdict(t.Met))
	}
	for _, f := range r.Info {
		fmt.Fprintf(w, "| %s | – | %s | info |\n", f.Name, f.Measured)
	}
}

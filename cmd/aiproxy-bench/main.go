// Command aiproxy-bench measures what aiproxy adds to a provider call, side
// by side with calling the provider directly and with two reference proxies
// doing the same key injection: nginx, and a bare Go reverse proxy built
// from net/http/httputil alone (the floor of any Go proxy on the machine).
//
// It starts the sandbox providers, aiproxy, the bare Go proxy and (if
// installed) nginx on loopback as child processes, so that each one's CPU
// time and peak RSS can be read from /proc; drives open-loop load at fixed
// rates (each request is due at a fixed time and its latency counts from
// then, so a stalled server cannot hide its stall); and writes a results table as text and JSON, and
// an SVG chart of latency against offered load.
//
//	go build -o bin/ ./cmd/aiproxy ./cmd/aiproxy-bench
//	bin/aiproxy-bench --aiproxy bin/aiproxy --out bench-results --svg docs/performance.svg
//
// --rounds N measures each scenario's paths N times, each round in a
// rotated order, and reports every figure's median and range across the
// rounds, so that a burst from a neighbour on a shared machine moves one
// round of one path rather than a verdict. --baseline BIN adds a second
// aiproxy binary as the path aiproxy-base, on its own database, to compare
// a change A/B in one run with the bare Go proxy as the floor.
//
//	bin/aiproxy-bench --only small-json --rounds 5 --aiproxy new/aiproxy --baseline old/aiproxy
//
// --smoke runs every scenario for a second or two at low rates (small-json
// in two rounds, unless --rounds says otherwise) and exits non-zero if any
// request failed; CI runs it so that the benchmark cannot rot. Everything
// it sends goes to 127.0.0.1 and every phase ends by itself.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == sandboxChildCmd:
		err = runSandboxChild(ctx, os.Args[2:], os.Stdout)
	case len(os.Args) > 1 && os.Args[1] == goProxyChildCmd:
		err = runGoProxyChild(ctx, os.Args[2:], os.Stdout)
	default:
		err = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "aiproxy-bench:", err)
		}
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	aiproxy  string
	baseline string
	nginx    string
	smoke    bool
	out      string
	svg      string
	only     []string
	keep     bool
	rounds   int
	// roundsSet is whether --rounds was given: without it, a smoke run
	// measures small-json in two rounds so that CI covers them.
	roundsSet bool
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("aiproxy-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.aiproxy, "aiproxy", "", "the aiproxy binary to measure; empty builds ./cmd/aiproxy with go build")
	fs.StringVar(&o.baseline, "baseline", "", "a second aiproxy binary, measured as the path "+pathBaseline+" with its own database, to compare A/B")
	fs.IntVar(&o.rounds, "rounds", 1, "measure each scenario's paths this many times, interleaved in a rotating order, and report medians and ranges")
	fs.StringVar(&o.nginx, "nginx", "/usr/sbin/nginx", "the nginx binary for the reference path; skipped with a note when absent")
	fs.BoolVar(&o.smoke, "smoke", false, "run every scenario briefly at low rates; exit non-zero on any error")
	fs.StringVar(&o.out, "out", "", "directory for results.json, results.txt and results.md; empty prints the table only")
	fs.StringVar(&o.svg, "svg", "", "write the latency chart here (SVG)")
	fs.BoolVar(&o.keep, "keep", false, "keep the working directory (logs, nginx config, database) and print its path")
	only := fs.String("only", "", "comma-separated scenarios to run (default all): "+strings.Join(scenarioNames(), ","))
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	fs.Visit(func(f *flag.Flag) { o.roundsSet = o.roundsSet || f.Name == "rounds" })
	if o.rounds < 1 {
		return o, fmt.Errorf("--rounds %d: at least 1", o.rounds)
	}
	if o.baseline != "" {
		if _, err := os.Stat(o.baseline); err != nil {
			return o, fmt.Errorf("--baseline: %w", err)
		}
	}
	if *only != "" {
		o.only = strings.Split(*only, ",")
		for _, n := range o.only {
			if !slices.Contains(scenarioNames(), n) {
				return o, fmt.Errorf("unknown scenario %q", n)
			}
		}
	}
	return o, nil
}

// roundsOf returns how many rounds a scenario measures: --rounds, except
// that a smoke run without it measures small-json twice, cheaply, so that
// CI runs the rounds too.
func (o options) roundsOf(scenario string) int {
	if o.smoke && !o.roundsSet && scenario == "small-json" {
		return 2
	}
	return o.rounds
}

func scenarioNames() []string {
	var out []string
	for _, s := range scenarios() {
		out = append(out, s.name)
	}
	return out
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "aiproxy-bench-")
	if err != nil {
		return err
	}
	if opts.keep {
		fmt.Fprintln(stderr, "aiproxy-bench: working directory", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if opts.aiproxy == "" {
		if opts.aiproxy, err = buildAIProxy(ctx, dir, stderr); err != nil {
			return err
		}
	}
	nginxNote := ""
	if _, err := os.Stat(opts.nginx); err != nil {
		nginxNote = fmt.Sprintf("nginx not found at %s: the reference path is skipped (apt-get install nginx to add it)", opts.nginx)
		fmt.Fprintln(stderr, "aiproxy-bench:", nginxNote)
		opts.nginx = ""
	}
	raiseFileLimit(200000)
	w, err := newWorld(ctx, opts, dir)
	if err != nil {
		return err
	}
	b := &bench{ctx: ctx, w: w, log: stderr}
	started, loadStart := time.Now(), loadAvg()
	for _, sc := range scenarios() {
		if len(opts.only) > 0 && !slices.Contains(opts.only, sc.name) {
			continue
		}
		if err := b.runScenario(sc); err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	fillAdded(b.rows)
	rep := newReport(opts, b.rows, started, loadStart, nginxNote)
	if err := rep.write(stdout); err != nil {
		return err
	}
	if err := saveReport(rep, opts); err != nil {
		return err
	}
	if n := rep.errorCount(); n > 0 {
		return fmt.Errorf("%d requests failed", n)
	}
	return nil
}

func (b *bench) runScenario(sc scenario) error {
	var knobs sandboxKnobs
	if sc.knobs != nil {
		knobs = sc.knobs(b.w.opts.smoke)
	}
	b.rounds = b.w.opts.roundsOf(sc.name)
	b.logf("scenario %s", sc.name)
	st, err := b.w.start(b.ctx, sc.name, knobs)
	if err != nil {
		return err
	}
	defer st.stop()
	return sc.run(b, st)
}

// buildAIProxy builds the server from the module this command runs in.
func buildAIProxy(ctx context.Context, dir string, stderr io.Writer) (string, error) {
	bin := filepath.Join(dir, "aiproxy")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/aiproxy/aiproxy/cmd/aiproxy")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	fmt.Fprintln(stderr, "aiproxy-bench: building aiproxy (pass --aiproxy to use a built binary)")
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build aiproxy: %w", err)
	}
	return bin, nil
}

func saveReport(rep *report, opts options) error {
	if opts.svg != "" {
		if err := os.MkdirAll(filepath.Dir(opts.svg), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(opts.svg, []byte(chart(rep.Rows)), 0o644); err != nil {
			return err
		}
	}
	if opts.out == "" {
		return nil
	}
	if err := os.MkdirAll(opts.out, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	var txt, md strings.Builder
	_ = rep.write(&txt)
	rep.markdown(&md)
	for name, data := range map[string]string{"results.json": string(js) + "\n", "results.txt": txt.String(), "results.md": md.String()} {
		if err := os.WriteFile(filepath.Join(opts.out, name), []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Command mutate is aiproxy's mutation test: it applies each breakage of a
// list (scripts/mutations.txt) to a copy of the source tree, one at a time,
// runs the tests the list names for it, and fails if any breakage survives
// them. The working tree is never written to: other people may be editing
// it. Run it through scripts/mutate.sh.
//
// Each entry of the list reads:
//
//	mutation NAME
//	file PATH                   (relative to the module root)
//	test PACKAGE RUN-PATTERN    (as go test ./pkg -run PATTERN)
//	needs ENV                   (optional, repeatable: skipped unless set)
//	<<<
//	the original lines, exactly, found once in the file
//	===
//	the mutated lines
//	>>>
//
// Lines starting with # outside a snippet are comments.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// mutation is one breakage and the tests that must catch it.
type mutation struct {
	name, file string
	pkg, run   string
	needs      []string
	original   string
	mutated    string
	line       int // where the entry starts in the list
}

// spec names a test run: a package and a -run pattern.
func (m mutation) spec() string { return m.pkg + " -run " + m.run }

func main() {
	list := flag.String("list", "scripts/mutations.txt", "the list of mutations")
	only := flag.String("run", "", "apply only the mutations whose name matches this regular expression")
	rev := flag.String("rev", "", "mutate this git revision (git archive) instead of the working tree's files")
	timeout := flag.Duration("timeout", 3*time.Minute, "the most one go test run may take, compiling included")
	check := flag.Bool("check", false, "only check that every original snippet is found, once; run no test")
	keep := flag.Bool("keep", false, "keep the copy of the tree")
	flag.Parse()
	if err := run(*list, *only, *rev, *timeout, *check, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(1)
	}
}

func run(listPath, only, rev string, timeout time.Duration, check, keep bool) error {
	start := time.Now()
	muts, err := parseList(listPath)
	if err != nil {
		return err
	}
	if only != "" {
		re, err := regexp.Compile(only)
		if err != nil {
			return fmt.Errorf("-run: %w", err)
		}
		muts = filter(muts, func(m mutation) bool { return re.MatchString(m.name) })
	}
	dir, err := os.MkdirTemp("", "aiproxy-mutate-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("mutate: keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	n, err := copyTree(dir, rev)
	if err != nil {
		return fmt.Errorf("copy the tree: %w", err)
	}
	from := "the working tree"
	if rev != "" {
		from = rev
	}
	fmt.Printf("mutate: %d mutations; copied %d files of %s to %s\n", len(muts), n, from, dir)

	var t tally
	var ready []mutation
	for _, m := range muts {
		if err := findOnce(dir, m); err != nil {
			t.report("STALE", m, err.Error(), 0)
			continue
		}
		if missing := unset(m.needs); missing != "" && !check {
			t.report("SKIPPED", m, missing+" is not set", 0)
			continue
		}
		ready = append(ready, m)
	}
	if check {
		fmt.Printf("mutate: %d snippets found, %d stale\n", len(ready), t.stale)
		return t.err()
	}

	// The named tests must pass on the unmutated copy, or a "kill" would
	// mean nothing.
	passed := map[string]bool{}
	for _, m := range ready {
		if _, done := passed[m.spec()]; done {
			continue
		}
		res := goTest(dir, m, timeout)
		passed[m.spec()] = res.ok && !res.noTests
		switch {
		case res.noTests:
			fmt.Printf("BASELINE  %-45s runs no test (%s)\n", m.spec(), res.dur)
		case !res.ok:
			fmt.Printf("BASELINE  %-45s fails unmutated (%s)\n%s\n", m.spec(), res.dur, indent(tail(res.out, 15)))
		default:
			fmt.Printf("baseline  %-45s ok (%s)\n", m.spec(), res.dur)
		}
	}
	for _, m := range ready {
		if !passed[m.spec()] {
			t.report("UNTESTED", m, "its tests do not pass unmutated", 0)
			continue
		}
		t.mutate(dir, m, timeout)
	}
	fmt.Printf("mutate: %d of %d killed (kill rate %s); %d survived, %d stale, %d did not compile, %d untested, %d skipped; %s\n",
		t.killed, t.killed+t.survived, t.rate(), t.survived, t.stale, t.broken, t.untested, t.skipped, time.Since(start).Round(time.Second))
	return t.err()
}

// tally counts outcomes.
type tally struct {
	killed, survived, stale, broken, untested, skipped int
}

func (t *tally) report(outcome string, m mutation, detail string, d time.Duration) {
	switch outcome {
	case "KILLED":
		t.killed++
	case "SURVIVED":
		t.survived++
	case "STALE":
		t.stale++
	case "BROKEN":
		t.broken++
	case "UNTESTED":
		t.untested++
	case "SKIPPED":
		t.skipped++
	}
	took := ""
	if d > 0 {
		took = " (" + d.Round(100*time.Millisecond).String() + ")"
	}
	fmt.Printf("%-9s %s: %s%s\n", outcome, m.name, detail, took)
}

// mutate applies one mutation to the copy, runs its tests and restores the
// file.
func (t *tally) mutate(dir string, m mutation, timeout time.Duration) {
	path := filepath.Join(dir, m.file)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.report("STALE", m, err.Error(), 0)
		return
	}
	defer os.WriteFile(path, orig, 0o644)
	mutated := strings.Replace(string(orig), m.original, m.mutated, 1)
	if err := os.WriteFile(path, []byte(mutated), 0o644); err != nil {
		t.report("BROKEN", m, err.Error(), 0)
		return
	}
	res := goTest(dir, m, timeout)
	switch {
	case res.buildFailed:
		t.report("BROKEN", m, "the mutant does not compile:\n"+indent(tail(res.out, 8)), res.dur)
	case res.ok:
		t.report("SURVIVED", m, m.spec()+" still passes", res.dur)
	case res.timedOut:
		t.report("KILLED", m, "the tests timed out", res.dur)
	default:
		t.report("KILLED", m, "caught by "+firstFailure(res.out), res.dur)
	}
}

func (t *tally) rate() string {
	if t.killed+t.survived == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(t.killed)/float64(t.killed+t.survived))
}

func (t *tally) err() error {
	if bad := t.survived + t.stale + t.broken + t.untested; bad > 0 {
		return fmt.Errorf("%d mutations survived, were stale, did not compile or could not be tested", bad)
	}
	return nil
}

// result is the outcome of one go test run.
type result struct {
	ok, buildFailed, timedOut, noTests bool
	out                                string
	dur                                time.Duration
}

// goTest runs a mutation's tests in the copy. -trimpath keeps the build
// cache keyed by content rather than by the copy's path, so that a later
// run reuses what this one compiled.
func goTest(dir string, m mutation, timeout time.Duration) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-trimpath", "-timeout", timeout.String(), "-run", m.run, m.pkg)
	cmd.Dir = dir
	// The test binary is a child of go: kill the whole group on timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	began := time.Now()
	err := cmd.Run()
	text := out.String()
	return result{
		ok:          err == nil,
		buildFailed: strings.Contains(text, "[build failed]") || strings.Contains(text, "[setup failed]"),
		timedOut:    ctx.Err() != nil || strings.Contains(text, "panic: test timed out"),
		noTests:     strings.Contains(text, "no tests to run") || strings.Contains(text, "[no test files]"),
		out:         text,
		dur:         time.Since(began).Round(100 * time.Millisecond),
	}
}

var failLine = regexp.MustCompile(`--- FAIL: (\S+)`)

// firstFailure names the deepest failing test of the first failure block.
func firstFailure(out string) string {
	all := failLine.FindAllStringSubmatch(out, -1)
	if len(all) == 0 {
		return strings.TrimSpace(tail(out, 1))
	}
	best := all[0][1]
	for _, f := range all[1:] {
		if strings.HasPrefix(f[1], best+"/") {
			best = f[1]
		}
	}
	return best
}

// findOnce checks that a mutation's original snippet is in its file
// exactly once, and that the mutation changes it.
func findOnce(dir string, m mutation) error {
	data, err := os.ReadFile(filepath.Join(dir, m.file))
	if err != nil {
		return fmt.Errorf("%s: %w", m.file, errors.Unwrap(err))
	}
	switch n := strings.Count(string(data), m.original); {
	case m.original == m.mutated:
		return errors.New("the mutated snippet equals the original")
	case n == 0:
		return fmt.Errorf("original snippet not found in %s", m.file)
	case n > 1:
		return fmt.Errorf("original snippet found %d times in %s; make it longer", n, m.file)
	}
	return nil
}

// copyTree copies the module into dir: the files of a git revision, or the
// working tree's tracked and untracked-but-not-ignored files as they are
// now, uncommitted edits included.
func copyTree(dir, rev string) (int, error) {
	if rev != "" {
		return extractRevision(dir, rev)
	}
	out, err := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return 0, fmt.Errorf("git ls-files: %w", err)
	}
	n := 0
	for _, name := range strings.Split(string(out), "\x00") {
		info, err := os.Lstat(name)
		if name == "" || err != nil || !info.Mode().IsRegular() {
			continue // deleted in the working tree, or not a plain file
		}
		data, err := os.ReadFile(name)
		if err != nil {
			return n, err
		}
		if err := writeFile(filepath.Join(dir, name), data, info.Mode().Perm()); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func extractRevision(dir, rev string) (int, error) {
	cmd := exec.Command("git", "archive", "--format=tar", rev)
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	n, err := untar(dir, pipe)
	if werr := cmd.Wait(); err == nil && werr != nil {
		err = fmt.Errorf("git archive %s: %w", rev, werr)
	}
	return n, err
}

func untar(dir string, r io.Reader) (int, error) {
	tr := tar.NewReader(r)
	n := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return n, err
		}
		if err := writeFile(filepath.Join(dir, h.Name), data, os.FileMode(h.Mode).Perm()); err != nil {
			return n, err
		}
		n++
	}
}

func writeFile(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, perm)
}

// parseList reads the list of mutations.
func parseList(path string) ([]mutation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		muts  []mutation
		cur   *mutation
		block *[]string // the snippet being read, if any
		orig  []string
		mut   []string
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", path, n, fmt.Sprintf(format, args...))
		}
		if block != nil {
			switch line {
			case "===":
				if block != &orig {
					return nil, bad("=== outside an original snippet")
				}
				block = &mut
			case ">>>":
				if block != &mut {
					return nil, bad(">>> before ===")
				}
				cur.original, cur.mutated = strings.Join(orig, "\n"), strings.Join(mut, "\n")
				block, orig, mut = nil, nil, nil
			default:
				*block = append(*block, line)
			}
			continue
		}
		field, value, _ := strings.Cut(strings.TrimSpace(line), " ")
		value = strings.TrimSpace(value)
		switch {
		case field == "" || strings.HasPrefix(field, "#"):
		case field == "mutation":
			muts = append(muts, mutation{name: value, line: n})
			cur = &muts[len(muts)-1]
		case cur == nil:
			return nil, bad("%q before the first mutation line", field)
		case field == "file":
			cur.file = value
		case field == "test":
			cur.pkg, cur.run, _ = strings.Cut(value, " ")
			cur.run = strings.TrimSpace(cur.run)
		case field == "needs":
			cur.needs = append(cur.needs, value)
		case field == "<<<":
			block = &orig
		default:
			return nil, bad("unknown field %q", field)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if block != nil {
		return nil, fmt.Errorf("%s: the last snippet has no >>>", path)
	}
	names := map[string]bool{}
	for _, m := range muts {
		if m.file == "" || m.pkg == "" || m.run == "" || m.original == "" {
			return nil, fmt.Errorf("%s:%d: mutation %q needs a file, a test package and pattern, and a snippet", path, m.line, m.name)
		}
		if names[m.name] {
			return nil, fmt.Errorf("%s:%d: a second mutation is named %q", path, m.line, m.name)
		}
		names[m.name] = true
	}
	return muts, nil
}

func filter(muts []mutation, keep func(mutation) bool) []mutation {
	var out []mutation
	for _, m := range muts {
		if keep(m) {
			out = append(out, m)
		}
	}
	return out
}

func unset(vars []string) string {
	for _, v := range vars {
		if os.Getenv(v) == "" {
			return v
		}
	}
	return ""
}

func tail(s string, lines int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

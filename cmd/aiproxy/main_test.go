package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func runArgs(t *testing.T, getenv env, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, getenv, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

func noEnv(string) string { return "" }

func TestUnknownCommandSuggests(t *testing.T) {
	tests := []struct{ typed, want string }{
		{"servces", "services"},
		{"kye", "key"},
		{"demo2", "demo"},
		{"credentials", "credential"},
		{"rotate-master", ""},
		{"zzz", ""},
		{"x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.typed, func(t *testing.T) {
			_, stderr, err := runArgs(t, noEnv, tt.typed)
			if !errors.Is(err, errUsage) {
				t.Fatalf("aiproxy %s: %v, want a usage error", tt.typed, err)
			}
			suggestion := "Did you mean 'aiproxy " + tt.want + "'?"
			if tt.want != "" && !strings.Contains(stderr, suggestion) {
				t.Errorf("aiproxy %s says\n%s\nwant %q", tt.typed, stderr, suggestion)
			}
			if tt.want == "" && strings.Contains(stderr, "Did you mean") {
				t.Errorf("aiproxy %s suggests a command it is far from:\n%s", tt.typed, stderr)
			}
		})
	}
}

// TestHelpGroupsCommands checks that the top-level help lists every command
// under each group that says what it needs (a server to run, a running
// server to call, or the database), once per group, and that jobs and
// webhook, which work both ways, are in both and say so.
func TestHelpGroupsCommands(t *testing.T) {
	_, help, err := runArgs(t, noEnv, "--help")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) int { return strings.Index(help, "\n"+s) }
	groups := []string{groupServer, groupClient, groupDatabase, groupOther}
	for i := 1; i < len(groups); i++ {
		if at(groups[i-1]) < 0 || at(groups[i]) <= at(groups[i-1]) {
			t.Fatalf("the groups are not listed in order %q:\n%s", groups, help)
		}
	}
	// section is the help's list of one group's commands.
	section := func(group string) string {
		start, end := at(group), len(help)
		for i, g := range groups {
			if g == group && i+1 < len(groups) {
				end = at(groups[i+1])
			}
		}
		return help[start:end]
	}
	for _, c := range commands() {
		line := "\n  " + c.name + " "
		in := commandGroups(c.name)
		if strings.Count(help, line) != len(in) {
			t.Errorf("%s is listed %d times, want once in each of %q", c.name, strings.Count(help, line), in)
			continue
		}
		for _, group := range in {
			if !strings.Contains(section(group), line) {
				t.Errorf("%s is not listed under %q", c.name, group)
			}
		}
	}
	for _, name := range []string{"services", "call", "video", "tts", "token", "budget"} {
		if g := commandGroups(name); len(g) != 1 || g[0] != groupClient {
			t.Errorf("%s calls a server but is grouped under %q", name, g)
		}
	}
	for _, name := range []string{"jobs", "webhook"} {
		if g := commandGroups(name); !slices.Equal(g, []string{groupClient, groupDatabase}) {
			t.Errorf("%s works both ways but is grouped under %q", name, g)
		}
		if !strings.Contains(section(groupClient), "\n  "+name+" ") || !strings.Contains(section(groupClient), "also on the database") ||
			!strings.Contains(section(groupDatabase), "also over HTTP") {
			t.Errorf("the help does not say that %s works both ways:\n%s", name, help)
		}
	}
	if !strings.Contains(help, "--url (or AIPROXY_URL) calls a server, --data-dir or --database-url") {
		t.Errorf("the help does not say how jobs and webhook choose:\n%s", help)
	}
}

// TestHintForUnreachableServer checks that a client command whose server
// is not there is told what to do.
func TestHintForUnreachableServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	vars := map[string]string{"AIPROXY_URL": "http://" + addr, "AIPROXY_ORG": "demo", "AIPROXY_API_KEY": "aip_x"}
	_, _, err = runArgs(t, func(k string) string { return vars[k] }, "services")
	if err == nil {
		t.Fatal("services succeeded against a closed port")
	}
	if h := hint(err); !strings.Contains(h, "aiproxy demo") || !strings.Contains(h, "AIPROXY_URL") {
		t.Errorf("hint(%v) = %q", err, h)
	}
	// main prints "aiproxy: " before the error: the error must not say it again.
	_, _, noConfig := runArgs(t, noEnv, "services")
	for _, e := range []error{err, noConfig} {
		if e == nil || strings.HasPrefix(e.Error(), "aiproxy") {
			t.Errorf("error %q would print with a doubled prefix", e)
		}
	}
	if h := hint(errors.New("open database: disk full")); h != "" {
		t.Errorf("a hint for an unrelated error: %q", h)
	}
}

// TestHelpSpellsFlagsWithTwoDashes checks that a command's help names its
// flags as the README does, --addr rather than -addr.
func TestHelpSpellsFlagsWithTwoDashes(t *testing.T) {
	for _, cmd := range []string{"demo", "serve", "key", "services"} {
		_, help, err := runArgs(t, noEnv, cmd, "--help")
		if err != nil && !errors.Is(err, errUsage) {
			t.Fatalf("%s --help: %v", cmd, err)
		}
		flags := 0
		for _, line := range strings.Split(help, "\n") {
			if strings.HasPrefix(line, "  -") {
				if !strings.HasPrefix(line, "  --") {
					t.Errorf("%s --help spells a flag with one dash: %q", cmd, line)
				}
				flags++
			}
		}
		if cmd == "demo" && (flags == 0 || !strings.Contains(help, "\n  --addr string\n")) {
			t.Errorf("demo --help lists no --addr:\n%s", help)
		}
	}
}

// TestGroupHelpDescribesCommands checks that the help of every command
// group says what each of its commands does.
func TestGroupHelpDescribesCommands(t *testing.T) {
	for _, noun := range []string{"org", "key", "credential", "quota", "usage", "access", "audit", "jobs", "webhook"} {
		_, help, err := runArgs(t, noEnv, noun, "--help")
		if err != nil {
			t.Fatalf("%s --help: %v", noun, err)
		}
		_, list, ok := strings.Cut(help, "Commands:\n")
		list, _, _ = strings.Cut(list, "\n\n")
		if !ok || list == "" {
			t.Fatalf("%s --help lists no commands:\n%s", noun, help)
		}
		for _, line := range strings.Split(list, "\n") {
			if verb, summary, _ := strings.Cut(strings.TrimSpace(line), " "); strings.TrimSpace(summary) == "" {
				t.Errorf("aiproxy %s %s has no description in help.go", noun, verb)
			}
		}
	}
}

// TestProgressBarOnTerminalOnly checks that the video progress is a bar
// redrawn in place on a terminal and plain lines, one per status, in a file.
func TestProgressBarOnTerminalOnly(t *testing.T) {
	var plain, term bytes.Buffer
	p := &progressBar{w: &plain, on: true}
	q := &progressBar{w: &term, on: true, tty: true}
	for _, step := range []struct {
		status  string
		seconds float64
	}{{"pending", 1}, {"processing", 2}, {"processing", 3}, {"completed", 4}} {
		p.render(step.status, time.Duration(step.seconds*float64(time.Second)))
		q.render(step.status, time.Duration(step.seconds*float64(time.Second)))
	}
	p.done()
	q.done()
	want := "status pending after 1.0s\nstatus processing after 2.0s\nstatus completed after 4.0s\n"
	if plain.String() != want {
		t.Errorf("into a file:\n%q\nwant\n%q", plain.String(), want)
	}
	if got := term.String(); strings.Count(got, "\r[") != 4 || !strings.HasSuffix(got, "\n") {
		t.Errorf("on a terminal: %q", got)
	}
	if isTerminal(&plain) {
		t.Error("a buffer taken for a terminal")
	}
}

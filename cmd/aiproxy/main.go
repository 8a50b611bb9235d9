// Command aiproxy is a multi-tenant proxy for external AI media services.
// It serves the External Service Proxy API, runs a self-contained demo with
// sandbox providers, runs the sandbox alone, and manages orgs, API keys and
// provider credentials.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	if err != nil && !errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "aiproxy:", err)
		if h := hint(err); h != "" {
			fmt.Fprintln(os.Stderr, h)
		}
	}
	if err != nil {
		os.Exit(exitCode(err))
	}
}

// errUsage is returned after a usage message was printed.
var errUsage = errors.New("usage")

func exitCode(err error) int {
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

// env looks up an environment variable; tests pass their own.
type env func(string) string

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, e env, io stdio) error
}

// The groups of the top-level help: what a command needs to work.
const (
	groupServer   = "Run a server:"
	groupClient   = "Call a running server (AIPROXY_URL, AIPROXY_ORG, AIPROXY_API_KEY):"
	groupDatabase = "Manage the database directly (--data-dir or --database-url, as serve):"
	groupOther    = "Other:"
)

// commandGroups says under which groups of the help a command is listed:
// one, or both the server's and the database's for jobs and webhook, which
// work either way (jobsFlags.onServer).
func commandGroups(name string) []string {
	switch name {
	case "serve", "demo", "sandbox":
		return []string{groupServer}
	case "services", "call", "video", "tts", "token", "budget":
		return []string{groupClient}
	case "jobs", "webhook":
		return []string{groupClient, groupDatabase}
	case "version":
		return []string{groupOther}
	}
	return []string{groupDatabase}
}

// alsoIn says, after a command's summary, in which other group of the help
// it is listed too.
func alsoIn(name, group string) string {
	switch {
	case len(commandGroups(name)) < 2:
		return ""
	case group == groupClient:
		return "; also on the database (below)"
	}
	return "; also over HTTP (above)"
}

// stdio bundles the standard streams of a command.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

func commands() []command {
	return []command{
		{"serve", "run the aiproxy server", runServe},
		{"demo", "run the server with sandbox providers, a demo org and a fresh key", runDemo},
		{"sandbox", "run only the simulated HeyGen and ElevenLabs providers", runSandbox},
		{"org", "create and list orgs, and show or change their settings (create, list, settings)", runOrg},
		{"key", "create, list and revoke API keys (create, list, revoke)", runKey},
		{"credential", "set, list and delete provider credentials, and show or restore the keys of a pool (set, list, delete, pool)", runCredential},
		{"quota", "set, list and delete per-org quotas (set, list, delete)", runQuota},
		{"usage", "report usage per org, service and day as a table, JSON or CSV (report)", runUsage},
		{"access", "enable or disable services and endpoints for an org (enable, disable, list)", runAccess},
		{"migrate", "apply database migrations and print the schema version", runMigrate},
		{"backup", "write a checked copy of the live SQLite database (--out FILE), or check one (--check FILE)", runBackup},
		{"audit", "read the audit log of admin actions (list)", runAudit},
		{"rotate-master-key", "re-seal every credential and webhook secret under a new master key", runRotateMasterKey},
		{"services", "list a running server's services, or one service's endpoints", runServices},
		{"call", "invoke SERVICE ACTION on a running server with an envelope", runCall},
		{"video", "generate a HeyGen video, wait with progress and download it (generate, status)", runVideo},
		{"tts", "synthesize speech with ElevenLabs into an audio file", runTTS},
		{"token", "mint, list and revoke user tokens for an org's end users (mint, list, revoke)", runToken},
		{"budget", "set, list and delete an org's spending budgets, and see what they have left (set, list, delete, status)", runBudget},
		{"jobs", "list and show an org's async provider jobs (list, get)", runJobs},
		{"webhook", "manage an org's job webhook endpoints and read deliveries (add, list, delete, deliveries)", runWebhook},
		{"version", "print the version, commit and build date (--json)", runVersion},
	}
}

// run is the whole program: main only wires the process to it.
func run(ctx context.Context, args []string, getenv env, stdin io.Reader, stdout, stderr io.Writer) error {
	s := stdio{in: stdin, out: stdout, err: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	if args[0] == "--version" || args[0] == "-version" {
		_, err := fmt.Fprintln(stdout, build)
		return err
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, args[1:], getenv, s)
			if errors.Is(err, errHelp) {
				return nil
			}
			return err
		}
	}
	fmt.Fprintf(stderr, "aiproxy: unknown command %q\n", args[0])
	if near := closestCommand(args[0]); near != "" {
		fmt.Fprintf(stderr, "Did you mean 'aiproxy %s'?\n", near)
	}
	fmt.Fprintln(stderr)
	usage(stderr)
	return errUsage
}

// closestCommand returns the command a mistyped name most likely meant: the
// nearest by edit distance, within two edits (one for short names), or ""
// when none is that close.
func closestCommand(typed string) string {
	best, bestDist := "", 3
	for _, c := range commands() {
		limit := 2
		if len(c.name) <= 4 {
			limit = 1
		}
		if d := editDistance(typed, c.name); d <= limit && d < bestDist {
			best, bestDist = c.name, d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance between a and b,
// in bytes: insertions, deletions, substitutions and swaps of neighbours
// each count one, so "kye" is one edit from "key".
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// hint is a line of advice after an error a user can act on, or "": a
// server that cannot be reached is likely not running, or elsewhere.
func hint(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return "Is aiproxy running at that address? 'aiproxy demo' starts one; AIPROXY_URL (or --url) names another."
	}
	return ""
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: aiproxy <command> [flags]")
	for _, group := range []string{groupServer, groupClient, groupDatabase, groupOther} {
		fmt.Fprintln(w, "\n"+group)
		for _, c := range commands() {
			if slices.Contains(commandGroups(c.name), group) {
				fmt.Fprintf(w, "  %-18s %s%s\n", c.name, c.summary, alsoIn(c.name, group))
			}
		}
	}
	fmt.Fprintln(w, "\njobs and webhook work both ways: --url (or AIPROXY_URL) calls a server, --data-dir or --database-url")
	fmt.Fprintln(w, "opens the database; 'aiproxy jobs --help' says which wins.")
	fmt.Fprintln(w, "\nRun 'aiproxy <command> --help' for a command's flags, 'aiproxy --version' for the version.")
}

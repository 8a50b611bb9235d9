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
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	if err != nil && !errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "aiproxy:", err)
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
		{"org", "create and list orgs (create, list)", runOrg},
		{"key", "create, list and revoke API keys (create, list, revoke)", runKey},
		{"credential", "set, list and delete provider credentials (set, list, delete)", runCredential},
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
	fmt.Fprintf(stderr, "aiproxy: unknown command %q\n\n", args[0])
	usage(stderr)
	return errUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: aiproxy <command> [flags]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-18s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'aiproxy <command> --help' for a command's flags.")
}

package main

import (
	"fmt"
	"io"
)

// The meanings of --org. Every command's --org has exactly one of these
// help texts, so that its help says which meaning it has (docs/clients.md,
// "One meaning per flag"; TestOrgFlagWording checks it).
const (
	// orgActOn is the org a command reads or changes; AIPROXY_ORG is its
	// default.
	orgActOn = "the org to act on [AIPROXY_ORG]"
	// orgFilter narrows a report that spans every org (audit list, usage
	// report). No variable sets it: an exported AIPROXY_ORG, there for the
	// commands that act on an org, must not silently narrow a
	// platform-wide report.
	orgFilter = "only this org (default: every org; AIPROXY_ORG does not set it)"
	// orgDemo is the org the demo creates and prints a key for.
	orgDemo = "the org the demo creates and prints a key for [AIPROXY_DEMO_ORG]"
)

// verbSummary says what "aiproxy NOUN VERB" does, for the help of a
// command group (subcommand in admin.go); "" for a verb it does not know.
func verbSummary(noun, verb string) string {
	return map[string]string{
		"org create":         "create an org",
		"org list":           "list the orgs",
		"org settings":       "show or change an org's settings: the default and longest life of its user tokens",
		"key create":         "create an API key for an org or the platform; the key is printed once",
		"key list":           "list an org's or the platform's keys, without their secrets",
		"key revoke":         "revoke a key by its id",
		"credential set":     "set a provider credential, read from standard input or --file",
		"credential list":    "list credentials, masked",
		"credential delete":  "delete a credential",
		"credential pool":    "show a credential's pool of keys, masked, with each key's weight, cap and health; --restore puts a key back in use",
		"quota set":          "set an org's quota on requests, characters or renders, per day or month",
		"quota list":         "list an org's quotas",
		"quota delete":       "delete a quota",
		"usage report":       "report usage per org, service and day as a table, JSON or CSV",
		"access enable":      "enable a service, or one of its endpoints, for an org",
		"access disable":     "disable a service, or one of its endpoints, for an org",
		"access list":        "list an org's access rules",
		"audit list":         "list admin actions, newest first",
		"jobs list":          "list an org's provider jobs, filtered by state, service, action or user",
		"jobs get":           "show one job as JSON",
		"webhook add":        "register an endpoint for job events; its signing secret is printed once",
		"webhook list":       "list an org's webhook endpoints",
		"webhook delete":     "delete an endpoint and its pending deliveries",
		"webhook deliveries": "read the delivery log: state, attempts, last status and error",
		"token mint":         "mint a user token that acts for one user of the org; the token is printed once",
		"token list":         "list the org's unexpired user tokens (revoked ones marked), without their secrets",
		"token revoke":       "revoke a user token by its id",
		"budget set":         "create a budget (or replace one, --id) capping the org, a key, a user or a token per window, in dollars",
		"budget list":        "list the org's budgets: scope, subject, window, limit in dollars, alerts, enforcement",
		"budget delete":      "delete a budget by its id, and its counters",
		"budget status":      "show what each budget has spent and left this window (a user token: its own, as a percentage)",
	}[noun+" "+verb]
}

// groupUsage prints the help of a command group: its verbs, each with what
// it does.
func groupUsage(w io.Writer, noun string, verbs []string) {
	fmt.Fprintf(w, "Usage: aiproxy %s <command> [flags]\n\nCommands:\n", noun)
	for _, v := range verbs {
		fmt.Fprintf(w, "  %-12s %s\n", v, verbSummary(noun, v))
	}
	if noun == "jobs" || noun == "webhook" {
		fmt.Fprintln(w, "\n"+bothWays)
	}
	fmt.Fprintf(w, "\nRun 'aiproxy %s <command> --help' for its flags.\n", noun)
}

// bothWays is the rule by which jobs and webhook choose between a server
// and the database (jobsFlags.onServer).
const bothWays = `jobs and webhook call a server or open the database:
  --url                          calls the server (with AIPROXY_API_KEY)
  --data-dir, --database-url     open the database (giving one of them and --url is an error)
  neither flag                   AIPROXY_URL, when set, calls the server (and says so on stderr
                                 if AIPROXY_DATA_DIR or AIPROXY_DATABASE_URL is set too);
                                 without AIPROXY_URL they open the database`

package main

import (
	"fmt"
	"io"
)

// verbSummary says what "aiproxy NOUN VERB" does, for the help of a
// command group (subcommand in admin.go); "" for a verb it does not know.
func verbSummary(noun, verb string) string {
	return map[string]string{
		"org create":         "create an org",
		"org list":           "list the orgs",
		"key create":         "create an API key for an org or the platform; the key is printed once",
		"key list":           "list an org's or the platform's keys, without their secrets",
		"key revoke":         "revoke a key by its id",
		"credential set":     "set a provider credential, read from standard input or --file",
		"credential list":    "list credentials, masked",
		"credential delete":  "delete a credential",
		"quota set":          "set an org's quota on requests, characters or renders, per day or month",
		"quota list":         "list an org's quotas",
		"quota delete":       "delete a quota",
		"usage report":       "report usage per org, service and day as a table, JSON or CSV",
		"access enable":      "enable a service, or one of its endpoints, for an org",
		"access disable":     "disable a service, or one of its endpoints, for an org",
		"access list":        "list an org's access rules",
		"audit list":         "list admin actions, newest first",
		"jobs list":          "list an org's provider jobs, filtered by state, service or action",
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
	fmt.Fprintf(w, "\nRun 'aiproxy %s <command> --help' for its flags.\n", noun)
}

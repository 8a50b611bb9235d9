package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/httpapi"
	"github.com/aiproxy/aiproxy/internal/jobs"
)

// overHTTP runs a command against the demo's server, as a user whose
// environment names it (AIPROXY_URL, AIPROXY_ORG) and holds key.
func (d *demo) overHTTP(key string, args ...string) (stdout, stderr string, err error) {
	d.t.Helper()
	vars := map[string]string{"AIPROXY_URL": d.url, "AIPROXY_ORG": d.org, "AIPROXY_API_KEY": key}
	return runArgs(d.t, func(k string) string { return vars[k] }, args...)
}

// onDatabase runs a command on the demo's database (--data-dir), with its
// master key, as an operator of the demo would: webhooks on loopback
// allowed, AIPROXY_ORG set.
func (d *demo) onDatabase(args ...string) (stdout, stderr string, err error) {
	d.t.Helper()
	vars := map[string]string{"AIPROXY_MASTER_KEY_FILE": filepath.Join(d.dir, "master.key"),
		"AIPROXY_WEBHOOK_ALLOW_PRIVATE": "true", "AIPROXY_ORG": d.org}
	return runArgs(d.t, func(k string) string { return vars[k] }, append(args, "--data-dir", d.dir)...)
}

// bothWays runs a command over HTTP with the demo's admin key and on the
// database, checks that both succeed and print the same, and returns it.
func (d *demo) bothWays(args ...string) string {
	d.t.Helper()
	web, webErr, err := d.overHTTP(d.key, args...)
	if err != nil {
		d.t.Fatalf("%v over HTTP: %v\n%s", args, err, webErr)
	}
	db, dbErr, err := d.onDatabase(args...)
	if err != nil {
		d.t.Fatalf("%v on the database: %v\n%s", args, err, dbErr)
	}
	if web != db {
		d.t.Errorf("%v prints differently over HTTP:\n%s\nand on the database:\n%s", args, web, db)
	}
	if webErr != "" || dbErr != "" {
		d.t.Errorf("%v wrote to stderr: %q over HTTP, %q on the database", args, webErr, dbErr)
	}
	return web
}

// TestJobsAndWebhooksBothWays runs every jobs and webhook command over HTTP
// with an API key and on the database, against one demo: each prints the
// same table and the same JSON either way. A user token sees its own
// user's jobs only; an invoke key may not manage webhooks, nor a key
// another org's jobs.
func TestJobsAndWebhooksBothWays(t *testing.T) {
	d := startDemo(t)
	hooks := httptest.NewServer(&hookSink{})
	t.Cleanup(hooks.Close)

	// An endpoint added each way; each shows its secret once, alike.
	var viaHTTP, viaDB httpapi.WebhookEndpointJSON
	for _, add := range []struct {
		run func(...string) (string, string, error)
		ep  *httpapi.WebhookEndpointJSON
		url string
	}{
		{func(a ...string) (string, string, error) { return d.overHTTP(d.key, a...) }, &viaHTTP, hooks.URL + "/http"},
		{d.onDatabase, &viaDB, hooks.URL + "/db"},
	} {
		out, stderr, err := add.run("webhook", "add", add.url, "--events", "job.created,job.completed", "--json")
		if err != nil || json.Unmarshal([]byte(out), add.ep) != nil {
			t.Fatalf("webhook add %s = %v\n%s%s", add.url, err, out, stderr)
		}
		if !strings.HasPrefix(add.ep.ID, "whe_") || !strings.HasPrefix(add.ep.Secret, "whsec_") || add.ep.Org != d.org ||
			add.ep.URL != add.url || strings.Join(add.ep.Events, ",") != "job.completed,job.created" {
			t.Errorf("webhook add %s printed %s", add.url, out)
		}
	}
	table, _, err := d.overHTTP(d.key, "webhook", "add", hooks.URL+"/table")
	if err != nil || !strings.HasPrefix(table, "ID ") || !strings.Contains(table, "SECRET (shown once)") || !strings.Contains(table, "whsec_") {
		t.Fatalf("webhook add as a table = %v:\n%s", err, table)
	}
	tableID := strings.Fields(strings.Split(table, "\n")[1])[0]

	// Two renders, one for the org and one for its user alice, to the end.
	d.generateVideo("For the org.", nil)
	d.generateVideo("For alice.", http.Header{"X-Aiproxy-User": {"alice"}})
	var list []jobs.JobJSON
	for range 300 {
		out, _, err := d.onDatabase("jobs", "list", "--state", "completed", "--json")
		if err == nil && json.Unmarshal([]byte(out), &list) == nil && len(list) == 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(list) != 2 {
		t.Fatalf("the renders never completed: %+v", list)
	}
	var alices string
	for _, j := range list {
		if j.User != nil && *j.User == "alice" {
			alices = j.ID
		}
	}
	// Created and completed to the two endpoints, completed to the third:
	// 2 jobs × 5 deliveries, all delivered before the log is compared.
	var log []httpapi.DeliveryJSON
	for range 300 {
		out, _, err := d.onDatabase("webhook", "deliveries", "--json")
		if err == nil && json.Unmarshal([]byte(out), &log) == nil && len(log) == 10 && allDelivered(log) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(log) != 10 || !allDelivered(log) {
		t.Fatalf("the delivery log never held 10 delivered deliveries: %+v", log)
	}

	for _, args := range [][]string{
		{"jobs", "list"},
		{"jobs", "list", "--user", "alice"},
		{"jobs", "list", "--service", "heygen", "--action", "generate-video", "--state", "completed", "--limit", "1"},
		{"jobs", "get", alices},
		{"webhook", "list"},
		{"webhook", "deliveries"},
		{"webhook", "deliveries", "--endpoint", viaDB.ID, "--limit", "3"},
	} {
		for _, asJSON := range []bool{false, true} {
			if asJSON {
				args = append(args, "--json")
			}
			out := d.bothWays(args...)
			if asJSON && !json.Valid([]byte(out)) {
				t.Errorf("%v printed no JSON:\n%s", args, out)
			}
		}
	}
	if out := d.bothWays("jobs", "list", "--user", "alice", "--json"); !strings.Contains(out, alices) || strings.Count(out, `"id": "job_`) != 1 {
		t.Errorf("jobs list --user alice:\n%s", out)
	}
	if out := d.bothWays("webhook", "deliveries", "--endpoint", viaDB.ID); strings.Count(out, "\n") != 5 || !strings.Contains(out, viaDB.ID) {
		t.Errorf("webhook deliveries --endpoint (2 created, 2 completed):\n%s", out)
	}

	// A user token over HTTP sees only its user's jobs, whatever it asks.
	tok := d.token(d.org, d.key, "alice")
	want, _, err := d.onDatabase("jobs", "list", "--user", "alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"jobs", "list"}, {"jobs", "list", "--user", "bob"}} {
		if got, stderr, err := d.overHTTP(tok, args...); err != nil || got != want {
			t.Errorf("alice's %v = %v %s\n%s\nwant her one job:\n%s", args, err, stderr, got, want)
		}
	}
	for _, j := range list {
		_, _, err := d.overHTTP(tok, "jobs", "get", j.ID)
		if j.ID != alices && (err == nil || !strings.Contains(err.Error(), "HTTP 404")) {
			t.Errorf("alice reads the org's job %s: %v, want a 404", j.ID, err)
		}
	}

	// Refusals, as the server words them, and as JSON with --json.
	invoke := d.cli("", "key", "create", "--org", d.org, "--role", "invoke")
	d.cli("", "org", "create", "other")
	for _, r := range []struct {
		key  string
		args []string
	}{
		{invoke, []string{"webhook", "add", hooks.URL + "/invoke"}},
		{invoke, []string{"webhook", "list"}},
		{invoke, []string{"webhook", "deliveries"}},
		{invoke, []string{"webhook", "delete", viaHTTP.ID}},
		{d.key, []string{"jobs", "list", "--org", "other"}},
		{d.key, []string{"webhook", "list", "--org", "other"}},
	} {
		out, _, err := d.overHTTP(r.key, append(r.args, "--json")...)
		var e struct {
			Status int    `json:"status"`
			Code   string `json:"code"`
		}
		if err == nil || !strings.Contains(err.Error(), "(HTTP 403, forbidden)") || json.Unmarshal([]byte(out), &e) != nil || e.Status != 403 {
			t.Errorf("%v = %v, printed %q; want a 403", r.args, err, out)
		}
	}
	if out, _, err := d.overHTTP(invoke, "jobs", "list", "--json"); err != nil || !strings.Contains(out, alices) {
		t.Errorf("an invoke key's jobs list = %v\n%s", err, out)
	}

	// Deleting, each way.
	for _, del := range []struct {
		run func(...string) (string, string, error)
		id  string
	}{
		{func(a ...string) (string, string, error) { return d.overHTTP(d.key, a...) }, viaHTTP.ID},
		{d.onDatabase, viaDB.ID},
	} {
		if out, stderr, err := del.run("webhook", "delete", del.id); err != nil || out != "deleted "+del.id+"\n" {
			t.Errorf("webhook delete %s = %v %q %s", del.id, err, out, stderr)
		}
	}
	if out := d.bothWays("webhook", "list", "--json"); !strings.Contains(out, tableID) || strings.Count(out, `"id"`) != 1 {
		t.Errorf("after the deletes, webhook list:\n%s", out)
	}
	if _, _, err := d.overHTTP(d.key, "webhook", "delete", viaHTTP.ID); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("deleting it again over HTTP = %v, want a 404", err)
	}
}

func allDelivered(log []httpapi.DeliveryJSON) bool {
	for _, d := range log {
		if d.State != "delivered" {
			return false
		}
	}
	return true
}

// TestJobsChooseServerOrDatabase checks the rule by which jobs and webhook
// choose: a flag first (--url: the server; --data-dir or --database-url:
// the database; both: an error), then AIPROXY_URL; and that only the
// ambiguous case says on stderr which it chose.
func TestJobsChooseServerOrDatabase(t *testing.T) {
	d := startDemo(t)
	d.generateVideo("Where am I listed?", nil)
	elsewhere := t.TempDir() // a database with no jobs
	vars := map[string]string{"AIPROXY_ORG": d.org, "AIPROXY_API_KEY": d.key, "AIPROXY_URL": d.url, "AIPROXY_DATA_DIR": elsewhere}
	both := func(k string) string { return vars[k] }
	urlOnly := func(k string) string {
		if k == "AIPROXY_DATA_DIR" {
			return ""
		}
		return vars[k]
	}
	dirOnly := func(k string) string {
		if k == "AIPROXY_URL" {
			return ""
		}
		return vars[k]
	}
	for _, c := range []struct {
		name       string
		getenv     env
		args       []string
		server     bool
		note       string
		errorNames string
	}{
		{"AIPROXY_URL and AIPROXY_DATA_DIR: the server, said", both, nil, true, "calling the server at " + d.url, ""},
		{"AIPROXY_URL alone: the server", urlOnly, nil, true, "", ""},
		{"--data-dir wins over AIPROXY_URL", both, []string{"--data-dir", elsewhere}, false, "", ""},
		{"--database-url wins over AIPROXY_URL", both, []string{"--database-url", "sqlite://" + filepath.Join(elsewhere, "aiproxy.db")}, false, "", ""},
		{"--url wins over AIPROXY_DATA_DIR", dirOnly, []string{"--url", d.url}, true, "", ""},
		{"no AIPROXY_URL: the database", dirOnly, nil, false, "", ""},
		{"--url and --data-dir: refused", both, []string{"--url", d.url, "--data-dir", elsewhere}, false, "", "not both"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, stderr, err := runArgs(t, c.getenv, append([]string{"jobs", "list"}, c.args...)...)
			if c.errorNames != "" {
				if err == nil || !strings.Contains(err.Error(), c.errorNames) {
					t.Fatalf("= %v, want an error saying %q", err, c.errorNames)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			if listed := strings.Contains(out, "job_"); listed != c.server {
				t.Errorf("listed the demo's job: %v, want %v (server: %v):\n%s", listed, c.server, c.server, out)
			}
			if c.note == "" && stderr != "" || c.note != "" && !strings.Contains(stderr, c.note) {
				t.Errorf("stderr %q, want %q", stderr, c.note)
			}
			if _, err := os.Stat(filepath.Join(elsewhere, "aiproxy.db")); c.server && err == nil && c.name == "AIPROXY_URL and AIPROXY_DATA_DIR: the server, said" {
				t.Error("the command called the server but opened the database too")
			}
		})
	}
}

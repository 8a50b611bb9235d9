package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/postgres/pgtest"
)

// TestDemoOnPostgres runs the demo on a fresh Postgres schema: the data dir
// then only holds the generated master key, and every row lives in Postgres.
// It skips unless AIPROXY_TEST_POSTGRES_URL names a server.
func TestDemoOnPostgres(t *testing.T) {
	url := pgtest.URL(t)
	d := startDemo(t, "--database-url", url)
	if !strings.Contains(d.stdout.String(), "ready: postgres,") {
		t.Errorf("the demo's guide does not name the engine:\n%s", d.stdout.String())
	}
	if strings.Contains(d.stderr.String(), "sslmode") {
		t.Errorf("the database URL reached the log:\n%s", d.stderr.String())
	}

	var services []map[string]any
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/services/", d.key, 200, &services)
	if len(services) != 3 {
		t.Fatalf("services = %v", services)
	}
	var voices struct {
		Voices []struct {
			VoiceID string `json:"voice_id"`
		} `json:"voices"`
	}
	d.invokeJSON("elevenlabs", "list-voices", map[string]any{}, &voices)
	if len(voices.Voices) == 0 {
		t.Fatal("no voices through the Postgres-backed proxy")
	}

	// The admin commands see the same rows through the same URL, and the
	// data dir holds no SQLite database.
	if out := d.cli("", "org", "list", "--json", "--database-url", url); !strings.Contains(out, `"`+d.org+`"`) {
		t.Errorf("org list on Postgres = %s, want the demo org", out)
	}
	if _, err := os.Stat(filepath.Join(d.dir, "aiproxy.db")); !os.IsNotExist(err) {
		t.Errorf("the demo created a SQLite file next to its Postgres database (stat: %v)", err)
	}
}

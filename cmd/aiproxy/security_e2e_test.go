package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/sqlite"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// fullerRun exercises the key lifecycle, the audit log and the metrics of
// a running demo, asserting as it goes; TestNoSecretsLeak then scans all
// it produced.
func (d *demo) fullerRun() {
	t := d.t
	t.Helper()
	base := "/api/ai-proxy/orgs/" + d.org
	status, _, body := d.do("POST", base+"/keys/", d.key, strings.NewReader(
		`{"name":"scoped","expires_in":"1h","services":["elevenlabs"]}`), nil)
	var scoped struct {
		ID        string   `json:"id"`
		Key       string   `json:"key"`
		ExpiresAt string   `json:"expires_at"`
		Services  []string `json:"services"`
	}
	if err := json.Unmarshal(body, &scoped); status != 201 || err != nil || scoped.ExpiresAt == "" || len(scoped.Services) != 1 {
		t.Fatalf("create scoped key = %d %s", status, body)
	}
	if s, _, b := d.invoke(d.org, scoped.Key, "elevenlabs", "list-models", map[string]any{}); s != 200 {
		t.Fatalf("scoped key on its service = %d %s", s, b)
	}
	if s, _, b := d.invoke(d.org, scoped.Key, "heygen", "list-voices", map[string]any{}); s != 403 {
		t.Fatalf("scoped key on another service = %d %s", s, b)
	}
	var list []map[string]any
	d.getJSON(base+"/services/", scoped.Key, 200, &list)
	if len(list) != 1 || list[0]["slug"] != "elevenlabs" {
		t.Fatalf("scoped key discovers %v", list)
	}
	d.do("DELETE", base+"/keys/"+scoped.ID+"/", d.key, nil, nil)
	if s, _, _ := d.invoke(d.org, scoped.Key, "elevenlabs", "list-models", map[string]any{}); s != 401 {
		t.Fatalf("revoked key = %d", s)
	}
	cliKey := d.cli("", "key", "create", "--org", d.org, "--expires", "24h", "--services", "heygen,elevenlabs")
	if s, _, _ := d.invoke(d.org, cliKey, "heygen", "list-voices", map[string]any{}); s != 200 {
		t.Fatalf("CLI key with expiry = %d", s)
	}
	for _, k := range d.providerKeys() {
		if strings.Contains(k, "_el_") {
			body, _ := json.Marshal(map[string]any{"value": map[string]string{"key": k}})
			if s, _, b := d.do("PUT", base+"/credentials/elevenlabs/", d.key, bytes.NewReader(body), nil); s != 200 {
				t.Fatalf("rotate the elevenlabs credential = %d %s", s, b)
			}
		}
	}
	var events []map[string]any
	d.getJSON(base+"/audit/", d.key, 200, &events)
	seen := map[string]bool{}
	for _, e := range events {
		seen[e["action"].(string)] = true
		if e["org"] != d.org {
			t.Fatalf("org audit shows another org's event %v", e)
		}
	}
	for _, want := range []string{"key.created", "key.revoked", "credential.set"} {
		if !seen[want] {
			t.Errorf("audit log lacks %s: %v", want, events)
		}
	}
	if out := d.cli("", "audit", "list", "--org", d.org); !strings.Contains(out, "key.revoked") {
		t.Errorf("aiproxy audit list:\n%s", out)
	}
	status, _, metrics := d.do("GET", "/metrics", "", nil, http.Header{"Authorization": {"Bearer " + d.metricsToken}})
	for _, want := range []string{`aiproxy_requests_total{action="list-models",service="elevenlabs",status="200"}`,
		"aiproxy_overhead_seconds_bucket", `aiproxy_provider_latency_seconds_count{action="list-voices",outcome="2xx",service="heygen"}`,
		`aiproxy_http_requests_total`} {
		if status != 200 || !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if _, h, _ := d.do("GET", "/console/", "", nil, nil); h.Get("X-Frame-Options") != "DENY" ||
		!strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("console security headers: %v", h)
	}
	if bytes.Contains(metrics, []byte(scoped.ID)) {
		t.Error("/metrics carries a key id")
	}
}

// TestRotateMasterKey re-seals a demo's credentials under a new master key
// and checks that the new key alone then opens every one, and that a
// second run has nothing left to do.
func TestRotateMasterKey(t *testing.T) {
	d := startDemo(t)
	oldKey, err := os.ReadFile(filepath.Join(d.dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	newKey := bytes.Repeat([]byte{7}, 32)
	getenv := func(name string) string {
		switch name {
		case "AIPROXY_MASTER_KEY":
			return hex.EncodeToString(newKey)
		case "AIPROXY_MASTER_KEY_OLD":
			return strings.TrimSpace(string(oldKey))
		}
		return ""
	}
	rotate := func() string {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"rotate-master-key", "--data-dir", d.dir}, getenv, strings.NewReader(""), &out, &errOut); err != nil {
			t.Fatalf("rotate-master-key: %v\n%s", err, errOut.String())
		}
		return errOut.String()
	}
	// The demo org's three credentials (HeyGen, ElevenLabs, LiveAvatar) and
	// the platform's three (two pools and LiveAvatar's key).
	if out := rotate(); !strings.Contains(out, "re-sealed 6 credentials") {
		t.Fatalf("first rotation: %s", out)
	}
	if out := rotate(); !strings.Contains(out, "re-sealed 0 credentials") || !strings.Contains(out, "6 were already") {
		t.Fatalf("second rotation: %s", out)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(d.dir, "aiproxy.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, _ := vault.New(newKey)
	creds, err := db.Credentials(context.Background(), aiproxy.SourceTenant, d.org)
	if err != nil || len(creds) != 3 {
		t.Fatalf("credentials = %d, %v", len(creds), err)
	}
	for _, c := range creds {
		if _, err := v.Open(c.Sealed, c.AAD()); err != nil {
			t.Errorf("%s does not open with the new key alone: %v", c.Name, err)
		}
	}
	events, _ := db.AuditEvents(context.Background(), aiproxy.AuditFilter{OrgKey: d.org})
	if len(events) == 0 || events[0].Action != aiproxy.AuditCredentialResealed {
		t.Fatalf("rotation not in the audit log: %+v", events)
	}
}

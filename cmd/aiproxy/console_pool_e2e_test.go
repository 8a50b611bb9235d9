package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsolePoolHealth shows a platform key pool's health in the console:
// a key the provider refused (revoked in the sandbox) reads as removed,
// with why, and the Restore button puts it back in use, through the admin
// API the console calls.
func TestConsolePoolHealth(t *testing.T) {
	b := startBrowser(t)
	d := startDemo(t)
	keyA, keyB := "hg_pool_console_a_0123456789abcdef", "hg_pool_console_b_0123456789abcdef"
	for _, k := range []string{keyA, keyB} {
		body, _ := json.Marshal(map[string]string{"provider": "heygen", "key": k})
		resp, err := http.Post(d.sandbox+"/_sandbox/keys", "application/json", bytes.NewReader(body))
		if err != nil || resp.StatusCode != 204 {
			t.Fatalf("add sandbox key: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	d.cli(`{"keys":[{"id":"a","key":"`+keyA+`"},{"id":"b","key":"`+keyB+`"}]}`, "credential", "set", "--platform", "heygen")
	d.cli("", "org", "create", "other")
	other := d.cli("", "key", "create", "--org", "other", "--role", "invoke")
	body, _ := json.Marshal(map[string]string{"provider": "heygen", "key": keyA})
	resp, err := http.Post(d.sandbox+"/_sandbox/keys/revoke", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("revoke key a in the sandbox: %v %v", resp, err)
	}
	resp.Body.Close()
	platform := d.cli("", "key", "create", "--platform", "--name", "pool console")
	removed := false
	// The pool picks a key by weight for each call (lists are cached, so
	// test-mode video starts): until one meets a, which then moves on to b.
	for i := 0; i < 40 && !removed; i++ {
		if status, _, b := d.invoke("other", other, "heygen", "generate-video", videoBody("Pool check.")); status != 200 {
			t.Fatalf("generate-video on the pool = %d %.200s", status, b)
		}
		_, _, out := d.do("GET", "/api/ai-proxy/admin/credentials/heygen/pool/", platform, nil, nil)
		removed = strings.Contains(string(out), `"removed"`)
	}
	if !removed {
		t.Fatal("the revoked key was never met and removed")
	}

	rowA := `[data-pool=heygen] tr[data-key=a]`
	b.do("sign in as platform",
		chromedp.Navigate(d.url+"/console/"),
		typeInto(`input[name=org]`, d.org),
		typeInto(`input[name=apiKey]`, platform),
		click(`form button[type=submit]`),
		waitJS(`document.getElementById('session-role')?.textContent === 'platform admin'`))
	b.do("the pool's health",
		goTo("#/credentials?scope=platform"),
		waitJS(`document.querySelector('`+rowA+` [data-state]')`))
	if state := textOf(b, rowA+` [data-state]`); !strings.HasPrefix(state, "removed") || !strings.Contains(state, "401") {
		t.Errorf("key a reads %q, want removed for the provider's 401", state)
	}
	if state := textOf(b, `[data-pool=heygen] tr[data-key=b] [data-state]`); state != "healthy" {
		t.Errorf("key b reads %q, want healthy", state)
	}
	if page := textOf(b, `main`); strings.Contains(page, keyA) || strings.Contains(page, keyB) {
		t.Error("the page shows a pool key")
	}
	b.do("restore key a",
		click(rowA+` button`),
		waitJS(`document.querySelector('`+rowA+` [data-state]')?.textContent === 'healthy'`))
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, _, out := d.do("GET", "/api/ai-proxy/admin/credentials/heygen/pool/", platform, nil, nil)
		if !strings.Contains(string(out), `"removed"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Restore the pool still has a removed key: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}

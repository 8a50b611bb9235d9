package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// userTokenJSON is what token mint, list and revoke print with --json.
type userTokenJSON struct {
	ID     string `json:"id"`
	Token  string `json:"token"`
	User   string `json:"user"`
	Grants struct {
		Services []string `json:"services"`
		Actions  []string `json:"actions"`
	} `json:"grants"`
	MaxSpend  *float64   `json:"max_spend"`
	SingleUse bool       `json:"single_use"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// whoIs asks the demo who a user token is: the status and the user.
func whoIs(d *demo, token string) (int, string) {
	d.t.Helper()
	status, _, body := d.as("GET", "/api/ai-proxy/orgs/"+d.org+"/me/", "Token "+token, nil)
	var me struct {
		User *string `json:"user"`
	}
	_ = json.Unmarshal(body, &me)
	if me.User == nil {
		return status, ""
	}
	return status, *me.User
}

// TestTokenCommands mints, lists and revokes user tokens with the CLI
// against a running demo, and checks each with HTTP.
func TestTokenCommands(t *testing.T) {
	d := startDemo(t)

	out, _ := mustRunClient(d, "token", "mint", "--user", "alice", "--services", "elevenlabs", "--ttl", "90s",
		"--max-spend", "1.50", "--json")
	var alice userTokenJSON
	if err := json.Unmarshal([]byte(out), &alice); err != nil {
		t.Fatalf("mint --json: %v\n%s", err, out)
	}
	if !strings.HasPrefix(alice.Token, "aipt_") || alice.User != "alice" || strings.Join(alice.Grants.Services, ",") != "elevenlabs" ||
		alice.MaxSpend == nil || *alice.MaxSpend != 1.5 || alice.ExpiresAt.Sub(alice.CreatedAt) != 90*time.Second {
		t.Fatalf("minted %+v", alice)
	}
	if status, user := whoIs(d, alice.Token); status != 200 || user != "alice" {
		t.Errorf("alice's token: me = %d %q", status, user)
	}

	// For people, the token alone on stdout (for TOKEN=$(…)), the rest on stderr.
	out, stderr := mustRunClient(d, "token", "mint", "--user", "alice", "--actions", "heygen/list-avatars,heygen/video-status", "--single-use")
	second := strings.TrimSpace(out)
	if !strings.HasPrefix(second, "aipt_") || strings.Count(out, "\n") != 1 {
		t.Errorf("mint printed %q on stdout", out)
	}
	if !strings.Contains(stderr, "for alice") || !strings.Contains(stderr, "actions heygen/list-avatars,heygen/video-status") ||
		strings.Contains(stderr, second) {
		t.Errorf("mint's stderr: %s", stderr)
	}
	bob := strings.TrimSpace(mustOut(mustRunClient(d, "token", "mint", "--user", "bob")))

	out, _ = mustRunClient(d, "token", "list", "--user", "alice", "--json")
	var list []userTokenJSON
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 2 {
		t.Fatalf("list --user alice --json: %v\n%s", err, out)
	}
	var single userTokenJSON
	for _, tok := range list {
		if tok.Token != "" || tok.User != "alice" {
			t.Errorf("listed %+v", tok)
		}
		if tok.SingleUse {
			single = tok
		}
	}
	if strings.Join(single.Grants.Actions, ",") != "heygen/list-avatars,heygen/video-status" {
		t.Errorf("the single-use token's grants: %+v", single)
	}
	out, _ = mustRunClient(d, "token", "list")
	for _, want := range []string{"ID", "USER", alice.ID, single.ID, "bob", "services elevenlabs", "$1.50", "all services"} {
		if !strings.Contains(out, want) {
			t.Errorf("token list lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "aipt_") {
		t.Errorf("token list shows a secret:\n%s", out)
	}

	out, _ = mustRunClient(d, "token", "revoke", alice.ID)
	if !strings.Contains(out, "revoked user token "+alice.ID+" of alice") {
		t.Errorf("revoke printed %q", out)
	}
	if status, _ := whoIs(d, alice.Token); status != 401 {
		t.Errorf("a revoked token: me = %d, want 401", status)
	}
	if status, user := whoIs(d, bob); status != 200 || user != "bob" {
		t.Errorf("bob's token after alice's revocation: me = %d %q", status, user)
	}
	out, _ = mustRunClient(d, "token", "list", "--user", "alice", "--json")
	list = nil
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 2 {
		t.Fatalf("list after a revocation: %v\n%s", err, out)
	}
	for _, tok := range list {
		if (tok.ID == alice.ID) != (tok.RevokedAt != nil) {
			t.Errorf("after revoking %s, listed %s with revoked_at %v", alice.ID, tok.ID, tok.RevokedAt)
		}
	}
	// The single-use token, once spent, is listed as used.
	if status, user := whoIs(d, second); status != 200 || user != "alice" {
		t.Errorf("the single-use token's first use: me = %d %q", status, user)
	}
	out, _ = mustRunClient(d, "token", "list", "--user", "alice")
	for id, state := range map[string]string{alice.ID: "revoked", single.ID: "used"} {
		if !lineHas(out, id, state) {
			t.Errorf("token list does not show %s as %s:\n%s", id, state, out)
		}
	}
	if !lineHas(mustOut(mustRunClient(d, "token", "list", "--user", "bob")), "bob", "live") {
		t.Errorf("bob's token is not listed as live")
	}
}

// lineHas reports whether one line of out holds every word.
func lineHas(out string, words ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		all := true
		for _, w := range words {
			all = all && slices.Contains(strings.Fields(line), w)
		}
		if all {
			return true
		}
	}
	return false
}

func mustOut(stdout, _ string) string { return stdout }

func TestTokenCommandErrors(t *testing.T) {
	d := startDemo(t)
	if _, _, err := runClient(d, "token", "mint"); err == nil || !strings.Contains(err.Error(), "--user is required") {
		t.Errorf("mint without --user: %v", err)
	}
	out, _, err := runClient(d, "token", "mint", "--user", "alice", "--ttl", "2h", "--json")
	if err == nil || !strings.Contains(err.Error(), "ttl_seconds must be between") || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("mint --ttl 2h: %v", err)
	}
	var e struct {
		Status int    `json:"status"`
		Code   string `json:"code"`
	}
	if json.Unmarshal([]byte(out), &e) != nil || e.Status != 400 || e.Code != "invalid" {
		t.Errorf("mint --ttl 2h --json printed %q", out)
	}
	if _, _, err := runClient(d, "token", "revoke", "nope"); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("revoke of an unknown id: %v", err)
	}

	// A user token is no key: it cannot mint or list.
	tok := d.token(d.org, d.key, "alice")
	vars := map[string]string{"AIPROXY_URL": d.url, "AIPROXY_ORG": d.org, "AIPROXY_API_KEY": tok}
	for _, args := range [][]string{{"token", "mint", "--user", "bob"}, {"token", "list"}} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, func(k string) string { return vars[k] }, strings.NewReader(""), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), "HTTP 403") {
			t.Errorf("%v with a user token: %v", args, err)
		}
	}

	// The group's help names each subcommand and what it does.
	_, stderr, err := runClient(d, "token")
	if !errors.Is(err, errUsage) {
		t.Errorf("token alone = %v, want a usage error", err)
	}
	for _, want := range []string{"mint ", "list ", "revoke ", "printed once", "without their secrets", "by its id"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("token's help lacks %q:\n%s", want, stderr)
		}
	}
	if _, _, err := runClient(d, "token", "--help"); err != nil {
		t.Errorf("token --help = %v", err)
	}
}

package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/sqlite"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// fixture is a Service over a temp SQLite file, a real vault and the
// built-in catalog, with a clock the test moves.
type fixture struct {
	svc   *Service
	db    *sqlite.DB
	vault *vault.Vault
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "aiproxy.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	v, err := vault.New(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, vault: v, now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	f.svc = New(db, v, cat, func() time.Time { return f.now })
	return f
}

func code(t *testing.T, err error, want aiproxy.Code) {
	t.Helper()
	if got := aiproxy.ErrorCode(err); err == nil || got != want {
		t.Fatalf("err = %v (%s), want %s", err, got, want)
	}
}

func TestCreateOrg(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	o, err := f.svc.CreateOrg(ctx, "acme", "  ")
	if err != nil || o.Name != "acme" || !o.CreatedAt.Equal(f.now) {
		t.Fatalf("CreateOrg = %+v, %v", o, err)
	}
	_, err = f.svc.CreateOrg(ctx, "acme", "Again")
	code(t, err, aiproxy.CodeConflict)
	for _, bad := range []string{"", "Acme", "a b", "-x", "../x"} {
		_, err := f.svc.CreateOrg(ctx, bad, "")
		code(t, err, aiproxy.CodeInvalid)
	}
	_, err = f.svc.Org(ctx, "nope")
	code(t, err, aiproxy.CodeNotFound)
	orgs, err := f.svc.Orgs(ctx)
	if err != nil || len(orgs) != 1 {
		t.Fatalf("Orgs = %v, %v", orgs, err)
	}
}

func TestCreateKey(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.CreateOrg(ctx, "acme", ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		org      string
		role     aiproxy.Role
		wantRole aiproxy.Role
		wantCode aiproxy.Code
	}{
		{"default role is invoke", "acme", "", aiproxy.RoleInvoke, ""},
		{"org admin", "acme", aiproxy.RoleAdmin, aiproxy.RoleAdmin, ""},
		{"platform admin", "", aiproxy.RoleAdmin, aiproxy.RoleAdmin, ""},
		{"platform default role refused", "", "", "", aiproxy.CodeInvalid},
		{"platform invoke refused", "", aiproxy.RoleInvoke, "", aiproxy.CodeInvalid},
		{"unknown role", "acme", "owner", "", aiproxy.CodeInvalid},
		{"unknown org", "nope", aiproxy.RoleInvoke, "", aiproxy.CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			full, k, err := f.svc.CreateKey(ctx, tc.org, " ci ", tc.role)
			if tc.wantCode != "" {
				code(t, err, tc.wantCode)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			id, secret, ok := aiproxy.ParseKey(full)
			if !ok || id != k.ID || k.Role != tc.wantRole || k.OrgKey != tc.org || k.Name != "ci" {
				t.Fatalf("key %q, record %+v", full, k)
			}
			stored, err := f.db.Key(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !aiproxy.SecretMatches(secret, stored.SecretHash) || bytes.Contains(stored.SecretHash, []byte(secret)) {
				t.Fatal("stored hash does not match the key, or holds the secret")
			}
		})
	}
	_, err := f.svc.Keys(ctx, "nope")
	code(t, err, aiproxy.CodeNotFound)
	keys, err := f.svc.Keys(ctx, "acme")
	if err != nil || len(keys) != 2 {
		t.Fatalf("Keys(acme) = %d, %v", len(keys), err)
	}
}

func TestRevokeKey(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, o := range []string{"acme", "other"} {
		if _, err := f.svc.CreateOrg(ctx, o, ""); err != nil {
			t.Fatal(err)
		}
	}
	_, mine, _ := f.svc.CreateKey(ctx, "acme", "", "")
	_, theirs, _ := f.svc.CreateKey(ctx, "other", "", "")
	_, platform, _ := f.svc.CreateKey(ctx, "", "", aiproxy.RoleAdmin)

	_, err := f.svc.RevokeKey(ctx, "acme", theirs.ID)
	code(t, err, aiproxy.CodeNotFound)
	_, err = f.svc.RevokeKey(ctx, "acme", platform.ID)
	code(t, err, aiproxy.CodeNotFound)
	_, err = f.svc.RevokeKey(ctx, "", mine.ID)
	code(t, err, aiproxy.CodeNotFound)
	_, err = f.svc.RevokeKey(ctx, "acme", "0000000000000000")
	code(t, err, aiproxy.CodeNotFound)
	if k, _ := f.db.Key(ctx, theirs.ID); k.Revoked() {
		t.Fatal("another org's key was revoked")
	}

	first := f.now
	k, err := f.svc.RevokeKey(ctx, "acme", mine.ID)
	if err != nil || !k.RevokedAt.Equal(first) {
		t.Fatalf("RevokeKey = %+v, %v", k, err)
	}
	f.now = f.now.Add(time.Hour)
	k, err = f.svc.RevokeKey(ctx, "acme", mine.ID)
	if err != nil || !k.RevokedAt.Equal(first) {
		t.Fatalf("second revoke moved the time: %+v, %v", k, err)
	}
}

func TestSetCredential(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.CreateOrg(ctx, "acme", ""); err != nil {
		t.Fatal(err)
	}
	const secret = "hg-live-0123456789-abcd"
	T, P := aiproxy.SourceTenant, aiproxy.SourcePlatform
	refusals := []struct {
		name  string
		src   aiproxy.Source
		org   string
		cname string
		value aiproxy.CredentialValue
		code  aiproxy.Code
	}{
		{"tenant without org", T, "", "heygen", aiproxy.CredentialValue{"key": secret}, aiproxy.CodeInvalid},
		{"platform with org", P, "acme", "heygen", aiproxy.CredentialValue{"key": secret}, aiproxy.CodeInvalid},
		{"bad source", "shared", "acme", "heygen", aiproxy.CredentialValue{"key": secret}, aiproxy.CodeInvalid},
		{"unknown name", T, "acme", "openai", aiproxy.CredentialValue{"key": secret}, aiproxy.CodeNotFound},
		{"schema mismatch", T, "acme", "heygen", aiproxy.CredentialValue{"token": secret}, aiproxy.CodeInvalid},
		{"unknown org", T, "nope", "heygen", aiproxy.CredentialValue{"key": secret}, aiproxy.CodeNotFound},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.SetCredential(ctx, tc.src, tc.org, tc.cname, tc.value)
			code(t, err, tc.code)
			if bytes.Contains([]byte(err.Error()), []byte(secret)) {
				t.Fatal("the error shows the secret")
			}
		})
	}

	created := f.now
	c, err := f.svc.SetCredential(ctx, T, "acme", "heygen", aiproxy.CredentialValue{"key": secret})
	if err != nil {
		t.Fatal(err)
	}
	if c.Masked["key"] != "****abcd" || !c.CreatedAt.Equal(created) || bytes.Contains(c.Sealed, []byte(secret)) {
		t.Fatalf("credential = %+v", c)
	}
	plain, err := f.vault.Open(c.Sealed, []byte("tenant/acme/heygen"))
	if err != nil {
		t.Fatalf("sealed value does not open with its row's AAD: %v", err)
	}
	var v aiproxy.CredentialValue
	if err := json.Unmarshal(plain, &v); err != nil || v["key"] != secret {
		t.Fatalf("sealed value = %s", plain)
	}
	if _, err := f.vault.Open(c.Sealed, []byte("tenant/other/heygen")); err == nil {
		t.Fatal("sealed value opens for another org")
	}

	f.now = f.now.Add(time.Hour)
	c, err = f.svc.SetCredential(ctx, T, "acme", "heygen", aiproxy.CredentialValue{"key": "hg-live-9999999999-wxyz"})
	if err != nil || !c.CreatedAt.Equal(created) || !c.UpdatedAt.Equal(f.now) || c.Masked["key"] != "****wxyz" {
		t.Fatalf("replace = %+v, %v", c, err)
	}

	if _, err := f.svc.SetCredential(ctx, P, "", "elevenlabs", aiproxy.CredentialValue{"key": secret}); err != nil {
		t.Fatal(err)
	}
	list, err := f.svc.Credentials(ctx, T, "acme")
	if err != nil || len(list) != 1 || list[0].Name != "heygen" {
		t.Fatalf("tenant list = %+v, %v", list, err)
	}
	list, err = f.svc.Credentials(ctx, P, "")
	if err != nil || len(list) != 1 || list[0].Name != "elevenlabs" {
		t.Fatalf("platform list = %+v, %v", list, err)
	}
	_, err = f.svc.Credentials(ctx, T, "nope")
	code(t, err, aiproxy.CodeNotFound)
	_, err = f.svc.Credentials(ctx, T, "")
	code(t, err, aiproxy.CodeInvalid)

	if err := f.svc.DeleteCredential(ctx, T, "acme", "heygen"); err != nil {
		t.Fatal(err)
	}
	code(t, f.svc.DeleteCredential(ctx, T, "acme", "heygen"), aiproxy.CodeNotFound)
	code(t, f.svc.DeleteCredential(ctx, P, "acme", "heygen"), aiproxy.CodeInvalid)
}

package admin

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/sqlite"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// rotationFixture is a fixture holding a platform credential, a tenant
// credential and a webhook secret, all sealed with the fixture's key.
func rotationFixture(t *testing.T) (*fixture, aiproxy.WebhookEndpoint) {
	t.Helper()
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.CreateOrg(ctx, "acme", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetCredential(ctx, aiproxy.SourcePlatform, "", "elevenlabs", aiproxy.CredentialValue{"key": "el-platform-0123456789"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetCredential(ctx, aiproxy.SourceTenant, "acme", "heygen", aiproxy.CredentialValue{"key": "hg-tenant-0123456789"}); err != nil {
		t.Fatal(err)
	}
	ep := aiproxy.WebhookEndpoint{ID: "wh_1", OrgKey: "acme", URL: "https://hooks.example.com/x", Events: []string{"job.completed"}, CreatedAt: f.now}
	sealed, err := f.vault.Seal([]byte("whsec_signing"), ep.AAD())
	if err != nil {
		t.Fatal(err)
	}
	ep.Sealed = sealed
	if err := f.db.CreateWebhookEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	return f, ep
}

// newKeyVault holds a new primary key and the fixture's key as the old one.
func newKeyVault(t *testing.T) (rotated, newOnly *vault.Vault) {
	t.Helper()
	newKey := bytes.Repeat([]byte{9}, 32)
	rotated, err := vault.New(newKey, bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	newOnly, err = vault.New(newKey)
	if err != nil {
		t.Fatal(err)
	}
	return rotated, newOnly
}

func TestRotateMasterKey(t *testing.T) {
	f, ep := rotationFixture(t)
	ctx := context.Background()
	rotated, newOnly := newKeyVault(t)
	clock := func() time.Time { return f.now }

	got, err := RotateMasterKey(ctx, f.db, rotated, clock)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Rotation{KeyID: rotated.KeyID(), Credentials: 2, WebhookSecrets: 1}); got != want {
		t.Fatalf("first rotation = %+v, want %+v", got, want)
	}
	for _, o := range []struct {
		src aiproxy.Source
		org string
	}{{aiproxy.SourcePlatform, ""}, {aiproxy.SourceTenant, "acme"}} {
		creds, err := f.db.Credentials(ctx, o.src, o.org)
		if err != nil || len(creds) != 1 {
			t.Fatalf("%s credentials = %d, %v", o.src, len(creds), err)
		}
		if _, err := newOnly.Open(creds[0].Sealed, creds[0].AAD()); err != nil {
			t.Errorf("%s credential does not open with the new key alone: %v", o.src, err)
		}
	}
	stored, err := f.db.WebhookEndpoint(ctx, "acme", ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := newOnly.Open(stored.Sealed, stored.AAD()); err != nil || string(plain) != "whsec_signing" {
		t.Errorf("webhook secret with the new key alone = %q, %v", plain, err)
	}

	events, err := f.db.AuditEvents(ctx, aiproxy.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var resealed []string
	for _, e := range events {
		if e.Action == aiproxy.AuditCredentialResealed {
			resealed = append(resealed, e.OrgKey+"/"+e.Target)
			if e.Actor != aiproxy.ActorCLI || !strings.Contains(e.Detail, "key_id="+rotated.KeyID()) || !e.At.Equal(f.now) {
				t.Errorf("audit event %+v: want the CLI as actor, the new key id and the clock's time", e)
			}
		}
	}
	if len(resealed) != 2 {
		t.Fatalf("audited re-seals %v, want the two credentials", resealed)
	}

	again, err := RotateMasterKey(ctx, f.db, rotated, clock)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Rotation{KeyID: rotated.KeyID(), Current: 3}); again != want {
		t.Fatalf("second rotation = %+v, want %+v", again, want)
	}
}

// racingStore sets a credential anew just before the rotation writes it,
// as a server sharing the database might.
type racingStore struct {
	*sqlite.DB
	vault *vault.Vault
}

func (s racingStore) ResealCredential(ctx context.Context, c aiproxy.Credential, old []byte) (bool, error) {
	meanwhile := c
	sealed, err := s.vault.Seal([]byte(`{"key":"set-meanwhile-0123"}`), c.AAD())
	if err != nil {
		return false, err
	}
	meanwhile.Sealed = sealed
	if err := s.DB.PutCredential(ctx, meanwhile); err != nil {
		return false, err
	}
	return s.DB.ResealCredential(ctx, c, old)
}

func TestRotateMasterKeySkipsWhatChangedMeanwhile(t *testing.T) {
	f, _ := rotationFixture(t)
	ctx := context.Background()
	rotated, _ := newKeyVault(t)
	got, err := RotateMasterKey(ctx, racingStore{DB: f.db, vault: rotated}, rotated, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Rotation{KeyID: rotated.KeyID(), WebhookSecrets: 1, Skipped: 2}); got != want {
		t.Fatalf("rotation = %+v, want %+v", got, want)
	}
	creds, err := f.db.Credentials(ctx, aiproxy.SourceTenant, "acme")
	if err != nil || len(creds) != 1 {
		t.Fatalf("credentials = %d, %v", len(creds), err)
	}
	plain, err := rotated.Open(creds[0].Sealed, creds[0].AAD())
	if err != nil || !strings.Contains(string(plain), "set-meanwhile") {
		t.Fatalf("the credential set meanwhile was overwritten: %q, %v", plain, err)
	}
}

func TestRotateMasterKeyWithoutTheOldKey(t *testing.T) {
	f, _ := rotationFixture(t)
	_, newOnly := newKeyVault(t)
	_, err := RotateMasterKey(context.Background(), f.db, newOnly, nil)
	if !errors.Is(err, vault.ErrUnknownKey) || !strings.Contains(err.Error(), "AIPROXY_MASTER_KEY_OLD") {
		t.Fatalf("rotation without the old key: %v, want ErrUnknownKey and a hint", err)
	}
}

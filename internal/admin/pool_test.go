package admin

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

const (
	adminPoolA = "hg-pool-secret-aaaa-1111"
	adminPoolB = "hg-pool-secret-bbbb-2222"
)

func adminPoolValue(t *testing.T, keys string) aiproxy.CredentialValue {
	t.Helper()
	var v aiproxy.CredentialValue
	if err := json.Unmarshal([]byte(`{"keys":`+keys+`}`), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

var adminPoolKeys = `[{"id":"k1","key":"` + adminPoolA + `","weight":2,"max_concurrency":3},{"id":"k2","key":"` + adminPoolB + `"}]`

var platformHeyGen = aiproxy.PoolRef{Source: aiproxy.SourcePlatform, Name: "heygen"}

func poolFixture(t *testing.T) (*fixture, *proxy.MemoryKeyHealth) {
	t.Helper()
	f := newFixture(t)
	f.svc.SetAuditor(f.db)
	h := proxy.NewMemoryKeyHealth(func() time.Time { return f.now })
	f.svc.UseKeyHealth(h)
	return f, h
}

func TestSetCredentialTakesAPool(t *testing.T) {
	f, _ := poolFixture(t)
	ctx := context.Background()
	c, err := f.svc.SetCredential(ctx, aiproxy.SourcePlatform, "", "heygen", adminPoolValue(t, adminPoolKeys))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"keys/k1/key": "****1111", "keys/k1/weight": "2", "keys/k1/max_concurrency": "3",
		"keys/k2/key": "****2222", "keys/k2/weight": "1"}
	if !reflect.DeepEqual(c.Masked, want) {
		t.Fatalf("Masked = %v, want %v", c.Masked, want)
	}
	plain, err := f.vault.Open(c.Sealed, c.AAD())
	if err != nil {
		t.Fatal(err)
	}
	var stored map[string]any
	if err := json.Unmarshal(plain, &stored); err != nil {
		t.Fatalf("sealed value %s: %v", plain, err)
	}
	if keys, ok := stored["keys"].([]any); !ok || len(keys) != 2 {
		t.Fatalf("the sealed value keeps the keys as a list: %s", plain)
	}
	events, _ := f.db.AuditEvents(ctx, aiproxy.AuditFilter{})
	for _, e := range events {
		if strings.Contains(e.Detail, adminPoolA) || strings.Contains(e.Detail, adminPoolB) {
			t.Fatalf("audit detail shows a key: %q", e.Detail)
		}
	}

	bad := []string{
		`[]`,
		`[{"id":"k1","key":"` + adminPoolA + `"},{"id":"k1","key":"` + adminPoolB + `"}]`,
		`[{"id":"k1","key":"` + adminPoolA + `","weight":-1}]`,
		`[{"id":"k1","key":"bad\u001b[31m-key-value"}]`,
	}
	for _, keys := range bad {
		_, err := f.svc.SetCredential(ctx, aiproxy.SourcePlatform, "", "elevenlabs", adminPoolValue(t, keys))
		code(t, err, aiproxy.CodeInvalid)
		if strings.Contains(err.Error(), adminPoolA) || strings.Contains(err.Error(), adminPoolB) {
			t.Fatalf("error shows a key: %v", err)
		}
	}
	if _, err := f.db.Credential(ctx, aiproxy.SourcePlatform, "", "elevenlabs"); err == nil {
		t.Fatal("a refused pool was stored")
	}
}

func TestKeyPoolHealthAndRestore(t *testing.T) {
	f, h := poolFixture(t)
	ctx := context.Background()
	if _, err := f.svc.SetCredential(ctx, aiproxy.SourcePlatform, "", "heygen", adminPoolValue(t, adminPoolKeys)); err != nil {
		t.Fatal(err)
	}
	removed := aiproxy.KeyStatus{State: aiproxy.KeyRemoved, Reason: "provider answered 401 internal_error", Since: f.now}
	if _, err := h.MarkKey(ctx, platformHeyGen, "k1", removed); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RecordKeyChange(ctx, platformHeyGen, "k1", removed); err != nil {
		t.Fatal(err)
	}
	rest := aiproxy.KeyStatus{State: aiproxy.KeyResting, Since: f.now, Until: f.now.Add(time.Minute)}
	if err := f.svc.RecordKeyChange(ctx, platformHeyGen, "k2", rest); err != nil {
		t.Fatal(err)
	}
	kp, err := f.svc.KeyPool(ctx, aiproxy.SourcePlatform, "", "heygen")
	if err != nil {
		t.Fatal(err)
	}
	if !kp.Pooled || len(kp.Keys) != 2 || kp.Keys[0].Info.ID != "k1" || kp.Keys[0].Status.State != aiproxy.KeyRemoved ||
		kp.Keys[0].Status.Reason != removed.Reason || kp.Keys[0].Info.Weight != 2 || kp.Keys[0].Info.MaxConcurrency != 3 ||
		kp.Keys[1].Status.State != aiproxy.KeyHealthy || kp.Keys[1].Info.Masked["key"] != "****2222" {
		t.Fatalf("KeyPool = %+v", kp)
	}

	rep, err := f.svc.RestoreKey(ctx, aiproxy.SourcePlatform, "", "heygen", "k1")
	if err != nil || rep.Status.State != aiproxy.KeyHealthy {
		t.Fatalf("RestoreKey = %+v, %v", rep, err)
	}
	if _, err := f.svc.RestoreKey(ctx, aiproxy.SourcePlatform, "", "heygen", "k1"); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.RestoreKey(ctx, aiproxy.SourcePlatform, "", "heygen", "k9")
	code(t, err, aiproxy.CodeNotFound)
	_, err = f.svc.KeyPool(ctx, aiproxy.SourcePlatform, "", "elevenlabs")
	code(t, err, aiproxy.CodeNotFound)
	_, err = f.svc.KeyPool(ctx, aiproxy.SourceTenant, "", "heygen")
	code(t, err, aiproxy.CodeInvalid)

	events, err := f.db.AuditEvents(ctx, aiproxy.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		if e.Action == aiproxy.AuditPoolKeyRemoved || e.Action == aiproxy.AuditPoolKeyRestored {
			got = append(got, e.Actor+" "+string(e.Action)+" "+e.Target+" "+e.Detail)
		}
	}
	want := []string{
		`cli credential.key_restored heygen/k1 source=platform was=removed reason="provider answered 401 internal_error"`,
		`aiproxy credential.key_removed heygen/k1 source=platform reason="provider answered 401 internal_error"`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("audit (newest first) = %q, want %q", got, want)
	}
}

func TestSettingACredentialStartsItsKeysHealthy(t *testing.T) {
	f, h := poolFixture(t)
	ctx := context.Background()
	if _, err := f.svc.SetCredential(ctx, aiproxy.SourcePlatform, "", "heygen", adminPoolValue(t, adminPoolKeys)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"k1", "k2"} {
		if _, err := h.MarkKey(ctx, platformHeyGen, id, aiproxy.KeyStatus{State: aiproxy.KeyRemoved, Since: f.now}); err != nil {
			t.Fatal(err)
		}
	}
	replaced := `[{"id":"k2","key":"hg-pool-secret-cccc-3333"}]`
	if _, err := f.svc.SetCredential(ctx, aiproxy.SourcePlatform, "", "heygen", adminPoolValue(t, replaced)); err != nil {
		t.Fatal(err)
	}
	if st, _ := h.KeyStates(ctx, platformHeyGen, []string{"k1", "k2"}); len(st) != 0 {
		t.Fatalf("states after the credential was replaced = %+v, want every key healthy", st)
	}
	if _, err := h.MarkKey(ctx, platformHeyGen, "k2", aiproxy.KeyStatus{State: aiproxy.KeyRemoved, Since: f.now}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteCredential(ctx, aiproxy.SourcePlatform, "", "heygen"); err != nil {
		t.Fatal(err)
	}
	if st, _ := h.KeyStates(ctx, platformHeyGen, []string{"k2"}); len(st) != 0 {
		t.Fatalf("states after the credential was deleted = %+v", st)
	}
}

func TestKeyPoolOfOneKey(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.SetCredential(ctx, aiproxy.SourcePlatform, "", "heygen", aiproxy.CredentialValue{"key": adminPoolA}); err != nil {
		t.Fatal(err)
	}
	kp, err := f.svc.KeyPool(ctx, aiproxy.SourcePlatform, "", "heygen")
	if err != nil || kp.Pooled || len(kp.Keys) != 1 || kp.Keys[0].Info.ID != "" || kp.Keys[0].Info.Masked["key"] != "****1111" ||
		kp.Keys[0].Status.State != aiproxy.KeyHealthy {
		t.Fatalf("KeyPool(one key) = %+v, %v", kp, err)
	}
	if _, err := f.svc.SetCredential(ctx, aiproxy.SourcePlatform, "", "heygen", adminPoolValue(t, adminPoolKeys)); err != nil {
		t.Fatal(err)
	}
	kp, err = f.svc.KeyPool(ctx, aiproxy.SourcePlatform, "", "heygen")
	if err != nil || len(kp.Keys) != 2 || kp.Keys[0].Status.State != "" {
		t.Fatalf("KeyPool without a health engine = %+v, %v; want the keys with their state unknown", kp, err)
	}
	_, err = f.svc.RestoreKey(ctx, aiproxy.SourcePlatform, "", "heygen", "k1")
	code(t, err, aiproxy.CodeNotFound)
}

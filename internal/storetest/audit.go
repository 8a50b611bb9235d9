package storetest

import (
	"slices"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// AuditStores is what an engine provides for the audit log.
type AuditStores interface {
	Stores
	aiproxy.AuditStore
}

// runKeyLifecycle checks the key fields of the lifecycle: expiry and the
// service allow-list round-trip, and their zero values stay zero.
func runKeyLifecycle(t *testing.T, open func(t *testing.T) Stores) {
	s, ctx := open(t), t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	k := newKey("scoped", "acme", aiproxy.RoleInvoke, 1)
	k.ExpiresAt = at(60)
	k.Services = []string{"elevenlabs", "heygen"}
	mustCreateKey(ctx, t, s, k)
	mustCreateKey(ctx, t, s, newKey("plain", "acme", aiproxy.RoleInvoke, 2))
	got := mustKey(ctx, t, s, "scoped")
	if !sameTime(got.ExpiresAt, k.ExpiresAt) || !slices.Equal(got.Services, k.Services) {
		t.Fatalf("scoped key = expires %v services %v, want %v %v", got.ExpiresAt, got.Services, k.ExpiresAt, k.Services)
	}
	if !got.Expired(at(60)) || got.Expired(at(59)) {
		t.Fatal("Expired is wrong around ExpiresAt")
	}
	plain := mustKey(ctx, t, s, "plain")
	if !plain.ExpiresAt.IsZero() || plain.Services != nil || plain.Expired(at(100000)) {
		t.Fatalf("plain key = expires %v services %#v", plain.ExpiresAt, plain.Services)
	}
	list, err := s.Keys(ctx, "acme")
	if err != nil || len(list) != 2 || !slices.Equal(list[0].Services, k.Services) {
		t.Fatalf("Keys = %v, %v", list, err)
	}
}

func runAudit(t *testing.T, open func(t *testing.T) Stores) {
	s, ok := open(t).(AuditStores)
	if !ok {
		t.Fatal("the store does not implement aiproxy.AuditStore")
	}
	ctx := t.Context()
	events := []aiproxy.AuditEvent{
		{At: at(1), Actor: aiproxy.ActorCLI, Action: aiproxy.AuditOrgCreated, Target: "acme"},
		{At: at(2), Actor: "k1", Action: aiproxy.AuditKeyCreated, OrgKey: "acme", Target: "k2", Detail: "role=invoke"},
		{At: at(3), Actor: "k1", Action: aiproxy.AuditCredentialSet, OrgKey: "other", Target: "heygen", Detail: "key=****abcd"},
		{At: at(4), Actor: "k1", Action: aiproxy.AuditKeyRevoked, OrgKey: "acme", Target: "k2"},
	}
	for _, e := range events {
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	all, err := s.AuditEvents(ctx, aiproxy.AuditFilter{})
	if err != nil || len(all) != 4 {
		t.Fatalf("AuditEvents = %d events, %v", len(all), err)
	}
	for i, e := range all {
		want := events[len(events)-1-i]
		if e.Action != want.Action || e.Actor != want.Actor || e.OrgKey != want.OrgKey || e.Target != want.Target ||
			e.Detail != want.Detail || !sameTime(e.At, want.At) || e.ID == 0 {
			t.Fatalf("event %d = %+v, want %+v (newest first)", i, e, want)
		}
	}
	acme, err := s.AuditEvents(ctx, aiproxy.AuditFilter{OrgKey: "acme"})
	if err != nil || len(acme) != 2 || acme[0].Action != aiproxy.AuditKeyRevoked {
		t.Fatalf("acme events = %+v, %v", acme, err)
	}
	page, err := s.AuditEvents(ctx, aiproxy.AuditFilter{Before: all[1].ID, Limit: 1})
	if err != nil || len(page) != 1 || page[0].ID != all[2].ID {
		t.Fatalf("page = %+v, %v", page, err)
	}
}

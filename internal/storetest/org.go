package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

func runOrgs(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("CreateThenGet", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		want := mustCreateOrg(ctx, t, s, "acme")
		got, err := s.Org(ctx, "acme")
		if err != nil {
			t.Fatalf("Org: %v", err)
		}
		checkOrg(t, got, want)
	})
	t.Run("GetUnknownIsNotFound", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		if _, err := s.Org(ctx, "other"); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("Org(unknown) error = %v, want ErrNotFound", err)
		}
	})
	t.Run("DuplicateIsConflict", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		want := mustCreateOrg(ctx, t, s, "acme")
		err := s.CreateOrg(ctx, aiproxy.Org{Key: "acme", Name: "Impostor", CreatedAt: at(5)})
		if !errors.Is(err, aiproxy.ErrConflict) {
			t.Fatalf("CreateOrg(duplicate) error = %v, want ErrConflict", err)
		}
		got, err := s.Org(ctx, "acme")
		if err != nil {
			t.Fatalf("Org: %v", err)
		}
		checkOrg(t, got, want)
	})
	t.Run("Settings", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		mustCreateOrg(ctx, t, s, "beta")
		if got, err := s.Org(ctx, "acme"); err != nil || got.Settings != (aiproxy.OrgSettings{}) {
			t.Fatalf("a new org's settings = %+v, %v; want none", got.Settings, err)
		}
		want := aiproxy.OrgSettings{UserTokenTTL: 5 * time.Minute, UserTokenMaxTTL: 30 * time.Minute}
		if err := s.SetOrgSettings(ctx, "acme", want); err != nil {
			t.Fatalf("SetOrgSettings: %v", err)
		}
		got, err := s.Org(ctx, "acme")
		if err != nil || got.Settings != want {
			t.Fatalf("settings = %+v, %v; want %+v", got.Settings, err, want)
		}
		orgs, err := s.Orgs(ctx)
		if err != nil || len(orgs) != 2 || orgs[0].Settings != want || orgs[1].Settings != (aiproxy.OrgSettings{}) {
			t.Fatalf("Orgs = %+v, %v; only acme has settings", orgs, err)
		}
		if err := s.SetOrgSettings(ctx, "acme", aiproxy.OrgSettings{}); err != nil {
			t.Fatalf("clear settings: %v", err)
		}
		if got, _ := s.Org(ctx, "acme"); got.Settings != (aiproxy.OrgSettings{}) {
			t.Fatalf("cleared settings = %+v", got.Settings)
		}
		if err := s.SetOrgSettings(ctx, "nope", want); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("SetOrgSettings(unknown) = %v, want ErrNotFound", err)
		}
	})
	t.Run("ListEmpty", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		orgs, err := s.Orgs(ctx)
		if err != nil || len(orgs) != 0 {
			t.Fatalf("Orgs on an empty store = %v, %v; want none", orgs, err)
		}
	})
	t.Run("ListOrderedByKey", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		for _, k := range []string{"zeta", "acme", "m-1", "beta", "m_0"} {
			mustCreateOrg(ctx, t, s, k)
		}
		orgs, err := s.Orgs(ctx)
		if err != nil {
			t.Fatalf("Orgs: %v", err)
		}
		var keys []string
		for _, o := range orgs {
			keys = append(keys, o.Key)
		}
		checkStrings(t, "org keys", keys, []string{"acme", "beta", "m-1", "m_0", "zeta"})
	})
}

func checkOrg(t *testing.T, got, want aiproxy.Org) {
	t.Helper()
	if got.Key != want.Key || got.Name != want.Name || !sameTime(got.CreatedAt, want.CreatedAt) {
		t.Fatalf("org = %+v, want %+v", got, want)
	}
}

func checkStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s = %q, want %q", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s = %q, want %q", what, got, want)
		}
	}
}

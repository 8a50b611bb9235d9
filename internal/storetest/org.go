package storetest

import (
	"errors"
	"testing"

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

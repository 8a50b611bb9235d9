package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

func newKey(id, org string, role aiproxy.Role, created int) aiproxy.APIKey {
	return aiproxy.APIKey{
		ID:         id,
		OrgKey:     org,
		Name:       "key " + id,
		Role:       role,
		SecretHash: aiproxy.HashKeySecret("secret-" + id),
		CreatedAt:  at(created),
	}
}

func mustCreateKey(ctx context.Context, t *testing.T, s Stores, k aiproxy.APIKey) {
	t.Helper()
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatalf("CreateKey(%q): %v", k.ID, err)
	}
}

func mustKey(ctx context.Context, t *testing.T, s Stores, id string) aiproxy.APIKey {
	t.Helper()
	k, err := s.Key(ctx, id)
	if err != nil {
		t.Fatalf("Key(%q): %v", id, err)
	}
	return k
}

func runKeys(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("CreateThenGet", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		want := newKey("k1", "acme", aiproxy.RoleInvoke, 1)
		mustCreateKey(ctx, t, s, want)
		checkKey(t, mustKey(ctx, t, s, "k1"), want)
	})
	t.Run("PlatformKey", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		want := newKey("root", "", aiproxy.RoleAdmin, 1)
		mustCreateKey(ctx, t, s, want)
		got := mustKey(ctx, t, s, "root")
		checkKey(t, got, want)
		if !got.Principal().PlatformAdmin() {
			t.Fatal("a stored platform admin key is not a platform admin")
		}
	})
	t.Run("GetUnknownIsNotFound", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		if _, err := s.Key(ctx, "nope"); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("Key(unknown) error = %v, want ErrNotFound", err)
		}
	})
	t.Run("DuplicateIDIsConflict", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		mustCreateOrg(ctx, t, s, "other")
		want := newKey("k1", "acme", aiproxy.RoleInvoke, 1)
		mustCreateKey(ctx, t, s, want)
		for _, org := range []string{"acme", "other", ""} {
			err := s.CreateKey(ctx, newKey("k1", org, aiproxy.RoleAdmin, 2))
			if !errors.Is(err, aiproxy.ErrConflict) {
				t.Fatalf("CreateKey(duplicate ID, org %q) error = %v, want ErrConflict", org, err)
			}
		}
		checkKey(t, mustKey(ctx, t, s, "k1"), want)
	})
	t.Run("UnknownOrgIsNotFound", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		err := s.CreateKey(ctx, newKey("k1", "ghost", aiproxy.RoleInvoke, 1))
		if !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("CreateKey(unknown org) error = %v, want ErrNotFound", err)
		}
		if _, err := s.Key(ctx, "k1"); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("a key of an unknown org was stored: %v", err)
		}
	})
	t.Run("ListPerOrgOldestFirst", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		mustCreateOrg(ctx, t, s, "other")
		// Created out of order, and with IDs that do not sort by age.
		for _, k := range []aiproxy.APIKey{
			newKey("a-newest", "acme", aiproxy.RoleInvoke, 30),
			newKey("p-2", "", aiproxy.RoleAdmin, 20),
			newKey("z-oldest", "acme", aiproxy.RoleAdmin, 10),
			newKey("o-1", "other", aiproxy.RoleInvoke, 5),
			newKey("m-middle", "acme", aiproxy.RoleInvoke, 20),
			newKey("p-1", "", aiproxy.RoleInvoke, 10),
		} {
			mustCreateKey(ctx, t, s, k)
		}
		for org, want := range map[string][]string{
			"acme":  {"z-oldest", "m-middle", "a-newest"},
			"other": {"o-1"},
			"":      {"p-1", "p-2"},
			"ghost": nil,
		} {
			keys, err := s.Keys(ctx, org)
			if err != nil {
				t.Fatalf("Keys(%q): %v", org, err)
			}
			var ids []string
			for _, k := range keys {
				ids = append(ids, k.ID)
				if k.OrgKey != org {
					t.Errorf("Keys(%q) returned key %q of org %q", org, k.ID, k.OrgKey)
				}
			}
			checkStrings(t, fmt.Sprintf("Keys(%q)", org), ids, want)
		}
	})
	t.Run("ListReturnsAllFields", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		want := newKey("k1", "acme", aiproxy.RoleAdmin, 1)
		want.RevokedAt, want.LastUsedAt = at(3), at(2)
		mustCreateKey(ctx, t, s, want)
		keys, err := s.Keys(ctx, "acme")
		if err != nil || len(keys) != 1 {
			t.Fatalf("Keys = %v, %v; want one key", keys, err)
		}
		checkKey(t, keys[0], want)
	})
	t.Run("Revoke", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		want := newKey("k1", "acme", aiproxy.RoleInvoke, 1)
		mustCreateKey(ctx, t, s, want)
		if err := s.RevokeKey(ctx, "k1", at(5)); err != nil {
			t.Fatalf("RevokeKey: %v", err)
		}
		want.RevokedAt = at(5)
		got := mustKey(ctx, t, s, "k1")
		checkKey(t, got, want)
		if !got.Revoked() {
			t.Fatal("revoked key reports Revoked() = false")
		}
	})
	t.Run("RevokeKeepsFirstTime", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		want := newKey("k1", "", aiproxy.RoleAdmin, 1)
		mustCreateKey(ctx, t, s, want)
		for _, n := range []int{5, 9, 2} {
			if err := s.RevokeKey(ctx, "k1", at(n)); err != nil {
				t.Fatalf("RevokeKey at %d: %v", n, err)
			}
		}
		want.RevokedAt = at(5)
		checkKey(t, mustKey(ctx, t, s, "k1"), want)
	})
	t.Run("RevokeUnknownIsNotFound", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		if err := s.RevokeKey(ctx, "nope", at(1)); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("RevokeKey(unknown) error = %v, want ErrNotFound", err)
		}
	})
	t.Run("Touch", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		want := newKey("k1", "acme", aiproxy.RoleInvoke, 1)
		mustCreateKey(ctx, t, s, want)
		other := newKey("k2", "acme", aiproxy.RoleInvoke, 1)
		mustCreateKey(ctx, t, s, other)
		for _, n := range []int{3, 7} {
			if err := s.TouchKey(ctx, "k1", at(n)); err != nil {
				t.Fatalf("TouchKey: %v", err)
			}
			want.LastUsedAt = at(n)
			checkKey(t, mustKey(ctx, t, s, "k1"), want)
		}
		checkKey(t, mustKey(ctx, t, s, "k2"), other)
	})
	t.Run("TouchUnknownIsNotFound", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		if err := s.TouchKey(ctx, "nope", at(1)); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("TouchKey(unknown) error = %v, want ErrNotFound", err)
		}
	})
}

func checkKey(t *testing.T, got, want aiproxy.APIKey) {
	t.Helper()
	ok := got.ID == want.ID && got.OrgKey == want.OrgKey && got.Name == want.Name &&
		got.Role == want.Role && bytes.Equal(got.SecretHash, want.SecretHash) &&
		sameTime(got.CreatedAt, want.CreatedAt) && sameTime(got.RevokedAt, want.RevokedAt) &&
		sameTime(got.LastUsedAt, want.LastUsedAt)
	if !ok {
		t.Fatalf("key =\n\t%+v\nwant\n\t%+v", got, want)
	}
}

// runTestOnlyKeys checks that the test-only flag of a key is kept.
func runTestOnlyKeys(t *testing.T, open func(t *testing.T) Stores) {
	s, ctx := open(t), t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	k := newKey("dev", "acme", aiproxy.RoleInvoke, 1)
	k.TestOnly = true
	mustCreateKey(ctx, t, s, k)
	mustCreateKey(ctx, t, s, newKey("prod", "acme", aiproxy.RoleInvoke, 2))
	if got := mustKey(ctx, t, s, "dev"); !got.TestOnly || !got.Principal().TestOnly {
		t.Fatal("a test-only key lost its flag")
	}
	if got := mustKey(ctx, t, s, "prod"); got.TestOnly {
		t.Fatal("an ordinary key came back test-only")
	}
}

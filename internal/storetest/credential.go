package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

func newCredential(src aiproxy.Source, org, name string, n int) aiproxy.Credential {
	return aiproxy.Credential{
		Source:    src,
		OrgKey:    org,
		Name:      name,
		Sealed:    []byte(fmt.Sprintf("sealed %s/%s/%s #%d\x00\xff", src, org, name, n)),
		Masked:    map[string]string{"key": fmt.Sprintf("****%04d", n)},
		CreatedAt: at(n),
		UpdatedAt: at(n),
	}
}

func mustPut(ctx context.Context, t *testing.T, s Stores, c aiproxy.Credential) {
	t.Helper()
	if err := s.PutCredential(ctx, c); err != nil {
		t.Fatalf("PutCredential(%s, %q, %q): %v", c.Source, c.OrgKey, c.Name, err)
	}
}

func mustCredential(ctx context.Context, t *testing.T, s Stores, src aiproxy.Source, org, name string) aiproxy.Credential {
	t.Helper()
	c, err := s.Credential(ctx, src, org, name)
	if err != nil {
		t.Fatalf("Credential(%s, %q, %q): %v", src, org, name, err)
	}
	return c
}

func runCredentials(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("PutThenGet", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		want := newCredential(aiproxy.SourceTenant, "acme", "heygen", 1)
		want.Masked["region"] = "****"
		mustPut(ctx, t, s, want)
		checkCredential(t, mustCredential(ctx, t, s, aiproxy.SourceTenant, "acme", "heygen"), want)
	})
	t.Run("Platform", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		want := newCredential(aiproxy.SourcePlatform, "", "heygen", 1)
		mustPut(ctx, t, s, want)
		checkCredential(t, mustCredential(ctx, t, s, aiproxy.SourcePlatform, "", "heygen"), want)
	})
	t.Run("ReplaceKeepsCreatedAt", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		for _, org := range []string{"acme", ""} {
			src := sourceOf(org)
			first := newCredential(src, org, "heygen", 1)
			mustPut(ctx, t, s, first)
			second := newCredential(src, org, "heygen", 9)
			second.Masked = map[string]string{"api_key": "****abcd"}
			mustPut(ctx, t, s, second)

			want := second
			want.CreatedAt = first.CreatedAt
			checkCredential(t, mustCredential(ctx, t, s, src, org, "heygen"), want)
			list, err := s.Credentials(ctx, src, org)
			if err != nil || len(list) != 1 {
				t.Fatalf("Credentials(%s, %q) after replace = %v, %v; want one", src, org, list, err)
			}
		}
	})
	t.Run("TenantOrgMustExist", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		for _, org := range []string{"ghost", ""} {
			err := s.PutCredential(ctx, newCredential(aiproxy.SourceTenant, org, "heygen", 1))
			if !errors.Is(err, aiproxy.ErrNotFound) {
				t.Fatalf("PutCredential(tenant, org %q) error = %v, want ErrNotFound", org, err)
			}
		}
		if _, err := s.Credential(ctx, aiproxy.SourceTenant, "ghost", "heygen"); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("a credential of an unknown org was stored: %v", err)
		}
	})
	t.Run("GetUnknownIsNotFound", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		mustPut(ctx, t, s, newCredential(aiproxy.SourceTenant, "acme", "heygen", 1))
		mustPut(ctx, t, s, newCredential(aiproxy.SourcePlatform, "", "elevenlabs", 1))
		for _, q := range []struct {
			src       aiproxy.Source
			org, name string
		}{
			{aiproxy.SourceTenant, "acme", "elevenlabs"},
			{aiproxy.SourceTenant, "other", "heygen"},
			{aiproxy.SourcePlatform, "", "heygen"},
			{aiproxy.SourceTenant, "", "elevenlabs"},
			{aiproxy.SourcePlatform, "acme", "elevenlabs"},
		} {
			if _, err := s.Credential(ctx, q.src, q.org, q.name); !errors.Is(err, aiproxy.ErrNotFound) {
				t.Errorf("Credential(%s, %q, %q) error = %v, want ErrNotFound", q.src, q.org, q.name, err)
			}
		}
	})
	t.Run("SameNameIsDistinctPerSourceAndOrg", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		mustCreateOrg(ctx, t, s, "beta")
		all := []aiproxy.Credential{
			newCredential(aiproxy.SourceTenant, "acme", "heygen", 1),
			newCredential(aiproxy.SourceTenant, "beta", "heygen", 2),
			newCredential(aiproxy.SourcePlatform, "", "heygen", 3),
		}
		for _, c := range all {
			mustPut(ctx, t, s, c)
		}
		for _, want := range all {
			checkCredential(t, mustCredential(ctx, t, s, want.Source, want.OrgKey, want.Name), want)
		}
	})
	t.Run("ListPerSourceAndOrgByName", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		mustCreateOrg(ctx, t, s, "beta")
		for _, c := range []aiproxy.Credential{
			newCredential(aiproxy.SourceTenant, "acme", "openai", 1),
			newCredential(aiproxy.SourceTenant, "acme", "elevenlabs", 2),
			newCredential(aiproxy.SourceTenant, "acme", "heygen", 3),
			newCredential(aiproxy.SourceTenant, "beta", "heygen", 4),
			newCredential(aiproxy.SourcePlatform, "", "heygen", 5),
			newCredential(aiproxy.SourcePlatform, "", "elevenlabs", 6),
		} {
			mustPut(ctx, t, s, c)
		}
		for _, q := range []struct {
			src  aiproxy.Source
			org  string
			want []string
		}{
			{aiproxy.SourceTenant, "acme", []string{"elevenlabs", "heygen", "openai"}},
			{aiproxy.SourceTenant, "beta", []string{"heygen"}},
			{aiproxy.SourceTenant, "ghost", nil},
			{aiproxy.SourcePlatform, "", []string{"elevenlabs", "heygen"}},
			{aiproxy.SourcePlatform, "acme", nil},
		} {
			list, err := s.Credentials(ctx, q.src, q.org)
			if err != nil {
				t.Fatalf("Credentials(%s, %q): %v", q.src, q.org, err)
			}
			var names []string
			for _, c := range list {
				names = append(names, c.Name)
				if c.Source != q.src || c.OrgKey != q.org {
					t.Errorf("Credentials(%s, %q) returned %s credential of org %q", q.src, q.org, c.Source, c.OrgKey)
				}
				checkCredential(t, c, mustCredential(ctx, t, s, c.Source, c.OrgKey, c.Name))
			}
			checkStrings(t, fmt.Sprintf("Credentials(%s, %q)", q.src, q.org), names, q.want)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		keep := newCredential(aiproxy.SourcePlatform, "", "heygen", 2)
		mustPut(ctx, t, s, newCredential(aiproxy.SourceTenant, "acme", "heygen", 1))
		mustPut(ctx, t, s, keep)
		if err := s.DeleteCredential(ctx, aiproxy.SourceTenant, "acme", "heygen"); err != nil {
			t.Fatalf("DeleteCredential: %v", err)
		}
		if _, err := s.Credential(ctx, aiproxy.SourceTenant, "acme", "heygen"); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("Credential after delete error = %v, want ErrNotFound", err)
		}
		checkCredential(t, mustCredential(ctx, t, s, aiproxy.SourcePlatform, "", "heygen"), keep)
		if err := s.DeleteCredential(ctx, aiproxy.SourceTenant, "acme", "heygen"); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("second DeleteCredential error = %v, want ErrNotFound", err)
		}
	})
	t.Run("DeleteUnknownIsNotFound", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		for _, org := range []string{"", "ghost"} {
			if err := s.DeleteCredential(ctx, sourceOf(org), org, "heygen"); !errors.Is(err, aiproxy.ErrNotFound) {
				t.Fatalf("DeleteCredential(unknown, org %q) error = %v, want ErrNotFound", org, err)
			}
		}
	})
	t.Run("PutAfterDeleteStartsAfresh", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		mustPut(ctx, t, s, newCredential(aiproxy.SourcePlatform, "", "heygen", 1))
		if err := s.DeleteCredential(ctx, aiproxy.SourcePlatform, "", "heygen"); err != nil {
			t.Fatalf("DeleteCredential: %v", err)
		}
		want := newCredential(aiproxy.SourcePlatform, "", "heygen", 7)
		mustPut(ctx, t, s, want)
		checkCredential(t, mustCredential(ctx, t, s, aiproxy.SourcePlatform, "", "heygen"), want)
	})
}

// sourceOf returns the source of a credential of org: platform for "".
func sourceOf(org string) aiproxy.Source {
	if org == "" {
		return aiproxy.SourcePlatform
	}
	return aiproxy.SourceTenant
}

func checkCredential(t *testing.T, got, want aiproxy.Credential) {
	t.Helper()
	ok := got.Source == want.Source && got.OrgKey == want.OrgKey && got.Name == want.Name &&
		bytes.Equal(got.Sealed, want.Sealed) && maps.Equal(got.Masked, want.Masked) &&
		sameTime(got.CreatedAt, want.CreatedAt) && sameTime(got.UpdatedAt, want.UpdatedAt)
	if !ok {
		t.Fatalf("credential =\n\t%+v\nwant\n\t%+v", got, want)
	}
}

package storetest

import (
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// runTimes checks that every stored time comes back as the same instant at
// millisecond precision (in any location), and that the zero time stays zero.
func runTimes(t *testing.T, open func(t *testing.T) Stores) {
	times := map[string]time.Time{
		"sub-millisecond": t0,
		"utc":             time.Date(2031, 12, 31, 23, 59, 59, 999999999, time.UTC),
		"west of utc":     time.Date(2024, 2, 29, 1, 2, 3, 4000000, time.FixedZone("PST", -8*60*60)),
		"epoch":           time.Unix(0, 0),
		"before epoch":    time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC),
	}
	for name, tm := range times {
		t.Run(name, func(t *testing.T) {
			s, ctx := open(t), t.Context()
			want := tm.Truncate(time.Millisecond)
			if err := s.CreateOrg(ctx, aiproxy.Org{Key: "acme", Name: "Acme", CreatedAt: tm}); err != nil {
				t.Fatalf("CreateOrg: %v", err)
			}
			o, err := s.Org(ctx, "acme")
			if err != nil || !sameTime(o.CreatedAt, want) {
				t.Fatalf("org CreatedAt = %v, %v; want %v", o.CreatedAt, err, want)
			}

			k := aiproxy.APIKey{ID: "k1", OrgKey: "acme", Role: aiproxy.RoleInvoke, SecretHash: []byte{1},
				CreatedAt: tm, LastUsedAt: tm, RevokedAt: tm}
			if err := s.CreateKey(ctx, k); err != nil {
				t.Fatalf("CreateKey: %v", err)
			}
			got := mustKey(ctx, t, s, "k1")
			for field, v := range map[string]time.Time{"CreatedAt": got.CreatedAt, "LastUsedAt": got.LastUsedAt, "RevokedAt": got.RevokedAt} {
				if !sameTime(v, want) {
					t.Errorf("key %s = %v, want %v", field, v, want)
				}
			}

			c := aiproxy.Credential{Source: aiproxy.SourceTenant, OrgKey: "acme", Name: "heygen",
				Sealed: []byte{1}, CreatedAt: tm, UpdatedAt: tm}
			mustPut(ctx, t, s, c)
			gc := mustCredential(ctx, t, s, c.Source, "acme", "heygen")
			if !sameTime(gc.CreatedAt, want) || !sameTime(gc.UpdatedAt, want) {
				t.Errorf("credential times = %v, %v; want %v", gc.CreatedAt, gc.UpdatedAt, want)
			}
		})
	}
	t.Run("zero", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		if err := s.CreateOrg(ctx, aiproxy.Org{Key: "acme", Name: "Acme"}); err != nil {
			t.Fatalf("CreateOrg: %v", err)
		}
		if o, err := s.Org(ctx, "acme"); err != nil || !o.CreatedAt.IsZero() {
			t.Fatalf("org CreatedAt = %v, %v; want zero", o.CreatedAt, err)
		}
		if err := s.CreateKey(ctx, aiproxy.APIKey{ID: "k1", Role: aiproxy.RoleAdmin, SecretHash: []byte{1}}); err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		k := mustKey(ctx, t, s, "k1")
		if !k.CreatedAt.IsZero() || !k.RevokedAt.IsZero() || !k.LastUsedAt.IsZero() || k.Revoked() {
			t.Fatalf("key times = %+v; want all zero", k)
		}
		mustPut(ctx, t, s, aiproxy.Credential{Source: aiproxy.SourcePlatform, Name: "heygen", Sealed: []byte{1}})
		c := mustCredential(ctx, t, s, aiproxy.SourcePlatform, "", "heygen")
		if !c.CreatedAt.IsZero() || !c.UpdatedAt.IsZero() {
			t.Fatalf("credential times = %v, %v; want zero", c.CreatedAt, c.UpdatedAt)
		}
	})
}

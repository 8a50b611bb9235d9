package access

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

type store struct {
	mu    sync.Mutex
	rules []aiproxy.AccessRule
	reads int
}

func (s *store) DisableAccess(_ context.Context, r aiproxy.AccessRule) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, r)
	return nil
}

func (s *store) EnableAccess(context.Context, aiproxy.AccessRule) error { return nil }

func (s *store) AccessRules(_ context.Context, org string) ([]aiproxy.AccessRule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	return append([]aiproxy.AccessRule(nil), s.rules...), nil
}

func TestCachesUntilInvalidated(t *testing.T) {
	st := &store{}
	now := time.Unix(1700000000, 0)
	c := New(st, time.Minute, func() time.Time { return now })
	ctx := context.Background()
	if off, _ := c.Disabled(ctx, "acme", "heygen", "generate-video"); off {
		t.Fatal("disabled with no rules")
	}
	_ = st.DisableAccess(ctx, aiproxy.AccessRule{OrgKey: "acme", Service: "heygen"})
	if off, _ := c.Disabled(ctx, "acme", "heygen", "generate-video"); off || st.reads != 1 {
		t.Fatalf("rules re-read within the TTL: off %v, reads %d", off, st.reads)
	}
	c.Invalidate("acme")
	if off, _ := c.Disabled(ctx, "acme", "heygen", "generate-video"); !off {
		t.Fatal("a disabled service is allowed after Invalidate")
	}
}

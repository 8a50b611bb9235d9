package budget_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

func TestAdminSetBudget(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	b, err := h.admin.SetBudget(ctx, aiproxy.Budget{OrgKey: "acme", Scope: aiproxy.BudgetScopeUser, Window: aiproxy.BudgetWeek,
		LimitMicros: 5_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.ID, "bud_") || b.Enforcement != aiproxy.EnforceBlock || !b.CreatedAt.Equal(today) {
		t.Fatalf("SetBudget = %+v; want an id, block by default, created now", b)
	}
	h.advance(time.Hour)
	b.LimitMicros = 7_000_000
	b2, err := h.admin.SetBudget(ctx, b)
	if err != nil || b2.LimitMicros != 7_000_000 || !b2.CreatedAt.Equal(today) || !b2.UpdatedAt.Equal(today.Add(time.Hour)) {
		t.Fatalf("replacing = %+v, %v; want the new limit, the first creation time", b2, err)
	}
	tests := []struct {
		name string
		b    aiproxy.Budget
		code aiproxy.Code
		msg  string
	}{
		{"invalid", aiproxy.Budget{OrgKey: "acme", Scope: "team", Window: "year", LimitMicros: -1}, aiproxy.CodeInvalid,
			`Invalid budget: scope "team" must be one of org, key, user, token; window "year"`},
		{"bad id", aiproxy.Budget{ID: "a b", OrgKey: "acme", Scope: aiproxy.BudgetScopeOrg, Window: aiproxy.BudgetDay}, aiproxy.CodeInvalid,
			`id "a b"`},
		{"the token caps' id", aiproxy.Budget{ID: aiproxy.TokenBudgetID, OrgKey: "acme", Scope: aiproxy.BudgetScopeOrg, Window: aiproxy.BudgetDay},
			aiproxy.CodeInvalid, "id"},
		{"unknown org", aiproxy.Budget{OrgKey: "ghost", Scope: aiproxy.BudgetScopeOrg, Window: aiproxy.BudgetDay}, aiproxy.CodeNotFound,
			`Org "ghost" not found.`},
		{"a twin", aiproxy.Budget{OrgKey: "acme", Scope: aiproxy.BudgetScopeUser, Window: aiproxy.BudgetWeek, LimitMicros: 1},
			aiproxy.CodeConflict, `Org "acme" already has a weekly budget for each user`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.admin.SetBudget(ctx, tt.b)
			if aiproxy.ErrorCode(err) != tt.code || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("SetBudget = %v, want %s naming %q", err, tt.code, tt.msg)
			}
		})
	}
	if err := h.admin.DeleteBudget(ctx, "acme", "bud_none"); aiproxy.ErrorCode(err) != aiproxy.CodeNotFound {
		t.Fatalf("DeleteBudget(unknown) = %v, want not_found", err)
	}
	list, err := h.admin.Budgets(ctx, "acme")
	if err != nil || len(list) != 1 || list[0].ID != b.ID {
		t.Fatalf("Budgets = %+v, %v", list, err)
	}
}

func TestAdminStatusByViewer(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	org := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeOrg, LimitMicros: 1_000_000})
	key := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeKey, Subject: "key1", Window: aiproxy.BudgetDay, LimitMicros: 100_000})
	def := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeUser, LimitMicros: 2400})
	own := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeUser, Subject: "alice", LimitMicros: 6000})
	h.tokens.set("tok_alice", 10_000)
	for _, pr := range []aiproxy.Principal{alice, alice, bob} {
		if r := h.tts(pr, hello, ""); r.status != 200 {
			t.Fatalf("tts = %d %s", r.status, r.body)
		}
	}
	type row struct {
		id, subject string
		spent       int64
	}
	rows := func(p aiproxy.Principal) []row {
		t.Helper()
		st, err := h.admin.BudgetStatus(ctx, "acme", p)
		if err != nil {
			t.Fatal(err)
		}
		var out []row
		for _, s := range st {
			out = append(out, row{s.Budget.ID, s.Subject, s.SpentMicros})
		}
		return out
	}
	orgAdmin := aiproxy.Principal{KeyID: "adminkey", OrgKey: "acme", Role: aiproxy.RoleAdmin}
	want := map[string][]row{
		"org admin": {{key.ID, "key1", 3600}, {org.ID, "", 3600}, {def.ID, "bob", 1200}, {own.ID, "alice", 2400}},
		"member":    {{own.ID, "alice", 2400}, {aiproxy.TokenBudgetID, "tok_alice", 2400}},
		"backend":   {{org.ID, "", 3600}, {key.ID, "key1", 3600}},
	}
	for name, p := range map[string]aiproxy.Principal{"org admin": orgAdmin, "member": alice, "backend": backend} {
		got := rows(p)
		if len(got) != len(want[name]) {
			t.Fatalf("%s sees %+v, want %+v", name, got, want[name])
		}
		for i := range got {
			if got[i] != want[name][i] {
				t.Fatalf("%s sees %+v, want %+v", name, got, want[name])
			}
		}
	}
	st, err := h.admin.BudgetStatus(ctx, "acme", alice)
	if err != nil {
		t.Fatal(err)
	}
	if s := st[0]; s.RemainingMicros() != 3600 || s.Percent() != 40 || s.Zone() != aiproxy.ZoneOK ||
		!s.ResetsAt.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("alice's status = %+v (%d left, %v%%, %s)", s, s.RemainingMicros(), s.Percent(), s.Zone())
	}
	if s := st[1]; !s.ResetsAt.IsZero() || s.Budget.LimitMicros != 10_000 {
		t.Fatalf("alice's token cap = %+v, want a lifetime cap of 10000", s)
	}
}

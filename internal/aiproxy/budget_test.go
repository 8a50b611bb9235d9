package aiproxy

import (
	"strings"
	"testing"
	"time"
)

func TestBudgetWindowBounds(t *testing.T) {
	utc := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }
	tests := []struct {
		name       string
		w          BudgetWindow
		at         time.Time
		start, end time.Time
	}{
		{"day", BudgetDay, utc(2026, 12, 31, 23), utc(2026, 12, 31, 0), utc(2027, 1, 1, 0)},
		{"day in another zone", BudgetDay, time.Date(2027, 1, 1, 0, 30, 0, 0, time.FixedZone("CET", 3600)),
			utc(2026, 12, 31, 0), utc(2027, 1, 1, 0)},
		{"week from a Wednesday", BudgetWeek, utc(2026, 12, 9, 10), utc(2026, 12, 7, 0), utc(2026, 12, 14, 0)},
		{"week on a Monday", BudgetWeek, utc(2026, 12, 7, 0), utc(2026, 12, 7, 0), utc(2026, 12, 14, 0)},
		{"week on a Sunday", BudgetWeek, utc(2026, 12, 13, 23), utc(2026, 12, 7, 0), utc(2026, 12, 14, 0)},
		{"week across a year", BudgetWeek, utc(2027, 1, 2, 0), utc(2026, 12, 28, 0), utc(2027, 1, 4, 0)},
		{"month", BudgetMonth, utc(2026, 12, 15, 8), utc(2026, 12, 1, 0), utc(2027, 1, 1, 0)},
		{"February of a leap year", BudgetMonth, utc(2028, 2, 29, 8), utc(2028, 2, 1, 0), utc(2028, 3, 1, 0)},
		{"lifetime", BudgetLifetime, utc(2026, 12, 15, 8), LifetimeStart, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, end := tt.w.Bounds(tt.at)
			if !start.Equal(tt.start) || !end.Equal(tt.end) || end.IsZero() != tt.end.IsZero() {
				t.Fatalf("Bounds(%v) = %v, %v; want %v, %v", tt.at, start, end, tt.start, tt.end)
			}
			if start.Location() != time.UTC {
				t.Fatalf("start %v is not in UTC", start)
			}
			if got := tt.w.ResetsAt(start); !got.Equal(tt.end) {
				t.Fatalf("ResetsAt(%v) = %v, want %v", start, got, tt.end)
			}
		})
	}
}

func TestBudgetValidate(t *testing.T) {
	ok := Budget{ID: "bud_1", OrgKey: "acme", Scope: BudgetScopeUser, Subject: "alice", Window: BudgetMonth,
		LimitMicros: 5_000_000, Enforcement: EnforceBlock}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(valid) = %v", err)
	}
	tests := []struct {
		name string
		edit func(*Budget)
		want string
	}{
		{"scope", func(b *Budget) { b.Scope = "team" }, `scope "team"`},
		{"org subject", func(b *Budget) { b.Scope = BudgetScopeOrg }, "subject must be empty"},
		{"subject with a space", func(b *Budget) { b.Subject = "a b" }, "printable"},
		{"window", func(b *Budget) { b.Window = "year" }, `window "year"`},
		{"negative limit", func(b *Budget) { b.LimitMicros = -1 }, "limit_micros"},
		{"huge limit", func(b *Budget) { b.LimitMicros = MaxBudgetMicros + 1 }, "limit_micros"},
		{"enforcement", func(b *Budget) { b.Enforcement = "" }, "enforcement"},
		{"threshold above 1", func(b *Budget) { b.AlertThresholds = []float64{0.5, 1.5} }, "at most 1"},
		{"thresholds not increasing", func(b *Budget) { b.AlertThresholds = []float64{0.9, 0.8} }, "increase"},
		{"no org", func(b *Budget) { b.OrgKey = "" }, "org is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := ok
			tt.edit(&b)
			err := b.Validate()
			if ErrorCode(err) != CodeInvalid || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want invalid naming %q", err, tt.want)
			}
		})
	}
	t.Run("every problem at once", func(t *testing.T) {
		err := Budget{Scope: "x", Window: "y", LimitMicros: -1}.Validate()
		for _, want := range []string{"org is required", "scope", "window", "limit_micros", "enforcement"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Validate = %v, want it to name %q", err, want)
			}
		}
	})
}

func TestBudgetThresholdsDefault(t *testing.T) {
	if got := (Budget{}).Thresholds(); len(got) != 2 || got[0] != 0.8 || got[1] != 0.95 {
		t.Fatalf("Thresholds() = %v, want [0.8 0.95]", got)
	}
	if got := (Budget{AlertThresholds: []float64{0.5}}).Thresholds(); len(got) != 1 || got[0] != 0.5 {
		t.Fatalf("Thresholds() = %v, want [0.5]", got)
	}
}

func TestSortBudgetCharges(t *testing.T) {
	cs := []BudgetCharge{
		{BudgetCounterKey: BudgetCounterKey{BudgetID: "b"}, Scope: BudgetScopeOrg},
		{BudgetCounterKey: BudgetCounterKey{BudgetID: "z"}, Scope: BudgetScopeUser},
		{BudgetCounterKey: BudgetCounterKey{BudgetID: "a"}, Scope: BudgetScopeOrg},
		{BudgetCounterKey: BudgetCounterKey{BudgetID: TokenBudgetID}, Scope: BudgetScopeToken},
		{BudgetCounterKey: BudgetCounterKey{BudgetID: "k"}, Scope: BudgetScopeKey},
	}
	SortBudgetCharges(cs)
	var got []string
	for _, c := range cs {
		got = append(got, string(c.Scope)+":"+c.BudgetID)
	}
	want := "token:" + TokenBudgetID + " user:z key:k org:a org:b"
	if strings.Join(got, " ") != want {
		t.Fatalf("order = %v, want %s", got, want)
	}
}

func TestBudgetExceededError(t *testing.T) {
	start, _ := BudgetMonth.Bounds(time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC))
	e := &BudgetExceededError{Charge: BudgetCharge{BudgetCounterKey: BudgetCounterKey{BudgetID: "bud_1", WindowStart: start},
		Scope: BudgetScopeUser, Window: BudgetMonth, Amount: 300, Limit: 1000}, Spent: 700, Reserved: 200}
	if e.Available() != 100 {
		t.Fatalf("Available = %d, want 100", e.Available())
	}
	if !e.ResetsAt().Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("ResetsAt = %v", e.ResetsAt())
	}
	e.Spent = 1200 // settled past the limit
	if e.Available() != 0 {
		t.Fatalf("Available = %d past the limit, want 0", e.Available())
	}
}

func TestBudgetHoldValidate(t *testing.T) {
	good := BudgetHold{ID: "h", Charges: []BudgetCharge{{BudgetCounterKey: BudgetCounterKey{BudgetID: "b"}, Amount: 1, Limit: 2}},
		ExpiresAt: time.Unix(1, 0)}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate = %v", err)
	}
	for name, edit := range map[string]func(*BudgetHold){
		"no id":      func(h *BudgetHold) { h.ID = "" },
		"no charges": func(h *BudgetHold) { h.Charges = nil },
		"no expiry":  func(h *BudgetHold) { h.ExpiresAt = time.Time{} },
		"negative amount": func(h *BudgetHold) {
			h.Charges = []BudgetCharge{{BudgetCounterKey: BudgetCounterKey{BudgetID: "b"}, Amount: -1}}
		},
	} {
		h := good
		edit(&h)
		if h.Validate() == nil {
			t.Errorf("%s: Validate = nil", name)
		}
	}
}

func TestBudgetStatusZone(t *testing.T) {
	b := Budget{LimitMicros: 1000, AlertThresholds: []float64{0.5, 0.9}}
	tests := []struct {
		spent, reserved int64
		zone            BudgetZone
		percent         float64
		remaining       int64
	}{
		{0, 0, ZoneOK, 0, 1000},
		{400, 99, ZoneOK, 49.9, 501},
		{400, 100, ZoneWarning, 50, 500},
		{900, 0, ZoneCritical, 90, 100},
		{999, 1, ZoneExhausted, 100, 0},
		{1500, 0, ZoneExhausted, 150, 0},
	}
	for _, tt := range tests {
		s := BudgetStatus{Budget: b, SpentMicros: tt.spent, ReservedMicros: tt.reserved}
		if s.Zone() != tt.zone || s.Percent() != tt.percent || s.RemainingMicros() != tt.remaining {
			t.Errorf("spent %d reserved %d: zone %s, %v%%, %d left; want %s, %v%%, %d", tt.spent, tt.reserved,
				s.Zone(), s.Percent(), s.RemainingMicros(), tt.zone, tt.percent, tt.remaining)
		}
	}
	one := BudgetStatus{Budget: Budget{LimitMicros: 1000, AlertThresholds: []float64{0.5}}, SpentMicros: 990}
	if one.Zone() != ZoneWarning {
		t.Errorf("one threshold: zone %s, want warning", one.Zone())
	}
	if z := (BudgetStatus{Budget: Budget{LimitMicros: 0}}).Zone(); z != ZoneExhausted {
		t.Errorf("a zero limit: zone %s, want exhausted", z)
	}
}

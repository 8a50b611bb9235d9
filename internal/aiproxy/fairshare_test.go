package aiproxy

import "testing"

func TestSharesGrant(t *testing.T) {
	weighted := &Shares{Weights: map[string]int{"a": 2, "z": 0}}
	tests := []struct {
		name  string
		s     *Shares
		limit int
		org   string
		held  map[string]int
		grant bool
		share int
	}{
		// Cap 10: alone, A and the newcomer's place split it 5/5.
		{"alone under share", nil, 10, "a", map[string]int{"a": 4}, true, 5},
		{"alone at share, the newcomer's 5 kept", nil, 10, "a", map[string]int{"a": 5}, false, 5},
		// B arrives: W=3, shares 3; A over its share does not count against B.
		{"newcomer under share", nil, 10, "b", map[string]int{"a": 5, "b": 2}, true, 3},
		{"newcomer at share", nil, 10, "b", map[string]int{"a": 5, "b": 3}, false, 3},
		{"third org", nil, 10, "c", map[string]int{"a": 5, "b": 3, "c": 1}, true, 2},
		{"full", nil, 10, "c", map[string]int{"a": 5, "b": 3, "c": 2}, false, 2},
		// Borrowing: shares 3 and 3, the newcomer's 3, 1 left for anyone.
		{"borrow the rest", nil, 10, "a", map[string]int{"a": 3, "b": 1}, true, 3},
		{"borrow past what B is owed", nil, 10, "a", map[string]int{"a": 4, "b": 1}, false, 3},
		// Weights: A (2) alone: ⌊20/3⌋=6, newcomer ⌊10/3⌋=3, 1 to borrow.
		{"weight 2 borrows the rest", weighted, 10, "a", map[string]int{"a": 6}, true, 6},
		{"weight 2 keeps the newcomer's", weighted, 10, "a", map[string]int{"a": 7}, false, 6},
		{"weight 0 counts as 1", weighted, 10, "z", nil, true, 5},
		// Small caps: every share is at least 1, within the cap.
		{"cap 1, alone", nil, 1, "a", nil, true, 1},
		{"cap 1, taken", nil, 1, "b", map[string]int{"a": 1}, false, 1},
		{"cap 2, one each", nil, 2, "b", map[string]int{"a": 1}, true, 1},
		{"more orgs than slots", nil, 3, "d", map[string]int{"a": 1, "b": 1}, true, 1},
		{"more orgs than slots, second unit", nil, 3, "c", map[string]int{"a": 1, "c": 1}, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Grant(tt.limit, tt.org, tt.held); got != tt.grant {
				t.Errorf("Grant = %v, want %v", got, tt.grant)
			}
			if got := tt.s.Share(tt.limit, tt.org, tt.held); got != tt.share {
				t.Errorf("Share = %d, want %d", got, tt.share)
			}
		})
	}
}

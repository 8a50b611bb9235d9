package budget

import "testing"

func TestCrossed(t *testing.T) {
	ts := []float64{0.8, 0.95}
	tests := []struct {
		name          string
		before, after int64
		want          float64
		ok            bool
	}{
		{"below", 0, 799, 0, false},
		{"onto the first", 700, 800, 0.8, true},
		{"past both at once", 100, 960, 0.95, true},
		{"onto the limit", 960, 1000, 1, true},
		{"from one past to further", 810, 900, 0, false},
		{"past the limit already", 1000, 1500, 0, false},
		{"no spend", 500, 500, 0, false},
	}
	for _, tt := range tests {
		got, ok := crossed(ts, 1000, tt.before, tt.after)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: crossed = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	if _, ok := crossed(ts, 0, 0, 10); ok {
		t.Error("a zero limit alerted")
	}
}

package budget

import "testing"

func TestUSD(t *testing.T) {
	for micros, want := range map[int64]string{
		0: "$0.00", 1: "$0.0000", 120: "$0.0001", 9_999: "$0.0099", 10_000: "$0.01", 120_000: "$0.12",
		5_000_000: "$5.00", 1_234_567_890: "$1234.57", -300_000: "-$0.30",
	} {
		if got := usd(micros); got != want {
			t.Errorf("usd(%d) = %q, want %q", micros, got, want)
		}
	}
}

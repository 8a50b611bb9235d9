package main

import (
	"testing"
)

// A live session's budget: held at its longest length when minted (a mint
// no budget covers is refused before the provider), settled from the
// provider's recorded length once the reaper has reconciled it.
func TestLiveSessionBudget(t *testing.T) {
	d := startDemo(t, "--live-max-session", "10m", "--live-reap-every", "200ms")
	// FULL: 2 credits a minute at $0.095 a credit. Ten minutes hold $1.90.
	budgetID := d.putBudget(d.org, d.key, map[string]any{"scope": "org", "window": "month", "limit_micros": 1_000_000})
	mints := d.laCalls("POST", "/v1/sessions/token")
	status, _, _, body := d.mintSession(d.key, nil)
	if status != 402 {
		t.Fatalf("mint over the budget = %d %s; want 402", status, body)
	}
	if n := d.laCalls("POST", "/v1/sessions/token"); n != mints {
		t.Fatalf("a refused mint reached the provider")
	}
	d.putBudget(d.org, d.key, map[string]any{"id": budgetID, "scope": "org", "window": "month", "limit_micros": 5_000_000})
	status, id, token, body := d.mintSession(d.key, nil)
	if status != 200 {
		t.Fatalf("mint = %d %s", status, body)
	}
	spent := func() (used, reserved float64) {
		for _, b := range d.budgetStatus(d.org, "Api-Key "+d.key) {
			u, _ := b["spent_micros"].(float64)
			r, _ := b["reserved_micros"].(float64)
			return u, r
		}
		return -1, -1
	}
	if used, reserved := spent(); used != 0 || reserved != 1_900_000 {
		t.Fatalf("after the mint: spent %v, reserved %v micro-USD; want 0 and 1,900,000 held", used, reserved)
	}
	if status, out := d.native(d.org, "POST", "/v1/sessions/start", token, ""); status != 201 {
		t.Fatalf("start = %d %s", status, out)
	}
	if status, out := d.native(d.org, "POST", "/v1/sessions/stop", token, `{}`); status != 200 {
		t.Fatalf("stop = %d %s", status, out)
	}
	liveWaitFor(t, "reconciled", func() bool { return d.liveSession(id)["reconciled_at"] != nil })
	// A session stopped at once ran one started minute: 2 credits, $0.19.
	liveWaitFor(t, "settled", func() bool { used, reserved := spent(); return used == 190_000 && reserved == 0 })
}

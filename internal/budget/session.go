package budget

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Sessions billed by their length (LiveAvatar: credits a minute by mode).
// A call that opens one is priced at its longest length before it is
// made; its hold is kept under SessionHoldID until the session ends, then
// settled from its length as the provider records it (SettleJob with the
// provider's session record, whose length is at Estimates.DurationPaths).

// defaultSessionSeconds is a session's length when neither its body nor
// the table gives one.
const defaultSessionSeconds = 1800

// SessionHoldID names the hold of a session a call opened, so that
// whoever ends the session (any replica's reaper) can settle it.
func SessionHoldID(service, sessionID string) string { return "session:" + service + ":" + sessionID }

// sessionBody is what the pricer reads of a session's opening body.
type sessionBody struct {
	Mode               string   `json:"mode"`
	MaxSessionDuration *float64 `json:"max_session_duration"`
	IsSandbox          bool     `json:"is_sandbox"`
}

// sessionSeconds is a session's variant (its mode, upper case; the old
// name CUSTOM is LITE) and its longest length: the body's
// max_session_duration, else the table's estimate.
func sessionSeconds(body []byte, est Estimates) (string, float64) {
	var b sessionBody
	_ = json.Unmarshal(body, &b)
	mode := strings.ToUpper(strings.TrimSpace(b.Mode))
	switch mode {
	case "":
		mode = "FULL"
	case "CUSTOM":
		mode = "LITE"
	}
	secs := est.SessionSeconds
	if secs <= 0 {
		secs = defaultSessionSeconds
	}
	if b.MaxSessionDuration != nil && finite(*b.MaxSessionDuration) && *b.MaxSessionDuration > 0 {
		secs = min(secs, *b.MaxSessionDuration)
	}
	return mode, secs
}

// sandboxSession reports whether a session's body asks for the provider's
// sandbox, which spends no credits.
func sandboxSession(body []byte) bool {
	var b sessionBody
	return json.Unmarshal(body, &b) == nil && b.IsSandbox
}

// SettleSession ends the hold of a session that has ended, from its length
// and the credits the provider says it used: the higher of the two
// prices, so that a budget never counts less than the provider charged
// (LiveAvatar escrows a minute at start, so a session stopped at once
// still used one). A session without a hold (no budget applied, or
// settled already by another replica) is left alone.
func (e *Enforcer) SettleSession(ctx context.Context, service, sessionID string, seconds int64, credits float64) error {
	id := SessionHoldID(service, sessionID)
	h, err := e.cfg.Ledger.BudgetHold(ctx, id)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var held int64
	if len(h.Charges) > 0 {
		held = h.Charges[0].Amount
	}
	q := QuoteFromMemo(h.Memo, held)
	actual := q.Cost(float64(seconds))
	if q.Flat {
		actual = q.Micros
	} else if c := int64(math.Ceil(credits*q.Credit - 1e-6)); finite(credits) && credits > 0 && q.Credit > 0 && c > actual {
		actual = min(c, aiproxy.MaxBudgetMicros)
	}
	settled, err := e.cfg.Ledger.SettleBudget(ctx, id, actual)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	e.alert(ctx, h.OrgKey, settled)
	return nil
}

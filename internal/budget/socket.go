package budget

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"sync"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// Budgets on sockets. A relayed socket's cost is not known when it opens:
// it spends as its messages pass (characters of text, seconds of audio).
// Its budgets are charged as it spends, through a hold that covers a block
// of units at a time, so that the ledger is asked once per block rather
// than once per message: when the socket's use passes what the hold
// covers, the hold is settled in full and the next block reserved (or just
// what the message needs, when a whole block no longer fits). A message
// that no budget can cover is refused before it goes upstream, and the
// socket is closed with 4402. When the socket ends, the open hold is
// settled at what was used of it.

// socketBlockUnits is how many units one hold of a socket covers.
const socketBlockUnits = 1000

// socketMeter charges one socket's use to its caller's budgets.
type socketMeter struct {
	e       *Enforcer
	c       *proxy.Call
	q       Quote
	targets []target
	member  bool

	mu sync.Mutex
	// units is what the socket has spent; the open hold covers units from
	// holdStart to holdStart+holdUnits.
	units, holdStart, holdUnits float64
	holdID                      string
	// charged is what settled holds charged, in micro-USD.
	charged int64
	// refusal is the client's error for the last block no budget covered.
	refusal error
}

// reserveSocket prices a socket call by its unit and starts charging its
// use as it spends. A flat price is charged once, when the socket opens.
func (e *Enforcer) reserveSocket(ctx context.Context, c *proxy.Call, pr aiproxy.Principal, targets []target) error {
	q, err := e.cfg.Pricer.Quote(Call{Org: c.Org, Service: c.Service.Slug, Endpoint: c.Endpoint, Body: socketBody(c.Envelope.Query)})
	switch {
	case errors.Is(err, ErrUnpriced):
		if len(targets) > 0 && blocks(targets) {
			return errUnpriced(c.Service.Slug, c.Endpoint.Slug)
		}
		return nil
	case err != nil:
		return err
	case q.Free:
		return nil
	}
	m := &socketMeter{e: e, c: c, q: q, targets: targets, member: pr.Member()}
	if q.Flat {
		if err := m.reserve(ctx, 1); errors.Is(err, errBlockTooLarge) {
			return m.refusal
		} else if err != nil {
			return err
		}
		m.units = 1
	}
	if !q.Flat {
		c.OnSpend(m.spend)
	}
	c.Defer(m.end)
	return nil
}

// socketBody is the body the pricer reads for a socket: the model the
// client named in the query, and no text.
func socketBody(q url.Values) []byte {
	model := q.Get("model_id")
	if model == "" {
		return nil
	}
	b, _ := json.Marshal(map[string]string{"model_id": model})
	return b
}

// spend charges n more units, reserving the next block when the open hold
// does not cover them.
func (m *socketMeter) spend(ctx context.Context, n int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.units += float64(n)
	if len(m.targets) == 0 || m.units <= m.holdStart+m.holdUnits {
		return nil
	}
	if m.holdID != "" {
		m.settle(ctx, m.holdUnits)
	}
	need := m.units - m.holdStart
	err := m.reserve(ctx, max(socketBlockUnits, need))
	if errors.Is(err, errBlockTooLarge) && need < socketBlockUnits {
		err = m.reserve(ctx, need)
	}
	if err != nil {
		m.units -= float64(n)
		if errors.Is(err, errBlockTooLarge) {
			err = m.refusal
		}
		return err
	}
	return nil
}

// errBlockTooLarge marks a block no budget can cover; refusal is the
// client's error for it.
var errBlockTooLarge = errors.New("block exceeds a budget")

// reserve opens a hold for units more units from holdStart on every
// budget.
func (m *socketMeter) reserve(ctx context.Context, units float64) error {
	amount := m.q.Cost(units)
	now := m.e.cfg.Now()
	hold := aiproxy.BudgetHold{ID: "socket:" + randomID(), OrgKey: m.c.Org, Memo: m.q.Memo(), CreatedAt: now,
		ExpiresAt: now.Add(m.e.cfg.CallHold)}
	for _, tg := range m.targets {
		hold.Charges = append(hold.Charges, aiproxy.BudgetCharge{BudgetCounterKey: tg.counterKey(now),
			Scope: tg.budget.Scope, Window: tg.budget.Window, Amount: amount, Limit: tg.budget.LimitMicros,
			Enforcement: tg.budget.Enforcement})
	}
	if len(hold.Charges) == 0 {
		return nil
	}
	err := m.e.cfg.Ledger.ReserveBudget(ctx, hold)
	var be *aiproxy.BudgetExceededError
	switch {
	case errors.As(err, &be):
		q := m.q
		q.Micros, q.Exact = amount, true
		m.refusal = errExceeded(be, m.c.Org, q, m.member)
		return errBlockTooLarge
	case err != nil:
		return errUnavailable(err)
	}
	m.holdID, m.holdUnits = hold.ID, units
	return nil
}

// settle ends the open hold at what was used of it.
func (m *socketMeter) settle(ctx context.Context, used float64) {
	actual := m.q.Cost(used)
	if m.q.Flat {
		actual = m.q.Micros
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	m.e.settle(sctx, m.c.Org, m.holdID, actual)
	m.charged += actual
	m.holdStart += m.holdUnits
	m.holdID, m.holdUnits = "", 0
}

// end settles the open hold when the socket ends and sets the call's cost.
func (m *socketMeter) end() {
	m.mu.Lock()
	defer m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), finishTimeout)
	defer cancel()
	if m.holdID != "" {
		m.settle(ctx, m.units-m.holdStart)
	}
	if len(m.targets) == 0 {
		m.charged = m.q.Cost(m.units)
		if m.q.Flat {
			m.charged = m.q.Micros
		}
	}
	m.c.SetCost(m.charged)
}

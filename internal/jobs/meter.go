package jobs

import (
	"context"
	"net/http"
	"time"

	"github.com/aiproxy/aiproxy/internal/proxy"
)

// Job starts and status reads are client calls that jobs take over from the
// proxy, so they are metered with the proxy's own hooks (proxy/meter.go): a
// prepared proxy.Call records itself when closed, with what Call.Finish
// noted, and a call that failed before one was prepared (a bad envelope, an
// Idempotency-Key conflict, another org's job, a running-jobs cap) is
// recorded by Proxy.Refuse. Status calls answered from the store and
// idempotent replays reach no provider and are not metered.

// callMark records whether a client request got as far as a prepared
// proxy.Call, which meters itself.
type callMark struct{ prepared bool }

type callMarkKey struct{}

// metered runs one job start or status call and meters it as a refusal
// when it failed before a proxy.Call was prepared.
func (s *Service) metered(w http.ResponseWriter, r *http.Request, org, service, action string,
	do func(r *http.Request) (proxy.Outcome, error)) (proxy.Outcome, error) {
	start := time.Now()
	mark := &callMark{}
	r = r.WithContext(context.WithValue(r.Context(), callMarkKey{}, mark))
	out, err := do(r)
	if err != nil && !mark.prepared {
		_, err = s.cfg.Proxy.Refuse(w, r, org, service, action, start, err)
	}
	return out, err
}

// markPrepared notes that a client request has a prepared proxy.Call.
func markPrepared(ctx context.Context) {
	if m, ok := ctx.Value(callMarkKey{}).(*callMark); ok {
		m.prepared = true
	}
}

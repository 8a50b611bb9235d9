package admin

import (
	"context"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Requests reads an org's request log: its raw usage records, newest
// first, as far back as the usage retention keeps them.
func (g *Guardrails) Requests(ctx context.Context, f aiproxy.RequestFilter) ([]aiproxy.LoggedRequest, error) {
	if err := g.checkOrg(ctx, f.OrgKey); err != nil {
		return nil, err
	}
	return g.store.Requests(ctx, f)
}

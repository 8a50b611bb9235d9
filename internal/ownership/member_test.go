package ownership_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// member mints a user token for a user of an org with the org's key and
// files it in the harness's keys as "org/user".
func (h *harness) member(org, user string) {
	h.t.Helper()
	keyID, _, ok := aiproxy.ParseKey(h.keys[org])
	if !ok {
		h.t.Fatalf("org %s has no key", org)
	}
	ctx := aiproxy.WithPrincipal(context.Background(), aiproxy.Principal{Kind: aiproxy.KindKey, KeyID: keyID, OrgKey: org, Role: aiproxy.RoleInvoke})
	full, _, err := admin.NewUserTokens(h.db, h.cat, nil, nil).Mint(ctx, org, admin.MintRequest{User: user})
	if err != nil {
		h.t.Fatal(err)
	}
	h.keys[org+"/"+user] = full
}

// TestMembersReachOnlyTheirOwn walks every catalog endpoint that acts on
// one object named in the request, on the platform's shared credential
// (org bee) and on an org's own (org tee): with an object recorded as
// alice's, bob's call is the contract's 404 and reaches no provider, while
// alice's call and the org key's pass to the provider.
func TestMembersReachOnlyTheirOwn(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	for _, org := range []string{"bee", "tee"} {
		h.member(org, "alice")
		h.member(org, "bob")
	}
	sources := map[string]aiproxy.Source{"bee": aiproxy.SourcePlatform, "tee": aiproxy.SourceTenant}
	walked := 0
	for _, svc := range h.cat.Services() {
		for _, ep := range svc.Endpoints {
			r := ep.Ownership
			if r == nil || !r.Op.ByID() {
				continue
			}
			for org, src := range sources {
				id := fmt.Sprintf("alice-%s-%s", org, ep.Slug)
				if err := h.db.RecordObject(ctx, aiproxy.ProviderObject{Service: svc.Slug, Kind: r.Kind,
					ProviderID: aiproxy.ObjectKey(id), OrgKey: org, User: "alice", Source: src}); err != nil {
					t.Fatal(err)
				}
				env := envelopeWith(ep.PathTemplate, r.ID, id)
				what := fmt.Sprintf("%s %s/%s", org, svc.Slug, ep.Slug)
				if ep.ResponseMode == aiproxy.ResponseWebSocket {
					// Only an upgrade opens a socket, which an invoke call is
					// not (400 before any hook): cmd/aiproxy's realtime e2e
					// opens sockets on another org's voice.
					continue
				}
				h.refused("bob: "+what, 404, "not found", func() reply { return h.invokeAs(org+"/bob", org, svc.Slug, ep.Slug, env) })
				for _, who := range []string{org + "/alice", org} {
					before := h.providerCalls()
					if got := h.invokeAs(who, org, svc.Slug, ep.Slug, env); h.providerCalls() == before {
						t.Errorf("%s: %s's call did not reach the provider: %d %s", what, who, got.status, got.body)
					}
				}
				walked++
			}
		}
	}
	if walked < 30 {
		t.Fatalf("walked %d by-id endpoints and credentials; the catalog has more", walked)
	}
}

// envelopeWith builds an invoke envelope that puts id where an ownership
// rule reads it ("path.NAME" or "query.NAME") and fills the endpoint's
// other path parameters with placeholders.
func envelopeWith(template, where, id string) map[string]any {
	from, name, _ := strings.Cut(where, ".")
	params := map[string]any{}
	for _, seg := range strings.Split(template, "/") {
		if p, ok := strings.CutPrefix(seg, "{"); ok {
			params[strings.TrimSuffix(p, "}")] = "other"
		}
	}
	env := map[string]any{}
	switch from {
	case "path":
		params[name] = id
	case "query":
		env["query"] = map[string]any{name: id}
	}
	if len(params) > 0 {
		env["path_params"] = params
	}
	return env
}

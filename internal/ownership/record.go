package ownership

import (
	"context"
	"mime"
	"strings"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// maxCreateAnswer bounds the create answer read for the new object's id.
const maxCreateAnswer = 4 << 20

// record reads the id of the object a successful create made, from a
// response header or the JSON answer, and records it as the org's. An
// answer without an id (a provider's HTTP 200 error body, speech made with
// history off) records nothing. A record that cannot be written is logged:
// the object then has no owner, and only kinds with stock objects are
// reachable without one.
func (o *Owners) record(ctx context.Context, c *proxy.Call, r *aiproxy.OwnershipRule, a *proxy.Answer) (*proxy.Answer, error) {
	var id string
	if name, ok := strings.CutPrefix(r.ID, "header:"); ok {
		id = a.Header.Get(name)
	} else {
		if !isJSON(a) {
			return a, nil
		}
		body, err := a.Bytes(maxCreateAnswer)
		if err != nil {
			o.log.Error("ownership: read create answer", "service", c.Service.Slug, "action", c.Endpoint.Slug, "err", err)
			return nil, upstreamFailed(err)
		}
		id = answerString(body, r.ID)
	}
	if id == "" {
		return a, nil
	}
	obj := aiproxy.ProviderObject{Service: c.Service.Slug, Kind: r.Kind, ProviderID: aiproxy.ObjectKey(id),
		OrgKey: c.Org, User: callUser(c), Source: c.Source, CreatedAt: o.now()}
	if err := o.store.RecordObject(context.WithoutCancel(ctx), obj); err != nil {
		o.log.Error("ownership: record object", "service", obj.Service, "kind", obj.Kind, "org", obj.OrgKey, "err", err)
	}
	return a, nil
}

// isJSON reports whether an answer's body is JSON.
func isJSON(a *proxy.Answer) bool {
	mt, _, err := mime.ParseMediaType(a.Header.Get("Content-Type"))
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// answerString returns the string (or number) at a dotted path of a JSON
// answer, or "".
func answerString(body []byte, path string) string {
	doc, ok := aiproxy.DecodeJSON(body)
	if !ok {
		return ""
	}
	return aiproxy.LookupJSONString(doc, path)
}

// upstreamFailed is the contract's 502 for a provider answer aiproxy could
// not read as the catalog says it should.
func upstreamFailed(err error) error {
	return &aiproxy.Error{Code: aiproxy.CodeUpstreamFailed, Message: aiproxy.MsgUpstreamFailed, Err: err}
}

// callUser is the user a call acts for, or "".
func callUser(c *proxy.Call) string {
	pr, _ := c.Principal()
	return pr.User
}

package ownership

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// maxListAnswer bounds a list answer read for filtering; HeyGen's whole
// avatar catalog is about a megabyte.
const maxListAnswer = 8 << 20

// errListShape reports a list answer whose items are not where the catalog
// says they are.
var errListShape = errors.New("list answer: items are not a JSON array")

// filter keeps the items of a list answer the org may see: its own, and,
// for a kind with stock objects, those aiproxy never recorded. Everything
// else in the answer, the provider's paging token included, stays, so
// paging works as the provider documents it, but a page may hold fewer
// items than asked for, even none, while more pages exist. An answer the
// rule cannot read is refused rather than passed on unfiltered.
func (o *Owners) filter(ctx context.Context, c *proxy.Call, r *aiproxy.OwnershipRule, a *proxy.Answer) (*proxy.Answer, error) {
	if !isJSON(a) {
		return nil, upstreamFailed(errors.New("list answer is not JSON"))
	}
	body, err := a.Bytes(maxListAnswer)
	if err != nil {
		return nil, upstreamFailed(err)
	}
	var failure error
	var last string // the id of the last item kept
	keep := func(items []json.RawMessage) []json.RawMessage {
		kept, lastKept, err := o.keep(ctx, c, r, items)
		failure, last = err, lastKept
		return kept
	}
	out, err := rewriteArray(body, strings.Split(r.Items, "."), keep)
	if err == nil && failure == nil && r.Cursor != "" {
		out, failure = o.moveCursor(ctx, c, r, out, last)
	}
	switch {
	case failure != nil:
		return nil, failure
	case err != nil:
		o.log.Warn("ownership: list answer not filtered", "service", c.Service.Slug, "action", c.Endpoint.Slug, "err", err)
		return nil, upstreamFailed(err)
	}
	h := a.Header.Clone()
	h.Del("ETag") // the provider's tag names the whole page
	filtered := proxy.NewAnswer(a.Status, h, out)
	filtered.Upstream = a.Upstream
	return filtered, nil
}

// moveCursor keeps a cursor that is an item's id from naming an item the
// org may not see: it becomes the last item kept, whose successors the
// next page then lists (and filters) again, or, on a page that kept none
// and has no more pages, null. On a page that kept none while more pages
// exist the provider's cursor stays, since no other value moves paging
// on: the id it names opens nothing through aiproxy.
func (o *Owners) moveCursor(ctx context.Context, c *proxy.Call, r *aiproxy.OwnershipRule, doc []byte, last string) ([]byte, error) {
	cur := answerString(doc, r.Cursor)
	if cur == "" {
		return doc, nil
	}
	owners, err := o.owners(ctx, c.Service.Slug, []string{cur})
	if err != nil || reachOf(c).allows(owners[aiproxy.ObjectKey(cur)], r.Stock) {
		return doc, err
	}
	var value json.RawMessage
	switch {
	case last != "":
		value, _ = json.Marshal(last)
	case r.More != "" && !answerBool(doc, r.More):
		value = json.RawMessage("null")
	default:
		return doc, nil
	}
	out, err := rewriteValue(doc, strings.Split(r.Cursor, "."), func(json.RawMessage) (json.RawMessage, error) { return value, nil })
	if err != nil {
		return nil, upstreamFailed(err)
	}
	return out, nil
}

// answerBool reports whether a JSON answer holds true at path.
func answerBool(body []byte, path string) bool {
	var doc any
	if json.Unmarshal(body, &doc) != nil {
		return false
	}
	for _, seg := range strings.Split(path, ".") {
		m, _ := doc.(map[string]any)
		doc = m[seg]
	}
	b, _ := doc.(bool)
	return b
}

// keep returns the items whose id the org may see, and the id of the last
// of them; an item without an id is dropped.
func (o *Owners) keep(ctx context.Context, c *proxy.Call, r *aiproxy.OwnershipRule, items []json.RawMessage) ([]json.RawMessage, string, error) {
	ids := make([]string, len(items))
	var all []string
	for i, it := range items {
		if doc, ok := aiproxy.DecodeJSON(it); ok {
			ids[i] = aiproxy.LookupJSONString(doc, r.ID)
		}
		if ids[i] != "" {
			all = append(all, ids[i])
		}
	}
	owners, err := o.owners(ctx, c.Service.Slug, all)
	if err != nil {
		return nil, "", err
	}
	kept := make([]json.RawMessage, 0, len(items))
	last, who := "", reachOf(c)
	for i, it := range items {
		if ids[i] != "" && who.allows(owners[aiproxy.ObjectKey(ids[i])], r.Stock) {
			kept = append(kept, it)
			last = ids[i]
		}
	}
	return kept, last, nil
}

// rewriteArray replaces the array at path in a JSON document with what
// keep makes of its items, leaving every other value as it was. A path
// that ends early (a member absent or null) leaves the document alone:
// such an answer lists nothing.
func rewriteArray(doc []byte, path []string, keep func([]json.RawMessage) []json.RawMessage) ([]byte, error) {
	return rewriteValue(doc, path, func(v json.RawMessage) (json.RawMessage, error) {
		var items []json.RawMessage
		if t := bytes.TrimSpace(v); len(t) == 0 || t[0] != '[' || json.Unmarshal(t, &items) != nil {
			return nil, errListShape
		}
		return encode(keep(items))
	})
}

// rewriteValue replaces the value at path in a JSON document with what
// change makes of it, re-encoding only the objects on the way. A path that
// ends early (a member absent or null) leaves the document alone.
func rewriteValue(doc []byte, path []string, change func(json.RawMessage) (json.RawMessage, error)) ([]byte, error) {
	t := bytes.TrimSpace(doc)
	if len(t) == 0 || string(t) == "null" {
		return doc, nil
	}
	if len(path) == 0 {
		return change(t)
	}
	var obj map[string]json.RawMessage
	if t[0] != '{' || json.Unmarshal(t, &obj) != nil {
		return nil, errListShape
	}
	child, ok := obj[path[0]]
	if !ok {
		return doc, nil
	}
	next, err := rewriteValue(child, path[1:], change)
	if err != nil {
		return nil, err
	}
	obj[path[0]] = next
	return encode(obj)
}

// encode writes JSON without escaping <, > and &, which the provider's
// own bytes did not need.
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

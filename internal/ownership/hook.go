package ownership

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// Store is what ownership needs of storage: the record of the objects each
// org created.
type Store interface {
	RecordObject(ctx context.Context, o aiproxy.ProviderObject) error
	Objects(ctx context.Context, service string, ids []string) ([]aiproxy.ProviderObject, error)
}

// Owners gives each endpoint the hook its ownership rule calls for. Wire it
// first, outside every other hook, so that a refused call reaches no other
// hook and no provider:
//
//	invoker := p.WithHooks(owners, keys, jobs)
type Owners struct {
	store Store
	log   *slog.Logger
	now   func() time.Time
}

var _ proxy.Hooks = (*Owners)(nil)

// New returns the ownership hooks on a store. log receives the records that
// could not be written; nil discards them.
func New(store Store, log *slog.Logger) *Owners {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Owners{store: store, log: log, now: time.Now}
}

// Hook gives the hook of an endpoint: none for public data, which is the
// same for every org.
func (o *Owners) Hook(ep *aiproxy.Endpoint) proxy.Hook {
	if ep.Ownership != nil && ep.Ownership.Op == aiproxy.OwnPublic {
		return nil
	}
	return hook{o: o, rule: ep.Ownership}
}

// hook enforces one endpoint's rule.
type hook struct {
	o    *Owners
	rule *aiproxy.OwnershipRule
}

// Before learns the call's credential source. On the platform credential,
// and on any credential for a member (a user acting for themselves), it
// refuses account-wide calls and calls that name an object the caller may
// not reach, before any limit is charged or provider called.
func (h hook) Before(ctx context.Context, c *proxy.Call) (*proxy.Answer, error) {
	src, err := c.Resolve(ctx)
	if err != nil {
		return nil, err
	}
	r := h.rule
	if r != nil && r.Op == aiproxy.OwnCreate && c.Endpoint.ResponseMode == aiproxy.ResponseJSON {
		// Once the provider may have made the object, aiproxy must learn
		// its id even if the client goes away.
		c.Detach()
	}
	who := reachOf(c)
	if src != aiproxy.SourcePlatform && !who.member {
		return nil, nil
	}
	switch {
	case r == nil && who.member:
		return nil, aiproxy.Errorf(aiproxy.CodeForbidden,
			"'%s' of external proxy service '%s' has no ownership rule in the catalog, so a user token may not call it.",
			c.Endpoint.Slug, c.Service.Slug)
	case r == nil:
		return nil, aiproxy.Errorf(aiproxy.CodeForbidden,
			"'%s' of external proxy service '%s' has no ownership rule in the catalog, so it may not run on the shared platform credential.",
			c.Endpoint.Slug, c.Service.Slug)
	case r.Op == aiproxy.OwnAccount && who.member:
		return nil, aiproxy.Errorf(aiproxy.CodeForbidden,
			"'%s' concerns the whole provider account of '%s', so a user token may not call it.", c.Endpoint.Slug, c.Service.Slug)
	case r.Op == aiproxy.OwnAccount:
		return nil, h.account(c)
	case r.Op.ByID():
		if err := h.o.check(ctx, c, aiproxy.ObjectRef{Kind: r.Kind, ID: r.ID, Stock: r.Stock}, true); err != nil {
			return nil, err
		}
	}
	for _, u := range r.Uses {
		if err := h.o.check(ctx, c, u, false); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// After records the object a create made, with its user, and filters a
// list's items on the platform credential and for members.
func (h hook) After(ctx context.Context, c *proxy.Call, a *proxy.Answer, err error) (*proxy.Answer, error) {
	if err != nil || a == nil || h.rule == nil || a.Status < 200 || a.Status > 299 {
		return a, err
	}
	switch {
	case h.rule.Op == aiproxy.OwnCreate:
		return h.o.record(ctx, c, h.rule, a) // record.go
	case h.rule.Op == aiproxy.OwnList && (c.Source == aiproxy.SourcePlatform || reachOf(c).member):
		return h.o.filter(ctx, c, h.rule, a) // list.go
	}
	return a, nil
}

// account refuses an account-wide call to anyone but a platform admin.
func (h hook) account(c *proxy.Call) error {
	if pr, ok := c.Principal(); ok && pr.PlatformAdmin() {
		return nil
	}
	msg := "'" + c.Endpoint.Slug + "' concerns the whole provider account that every org on the platform credential of '" +
		c.Service.Slug + "' shares, so only a platform admin key may call it."
	if h.rule.Instead != "" {
		msg += " Use " + strings.ReplaceAll(h.rule.Instead, "{org}", c.Org) + " for the org's own webhooks."
	}
	return &aiproxy.Error{Code: aiproxy.CodeForbidden, Message: msg}
}

// check refuses a call whose request names, at ref, an object the org may
// not reach. required says that the call acts on that one object, so it
// must name exactly one.
func (o *Owners) check(ctx context.Context, c *proxy.Call, ref aiproxy.ObjectRef, required bool) error {
	ids, err := requestIDs(c.Envelope, ref.ID) // request.go
	if err != nil {
		return err
	}
	if required && len(ids) != 1 {
		return aiproxy.Errorf(aiproxy.CodeInvalid, "This call needs exactly one %s.", describeRef(ref.ID))
	}
	if len(ids) == 0 {
		return nil
	}
	owners, err := o.owners(ctx, c.Service.Slug, ids)
	if err != nil {
		return err
	}
	who := reachOf(c)
	for _, id := range ids {
		if !who.allows(owners[aiproxy.ObjectKey(id)], ref.Stock) {
			label := kindLabel(ref.Kind)
			if required && c.Endpoint.JobStatus != nil {
				label = "Job" // the status endpoints' own 404, as the job hooks word it
			}
			return aiproxy.ErrObjectNotFound(label, c.Service.Slug, id)
		}
	}
	return nil
}

// lookupBatch bounds the ids of one store lookup.
const lookupBatch = 500

// owners returns the records of each of ids (folded), one entry per
// record.
func (o *Owners) owners(ctx context.Context, service string, ids []string) (map[string][]aiproxy.ProviderObject, error) {
	keys := make([]string, 0, len(ids))
	seen := map[string]bool{}
	for _, id := range ids {
		if k := aiproxy.ObjectKey(id); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	out := map[string][]aiproxy.ProviderObject{}
	for len(keys) > 0 {
		n := min(len(keys), lookupBatch)
		recs, err := o.store.Objects(ctx, service, keys[:n])
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			out[r.ProviderID] = append(out[r.ProviderID], r)
		}
		keys = keys[n:]
	}
	return out, nil
}

// reach is whose objects a call may reach: its org's, and for a member
// only those of its own user in the org.
type reach struct {
	org, user string
	member    bool
}

// reachOf returns a call's reach. A background call (no client) reaches
// its org's objects.
func reachOf(c *proxy.Call) reach {
	r := reach{org: c.Org}
	if pr, ok := c.Principal(); ok && pr.Member() {
		r.user, r.member = pr.User, true
	}
	return r
}

// allows reports whether the reach covers an object with these records:
// when every record is of its org (and, for a member, its user), or, for
// a kind with stock objects, when there is no record at all.
func (r reach) allows(records []aiproxy.ProviderObject, stock bool) bool {
	if len(records) == 0 {
		return stock
	}
	for _, rec := range records {
		if rec.OrgKey != r.org || (r.member && rec.User != r.user) {
			return false
		}
	}
	return true
}

// kindLabel names a kind for a message: "photo_avatar" is "Photo avatar".
func kindLabel(kind string) string {
	if kind == "" {
		return "Object"
	}
	s := strings.ReplaceAll(kind, "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

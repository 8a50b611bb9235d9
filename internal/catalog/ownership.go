package catalog

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// fileOwnership is an endpoint's "ownership" block: how its calls touch the
// provider account's objects (aiproxy.OwnershipRule).
type fileOwnership struct {
	Op      string          `json:"op"`
	Kind    string          `json:"kind,omitempty"`
	ID      string          `json:"id,omitempty"`
	Items   string          `json:"items,omitempty"`
	Cursor  string          `json:"cursor,omitempty"`
	More    string          `json:"more,omitempty"`
	Stock   bool            `json:"stock,omitempty"`
	Uses    []fileObjectRef `json:"uses,omitempty"`
	Instead string          `json:"instead,omitempty"`
}

// fileObjectRef is one entry of an ownership block's "uses".
type fileObjectRef struct {
	Kind  string `json:"kind"`
	ID    string `json:"id"`
	Stock bool   `json:"stock,omitempty"`
}

var kindPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// compileOwnership checks an endpoint's ownership block and fills it in.
// Every endpoint needs one: a catalog that says nothing about how a call
// touches a shared provider account would leave orgs to see each other's
// objects.
func compileOwnership(r *report, where string, f fileEndpoint, e *aiproxy.Endpoint, passed func(string) bool) {
	o := f.Ownership
	if o == nil {
		r.add(where, "ownership is required: say how the endpoint's calls touch the provider account's objects (op %s)",
			strings.Join(opNames(), ", "))
		return
	}
	rule := &aiproxy.OwnershipRule{Op: aiproxy.OwnershipOp(o.Op), Kind: o.Kind, ID: o.ID, Items: o.Items,
		Cursor: o.Cursor, More: o.More, Stock: o.Stock, Instead: o.Instead}
	e.Ownership = rule
	if !slices.Contains(aiproxy.OwnershipOps, rule.Op) {
		checkOneOf(r, where, "ownership.op", o.Op, opNames())
		return
	}
	objectOp := rule.Op != aiproxy.OwnAccount && rule.Op != aiproxy.OwnPublic
	switch {
	case objectOp:
		checkKind(r, where, "ownership.kind", o.Kind)
	case o.Kind != "" || o.ID != "" || o.Stock || len(o.Uses) > 0:
		r.add(where, "ownership.op %q names no object: kind, id, stock and uses do not apply", o.Op)
	}
	if (o.Items != "" || o.Cursor != "" || o.More != "") && rule.Op != aiproxy.OwnList {
		r.add(where, "ownership.items, cursor and more apply only to op \"list\"")
	}
	if o.More != "" && o.Cursor == "" {
		r.add(where, "ownership.more says whether a cursor goes on: it needs ownership.cursor")
	}
	if o.Instead != "" && rule.Op != aiproxy.OwnAccount {
		r.add(where, "ownership.instead applies only to op \"account\"")
	}
	if o.Stock && rule.Op != aiproxy.OwnRead && rule.Op != aiproxy.OwnDownload && rule.Op != aiproxy.OwnList {
		r.add(where, "ownership.stock applies only to read, download and list: only the org that made an object may create, change or delete it")
	}
	switch {
	case rule.Op == aiproxy.OwnCreate:
		checkCreateID(r, where, f, o.ID, passed)
	case rule.Op.ByID():
		checkRequestID(r, where, "ownership.id", o.ID, f, e, false)
	case rule.Op == aiproxy.OwnList:
		checkJSONPath(r, where, "ownership.items", o.Items, true)
		checkJSONPath(r, where, "ownership.id", o.ID, true)
		checkJSONPath(r, where, "ownership.cursor", o.Cursor, false)
		checkJSONPath(r, where, "ownership.more", o.More, false)
		if f.ResponseMode != "json" && slices.Contains(responseModes, f.ResponseMode) {
			r.add(where, "ownership.op \"list\" filters a JSON answer: it needs response_mode json")
		}
	case rule.Op == aiproxy.OwnAccount && o.Instead != "" && !strings.HasPrefix(o.Instead, "/"):
		r.add(where, "ownership.instead %q must be an aiproxy path starting with /", o.Instead)
	}
	for i, u := range o.Uses {
		field := "ownership.uses[" + strconv.Itoa(i) + "]"
		checkKind(r, where, field+".kind", u.Kind)
		checkRequestID(r, where, field+".id", u.ID, f, e, true)
		rule.Uses = append(rule.Uses, aiproxy.ObjectRef{Kind: u.Kind, ID: u.ID, Stock: u.Stock})
	}
}

func opNames() []string {
	out := make([]string, len(aiproxy.OwnershipOps))
	for i, op := range aiproxy.OwnershipOps {
		out[i] = string(op)
	}
	return out
}

func checkKind(r *report, where, field, kind string) {
	switch {
	case kind == "":
		r.add(where, "%s is required", field)
	case !kindPattern.MatchString(kind):
		r.add(where, "%s %q must match %s", field, kind, kindPattern)
	}
}

// passedHeader reports whether a provider response header reaches the
// client, and so a hook, through the service's allow-list.
func passedHeader(up aiproxy.Upstream) func(string) bool {
	return func(name string) bool { return containsFold(up.ResponseHeaders, name) }
}

// checkCreateID checks where a create finds the new object's id: a JSON path
// into a JSON answer, or a response header that reaches the client.
func checkCreateID(r *report, where string, f fileEndpoint, id string, passed func(string) bool) {
	if name, ok := strings.CutPrefix(id, "header:"); ok {
		switch {
		case !validToken(name):
			r.add(where, "ownership.id %q names no valid header", id)
		case !passed(name):
			r.add(where, "ownership.id %q names a header the provider's answer does not pass back (upstream.response_headers)", id)
		}
		return
	}
	checkJSONPath(r, where, "ownership.id", id, true)
	if id != "" && f.ResponseMode != "json" && slices.Contains(responseModes, f.ResponseMode) {
		r.add(where, "ownership.id %q is a JSON path, but response_mode is %q: use \"header:NAME\"", id, f.ResponseMode)
	}
}

// checkRequestID checks "path.NAME" (a placeholder of the path template),
// "query.NAME" or "body.PATH" (a JSON body; "*" segments only when wild).
func checkRequestID(r *report, where, field, id string, f fileEndpoint, e *aiproxy.Endpoint, wild bool) {
	from, rest, _ := strings.Cut(id, ".")
	switch from {
	case "path":
		// A path_template that did not parse is reported already.
		if e.Path.String() != "" && (!fieldPattern.MatchString(rest) || !strings.Contains(e.PathTemplate, "{"+rest+"}")) {
			r.add(where, "%s %q names no placeholder of path_template", field, id)
		}
	case "query":
		if !fieldPattern.MatchString(rest) {
			r.add(where, "%s %q must be \"query.NAME\"", field, id)
		}
	case "body":
		checkJSONPath(r, where, field, rest, true)
		if f.RequestMode != "json" {
			r.add(where, "%s %q reads the body, which needs request_mode json", field, id)
		}
		if !wild && slices.Contains(strings.Split(rest, "."), "*") {
			r.add(where, "%s %q may not hold \"*\": the call acts on one object", field, id)
		}
	default:
		r.add(where, "%s %q must be \"path.NAME\", \"query.NAME\" or \"body.PATH\"", field, id)
	}
}

func encodeOwnership(o *aiproxy.OwnershipRule) *fileOwnership {
	if o == nil {
		return nil
	}
	f := &fileOwnership{Op: string(o.Op), Kind: o.Kind, ID: o.ID, Items: o.Items, Cursor: o.Cursor, More: o.More,
		Stock: o.Stock, Instead: o.Instead}
	for _, u := range o.Uses {
		f.Uses = append(f.Uses, fileObjectRef{Kind: u.Kind, ID: u.ID, Stock: u.Stock})
	}
	return f
}

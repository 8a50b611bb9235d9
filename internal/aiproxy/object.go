package aiproxy

import (
	"context"
	"strings"
	"time"
)

// A provider account holds objects (videos, uploaded assets, cloned voices,
// speech history, …). When orgs fall back to the platform's credential they
// share one account, so aiproxy records which org created each object
// through it and lets an org reach only its own. Every catalog endpoint
// says, as an OwnershipRule, how its calls touch those objects.

// OwnershipOp is what a call does to the provider account's objects.
type OwnershipOp string

// The ownership operations.
const (
	// OwnCreate creates an object; aiproxy records its id, read from the
	// answer, as the calling org's.
	OwnCreate OwnershipOp = "create"
	// OwnRead, OwnUpdate, OwnDelete and OwnDownload act on one object
	// named by id in the request.
	OwnRead     OwnershipOp = "read"
	OwnUpdate   OwnershipOp = "update"
	OwnDelete   OwnershipOp = "delete"
	OwnDownload OwnershipOp = "download"
	// OwnList lists objects; the answer's items are filtered.
	OwnList OwnershipOp = "list"
	// OwnAccount reads or changes settings of the whole account (its
	// webhooks, plan, quota).
	OwnAccount OwnershipOp = "account"
	// OwnPublic reads data that is the same for every account (stock
	// avatars, models) or that only the operator makes (templates).
	OwnPublic OwnershipOp = "public"
)

// OwnershipOps lists every operation, for validation and documentation.
var OwnershipOps = []OwnershipOp{OwnCreate, OwnRead, OwnUpdate, OwnDelete, OwnDownload, OwnList, OwnAccount, OwnPublic}

// ByID reports whether the operation acts on one object named in the
// request.
func (op OwnershipOp) ByID() bool {
	return op == OwnRead || op == OwnUpdate || op == OwnDelete || op == OwnDownload
}

// OwnershipRule is the catalog's statement of how one endpoint's calls touch
// the provider account's objects. The rule is enforced only when a call
// runs on the platform's shared credential.
type OwnershipRule struct {
	Op OwnershipOp
	// Kind names the kind of object ("video", "asset", "voice", …); empty
	// for OwnAccount and OwnPublic.
	Kind string
	// ID says where the object's id is. For OwnCreate, a dotted JSON path
	// into the answer ("data.video_id") or "header:NAME" for a response
	// header. For the by-id operations, "path.NAME", "query.NAME" or
	// "body.PATH" of the request. For OwnList, the dotted path of the id
	// within one item.
	ID string
	// Items is, for OwnList, the dotted JSON path of the answer's array of
	// items.
	Items string
	// Cursor is, for OwnList, the dotted JSON path of an answer's paging
	// cursor that is the id of the page's last item (ElevenLabs' history),
	// and More the path of the flag that says more pages exist. A cursor
	// that names an item the org may not see is moved to the last item it
	// may, or, on a page with none and no more pages, cleared.
	Cursor, More string
	// Stock says that the provider also has stock objects of this kind,
	// the same for every account (premade voices, public avatars): an id
	// aiproxy never recorded passes, and only another org's is refused.
	// Without it, an unrecorded id is refused as well. Only on OwnRead,
	// OwnDownload and OwnList.
	Stock bool
	// Uses are other objects the request names, each checked like a read.
	Uses []ObjectRef
	// Instead is, for OwnAccount, the aiproxy route an org uses instead
	// (its own webhooks), with "{org}" standing for the org.
	Instead string
}

// ObjectRef names an object a request refers to: its kind, where its id is
// ("path.NAME", "query.NAME" or "body.PATH", where a "*" segment stands for
// every element of an array or member of an object), and whether the kind
// has stock objects.
type ObjectRef struct {
	Kind  string
	ID    string
	Stock bool
}

// ProviderObject records that an org created an object through aiproxy.
type ProviderObject struct {
	Service string
	Kind    string
	// ProviderID is the provider's id, folded with ObjectKey.
	ProviderID string
	OrgKey     string
	// User is the user within the org who created it; "" when the org
	// itself (a key without a user) did.
	User string
	// Source is the credential the object was created with.
	Source    Source
	CreatedAt time.Time
}

// ObjectKey folds a provider id to the form records are kept and looked up
// in: lower case, so that a provider that matches ids without regard to
// case cannot be reached through a variant of another org's id.
func ObjectKey(id string) string { return strings.ToLower(id) }

// ObjectStore keeps the record of provider objects created through aiproxy.
type ObjectStore interface {
	// RecordObject records an object. The first record of a service, kind
	// and id stays: recording it again, for any org, changes nothing.
	RecordObject(ctx context.Context, o ProviderObject) error
	// Objects returns the records, of any kind, of a service's objects
	// with the given ids (folded); an id without a record is absent.
	Objects(ctx context.Context, service string, ids []string) ([]ProviderObject, error)
}

// ErrObjectNotFound is the 404 for an object the caller may not reach,
// worded as the contract words its other 404s. label names the kind of
// object ("Video", "Job").
func ErrObjectNotFound(label, service, id string) *Error {
	return Errorf(CodeNotFound, "%s '%s' of external proxy service '%s' not found.", label, id, service)
}

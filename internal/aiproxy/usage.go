package aiproxy

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
)

// UsageRecord is one metered invoke call. It never holds a request or
// response body, nor any secret.
type UsageRecord struct {
	At     time.Time
	OrgKey string
	KeyID  string
	// UserID is the user within the org the call was made for, or "".
	UserID  string
	Service string
	Action  string
	// Status is the HTTP status sent to the client.
	Status int
	// ErrorCode is the error code sent, or "" when the provider answered.
	ErrorCode Code
	// UpstreamStatus is the provider's status, or 0 when it was not reached.
	UpstreamStatus int
	LatencyMS      int64
	// BytesOut counts the response body bytes sent to the client.
	BytesOut int64
	// Unit names what Units counts ("characters", "renders"), or "".
	Unit  Metric
	Units int64
	// Cache is "HIT", "MISS", "STALE", or "" for an uncached endpoint.
	Cache string
	// Source is the credential source used, or "".
	Source Source
	// CostMicros is what the call cost in micro-USD (1 USD = 1,000,000),
	// priced by aiproxy's price table: 0 for a free endpoint, a call the
	// provider did not do (refused, failed, answered from the cache) or
	// one no price covers. A job start carries its estimate.
	CostMicros int64
	// SavedMicros is what a call answered from the speech cache would have
	// cost at the provider, in micro-USD, priced as CostMicros is: the
	// cost the cache saved. 0 for every other call.
	SavedMicros int64
	// RequestID is the call's X-Request-Id.
	RequestID string
	// ErrorDetail is the client-safe message aiproxy answered with, cut to
	// ErrorDetailMax bytes; "" when the provider's own answer went back.
	ErrorDetail string
}

// ErrorDetailMax caps UsageRecord.ErrorDetail, so that the request log
// stays small.
const ErrorDetailMax = 300

// RequestFilter selects an org's raw usage records for its request log,
// newest first. Zero fields select everything; From is inclusive and To
// exclusive.
type RequestFilter struct {
	OrgKey  string
	Service string
	Action  string
	KeyID   string
	UserID  string
	// Status selects one HTTP status sent; 0 means any. A call aiproxy
	// refused keeps status 0 and its error code: StatusCodes lists the
	// codes answered with Status, so that such calls are selected too.
	Status      int
	StatusCodes []Code
	// ErrorsOnly selects the calls that failed (UsageRecord.Failed).
	ErrorsOnly bool
	From, To   time.Time
	// Limit caps the answer; 0 means 50.
	Limit int
	// Before, when set, returns only records older than this position.
	Before *RequestCursor
}

// RequestCursor is a position in the newest-first request log: a
// record's time and its store id.
type RequestCursor struct {
	At time.Time
	ID int64
}

// LoggedRequest is a usage record as the request log reads it back, with
// its position.
type LoggedRequest struct {
	ID int64
	UsageRecord
}

// Failed reports whether the call ended in an error.
func (u UsageRecord) Failed() bool { return u.Status >= 400 || u.ErrorCode != "" }

// UsageFilter selects usage for a report. Zero fields select everything;
// From is inclusive and To exclusive.
type UsageFilter struct {
	OrgKey  string
	Service string
	// UserID, when set, selects only the calls made for that user.
	UserID string
	From   time.Time
	To     time.Time
	// GroupBy splits each day's row of an org and service by action, by
	// user, by key or by any of them together; zero keeps one row per day,
	// org and service.
	GroupBy UsageGroups
}

// UsageGroups is a set of the dimensions, beside day, org and service,
// that a usage report may split its rows by.
type UsageGroups uint8

// The dimensions a usage report may be split by.
const (
	// GroupByUser splits rows by the user the calls were made for.
	GroupByUser UsageGroups = 1 << iota
	// GroupByKey splits rows by the aiproxy key behind the calls.
	GroupByKey
	// GroupByAction splits rows by the service's action (endpoint) that
	// was called, such as "tts" or "generate-video".
	GroupByAction
)

// usageGroupNames are the names ParseUsageGroups reads, in String's order.
var usageGroupNames = []struct {
	g    UsageGroups
	name string
}{{GroupByAction, "action"}, {GroupByUser, "user"}, {GroupByKey, "key"}}

// Has reports whether g holds every dimension of o.
func (g UsageGroups) Has(o UsageGroups) bool { return g&o == o }

// String lists g's dimensions as ParseUsageGroups reads them
// ("action,user,key"),
// or "" for none.
func (g UsageGroups) String() string {
	var names []string
	for _, n := range usageGroupNames {
		if g.Has(n.g) {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ",")
}

// ParseUsageGroups reads a comma-separated list of dimensions, "action",
// "user" and "key" in any order; "" is none. It reports false for any other name
// or an empty item.
func ParseUsageGroups(text string) (UsageGroups, bool) {
	var g UsageGroups
	if text == "" {
		return 0, true
	}
	for _, item := range strings.Split(text, ",") {
		one := usageGroupNamed(strings.TrimSpace(item))
		if one == 0 {
			return 0, false
		}
		g |= one
	}
	return g, true
}

// usageGroupNamed returns the dimension of a name, or 0.
func usageGroupNamed(name string) UsageGroups {
	for _, n := range usageGroupNames {
		if n.name == name {
			return n.g
		}
	}
	return 0
}

// UsageRow is the usage of one org and service on one UTC day, and of one
// action, user or key when the report is split by them.
type UsageRow struct {
	Day     string // YYYY-MM-DD
	OrgKey  string
	Service string
	// Action is the service's action called when the report is split by
	// action, and "" otherwise.
	Action string
	// UserID is the user the calls were made for ("" for the org itself)
	// when the report is split by user, and "" otherwise.
	UserID string
	// KeyID is the aiproxy key behind the calls ("" for sign-ins) when
	// the report is split by key, and "" otherwise.
	KeyID     string
	Requests  int64
	Errors    int64
	CacheHits int64
	BytesOut  int64
	LatencyMS int64 // the sum, for averaging
	// Units sums each unit, such as characters and renders.
	Units map[Metric]int64
	// CostMicros sums the calls' cost in micro-USD.
	CostMicros int64
	// SavedMicros sums what the calls answered from the speech cache
	// would have cost, in micro-USD.
	SavedMicros int64
}

// UsageStore keeps the append-only usage log.
type UsageStore interface {
	// AppendUsage stores records; it never changes earlier ones.
	AppendUsage(ctx context.Context, recs []UsageRecord) error
	// UsageReport sums usage per UTC day, org and service, and per
	// action, user and key when f.GroupBy says, ordered by day, org,
	// service, action, user and key.
	UsageReport(ctx context.Context, f UsageFilter) ([]UsageRow, error)
	// Requests lists an org's raw usage records, the ones retention still
	// keeps, newest first (time, then id), for the request log.
	Requests(ctx context.Context, f RequestFilter) ([]LoggedRequest, error)
}

// compareUsageRows orders report rows by day, org, service, action, user
// and key (byte order, as both engines sort).
func compareUsageRows(a, b UsageRow) int {
	return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.OrgKey, b.OrgKey), cmp.Compare(a.Service, b.Service),
		cmp.Compare(a.Action, b.Action), cmp.Compare(a.UserID, b.UserID), cmp.Compare(a.KeyID, b.KeyID))
}

// FoldUsage adds a partial row (one unit's share of a day, org, service,
// action, user and key) to a report ordered by those, merging it into the
// last row when they share all six.
func FoldUsage(rows []UsageRow, r UsageRow, unit Metric, units int64) []UsageRow {
	n := len(rows)
	if n == 0 || compareUsageRows(rows[n-1], r) != 0 {
		r.Units = map[Metric]int64{}
		rows = append(rows, r)
		n++
	} else {
		last := &rows[n-1]
		last.Requests += r.Requests
		last.Errors += r.Errors
		last.CacheHits += r.CacheHits
		last.BytesOut += r.BytesOut
		last.LatencyMS += r.LatencyMS
		last.CostMicros += r.CostMicros
		last.SavedMicros += r.SavedMicros
	}
	if unit != "" {
		rows[n-1].Units[unit] += units
	}
	return rows
}

// SumUsage adds up report rows that share day, org, service, action, user
// and key (their named units merged, their costs summed) and orders them by
// those: a store that reads a report in parts (rollups, then raw records)
// folds the parts with it.
// It leaves parts as they are.
func SumUsage(parts []UsageRow) []UsageRow {
	sorted := slices.Clone(parts)
	slices.SortStableFunc(sorted, compareUsageRows)
	out := make([]UsageRow, 0, len(sorted))
	for _, r := range sorted {
		out = FoldUsage(out, r, "", 0)
		for u, n := range r.Units {
			if u != "" {
				out[len(out)-1].Units[u] += n
			}
		}
	}
	return out
}

package aiproxy

import (
	"context"
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
}

// UsageRow is the usage of one org and service on one UTC day.
type UsageRow struct {
	Day       string // YYYY-MM-DD
	OrgKey    string
	Service   string
	Requests  int64
	Errors    int64
	CacheHits int64
	BytesOut  int64
	LatencyMS int64 // the sum, for averaging
	// Units sums each unit, such as characters and renders.
	Units map[Metric]int64
}

// UsageStore keeps the append-only usage log.
type UsageStore interface {
	// AppendUsage stores records; it never changes earlier ones.
	AppendUsage(ctx context.Context, recs []UsageRecord) error
	// UsageReport sums usage per UTC day, org and service, ordered by day,
	// org and service.
	UsageReport(ctx context.Context, f UsageFilter) ([]UsageRow, error)
}

// FoldUsage adds a partial row (one unit's share of a day, org and service)
// to a report ordered by day, org and service, merging it into the last row
// when they share those three.
func FoldUsage(rows []UsageRow, r UsageRow, unit Metric, units int64) []UsageRow {
	n := len(rows)
	if n == 0 || rows[n-1].Day != r.Day || rows[n-1].OrgKey != r.OrgKey || rows[n-1].Service != r.Service {
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
	}
	if unit != "" {
		rows[n-1].Units[unit] += units
	}
	return rows
}

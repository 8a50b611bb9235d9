package httpapi

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// UsageRowJSON is one day of one org's use of one service, and of one
// action, user or key when the report is split by them.
type UsageRowJSON struct {
	Day     string `json:"day"`
	Org     string `json:"org"`
	Service string `json:"service"`
	// Action, User and KeyID are there only when the report is split by
	// action, by user or by key.
	Action       SplitValue       `json:"action,omitzero"`
	User         SplitValue       `json:"user,omitzero"`
	KeyID        SplitValue       `json:"key_id,omitzero"`
	Requests     int64            `json:"requests"`
	Errors       int64            `json:"errors"`
	CacheHits    int64            `json:"cache_hits"`
	BytesOut     int64            `json:"bytes_out"`
	AvgLatencyMS int64            `json:"avg_latency_ms"`
	Units        map[string]int64 `json:"units"`
	// CostUSD is what the calls cost in US dollars, priced by aiproxy's
	// price table when each call was made: exact to the micro-dollar, so
	// at most 6 decimals.
	CostUSD float64 `json:"cost_usd"`
	// SavedUSD is what the calls answered from the speech cache would have
	// cost at the provider, in US dollars, priced as CostUSD is: what the
	// cache saved. 0 when none was.
	SavedUSD float64 `json:"saved_usd"`
}

// SplitValue is a usage row's value of a dimension the report may be split
// by: absent from the JSON when the report is not split by it, null when
// the calls had none (calls made for the org itself have no user, a
// sign-in's calls no key), a string otherwise.
type SplitValue struct {
	// Split is set when the report is split by the dimension.
	Split bool
	Value string
}

// IsZero reports whether the report is not split by the dimension, so
// that omitzero leaves the field out.
func (v SplitValue) IsZero() bool { return !v.Split }

// MarshalJSON writes the value, or null for none.
func (v SplitValue) MarshalJSON() ([]byte, error) {
	if v.Value == "" {
		return []byte("null"), nil
	}
	return json.Marshal(v.Value)
}

// UnmarshalJSON reads a value or null; a field that is there is split.
func (v *SplitValue) UnmarshalJSON(b []byte) error {
	v.Split, v.Value = true, ""
	if string(b) == "null" {
		return nil
	}
	return json.Unmarshal(b, &v.Value)
}

// ToUsageRowJSON converts a report row, of a report split as by says, for
// output.
func ToUsageRowJSON(r aiproxy.UsageRow, by aiproxy.UsageGroups) UsageRowJSON {
	out := UsageRowJSON{Day: r.Day, Org: r.OrgKey, Service: r.Service, Requests: r.Requests, Errors: r.Errors,
		CacheHits: r.CacheHits, BytesOut: r.BytesOut, Units: map[string]int64{}, CostUSD: usdOf(r.CostMicros),
		SavedUSD: usdOf(r.SavedMicros)}
	if by.Has(aiproxy.GroupByAction) {
		out.Action = SplitValue{Split: true, Value: r.Action}
	}
	if by.Has(aiproxy.GroupByUser) {
		out.User = SplitValue{Split: true, Value: r.UserID}
	}
	if by.Has(aiproxy.GroupByKey) {
		out.KeyID = SplitValue{Split: true, Value: r.KeyID}
	}
	if r.Requests > 0 {
		out.AvgLatencyMS = r.LatencyMS / r.Requests
	}
	for u, n := range r.Units {
		out.Units[string(u)] = n
	}
	return out
}

// usdOf is micro-USD as US dollars. The quotient of an integer by 1e6 is
// the double nearest the decimal, which prints back as that decimal.
func usdOf(micros int64) float64 { return float64(micros) / 1e6 }

// UsageQuery is a usage report's parameters as given, in a query string or
// on the command line.
type UsageQuery struct {
	Org, Service string
	// User selects one user's calls.
	User string
	// From and To are days, YYYY-MM-DD; To is inclusive.
	From, To string
	// GroupBy splits rows by "action", "user", "key" or several of them
	// ("action,user").
	GroupBy string
}

// UsageFilterFrom reads a report's filter, or says what is wrong with the
// first parameter that does not parse (the guardrails service checks the
// user).
func UsageFilterFrom(q UsageQuery) (aiproxy.UsageFilter, error) {
	f := aiproxy.UsageFilter{OrgKey: q.Org, Service: q.Service, UserID: q.User}
	for _, d := range []struct {
		text string
		dst  *time.Time
		add  int
	}{{q.From, &f.From, 0}, {q.To, &f.To, 1}} {
		if d.text == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d.text)
		if err != nil {
			return f, aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid day %q: use YYYY-MM-DD.", d.text)
		}
		*d.dst = t.AddDate(0, 0, d.add)
	}
	by, ok := aiproxy.ParseUsageGroups(q.GroupBy)
	if !ok {
		return f, aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid group_by %q: use action, user or key, or several comma-separated (action,user).", q.GroupBy)
	}
	f.GroupBy = by
	return f, nil
}

// WriteUsageCSV writes a report, split as by says, as CSV with a header
// row: an action, a user and a key_id column when the report is split by
// them, a column for each unit that appears, then cost_usd and, last,
// saved_usd.
func WriteUsageCSV(w io.Writer, by aiproxy.UsageGroups, rows []UsageRowJSON) error {
	var units []string
	for _, r := range rows {
		for u := range r.Units {
			if !slices.Contains(units, u) {
				units = append(units, u)
			}
		}
	}
	slices.Sort(units)
	cw := csv.NewWriter(w)
	head := []string{"day", "org", "service"}
	if by.Has(aiproxy.GroupByAction) {
		head = append(head, "action")
	}
	if by.Has(aiproxy.GroupByUser) {
		head = append(head, "user")
	}
	if by.Has(aiproxy.GroupByKey) {
		head = append(head, "key_id")
	}
	head = append(append(head, "requests", "errors", "cache_hits", "bytes_out", "avg_latency_ms"), units...)
	head = append(head, "cost_usd", "saved_usd")
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, r := range rows {
		rec := []string{r.Day, r.Org, r.Service}
		if by.Has(aiproxy.GroupByAction) {
			rec = append(rec, r.Action.Value)
		}
		if by.Has(aiproxy.GroupByUser) {
			rec = append(rec, r.User.Value)
		}
		if by.Has(aiproxy.GroupByKey) {
			rec = append(rec, r.KeyID.Value)
		}
		rec = append(rec, itoa(r.Requests), itoa(r.Errors), itoa(r.CacheHits), itoa(r.BytesOut), itoa(r.AvgLatencyMS))
		for _, u := range units {
			rec = append(rec, itoa(r.Units[u]))
		}
		rec = append(rec, strconv.FormatFloat(r.CostUSD, 'f', -1, 64), strconv.FormatFloat(r.SavedUSD, 'f', -1, 64))
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// orgUsage reports one org's usage; platformUsage every org's. Query:
// from, to (YYYY-MM-DD), service, user, group_by (action, user, key, or
// several comma-separated), format=json|csv.
func (s *server) orgUsage(w http.ResponseWriter, r *http.Request) error {
	return s.usage(w, r, r.PathValue("org"))
}

func (s *server) platformUsage(w http.ResponseWriter, r *http.Request) error {
	return s.usage(w, r, r.URL.Query().Get("org"))
}

func (s *server) usage(w http.ResponseWriter, r *http.Request, org string) error {
	q := r.URL.Query()
	if err := checkQueryText(q, "org", "service", "user", "group_by"); err != nil {
		return err
	}
	f, err := UsageFilterFrom(UsageQuery{Org: org, Service: q.Get("service"), User: q.Get("user"),
		From: q.Get("from"), To: q.Get("to"), GroupBy: q.Get("group_by")})
	if err != nil {
		return err
	}
	p := principal(r)
	if f.Service != "" && !p.CanUseService(f.Service) {
		return errForbidden()
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		return aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid format %q: use json or csv.", format)
	}
	rows, err := s.cfg.Guardrails.Usage(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]UsageRowJSON, 0, len(rows))
	for _, row := range rows {
		if p.CanUseService(row.Service) {
			out = append(out, ToUsageRowJSON(row, f.GroupBy))
		}
	}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		return WriteUsageCSV(w, f.GroupBy, out)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

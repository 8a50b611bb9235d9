package httpapi

import (
	"encoding/csv"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// UsageRowJSON is one day of one org's use of one service.
type UsageRowJSON struct {
	Day          string           `json:"day"`
	Org          string           `json:"org"`
	Service      string           `json:"service"`
	Requests     int64            `json:"requests"`
	Errors       int64            `json:"errors"`
	CacheHits    int64            `json:"cache_hits"`
	BytesOut     int64            `json:"bytes_out"`
	AvgLatencyMS int64            `json:"avg_latency_ms"`
	Units        map[string]int64 `json:"units"`
}

// ToUsageRowJSON converts a report row for output.
func ToUsageRowJSON(r aiproxy.UsageRow) UsageRowJSON {
	out := UsageRowJSON{Day: r.Day, Org: r.OrgKey, Service: r.Service, Requests: r.Requests, Errors: r.Errors,
		CacheHits: r.CacheHits, BytesOut: r.BytesOut, Units: map[string]int64{}}
	if r.Requests > 0 {
		out.AvgLatencyMS = r.LatencyMS / r.Requests
	}
	for u, n := range r.Units {
		out.Units[string(u)] = n
	}
	return out
}

// UsageFilterFrom reads a report's filter: from and to are days
// (YYYY-MM-DD, to inclusive), service narrows to one service.
func UsageFilterFrom(org, service, from, to string) (aiproxy.UsageFilter, error) {
	f := aiproxy.UsageFilter{OrgKey: org, Service: service}
	for _, d := range []struct {
		text string
		dst  *time.Time
		add  int
	}{{from, &f.From, 0}, {to, &f.To, 1}} {
		if d.text == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d.text)
		if err != nil {
			return f, aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid day %q: use YYYY-MM-DD.", d.text)
		}
		*d.dst = t.AddDate(0, 0, d.add)
	}
	return f, nil
}

// WriteUsageCSV writes a report as CSV with a header row; each unit that
// appears gets its own column.
func WriteUsageCSV(w io.Writer, rows []UsageRowJSON) error {
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
	head := append([]string{"day", "org", "service", "requests", "errors", "cache_hits", "bytes_out", "avg_latency_ms"}, units...)
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, r := range rows {
		rec := []string{r.Day, r.Org, r.Service, itoa(r.Requests), itoa(r.Errors), itoa(r.CacheHits), itoa(r.BytesOut), itoa(r.AvgLatencyMS)}
		for _, u := range units {
			rec = append(rec, itoa(r.Units[u]))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// orgUsage reports one org's usage; platformUsage every org's. Query:
// from, to (YYYY-MM-DD), service, format=json|csv.
func (s *server) orgUsage(w http.ResponseWriter, r *http.Request) error {
	return s.usage(w, r, r.PathValue("org"))
}

func (s *server) platformUsage(w http.ResponseWriter, r *http.Request) error {
	return s.usage(w, r, r.URL.Query().Get("org"))
}

func (s *server) usage(w http.ResponseWriter, r *http.Request, org string) error {
	q := r.URL.Query()
	if err := checkQueryText(q, "org", "service"); err != nil {
		return err
	}
	f, err := UsageFilterFrom(org, q.Get("service"), q.Get("from"), q.Get("to"))
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
			out = append(out, ToUsageRowJSON(row))
		}
	}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		return WriteUsageCSV(w, out)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

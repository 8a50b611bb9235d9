package httpapi

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// requestRoutes registers the org's request log. It needs the guardrails,
// which read the usage records it is made of.
func (s *server) requestRoutes() {
	if s.cfg.Guardrails == nil {
		return
	}
	s.route("/orgs/{org}/requests", s.orgAdmin(s.orgRequests), http.MethodGet)
}

// RequestListJSON is a page of an org's request log, newest first.
type RequestListJSON struct {
	Requests []RequestJSON `json:"requests"`
	// NextCursor, when set, fetches the next (older) page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// RequestJSON is one call in the request log: what the usage record of the
// call holds. It never holds a body or a secret.
type RequestJSON struct {
	At        time.Time `json:"at"`
	RequestID string    `json:"request_id"`
	// KeyID and User are null for a call without them (a sign-in's calls
	// have no key; calls made for the org itself no user).
	KeyID   *string `json:"key_id"`
	User    *string `json:"user"`
	Service string  `json:"service"`
	Action  string  `json:"action"`
	// Status is the HTTP status the client got: for a call aiproxy refused,
	// the status of its error code.
	Status int `json:"status"`
	// UpstreamStatus is the provider's status, null when the call did not
	// reach it.
	UpstreamStatus *int `json:"upstream_status"`
	// ErrorCode and ErrorDetail are aiproxy's error, null when the answer
	// was the provider's own (a provider's 4xx passed through has neither).
	ErrorCode   *string `json:"error_code"`
	ErrorDetail *string `json:"error_detail"`
	LatencyMS   int64   `json:"latency_ms"`
	// Unit and Units are what the call was metered in, null and 0 for an
	// unmetered call.
	Unit    *string `json:"unit"`
	Units   int64   `json:"units"`
	CostUSD float64 `json:"cost_usd"`
	// Cache is HIT, MISS or STALE for a cached endpoint, null otherwise.
	Cache *string `json:"cache"`
	// Source is the credential used (tenant or platform), null when none
	// was.
	Source *string `json:"source"`
}

// orgRequests answers GET /orgs/{org}/requests?from=&to=&service=&action=
// &status=&key=&user=&limit=&cursor=: the org's calls, newest first, read
// from the raw usage records (kept for the usage retention, 14 days by
// default). status is an HTTP status or "errors" for every failed call.
// Only the org's admins may read it: it shows every key's and user's calls.
func (s *server) orgRequests(w http.ResponseWriter, r *http.Request) error {
	if err := refuseScoped(r); err != nil {
		return err
	}
	f, limit, err := requestFilter(r)
	if err != nil {
		return err
	}
	list, err := s.cfg.Guardrails.Requests(r.Context(), f)
	if err != nil {
		return err
	}
	out := RequestListJSON{Requests: make([]RequestJSON, 0, min(len(list), limit))}
	for i, rec := range list {
		if i == limit {
			last := list[limit-1]
			out.NextCursor = encodeRequestCursor(aiproxy.RequestCursor{At: last.At, ID: last.ID})
			break
		}
		out.Requests = append(out.Requests, toRequestJSON(rec.UsageRecord))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// requestFilter reads the request log's query; the filter asks for one
// record more than the page, to know whether another page follows.
func requestFilter(r *http.Request) (aiproxy.RequestFilter, int, error) {
	q := r.URL.Query()
	if err := checkQueryText(q, "service", "action", "key", "user", "status"); err != nil {
		return aiproxy.RequestFilter{}, 0, err
	}
	limit, err := queryLimit(q.Get("limit"))
	if err != nil {
		return aiproxy.RequestFilter{}, 0, err
	}
	from, to, err := queryRange(q)
	if err != nil {
		return aiproxy.RequestFilter{}, 0, err
	}
	f := aiproxy.RequestFilter{OrgKey: r.PathValue("org"), Service: q.Get("service"), Action: q.Get("action"),
		KeyID: q.Get("key"), UserID: q.Get("user"), From: from, To: to, Limit: limit + 1}
	switch st := q.Get("status"); st {
	case "":
	case "errors":
		f.ErrorsOnly = true
	default:
		n, err := strconv.Atoi(st)
		if err != nil || n < 100 || n > 599 {
			return aiproxy.RequestFilter{}, 0, aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid status %q: use an HTTP status such as 429, or errors.", st)
		}
		f.Status, f.StatusCodes = n, codesWithStatus(n)
	}
	if c := q.Get("cursor"); c != "" {
		cur, ok := decodeRequestCursor(c)
		if !ok {
			return aiproxy.RequestFilter{}, 0, aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid cursor.")
		}
		f.Before = &cur
	}
	return f, limit, nil
}

// codesWithStatus lists the error codes answered with an HTTP status, in
// a stable order.
func codesWithStatus(status int) []aiproxy.Code {
	var out []aiproxy.Code
	for code, st := range statusOf {
		if st == status {
			out = append(out, code)
		}
	}
	slices.Sort(out)
	return out
}

// toRequestJSON converts a usage record for the request log.
func toRequestJSON(u aiproxy.UsageRecord) RequestJSON {
	out := RequestJSON{At: u.At, RequestID: u.RequestID, KeyID: optText(u.KeyID), User: optText(u.UserID),
		Service: u.Service, Action: u.Action, Status: u.Status, ErrorCode: optText(string(u.ErrorCode)),
		ErrorDetail: optText(u.ErrorDetail), LatencyMS: u.LatencyMS, Unit: optText(string(u.Unit)), Units: u.Units,
		CostUSD: usdOf(u.CostMicros), Cache: optText(u.Cache), Source: optText(string(u.Source))}
	if u.UpstreamStatus != 0 {
		n := u.UpstreamStatus
		out.UpstreamStatus = &n
	}
	if out.Status == 0 && u.ErrorCode != "" {
		// A refused call's record keeps its code, not the status rendered.
		out.Status = statusOf[u.ErrorCode]
		if u.ErrorCode == "client_gone" {
			out.Status = StatusClientClosed
		}
	}
	return out
}

func optText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// encodeRequestCursor makes an opaque cursor of a position in the log.
func encodeRequestCursor(c aiproxy.RequestCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.At.UnixMilli(), 10) + ":" + strconv.FormatInt(c.ID, 10)))
}

func decodeRequestCursor(s string) (aiproxy.RequestCursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return aiproxy.RequestCursor{}, false
	}
	ms, id, ok := strings.Cut(string(b), ":")
	at, err1 := strconv.ParseInt(ms, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return aiproxy.RequestCursor{}, false
	}
	return aiproxy.RequestCursor{At: time.UnixMilli(at).UTC(), ID: n}, true
}

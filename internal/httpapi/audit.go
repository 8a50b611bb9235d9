package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// AuditJSON is an audit event in the admin API and the CLI's --json
// output.
type AuditJSON struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Org    string    `json:"org"`
	Target string    `json:"target"`
	Detail string    `json:"detail"`
}

// ToAuditJSON converts an audit event for output.
func ToAuditJSON(e aiproxy.AuditEvent) AuditJSON {
	return AuditJSON{ID: e.ID, At: e.At, Actor: e.Actor, Action: string(e.Action), Org: e.OrgKey,
		Target: e.Target, Detail: e.Detail}
}

func (s *server) auditRoutes() {
	s.route("/orgs/{org}/audit", s.orgAdmin(s.orgAudit), http.MethodGet)
	s.route("/admin/audit", s.platformAdmin(s.platformAudit), http.MethodGet)
}

func (s *server) orgAudit(w http.ResponseWriter, r *http.Request) error {
	return s.audit(w, r, r.PathValue("org"))
}

func (s *server) platformAudit(w http.ResponseWriter, r *http.Request) error {
	return s.audit(w, r, r.URL.Query().Get("org"))
}

// audit lists audit events newest first; ?before=ID&limit=N pages.
func (s *server) audit(w http.ResponseWriter, r *http.Request, org string) error {
	f := aiproxy.AuditFilter{OrgKey: org}
	q := r.URL.Query()
	var err error
	if v := q.Get("before"); v != "" {
		if f.Before, err = strconv.ParseInt(v, 10, 64); err != nil || f.Before < 0 {
			return aiproxy.Errorf(aiproxy.CodeInvalid, "before must be an event id.")
		}
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 {
			return aiproxy.Errorf(aiproxy.CodeInvalid, "limit must be a positive number.")
		}
	}
	list, err := s.cfg.Admin.AuditEvents(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]AuditJSON, 0, len(list))
	for _, e := range list {
		out = append(out, ToAuditJSON(e))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// keyRequest is the body that creates a key. expires_at (RFC 3339) and
// expires_in (a Go duration such as "720h") are alternatives.
type keyRequest struct {
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	TestOnly  bool       `json:"test_only"`
	ExpiresAt *time.Time `json:"expires_at"`
	ExpiresIn string     `json:"expires_in"`
	Services  []string   `json:"services"`
}

func (k keyRequest) options(now time.Time) (admin.KeyOptions, error) {
	opts := admin.KeyOptions{TestOnly: k.TestOnly, Services: k.Services}
	switch {
	case k.ExpiresAt != nil && k.ExpiresIn != "":
		return opts, aiproxy.Errorf(aiproxy.CodeInvalid, "Give expires_at or expires_in, not both.")
	case k.ExpiresAt != nil:
		opts.ExpiresAt = *k.ExpiresAt
	case k.ExpiresIn != "":
		d, err := time.ParseDuration(k.ExpiresIn)
		if err != nil || d <= 0 {
			return opts, aiproxy.Errorf(aiproxy.CodeInvalid, "expires_in must be a positive duration such as \"720h\".")
		}
		opts.ExpiresAt = now.Add(d)
	}
	return opts, nil
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

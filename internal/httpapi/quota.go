package httpapi

import (
	"net/http"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// QuotaJSON is a quota with its current use, in the admin API and the CLI's
// --json output. Service "" caps every service together.
type QuotaJSON struct {
	Org         string     `json:"org"`
	Service     string     `json:"service"`
	Metric      string     `json:"metric"`
	Period      string     `json:"period"`
	Limit       int64      `json:"limit"`
	Used        int64      `json:"used"`
	WindowStart *time.Time `json:"window_start,omitempty"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// ToQuotaJSON converts a quota and its use for output.
func ToQuotaJSON(q aiproxy.QuotaUse) QuotaJSON {
	return QuotaJSON{Org: q.OrgKey, Service: q.Service, Metric: string(q.Metric), Period: string(q.Period),
		Limit: q.Limit, Used: q.Used, WindowStart: optTime(q.WindowStart), UpdatedAt: q.UpdatedAt}
}

// orgQuotas lists an org's quotas (GET, org admins), or sets (PUT) or
// removes (DELETE) one (platform admins). PUT takes {"service", "metric",
// "period", "limit"}; DELETE takes ?service=&metric=&period=.
func (s *server) orgQuotas(w http.ResponseWriter, r *http.Request) error {
	org := r.PathValue("org")
	switch r.Method {
	case http.MethodPut:
		if err := requirePlatformAdmin(r); err != nil {
			return err
		}
		var in struct {
			Service *string `json:"service"`
			Metric  *string `json:"metric"`
			Period  *string `json:"period"`
			Limit   *int64  `json:"limit"`
		}
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
		err := requireFields([]string{"service", "metric", "period", "limit"},
			in.Service != nil, in.Metric != nil, in.Period != nil, in.Limit != nil)
		if err != nil {
			return err
		}
		q := aiproxy.Quota{OrgKey: org, Service: *in.Service, Metric: aiproxy.Metric(*in.Metric),
			Period: aiproxy.Period(*in.Period), Limit: *in.Limit}
		if _, err := s.cfg.Guardrails.SetQuota(r.Context(), q); err != nil {
			return err
		}
	case http.MethodDelete:
		if err := requirePlatformAdmin(r); err != nil {
			return err
		}
		q := r.URL.Query()
		if err := checkQueryText(q, "service", "metric", "period"); err != nil {
			return err
		}
		err := s.cfg.Guardrails.DeleteQuota(r.Context(), org, q.Get("service"),
			aiproxy.Metric(q.Get("metric")), aiproxy.Period(q.Get("period")))
		if err != nil {
			return err
		}
	}
	list, err := s.cfg.Guardrails.Quotas(r.Context(), org)
	if err != nil {
		return err
	}
	// A key limited to some services sees their quotas and those of every
	// service together, which apply to its calls too.
	p := principal(r)
	out := make([]QuotaJSON, 0, len(list))
	for _, q := range list {
		if q.Service == "" || p.CanUseService(q.Service) {
			out = append(out, ToQuotaJSON(q))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

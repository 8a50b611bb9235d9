package httpapi

import (
	"net/http"
	"time"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// PoolJSON is a credential's keys with their health, in the admin API and
// the CLI's --json output: masked, never a secret. A credential of one key
// has one key with the id "", whose health is not tracked.
type PoolJSON struct {
	Name   string        `json:"name"`
	Source string        `json:"source"`
	Org    string        `json:"org"`
	Pooled bool          `json:"pooled"`
	Keys   []PoolKeyJSON `json:"keys"`
}

// PoolKeyJSON is one key of a pool: its id, masked fields, weight and cap,
// and its health: state (healthy, resting, removed, or unknown where the
// health lives in another process), why, since when, until when a rest
// lasts, and its calls in flight.
type PoolKeyJSON struct {
	ID             string            `json:"id"`
	Masked         map[string]string `json:"masked"`
	Weight         int               `json:"weight"`
	MaxConcurrency int               `json:"max_concurrency"`
	State          string            `json:"state"`
	Reason         string            `json:"reason,omitempty"`
	Since          *time.Time        `json:"since"`
	RestUntil      *time.Time        `json:"rest_until"`
	InFlight       int               `json:"in_flight"`
}

// ToPoolJSON converts a credential's keys for output.
func ToPoolJSON(kp admin.KeyPool) PoolJSON {
	out := PoolJSON{Name: kp.Credential.Name, Source: string(kp.Credential.Source), Org: kp.Credential.OrgKey,
		Pooled: kp.Pooled, Keys: make([]PoolKeyJSON, 0, len(kp.Keys))}
	for _, k := range kp.Keys {
		out.Keys = append(out.Keys, ToPoolKeyJSON(k))
	}
	return out
}

// ToPoolKeyJSON converts one key of a pool for output.
func ToPoolKeyJSON(r aiproxy.PoolKeyReport) PoolKeyJSON {
	state := string(r.Status.State)
	if state == "" {
		state = "unknown"
	}
	masked := r.Info.Masked
	if masked == nil {
		masked = map[string]string{}
	}
	k := PoolKeyJSON{ID: r.Info.ID, Masked: masked, Weight: r.Info.Weight, MaxConcurrency: r.Info.MaxConcurrency,
		State: state, Reason: r.Status.Reason, InFlight: r.Status.InFlight}
	if r.Status.State == aiproxy.KeyResting || r.Status.State == aiproxy.KeyRemoved {
		k.Since = optTime(r.Status.Since)
	}
	if r.Status.State == aiproxy.KeyResting {
		k.RestUntil = optTime(r.Status.Until)
	}
	return k
}

// poolRoutes registers the key pool routes: a credential's keys with their
// health, and the restore of a resting or removed key, for the platform's
// credentials (platform admins) and an org's own (its admins).
func (s *server) poolRoutes() {
	s.route("/admin/credentials/{name}/pool", s.platformAdmin(s.platformPool), http.MethodGet)
	s.route("/admin/credentials/{name}/pool/{key_id}/restore", s.platformAdmin(s.platformPoolRestore), http.MethodPost)
	s.route("/orgs/{org}/credentials/{name}/pool", s.orgAdmin(s.orgPool), http.MethodGet)
	s.route("/orgs/{org}/credentials/{name}/pool/{key_id}/restore", s.orgAdmin(s.orgPoolRestore), http.MethodPost)
}

func (s *server) platformPool(w http.ResponseWriter, r *http.Request) error {
	return s.pool(w, r, aiproxy.SourcePlatform, "")
}

func (s *server) orgPool(w http.ResponseWriter, r *http.Request) error {
	return s.pool(w, r, aiproxy.SourceTenant, r.PathValue("org"))
}

func (s *server) platformPoolRestore(w http.ResponseWriter, r *http.Request) error {
	return s.poolRestore(w, r, aiproxy.SourcePlatform, "")
}

func (s *server) orgPoolRestore(w http.ResponseWriter, r *http.Request) error {
	return s.poolRestore(w, r, aiproxy.SourceTenant, r.PathValue("org"))
}

// pool answers a credential's keys with their health.
func (s *server) pool(w http.ResponseWriter, r *http.Request, src aiproxy.Source, org string) error {
	kp, err := s.cfg.Admin.KeyPool(r.Context(), src, org, r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ToPoolJSON(kp))
	return nil
}

// poolRestore puts a resting or removed key back in use and answers it.
func (s *server) poolRestore(w http.ResponseWriter, r *http.Request, src aiproxy.Source, org string) error {
	rep, err := s.cfg.Admin.RestoreKey(r.Context(), src, org, r.PathValue("name"), r.PathValue("key_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ToPoolKeyJSON(rep))
	return nil
}

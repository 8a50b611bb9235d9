package httpapi

import (
	"net/http"
	"time"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// userTokenRoutes registers minting, listing and revoking user tokens, and
// the route that tells any principal who it is.
func (s *server) userTokenRoutes() {
	s.route("/orgs/{org}/me", s.orgAccess(s.whoAmI), http.MethodGet)
	if s.cfg.Tokens == nil {
		return
	}
	s.route("/orgs/{org}/user-tokens", s.orgKey(s.userTokens), http.MethodGet, http.MethodPost)
	s.route("/orgs/{org}/settings", s.orgAdmin(s.orgSettings), http.MethodGet, http.MethodPut)
	s.route("/orgs/{org}/user-tokens/{id}", s.orgKey(s.revokeUserToken), http.MethodDelete)
}

// mintRequest is the body of POST /orgs/{org}/user-tokens/.
type mintRequest struct {
	User       string   `json:"user"`
	Services   []string `json:"services"`
	Actions    []string `json:"actions"`
	TTLSeconds *int     `json:"ttl_seconds"`
	// MaxSpend is in US dollars.
	MaxSpend  *float64 `json:"max_spend"`
	SingleUse bool     `json:"single_use"`
}

// GrantsJSON is what a principal may call: empty lists mean every service
// or action of its org.
type GrantsJSON struct {
	Services []string `json:"services"`
	Actions  []string `json:"actions"`
}

// UserTokenJSON is a user token in the API; Token, the secret, only in
// the answer that mints it.
type UserTokenJSON struct {
	ID        string     `json:"id"`
	Token     string     `json:"token,omitempty"`
	User      string     `json:"user"`
	KeyID     string     `json:"key_id"`
	Grants    GrantsJSON `json:"grants"`
	MaxSpend  *float64   `json:"max_spend"`
	SingleUse bool       `json:"single_use"`
	TestOnly  bool       `json:"test_only"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	UsedAt    *time.Time `json:"used_at"`
}

// ToUserTokenJSON converts a user token for output, without its secret.
func ToUserTokenJSON(t aiproxy.UserToken) UserTokenJSON {
	out := UserTokenJSON{ID: t.ID, User: t.User, KeyID: t.KeyID, Grants: grants(t.Services, t.Actions),
		SingleUse: t.SingleUse, TestOnly: t.TestOnly, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
		RevokedAt: optTime(t.RevokedAt), UsedAt: optTime(t.UsedAt)}
	if t.MaxSpendMicros > 0 {
		usd := float64(t.MaxSpendMicros) / 1e6
		out.MaxSpend = &usd
	}
	return out
}

func grants(services, actions []string) GrantsJSON {
	g := GrantsJSON{Services: services, Actions: actions}
	if g.Services == nil {
		g.Services = []string{}
	}
	if g.Actions == nil {
		g.Actions = []string{}
	}
	return g
}

func (s *server) userTokens(w http.ResponseWriter, r *http.Request) error {
	org := r.PathValue("org")
	if r.Method != http.MethodPost {
		list, err := s.cfg.Tokens.List(r.Context(), org, r.URL.Query().Get("user"))
		if err != nil {
			return err
		}
		out := make([]UserTokenJSON, 0, len(list))
		for _, t := range list {
			out = append(out, ToUserTokenJSON(t))
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	var in mintRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	req := admin.MintRequest{User: in.User, Services: in.Services, Actions: in.Actions, SingleUse: in.SingleUse}
	if in.TTLSeconds != nil {
		if *in.TTLSeconds <= 0 {
			return aiproxy.Errorf(aiproxy.CodeInvalid, "ttl_seconds must be a positive number of seconds.")
		}
		req.TTL = time.Duration(*in.TTLSeconds) * time.Second
	}
	if in.MaxSpend != nil {
		micros, err := admin.MicrosFromUSD(*in.MaxSpend)
		if err != nil {
			return err
		}
		req.MaxSpendMicros = micros
	}
	full, t, err := s.cfg.Tokens.Mint(r.Context(), org, req)
	if err != nil {
		return err
	}
	out := ToUserTokenJSON(t)
	out.Token = full
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *server) revokeUserToken(w http.ResponseWriter, r *http.Request) error {
	t, err := s.cfg.Tokens.Revoke(r.Context(), r.PathValue("org"), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ToUserTokenJSON(t))
	return nil
}

// MeJSON tells a caller who aiproxy takes it for.
type MeJSON struct {
	Org  string `json:"org"`
	Kind string `json:"kind"`
	Role string `json:"role"`
	// User is the user the calls act for, or null for the org itself.
	User *string `json:"user"`
	// Member says that the caller reaches only its own user's objects.
	Member   bool       `json:"member"`
	KeyID    string     `json:"key_id,omitempty"`
	TestOnly bool       `json:"test_only"`
	Grants   GrantsJSON `json:"grants"`
	// ExpiresAt is when a user token or sign-in stops working; null for
	// a key.
	ExpiresAt *time.Time `json:"expires_at"`
}

func (s *server) whoAmI(w http.ResponseWriter, r *http.Request) error {
	p, _ := aiproxy.PrincipalFrom(r.Context())
	out := MeJSON{Org: r.PathValue("org"), Kind: string(p.Kind), Role: string(p.Role), Member: p.Member(),
		KeyID: p.KeyID, TestOnly: p.TestOnly, Grants: grants(p.Services, p.Actions), ExpiresAt: optTime(p.ExpiresAt)}
	if out.Kind == "" {
		out.Kind = string(aiproxy.KindKey)
	}
	if p.User != "" {
		u := p.User
		out.User = &u
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// OrgSettingsJSON is an org's settings: what its admins chose (0 for the
// deployment's), and what applies.
type OrgSettingsJSON struct {
	UserTokenTTLSeconds    int `json:"user_token_ttl_seconds"`
	UserTokenMaxTTLSeconds int `json:"user_token_max_ttl_seconds"`
	// The lifetimes that apply: the org's within the deployment's; the
	// CLI, which opens the database, leaves them out.
	EffectiveUserTokenTTLSeconds    int `json:"effective_user_token_ttl_seconds,omitempty"`
	EffectiveUserTokenMaxTTLSeconds int `json:"effective_user_token_max_ttl_seconds,omitempty"`
}

// orgSettings reads (GET) or replaces (PUT) an org's settings.
func (s *server) orgSettings(w http.ResponseWriter, r *http.Request) error {
	org := r.PathValue("org")
	o, err := s.cfg.Admin.Org(r.Context(), org)
	if err != nil {
		return err
	}
	if r.Method == http.MethodPut {
		if err := refuseScoped(r); err != nil {
			return err
		}
		var in struct {
			TTL    *int `json:"user_token_ttl_seconds"`
			MaxTTL *int `json:"user_token_max_ttl_seconds"`
		}
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
		set := o.Settings
		if in.TTL != nil {
			set.UserTokenTTL = time.Duration(*in.TTL) * time.Second
		}
		if in.MaxTTL != nil {
			set.UserTokenMaxTTL = time.Duration(*in.MaxTTL) * time.Second
		}
		if o, err = s.cfg.Admin.SetOrgSettings(r.Context(), org, set); err != nil {
			return err
		}
	}
	def, longest := s.cfg.Tokens.Lifetimes(o.Settings)
	writeJSON(w, http.StatusOK, OrgSettingsJSON{
		UserTokenTTLSeconds: int(o.Settings.UserTokenTTL.Seconds()), UserTokenMaxTTLSeconds: int(o.Settings.UserTokenMaxTTL.Seconds()),
		EffectiveUserTokenTTLSeconds: int(def.Seconds()), EffectiveUserTokenMaxTTLSeconds: int(longest.Seconds())})
	return nil
}

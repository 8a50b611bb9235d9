package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// OrgJSON is an org in the admin API and the CLI's --json output.
type OrgJSON struct {
	Key       string    `json:"key"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// KeyJSON is an API key in the admin API and the CLI's --json output. Key is set only in the answer
// that creates it.
type KeyJSON struct {
	ID         string     `json:"id"`
	Org        string     `json:"org"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	TestOnly   bool       `json:"test_only"`
	ExpiresAt  *time.Time `json:"expires_at"`
	Services   []string   `json:"services"`
	Key        string     `json:"key,omitempty"`
}

// CredentialJSON is a credential in the admin API and the CLI's --json
// output: masked, never the secret.
type CredentialJSON struct {
	Name      string            `json:"name"`
	Source    string            `json:"source"`
	Org       string            `json:"org"`
	Masked    map[string]string `json:"masked"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ToOrgJSON converts an org for output.
func ToOrgJSON(o aiproxy.Org) OrgJSON {
	return OrgJSON{Key: o.Key, Name: o.Name, CreatedAt: o.CreatedAt}
}

// ToKeyJSON converts an API key for output, without its secret.
func ToKeyJSON(k aiproxy.APIKey) KeyJSON {
	return KeyJSON{ID: k.ID, Org: k.OrgKey, Name: k.Name, Role: string(k.Role), CreatedAt: k.CreatedAt,
		RevokedAt: optTime(k.RevokedAt), LastUsedAt: optTime(k.LastUsedAt), TestOnly: k.TestOnly,
		ExpiresAt: optTime(k.ExpiresAt), Services: nonNilStrings(k.Services)}
}

// ToCredentialJSON converts a credential for output, masked.
func ToCredentialJSON(c aiproxy.Credential) CredentialJSON {
	return CredentialJSON{Name: c.Name, Source: string(c.Source), Org: c.OrgKey, Masked: c.Masked,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// maxAdminBody bounds the JSON body of an admin request.
const maxAdminBody = 1 << 20

// decodeJSON reads a bounded JSON request body into v: exactly one JSON
// object, with no unknown fields and nothing after it but white space.
func decodeJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxAdminBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return aiproxy.Errorf(aiproxy.CodeTooLarge, "Request body exceeds %d bytes.", tooBig.Limit)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return aiproxy.Errorf(aiproxy.CodeRequestTimeout, "The request body was not received in time.")
	}
	if err != nil {
		return aiproxy.Errorf(aiproxy.CodeInvalid, "Request body could not be read.")
	}
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return aiproxy.Errorf(aiproxy.CodeInvalid, "Request body must be a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid JSON body: %s.", err.Error())
	}
	if len(bytes.TrimSpace(body[dec.InputOffset():])) != 0 {
		return aiproxy.Errorf(aiproxy.CodeInvalid, "Request body must hold one JSON object and nothing after it.")
	}
	return nil
}

// requireFields refuses a body that lacks a required field: a field left
// out must never fall back to a value that changes what a call does (a
// quota of zero, a service turned off). present holds, for each name,
// whether the body had it.
func requireFields(names []string, present ...bool) error {
	for i, ok := range present {
		if !ok {
			return aiproxy.Errorf(aiproxy.CodeInvalid, "Missing required field %q.", names[i])
		}
	}
	return nil
}

func (s *server) orgs(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodPost {
		var in struct {
			Key  *string `json:"key"`
			Name string  `json:"name"`
		}
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
		if err := requireFields([]string{"key"}, in.Key != nil); err != nil {
			return err
		}
		o, err := s.cfg.Admin.CreateOrg(r.Context(), *in.Key, in.Name)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, ToOrgJSON(o))
		return nil
	}
	list, err := s.cfg.Admin.Orgs(r.Context())
	if err != nil {
		return err
	}
	out := make([]OrgJSON, 0, len(list))
	for _, o := range list {
		out = append(out, ToOrgJSON(o))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) orgKeys(w http.ResponseWriter, r *http.Request) error {
	return s.keys(w, r, r.PathValue("org"))
}

func (s *server) platformKeys(w http.ResponseWriter, r *http.Request) error {
	return s.keys(w, r, "")
}

func (s *server) keys(w http.ResponseWriter, r *http.Request, org string) error {
	if r.Method == http.MethodPost {
		var in keyRequest // audit.go
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
		opts, err := in.options(s.cfg.Now())
		if err != nil {
			return err
		}
		if org == "" && in.Role == "" {
			in.Role = string(aiproxy.RoleAdmin) // the only role a platform key can have
		}
		full, k, err := s.cfg.Admin.CreateKeyWith(r.Context(), org, in.Name, aiproxy.Role(in.Role), opts)
		if err != nil {
			return err
		}
		out := ToKeyJSON(k)
		out.Key = full
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusCreated, out)
		return nil
	}
	list, err := s.cfg.Admin.Keys(r.Context(), org)
	if err != nil {
		return err
	}
	out := make([]KeyJSON, 0, len(list))
	for _, k := range list {
		out = append(out, ToKeyJSON(k))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) revokeOrgKey(w http.ResponseWriter, r *http.Request) error {
	return s.revokeKey(w, r, r.PathValue("org"))
}

func (s *server) revokePlatformKey(w http.ResponseWriter, r *http.Request) error {
	return s.revokeKey(w, r, "")
}

func (s *server) revokeKey(w http.ResponseWriter, r *http.Request, org string) error {
	k, err := s.cfg.Admin.RevokeKey(r.Context(), org, r.PathValue("id"))
	if err != nil {
		return err
	}
	s.auth.forget(k.ID)
	writeJSON(w, http.StatusOK, ToKeyJSON(k))
	return nil
}

func (s *server) orgCredentials(w http.ResponseWriter, r *http.Request) error {
	return s.credentials(w, r, aiproxy.SourceTenant, r.PathValue("org"))
}

func (s *server) platformCredentials(w http.ResponseWriter, r *http.Request) error {
	return s.credentials(w, r, aiproxy.SourcePlatform, "")
}

func (s *server) credentials(w http.ResponseWriter, r *http.Request, src aiproxy.Source, org string) error {
	list, err := s.cfg.Admin.Credentials(r.Context(), src, org)
	if err != nil {
		return err
	}
	out := make([]CredentialJSON, 0, len(list))
	for _, c := range list {
		out = append(out, ToCredentialJSON(c))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) orgCredential(w http.ResponseWriter, r *http.Request) error {
	return s.credential(w, r, aiproxy.SourceTenant, r.PathValue("org"))
}

func (s *server) platformCredential(w http.ResponseWriter, r *http.Request) error {
	return s.credential(w, r, aiproxy.SourcePlatform, "")
}

// credential sets (PUT, body {"value": {...}}) or deletes one credential.
func (s *server) credential(w http.ResponseWriter, r *http.Request, src aiproxy.Source, org string) error {
	name := r.PathValue("name")
	if r.Method == http.MethodDelete {
		if err := s.cfg.Admin.DeleteCredential(r.Context(), src, org, name); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	var in struct {
		Value aiproxy.CredentialValue `json:"value"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if err := requireFields([]string{"value"}, in.Value != nil); err != nil {
		return err
	}
	c, err := s.cfg.Admin.SetCredential(r.Context(), src, org, name, in.Value)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ToCredentialJSON(c))
	return nil
}

// Package admin holds aiproxy's management operations: orgs, API keys and
// provider credentials. The admin commands and the admin HTTP API both call
// it, so they behave the same.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Stores is the storage the management operations need.
type Stores interface {
	aiproxy.OrgStore
	aiproxy.KeyStore
	aiproxy.CredentialStore
}

// Sealer seals credential values.
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
}

// Catalog lists the services, to find a credential's schema.
type Catalog interface {
	Services() []*aiproxy.Service
}

// Service performs management operations. It is safe for concurrent use.
type Service struct {
	store   Stores
	vault   Sealer
	catalog Catalog
	now     func() time.Time
	// audit, when set, receives every change (audit.go).
	audit Auditor
	// credChanged, when set, hears of every credential change (credhook.go).
	credChanged func(src aiproxy.Source, org, name string)
}

// New returns a Service. now may be nil for time.Now.
func New(store Stores, vault Sealer, catalog Catalog, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, vault: vault, catalog: catalog, now: now}
}

// CreateOrg creates an org with a key that becomes its {org} path segment.
func (s *Service) CreateOrg(ctx context.Context, key, name string) (aiproxy.Org, error) {
	if !aiproxy.ValidOrgKey(key) {
		return aiproxy.Org{}, aiproxy.Errorf(aiproxy.CodeInvalid,
			"Invalid org key %q: use 1 to 63 lowercase letters, digits, '-' or '_'.", key)
	}
	if strings.TrimSpace(name) == "" {
		name = key
	}
	o := aiproxy.Org{Key: key, Name: name, CreatedAt: s.now().UTC()}
	err := s.store.CreateOrg(ctx, o)
	if errors.Is(err, aiproxy.ErrConflict) {
		return aiproxy.Org{}, aiproxy.Errorf(aiproxy.CodeConflict, "Org %q already exists.", key)
	}
	if err != nil {
		return aiproxy.Org{}, fmt.Errorf("create org: %w", err)
	}
	return o, s.record(ctx, aiproxy.AuditOrgCreated, key, key, "")
}

// Org returns one org.
func (s *Service) Org(ctx context.Context, key string) (aiproxy.Org, error) {
	o, err := s.store.Org(ctx, key)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return o, orgNotFound(key)
	}
	return o, err
}

// Orgs lists every org.
func (s *Service) Orgs(ctx context.Context) ([]aiproxy.Org, error) {
	return s.store.Orgs(ctx)
}

func orgNotFound(key string) error {
	return aiproxy.Errorf(aiproxy.CodeNotFound, "Org %q not found.", key)
}

// CreateKey makes a new API key for an org ("" for a platform key) and
// returns the full key, which is never available again, with its record.
func (s *Service) CreateKey(ctx context.Context, org, name string, role aiproxy.Role) (string, aiproxy.APIKey, error) {
	return s.createKey(ctx, org, name, role, KeyOptions{})
}

// CreateTestKey is CreateKey for a test-only key: its job-starting calls
// run in the provider's test mode, so that it cannot spend credits.
func (s *Service) CreateTestKey(ctx context.Context, org, name string, role aiproxy.Role) (string, aiproxy.APIKey, error) {
	return s.createKey(ctx, org, name, role, KeyOptions{TestOnly: true})
}

func (s *Service) createKey(ctx context.Context, org, name string, role aiproxy.Role, opts KeyOptions) (string, aiproxy.APIKey, error) {
	if role == "" {
		role = aiproxy.RoleInvoke
	}
	if !aiproxy.ValidRole(role) {
		return "", aiproxy.APIKey{}, aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid role %q: use invoke or admin.", role)
	}
	if org == "" && role != aiproxy.RoleAdmin {
		return "", aiproxy.APIKey{}, aiproxy.Errorf(aiproxy.CodeInvalid, "A platform key must have the admin role.")
	}
	if err := s.checkKeyOptions(opts); err != nil {
		return "", aiproxy.APIKey{}, err
	}
	full, id, hash, err := aiproxy.NewKeySecret()
	if err != nil {
		return "", aiproxy.APIKey{}, fmt.Errorf("generate key: %w", err)
	}
	k := aiproxy.APIKey{ID: id, OrgKey: org, Name: strings.TrimSpace(name), Role: role, SecretHash: hash,
		CreatedAt: s.now().UTC(), TestOnly: opts.TestOnly, ExpiresAt: opts.ExpiresAt.UTC(), Services: opts.Services}
	if opts.ExpiresAt.IsZero() {
		k.ExpiresAt = time.Time{}
	}
	err = s.store.CreateKey(ctx, k)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return "", aiproxy.APIKey{}, orgNotFound(org)
	}
	if err != nil {
		return "", aiproxy.APIKey{}, fmt.Errorf("create key: %w", err)
	}
	return full, k, s.record(ctx, aiproxy.AuditKeyCreated, org, id, keyDetail(k))
}

// Keys lists an org's keys ("" for platform keys).
func (s *Service) Keys(ctx context.Context, org string) ([]aiproxy.APIKey, error) {
	if org != "" {
		if _, err := s.Org(ctx, org); err != nil {
			return nil, err
		}
	}
	return s.store.Keys(ctx, org)
}

// RevokeKey revokes a key of an org ("" for platform). A key of another org
// is reported as not found.
func (s *Service) RevokeKey(ctx context.Context, org, id string) (aiproxy.APIKey, error) {
	k, err := s.store.Key(ctx, id)
	if errors.Is(err, aiproxy.ErrNotFound) || (err == nil && k.OrgKey != org) {
		return aiproxy.APIKey{}, aiproxy.Errorf(aiproxy.CodeNotFound, "API key %q not found.", id)
	}
	if err != nil {
		return aiproxy.APIKey{}, fmt.Errorf("read key: %w", err)
	}
	if err := s.store.RevokeKey(ctx, id, s.now().UTC()); err != nil {
		return aiproxy.APIKey{}, fmt.Errorf("revoke key: %w", err)
	}
	if err := s.record(ctx, aiproxy.AuditKeyRevoked, org, id, ""); err != nil {
		return aiproxy.APIKey{}, err
	}
	return s.store.Key(ctx, id)
}

// schemaFor returns the credential_schema of the services that use a
// credential name.
func (s *Service) schemaFor(name string) (map[string]string, bool) {
	for _, svc := range s.catalog.Services() {
		if svc.CredentialName == name {
			return svc.CredentialSchema, true
		}
	}
	return nil, false
}

// SetCredential seals and stores a credential for an org (tenant) or for
// the platform (org ""). The value is checked against the schema of the
// service that uses the credential name.
func (s *Service) SetCredential(ctx context.Context, src aiproxy.Source, org, name string, value aiproxy.CredentialValue) (aiproxy.Credential, error) {
	if err := checkOwner(src, org); err != nil {
		return aiproxy.Credential{}, err
	}
	schema, ok := s.schemaFor(name)
	if !ok {
		return aiproxy.Credential{}, aiproxy.Errorf(aiproxy.CodeNotFound, "No service uses the credential name %q.", name)
	}
	if err := value.Validate(schema); err != nil {
		return aiproxy.Credential{}, err
	}
	plain, err := json.Marshal(value)
	if err != nil {
		return aiproxy.Credential{}, fmt.Errorf("encode credential: %w", err)
	}
	now := s.now().UTC()
	c := aiproxy.Credential{Source: src, OrgKey: org, Name: name, Masked: value.Masked(), CreatedAt: now, UpdatedAt: now}
	if c.Sealed, err = s.vault.Seal(plain, c.AAD()); err != nil {
		return aiproxy.Credential{}, fmt.Errorf("seal credential: %w", err)
	}
	err = s.store.PutCredential(ctx, c)
	s.credentialChanged(src, org, name)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return aiproxy.Credential{}, orgNotFound(org)
	}
	if err != nil {
		return aiproxy.Credential{}, fmt.Errorf("store credential: %w", err)
	}
	if err := s.record(ctx, aiproxy.AuditCredentialSet, org, name, credentialDetail(c)); err != nil {
		return aiproxy.Credential{}, err
	}
	return s.store.Credential(ctx, src, org, name)
}

func checkOwner(src aiproxy.Source, org string) error {
	switch {
	case src == aiproxy.SourceTenant && org == "":
		return aiproxy.Errorf(aiproxy.CodeInvalid, "A tenant credential needs an org.")
	case src == aiproxy.SourcePlatform && org != "":
		return aiproxy.Errorf(aiproxy.CodeInvalid, "A platform credential belongs to no org.")
	case !aiproxy.ValidSource(src):
		return aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid credential source %q: use tenant or platform.", src)
	}
	return nil
}

// Credentials lists the credentials of an org (tenant) or the platform.
func (s *Service) Credentials(ctx context.Context, src aiproxy.Source, org string) ([]aiproxy.Credential, error) {
	if err := checkOwner(src, org); err != nil {
		return nil, err
	}
	if org != "" {
		if _, err := s.Org(ctx, org); err != nil {
			return nil, err
		}
	}
	return s.store.Credentials(ctx, src, org)
}

// DeleteCredential removes a credential.
func (s *Service) DeleteCredential(ctx context.Context, src aiproxy.Source, org, name string) error {
	if err := checkOwner(src, org); err != nil {
		return err
	}
	err := s.store.DeleteCredential(ctx, src, org, name)
	s.credentialChanged(src, org, name)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return aiproxy.Errorf(aiproxy.CodeNotFound, "Credential %q not found.", name)
	}
	if err != nil {
		return err
	}
	return s.record(ctx, aiproxy.AuditCredentialDeleted, org, name, "source="+string(src))
}

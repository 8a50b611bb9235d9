// Package admin holds aiproxy's management operations: orgs, API keys and
// provider credentials. The admin commands and the admin HTTP API both call
// it, so they behave the same.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
	// health, when set, keeps the health of pool keys (pool.go).
	health KeyHealth
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
	if err := checkText("name", name, MaxNameLen); err != nil {
		return aiproxy.Org{}, err
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
	if err := checkText("name", name, MaxNameLen); err != nil {
		return "", aiproxy.APIKey{}, err
	}
	if err := s.checkKeyOptions(opts); err != nil {
		return "", aiproxy.APIKey{}, err
	}
	k := aiproxy.APIKey{OrgKey: org, Name: strings.TrimSpace(name), Role: role,
		CreatedAt: s.now().UTC(), TestOnly: opts.TestOnly, ExpiresAt: opts.ExpiresAt.UTC(), Services: opts.Services}
	if opts.ExpiresAt.IsZero() {
		k.ExpiresAt = time.Time{}
	}
	if err := s.checkHolds(ctx, k); err != nil {
		return "", aiproxy.APIKey{}, err
	}
	full, id, hash, err := aiproxy.NewKeySecret()
	if err != nil {
		return "", aiproxy.APIKey{}, fmt.Errorf("generate key: %w", err)
	}
	k.ID, k.SecretHash = id, hash
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
	if p, ok := aiproxy.PrincipalFrom(ctx); !ok || p.KeyID != id {
		if err := s.checkHolds(ctx, k); err != nil {
			return aiproxy.APIKey{}, err
		}
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
	if err := s.checkCredentialScope(ctx, name); err != nil {
		return aiproxy.Credential{}, err
	}
	schema, ok := s.schemaFor(name)
	if !ok {
		return aiproxy.Credential{}, aiproxy.Errorf(aiproxy.CodeNotFound, "No service uses the credential name %q.", name)
	}
	if err := value.Validate(schema); err != nil {
		return aiproxy.Credential{}, err
	}
	if err := checkCredentialText(value, schema); err != nil {
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
	old := s.oldMasked(ctx, src, org, name)
	err = s.store.PutCredential(ctx, c)
	s.credentialChanged(src, org, name)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return aiproxy.Credential{}, orgNotFound(org)
	}
	if err != nil {
		return aiproxy.Credential{}, fmt.Errorf("store credential: %w", err)
	}
	if err := s.resetKeyHealth(ctx, poolRef(c), old, c.Masked); err != nil {
		return aiproxy.Credential{}, err
	}
	if err := s.record(ctx, aiproxy.AuditCredentialSet, org, name, credentialDetail(c)); err != nil {
		return aiproxy.Credential{}, err
	}
	return s.store.Credential(ctx, src, org, name)
}

// checkCredentialText applies checkText to each field of a valid value,
// or of each key of its pool ("value.keys.ID.FIELD").
func checkCredentialText(value aiproxy.CredentialValue, schema map[string]string) error {
	keys, err := value.PoolKeys(schema)
	if err != nil {
		return err
	}
	for _, k := range keys {
		prefix := "value."
		if k.ID != "" {
			prefix += aiproxy.PoolField + "." + k.ID + "."
		}
		for _, field := range slices.Sorted(maps.Keys(k.Value)) {
			if err := checkText(prefix+field, k.Value[field], MaxCredentialFieldLen); err != nil {
				return err
			}
		}
	}
	return nil
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
	list, err := s.store.Credentials(ctx, src, org)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(list, func(c aiproxy.Credential) bool { return s.checkCredentialScope(ctx, c.Name) != nil }), nil
}

// DeleteCredential removes a credential.
func (s *Service) DeleteCredential(ctx context.Context, src aiproxy.Source, org, name string) error {
	if err := checkOwner(src, org); err != nil {
		return err
	}
	if err := s.checkCredentialScope(ctx, name); err != nil {
		return err
	}
	old := s.oldMasked(ctx, src, org, name)
	err := s.store.DeleteCredential(ctx, src, org, name)
	s.credentialChanged(src, org, name)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return aiproxy.Errorf(aiproxy.CodeNotFound, "Credential %q not found.", name)
	}
	if err != nil {
		return err
	}
	if err := s.resetKeyHealth(ctx, aiproxy.PoolRef{Source: src, OrgKey: org, Name: name}, old, nil); err != nil {
		return err
	}
	return s.record(ctx, aiproxy.AuditCredentialDeleted, org, name, "source="+string(src))
}

// Bounds on what the admin operations store.
const (
	// MaxNameLen bounds org and key names, in bytes.
	MaxNameLen = 200
	// MaxCredentialFieldLen bounds each field of a credential value, in
	// bytes; provider keys are well under 200.
	MaxCredentialFieldLen = 4096
	// MaxKeyLifetime bounds a key's expiry: a key meant to last longer
	// should have none.
	MaxKeyLifetime = 10 * 365 * 24 * time.Hour
)

// checkText refuses text that a database, a log or a terminal would
// mishandle: longer than max bytes, not UTF-8, or holding a character that
// is not printable: NUL and the other control characters (ESC, which starts
// terminal escape sequences, CR, LF, tab, DEL, C1) and invisible format
// characters such as bidirectional overrides. Spaces other than U+0020 are
// refused too, since they hide in plain sight.
func checkText(field, v string, max int) error {
	if len(v) > max {
		return aiproxy.Errorf(aiproxy.CodeInvalid, "%s is longer than %d bytes.", field, max)
	}
	if !utf8.ValidString(v) {
		return aiproxy.Errorf(aiproxy.CodeInvalid, "%s is not valid UTF-8.", field)
	}
	for _, r := range v {
		if !unicode.IsPrint(r) {
			return aiproxy.Errorf(aiproxy.CodeInvalid, "%s may not contain control or invisible characters (found %U).", field, r)
		}
	}
	return nil
}

// errNotHeld is the refusal of an action on a key, credential or limit
// beyond what the acting key holds. The reason is logged, not shown: the
// contract has one message for every refusal.
func errNotHeld(format string, args ...any) error {
	return &aiproxy.Error{Code: aiproxy.CodeForbidden, Message: aiproxy.MsgPermissionDenied, Err: fmt.Errorf(format, args...)}
}

// checkHolds refuses a key (to create or to revoke) that the key acting in
// ctx does not hold all of: a key can only create what it holds. Its role
// (an invoke key never reaches here), its org, its services, its
// test-only flag and its expiry must each be within the actor's. Without
// a principal in ctx the operator acts through the CLI, which holds the
// database itself.
func (s *Service) checkHolds(ctx context.Context, k aiproxy.APIKey) error {
	p, ok := aiproxy.PrincipalFrom(ctx)
	if !ok {
		return nil
	}
	actor, err := s.store.Key(ctx, p.KeyID)
	if err != nil {
		return fmt.Errorf("read the acting key: %w", err)
	}
	return holds(actor, k)
}

// holds reports, as an error, whether actor holds everything k would.
func holds(actor, k aiproxy.APIKey) error {
	switch {
	case actor.Role != aiproxy.RoleAdmin:
		return errNotHeld("key %s is not an admin key", actor.ID)
	case actor.OrgKey != "" && actor.OrgKey != k.OrgKey:
		return errNotHeld("key %s belongs to org %q, not %q", actor.ID, actor.OrgKey, k.OrgKey)
	case actor.TestOnly && !k.TestOnly:
		return errNotHeld("key %s is test-only; so must be the keys it manages", actor.ID)
	case len(actor.Services) > 0 && (len(k.Services) == 0 || !subset(k.Services, actor.Services)):
		return errNotHeld("key %s is limited to the services %v; so must be the keys it manages", actor.ID, actor.Services)
	case !actor.ExpiresAt.IsZero() && (k.ExpiresAt.IsZero() || k.ExpiresAt.After(actor.ExpiresAt)):
		return errNotHeld("key %s expires at %s; so must the keys it manages, by then", actor.ID, actor.ExpiresAt.Format(time.RFC3339))
	}
	return nil
}

func subset(some, all []string) bool {
	for _, s := range some {
		if !slices.Contains(all, s) {
			return false
		}
	}
	return true
}

// checkCredentialScope refuses a credential name to a key limited to some
// services when a service outside them uses it: a scoped admin key manages
// only its services' credentials.
func (s *Service) checkCredentialScope(ctx context.Context, name string) error {
	return checkServiceScope(ctx, s.catalog, func(svc *aiproxy.Service) bool { return svc.CredentialName == name })
}

// checkServiceScope refuses, to a key limited to some services, an action
// that concerns a catalog service outside them: uses tells which services
// the action concerns.
func checkServiceScope(ctx context.Context, c Catalog, uses func(*aiproxy.Service) bool) error {
	p, ok := aiproxy.PrincipalFrom(ctx)
	if !ok || len(p.Services) == 0 {
		return nil
	}
	for _, svc := range c.Services() {
		if uses(svc) && !p.CanUseService(svc.Slug) {
			return errNotHeld("key %s is limited to the services %v, not %s", p.KeyID, p.Services, svc.Slug)
		}
	}
	return nil
}

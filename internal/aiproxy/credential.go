package aiproxy

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Source is where a credential comes from: the org's own (tenant) or the
// platform operator's.
type Source string

// The credential sources.
const (
	SourceTenant   Source = "tenant"
	SourcePlatform Source = "platform"
)

// ValidSource reports whether s is a known source.
func ValidSource(s Source) bool { return s == SourceTenant || s == SourcePlatform }

// CredentialPolicy is the contract's credential_policy of a service.
type CredentialPolicy struct {
	AllowTenantKey        bool
	AllowPlatformKey      bool
	DefaultSource         Source
	FallbackToPlatformKey bool
}

func (p CredentialPolicy) allows(s Source) bool {
	if s == SourceTenant {
		return p.AllowTenantKey
	}
	return p.AllowPlatformKey
}

// Sources returns the sources to try, in order. The default source comes
// first when it is allowed; the other source follows when it is allowed and
// fallback is on, or when it is the only allowed source. A policy that allows
// no source returns the contract's 400 error.
func (p CredentialPolicy) Sources() ([]Source, error) {
	if !p.AllowTenantKey && !p.AllowPlatformKey {
		return nil, ErrPolicyNoSource()
	}
	first := p.DefaultSource
	if first != SourcePlatform {
		first = SourceTenant
	}
	other := SourcePlatform
	if first == SourcePlatform {
		other = SourceTenant
	}
	var out []Source
	if p.allows(first) {
		out = append(out, first)
	}
	if p.allows(other) && (p.FallbackToPlatformKey || !p.allows(first)) {
		out = append(out, other)
	}
	return out, nil
}

// CredentialValue is a credential's secret fields, shaped by the service's
// credential_schema, for example {"key": "..."}; or a pool of such keys
// under PoolField (pool.go), kept as its JSON text.
type CredentialValue map[string]string

// Validate checks the value against a credential_schema: every field the
// schema names must be a non-empty string, and no other field may appear;
// a pool's keys must each pass the same check (PoolKeys).
func (v CredentialValue) Validate(schema map[string]string) error {
	if v.IsPool(schema) {
		_, err := v.PoolKeys(schema)
		return err
	}
	var problems []string
	for _, f := range sortedKeys(schema) {
		if strings.TrimSpace(v[f]) == "" {
			problems = append(problems, fmt.Sprintf("field %q is required", f))
		}
	}
	for _, f := range sortedKeys(v) {
		if _, ok := schema[f]; !ok {
			problems = append(problems, fmt.Sprintf("field %q is not in the credential schema", f))
		}
	}
	if len(problems) > 0 {
		return Errorf(CodeInvalid, "Invalid credential: %s.", strings.Join(problems, "; "))
	}
	return nil
}

// Masked returns a preview of each field that shows at most its last four
// characters, so that an operator can tell keys apart without seeing them.
// A pool shows each key's fields so, under its id, with its weight and cap
// (maskedPool).
func (v CredentialValue) Masked() map[string]string {
	if _, ok := v[PoolField]; ok && len(v) == 1 {
		if out, ok := maskedPool(v); ok {
			return out
		}
	}
	out := make(map[string]string, len(v))
	for f, s := range v {
		out[f] = MaskSecret(s)
	}
	return out
}

// MaskSecret hides all but the last four characters of a secret, and all of
// a secret shorter than twelve characters.
func MaskSecret(s string) string {
	if len(s) < 12 {
		return "****"
	}
	return "****" + s[len(s)-4:]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Credential is a provider credential as stored: sealed, with a masked
// preview. Name is the service's credential_name.
type Credential struct {
	Source Source
	// OrgKey is the owning org for a tenant credential; empty for platform.
	OrgKey    string
	Name      string
	Sealed    []byte
	Masked    map[string]string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CredentialStore keeps sealed credentials, one per source, org and name.
type CredentialStore interface {
	// PutCredential creates or replaces a credential (keeping CreatedAt of
	// the one it replaces). A tenant credential's org must exist.
	PutCredential(ctx context.Context, c Credential) error
	// Credential returns one credential, or ErrNotFound.
	Credential(ctx context.Context, src Source, orgKey, name string) (Credential, error)
	// Credentials lists one org's (or the platform's, for "") credentials.
	Credentials(ctx context.Context, src Source, orgKey string) ([]Credential, error)
	// DeleteCredential removes a credential, or returns ErrNotFound.
	DeleteCredential(ctx context.Context, src Source, orgKey, name string) error
}

// AAD returns the additional authenticated data that binds a sealed value to
// its row, so that a ciphertext copied to another org or name fails to open.
func (c Credential) AAD() []byte {
	return []byte(string(c.Source) + "/" + c.OrgKey + "/" + c.Name)
}

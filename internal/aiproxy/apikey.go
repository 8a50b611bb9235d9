package aiproxy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"strings"
	"time"
)

// Role is what an API key may do.
type Role string

// The roles. An invoke key may discover and invoke services of its org. An
// admin key may also manage its org's keys and credentials. An admin key that
// belongs to no org is a platform-admin key and may do everything.
const (
	RoleInvoke Role = "invoke"
	RoleAdmin  Role = "admin"
)

// ValidRole reports whether r is a known role.
func ValidRole(r Role) bool { return r == RoleInvoke || r == RoleAdmin }

// APIKey is an aiproxy key as stored: only a hash of its secret is kept.
type APIKey struct {
	// ID is the public part of the key, used to look it up and to revoke it.
	ID string
	// OrgKey is the org the key belongs to; empty for a platform key.
	OrgKey     string
	Name       string
	Role       Role
	SecretHash []byte
	CreatedAt  time.Time
	// RevokedAt is zero while the key is active.
	RevokedAt time.Time
	// LastUsedAt is zero until the key is first used.
	LastUsedAt time.Time
	// TestOnly keys may only start provider jobs in the provider's test
	// mode, so that they cannot spend credits.
	TestOnly bool
	// ExpiresAt, when set, is when the key stops working.
	ExpiresAt time.Time
	// Services, when not empty, are the only services (by slug) the key may
	// discover and invoke; empty means every service of its org.
	Services []string
}

// Revoked reports whether the key has been revoked.
func (k APIKey) Revoked() bool { return !k.RevokedAt.IsZero() }

// Expired reports whether the key has expired at a time.
func (k APIKey) Expired(now time.Time) bool { return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) }

// Principal returns who a request made with this key acts as.
func (k APIKey) Principal() Principal {
	return Principal{KeyID: k.ID, OrgKey: k.OrgKey, Role: k.Role, TestOnly: k.TestOnly, Services: k.Services}
}

// KeyStore keeps API keys.
type KeyStore interface {
	// CreateKey stores a new key; it returns ErrConflict if the ID exists and
	// ErrNotFound if its org does not exist.
	CreateKey(ctx context.Context, k APIKey) error
	// Key returns one key by ID, or ErrNotFound.
	Key(ctx context.Context, id string) (APIKey, error)
	// Keys returns the keys of one org (platform keys for ""), oldest first.
	Keys(ctx context.Context, orgKey string) ([]APIKey, error)
	// RevokeKey marks a key revoked; it returns ErrNotFound for an unknown ID.
	// Revoking a revoked key keeps its first revocation time.
	RevokeKey(ctx context.Context, id string, at time.Time) error
	// TouchKey records that a key was used at a time.
	TouchKey(ctx context.Context, id string, at time.Time) error
}

// keyPrefix starts every aiproxy key so that scanners and people recognise it.
const keyPrefix = "aip_"

// keyAlphabet is the base32 alphabet of key secrets.
const keyAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

var keyEncoding = base32.NewEncoding(keyAlphabet).WithPadding(base32.NoPadding)

// NewKeySecret makes a fresh random key. It returns the full key, shown once
// to its owner, and the ID and secret hash to store.
func NewKeySecret() (full, id string, hash []byte, err error) {
	return newSecret(keyPrefix)
}

// newSecret makes a random credential with a prefix: 64 bits of id and 256
// of secret, of which only the hash is kept.
func newSecret(prefix string) (full, id string, hash []byte, err error) {
	idBytes := make([]byte, 8)
	secret := make([]byte, 32)
	if _, err := rand.Read(idBytes); err != nil {
		return "", "", nil, err
	}
	if _, err := rand.Read(secret); err != nil {
		return "", "", nil, err
	}
	id = hex.EncodeToString(idBytes)
	s := keyEncoding.EncodeToString(secret)
	return prefix + id + "_" + s, id, HashKeySecret(s), nil
}

// ParseKey splits a full key into its ID and secret. ok is false when the
// text is not shaped like an aiproxy key.
func ParseKey(full string) (id, secret string, ok bool) {
	rest, found := strings.CutPrefix(full, keyPrefix)
	if !found {
		return "", "", false
	}
	id, secret, found = strings.Cut(rest, "_")
	if !found || len(id) != 16 || len(secret) != 52 {
		return "", "", false
	}
	// Checked by alphabet: hex and base32 decoders also take upper case,
	// and the base32 one skips '\r' and '\n'.
	if strings.Trim(id, "0123456789abcdef") != "" || strings.Trim(secret, keyAlphabet) != "" {
		return "", "", false
	}
	return id, secret, true
}

// HashKeySecret returns the stored hash of a key secret. The secret carries
// 256 random bits, so a fast hash is enough to make the stored value useless
// to a reader of the database.
func HashKeySecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// SecretMatches reports in constant time whether secret hashes to hash.
func SecretMatches(secret string, hash []byte) bool {
	return subtle.ConstantTimeCompare(HashKeySecret(secret), hash) == 1
}

// PrincipalKind says how a request proved who it acts as.
type PrincipalKind string

// The kinds of principal. A key is an org's or the platform's aiproxy key
// (its backend); a user token is minted by an org key for one user (a
// browser); a sign-in is a JWT from an identity provider the org trusts.
const (
	KindKey       PrincipalKind = "key"
	KindUserToken PrincipalKind = "user_token"
	KindSignIn    PrincipalKind = "sign_in"
	// KindLiveSession is a provider session token that aiproxy minted for
	// one live avatar session (livesession.go): it may only start, keep
	// alive and stop that one session.
	KindLiveSession PrincipalKind = "live_session"
)

// Principal is who an authenticated request acts as: an org (or the
// platform), the key behind it, optionally a user within the org, and what
// it may do.
type Principal struct {
	// Kind is how the request authenticated; "" means KindKey.
	Kind PrincipalKind
	// KeyID is the aiproxy key behind the call: the key itself, or the key
	// that minted the user token; "" for a sign-in.
	KeyID  string
	OrgKey string
	Role   Role
	// User is the end user within OrgKey the call acts for, or "" for the
	// org itself. It comes only from a verified token or JWT, or from an
	// org key's X-AIProxy-User header (the org's backend vouching).
	User string
	// TokenID is the user token's id for KindUserToken.
	TokenID string
	// TestOnly is set for a test-only key.
	TestOnly bool
	// Services, when not empty, limits the key to these services.
	Services []string
	// Actions, when not empty, limits the principal to these endpoints,
	// each "service/action".
	Actions []string
	// ExpiresAt is when a user token or sign-in stops working; zero for
	// a key.
	ExpiresAt time.Time
	// LiveSession is the provider session id of a KindLiveSession
	// principal: the only session it may touch.
	LiveSession string
}

// Member reports whether the principal is a user acting for themselves
// (a user token, or a sign-in without an admin group): such a principal
// reaches only its own objects, never the whole org's, and manages
// nothing. An org key naming a user in a header is not a member: the
// user is attributed, the reach stays the org's.
//
// A live-session principal is always a member, with or without a user: it
// reaches one session and nothing else.
func (p Principal) Member() bool {
	if p.Kind == KindLiveSession {
		return true
	}
	return p.User != "" && p.Kind != "" && p.Kind != KindKey && p.Role != RoleAdmin
}

// CanUseAction reports whether the principal may call one endpoint of a
// service it may use.
func (p Principal) CanUseAction(service, action string) bool {
	if !p.CanUseService(service) {
		return false
	}
	if len(p.Actions) == 0 {
		return true
	}
	for _, a := range p.Actions {
		if a == service+"/"+action {
			return true
		}
	}
	return false
}

// CanUseService reports whether the principal's key may use a service.
func (p Principal) CanUseService(slug string) bool {
	if len(p.Services) == 0 {
		return true
	}
	for _, s := range p.Services {
		if s == slug {
			return true
		}
	}
	return false
}

// PlatformAdmin reports whether the principal is a platform administrator.
func (p Principal) PlatformAdmin() bool { return p.OrgKey == "" && p.Role == RoleAdmin }

// CanUseOrg reports whether the principal may discover and invoke in an org.
func (p Principal) CanUseOrg(org string) bool { return p.PlatformAdmin() || p.OrgKey == org }

// CanAdminOrg reports whether the principal may manage an org's keys and
// credentials.
func (p Principal) CanAdminOrg(org string) bool {
	return p.PlatformAdmin() || (p.OrgKey == org && p.Role == RoleAdmin)
}

type principalKey struct{}

// WithPrincipal returns a context that carries who a request acts as.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal a context carries, if any.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

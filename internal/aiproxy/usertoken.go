package aiproxy

import (
	"context"
	"strings"
	"time"
)

// A user token lets a browser act for one user of an org without holding
// the org's key: the org's backend mints it with its key, narrowed to at
// most that key's grants, for minutes. Only its hash is stored.

// UserToken is a minted user token as stored.
type UserToken struct {
	// ID is the public part of the token, used to look it up and revoke it.
	ID     string
	OrgKey string
	// User is the user within the org the token acts for.
	User string
	// KeyID is the key that minted the token; the token dies with it.
	KeyID      string
	SecretHash []byte
	// Services and Actions narrow what the token may call; empty means
	// everything its minting key may.
	Services []string
	Actions  []string
	// MaxSpendMicros, when positive, is the token's own budget in
	// micro-USD for its whole life.
	MaxSpendMicros int64
	// SingleUse tokens work for one request.
	SingleUse bool
	TestOnly  bool
	CreatedAt time.Time
	ExpiresAt time.Time
	// RevokedAt is zero while the token is not revoked.
	RevokedAt time.Time
	// UsedAt is when a single-use token was spent; zero before.
	UsedAt time.Time
}

// Valid reports whether the token may be used at a time: neither revoked,
// expired nor, for a single-use token, spent.
func (t UserToken) Valid(now time.Time) bool {
	return t.RevokedAt.IsZero() && now.Before(t.ExpiresAt) && (!t.SingleUse || t.UsedAt.IsZero())
}

// Principal returns who a request made with the token acts as. role is
// always invoke: a token never manages anything.
func (t UserToken) Principal() Principal {
	return Principal{Kind: KindUserToken, KeyID: t.KeyID, OrgKey: t.OrgKey, Role: RoleInvoke, User: t.User,
		TokenID: t.ID, TestOnly: t.TestOnly, Services: t.Services, Actions: t.Actions, ExpiresAt: t.ExpiresAt}
}

// UserTokenStore keeps user tokens.
type UserTokenStore interface {
	// CreateUserToken stores a new token; ErrConflict if the ID exists,
	// ErrNotFound if its org does not.
	CreateUserToken(ctx context.Context, t UserToken) error
	// UserToken returns one token by ID, or ErrNotFound.
	UserToken(ctx context.Context, id string) (UserToken, error)
	// UserTokens returns an org's tokens that have not expired at now,
	// for one user or, with user "", for every user; newest first.
	UserTokens(ctx context.Context, orgKey, user string, now time.Time) ([]UserToken, error)
	// RevokeUserToken marks an org's token revoked; ErrNotFound for a
	// token of another org or none. The first revocation time stays.
	RevokeUserToken(ctx context.Context, orgKey, id string, at time.Time) error
	// SpendUserToken marks a single-use token used, atomically: it
	// returns false when the token was already used (or revoked, or is
	// unknown), so that two racing requests cannot both spend it.
	SpendUserToken(ctx context.Context, id string, at time.Time) (bool, error)
	// DeleteExpiredUserTokens removes tokens that expired before a time
	// and returns how many.
	DeleteExpiredUserTokens(ctx context.Context, before time.Time) (int64, error)
}

// userTokenPrefix starts every user token, so that it is told apart from
// an org key at a glance and by scanners.
const userTokenPrefix = "aipt_"

// User token lifetimes: the default, the floor and the ceiling an org's
// settings may choose within.
const (
	DefaultUserTokenTTL = 10 * time.Minute
	MinUserTokenTTL     = 10 * time.Second
	MaxUserTokenTTL     = time.Hour
)

// NewUserTokenSecret makes a fresh random user token: the full token,
// shown once to the minter, and the ID and hash to store.
func NewUserTokenSecret() (full, id string, hash []byte, err error) {
	return newSecret(userTokenPrefix)
}

// ParseUserToken splits a full user token into its ID and secret; ok is
// false when the text is not shaped like one.
func ParseUserToken(full string) (id, secret string, ok bool) {
	rest, found := strings.CutPrefix(full, userTokenPrefix)
	if !found {
		return "", "", false
	}
	return ParseKey(keyPrefix + rest)
}

// LooksLikeUserToken reports whether text starts like a user token, for
// redaction and for choosing how to verify a credential.
func LooksLikeUserToken(text string) bool { return strings.HasPrefix(text, userTokenPrefix) }

// ValidUser reports whether a user id is acceptable: 1 to 128 printable
// characters without spaces or control characters.
func ValidUser(user string) bool {
	if user == "" || len(user) > 128 {
		return false
	}
	for _, r := range user {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

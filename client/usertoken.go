package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// headerUser is the header in which an org key names the user a call is
// made for.
const headerUser = "X-AIProxy-User"

// WithUser returns a copy of the client whose calls an org key makes for
// one user of the org (X-AIProxy-User): the objects and jobs they create
// are that user's. aiproxy ignores the header on a client built with a
// UserToken, which carries its own user. "" returns a copy that names no
// user.
func (c *Client) WithUser(user string) *Client {
	cp := *c
	cp.user = user
	return &cp
}

// MintUserTokenRequest asks for a user token. Only User is required; the
// zero value of every other field means the server's default.
type MintUserTokenRequest struct {
	// User is the org's own name for the end user, 1 to 128 characters
	// without spaces.
	User string
	// Services and Actions ("service/action") narrow what the token may
	// call; empty means everything the minting key may call.
	Services []string
	Actions  []string
	// TTL is the token's life, rounded up to whole seconds; the server
	// accepts 10s to 1h (its --user-token-max-ttl) and defaults to 10m.
	TTL time.Duration
	// MaxSpend caps, in US dollars, what the token may spend in its life;
	// 0 means no cap of its own.
	MaxSpend float64
	// SingleUse makes the token valid for one request.
	SingleUse bool
}

// mintBody is the JSON of POST /orgs/{org}/user-tokens/.
type mintBody struct {
	User       string   `json:"user"`
	Services   []string `json:"services,omitempty"`
	Actions    []string `json:"actions,omitempty"`
	TTLSeconds int64    `json:"ttl_seconds,omitempty"`
	MaxSpend   float64  `json:"max_spend,omitempty"`
	SingleUse  bool     `json:"single_use,omitempty"`
}

// Grants is what a token or key may call; empty lists mean every service
// or action of its org.
type Grants struct {
	Services []string `json:"services"`
	Actions  []string `json:"actions"`
}

// UserToken is a user token as aiproxy describes it. Token, the secret,
// is set only in the answer of MintUserToken.
type UserToken struct {
	ID    string `json:"id"`
	Token string `json:"token,omitempty"`
	User  string `json:"user"`
	// KeyID is the API key that minted the token; revoking that key
	// invalidates the token.
	KeyID  string `json:"key_id"`
	Grants Grants `json:"grants"`
	// MaxSpend is the token's own spending cap in US dollars, or nil.
	MaxSpend  *float64   `json:"max_spend"`
	SingleUse bool       `json:"single_use"`
	TestOnly  bool       `json:"test_only"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	UsedAt    *time.Time `json:"used_at"`
}

// Me is who aiproxy takes the client's credential for.
type Me struct {
	Org string `json:"org"`
	// Kind is "key", "user_token" or "sign_in".
	Kind string `json:"kind"`
	Role string `json:"role"`
	// User is the user the calls act for, or "" for the org itself.
	User string `json:"user"`
	// Member says that the caller reaches only its own user's objects.
	Member   bool   `json:"member"`
	KeyID    string `json:"key_id"`
	TestOnly bool   `json:"test_only"`
	Grants   Grants `json:"grants"`
}

// MintUserToken mints a user token for one user of the client's org. Only
// an org's API key may mint; hand the answer's Token to the user's browser
// or app, which builds its client with Config.UserToken.
func (c *Client) MintUserToken(ctx context.Context, req MintUserTokenRequest) (UserToken, error) {
	body := mintBody{User: req.User, Services: req.Services, Actions: req.Actions,
		MaxSpend: req.MaxSpend, SingleUse: req.SingleUse}
	if req.TTL > 0 {
		body.TTLSeconds = int64((req.TTL + time.Second - 1) / time.Second)
	}
	data, err := json.Marshal(body)
	if err != nil {
		return UserToken{}, fmt.Errorf("encode user token request: %w", err)
	}
	var out UserToken
	return out, c.sendJSON(ctx, http.MethodPost, c.orgURL("user-tokens"), data, &out)
}

// ListUserTokens lists the org's unexpired user tokens (without their
// secrets), of one user when user is not "". Revoked tokens are listed
// until they expire, with RevokedAt set.
func (c *Client) ListUserTokens(ctx context.Context, user string) ([]UserToken, error) {
	u := c.orgURL("user-tokens")
	if user != "" {
		u += "?" + url.Values{"user": {user}}.Encode()
	}
	var out []UserToken
	return out, c.getJSON(ctx, u, &out)
}

// RevokeUserToken revokes a user token by its id and returns it.
func (c *Client) RevokeUserToken(ctx context.Context, id string) (UserToken, error) {
	var out UserToken
	return out, c.sendJSON(ctx, http.MethodDelete, c.orgURL("user-tokens", id), nil, &out)
}

// Me tells who the client's key or token is in its org: its kind, role,
// user and grants.
func (c *Client) Me(ctx context.Context) (Me, error) {
	var out Me
	return out, c.getJSON(ctx, c.orgURL("me"), &out)
}

// sendJSON sends a request with an optional JSON body and decodes the
// JSON answer into out.
func (c *Client) sendJSON(ctx context.Context, method, u string, body []byte, out any) error {
	req, err := c.newRequest(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	return resp.JSON(out)
}

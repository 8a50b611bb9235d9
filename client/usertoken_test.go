package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/client"
)

// asUser returns a client that authenticates with a user token.
func (s *server) asUser(t *testing.T, token string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{URL: s.url, Org: s.org, UserToken: token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestUserTokenConfig(t *testing.T) {
	_, err := client.New(client.Config{URL: "http://127.0.0.1:1", Org: "o", APIKey: "aip_x", UserToken: "aipt_y"})
	if err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("both a key and a token: %v", err)
	}
	_, err = client.New(client.Config{URL: "http://127.0.0.1:1", Org: "o"})
	if err == nil || !strings.Contains(err.Error(), "UserToken") {
		t.Errorf("neither a key nor a token: %v", err)
	}
}

// TestUserTokens mints, uses, lists and revokes user tokens against a real
// server: the token acts as its user with its grants, the org key sees
// every token, a revoked or spent token is invalid, and only a key mints.
func TestUserTokens(t *testing.T) {
	s := startServer(t)
	org := s.client(t)
	ctx := context.Background()

	alice, err := org.MintUserToken(ctx, client.MintUserTokenRequest{User: "alice", Services: []string{"elevenlabs"},
		TTL: 10500 * time.Millisecond, MaxSpend: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(alice.Token, "aipt_") || alice.User != "alice" || alice.KeyID == "" ||
		!slices.Equal(alice.Grants.Services, []string{"elevenlabs"}) || alice.MaxSpend == nil || *alice.MaxSpend != 1.5 ||
		alice.SingleUse || alice.RevokedAt != nil {
		t.Fatalf("minted %+v", alice)
	}
	if life := alice.ExpiresAt.Sub(alice.CreatedAt); life != 11*time.Second {
		t.Errorf("a TTL of 10.5s lives %v, want 11s (rounded up)", life)
	}
	bob, err := org.MintUserToken(ctx, client.MintUserTokenRequest{User: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if life := bob.ExpiresAt.Sub(bob.CreatedAt); life != 10*time.Minute || len(bob.Grants.Services) != 0 || bob.MaxSpend != nil {
		t.Errorf("bob's defaults: life %v, %+v", life, bob)
	}

	ac := s.asUser(t, alice.Token)
	me, err := ac.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if me.Org != "demo" || me.Kind != "user_token" || me.User != "alice" || !me.Member || me.KeyID != alice.KeyID ||
		!slices.Equal(me.Grants.Services, []string{"elevenlabs"}) {
		t.Errorf("alice's me = %+v", me)
	}
	if _, err := ac.ElevenLabs().ListVoices(ctx); err != nil {
		t.Errorf("alice lists voices: %v", err)
	}
	if _, err := ac.HeyGen().ListAvatars(ctx); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("alice on heygen (not granted) = %v, want forbidden", err)
	}
	if _, err := ac.MintUserToken(ctx, client.MintUserTokenRequest{User: "mallory"}); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("a user token minting = %v, want forbidden", err)
	}
	if _, err := ac.ListUserTokens(ctx, ""); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("a user token listing tokens = %v, want forbidden", err)
	}

	me, err = org.Me(ctx)
	if err != nil || me.Kind != "key" || me.User != "" || me.Member || me.Role != "admin" {
		t.Errorf("the org key's me = %+v, %v", me, err)
	}
	me, err = org.WithUser("carol").Me(ctx)
	if err != nil || me.User != "carol" || me.Kind != "key" {
		t.Errorf("the org key acting for carol: me = %+v, %v", me, err)
	}
	if me, err := org.Me(ctx); err != nil || me.User != "" {
		t.Errorf("WithUser changed the original client: %+v, %v", me, err)
	}

	all, err := org.ListUserTokens(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, tok := range all {
		ids = append(ids, tok.ID)
		if tok.Token != "" {
			t.Errorf("a listed token carries its secret: %+v", tok)
		}
	}
	if slices.Sort(ids); !slices.Equal(ids, sorted(alice.ID, bob.ID)) {
		t.Errorf("listed %v, want alice's and bob's", ids)
	}
	mine, err := org.ListUserTokens(ctx, "alice")
	if err != nil || len(mine) != 1 || mine[0].ID != alice.ID || mine[0].User != "alice" {
		t.Errorf("alice's tokens = %+v, %v", mine, err)
	}

	revoked, err := org.RevokeUserToken(ctx, alice.ID)
	if err != nil || revoked.ID != alice.ID || revoked.RevokedAt == nil {
		t.Fatalf("revoke = %+v, %v", revoked, err)
	}
	var e *client.Error
	if _, err := ac.Me(ctx); !errors.As(err, &e) || e.Status != 401 || e.Detail != "Invalid token." {
		t.Errorf("a revoked token = %v, want 401 Invalid token.", err)
	}
	if _, err := org.RevokeUserToken(ctx, "nope"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("revoking an unknown id = %v, want not found", err)
	}
	if _, err := org.MintUserToken(ctx, client.MintUserTokenRequest{User: "has space"}); !errors.Is(err, client.ErrInvalid) {
		t.Errorf("a user with a space = %v, want invalid", err)
	}
	if _, err := org.MintUserToken(ctx, client.MintUserTokenRequest{User: "dave", TTL: 2 * time.Hour}); !errors.Is(err, client.ErrInvalid) {
		t.Errorf("a TTL of 2h = %v, want invalid", err)
	}

	once, err := org.MintUserToken(ctx, client.MintUserTokenRequest{User: "erin", SingleUse: true})
	if err != nil || !once.SingleUse {
		t.Fatalf("single-use mint = %+v, %v", once, err)
	}
	oc := s.asUser(t, once.Token)
	if _, err := oc.Me(ctx); err != nil {
		t.Errorf("a single-use token's first use: %v", err)
	}
	if _, err := oc.Me(ctx); !errors.Is(err, client.ErrUnauthenticated) {
		t.Errorf("a single-use token's second use = %v, want unauthenticated", err)
	}
}

func sorted(v ...string) []string {
	slices.Sort(v)
	return v
}

// TestBudgetExceededIsTyped checks that a 402 in aiproxy's shape is an
// *Error matching ErrBudgetExceeded.
func TestBudgetExceededIsTyped(t *testing.T) {
	c := startServerWithAnswer(t, 402, `{"detail":"The budget of this month is spent.","code":"budget_exceeded"}`)
	_, err := c.Services(context.Background())
	var e *client.Error
	if !errors.Is(err, client.ErrBudgetExceeded) || !errors.As(err, &e) || e.Status != 402 || e.Detail != "The budget of this month is spent." {
		t.Errorf("402 = %v", err)
	}
}

// startServerWithAnswer returns a client of a server that gives every
// request the same JSON answer, for shapes the real server cannot be made
// to give yet.
func startServerWithAnswer(t *testing.T, status int, body string) *client.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(client.Config{URL: srv.URL, Org: "demo", APIKey: "aip_test"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

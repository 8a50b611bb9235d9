package storetest

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// UserTokenStores is what an engine provides for user tokens. Like
// GuardrailStores it is asserted rather than required by Stores.
type UserTokenStores interface {
	Stores
	aiproxy.UserTokenStore
}

func userTokenStores(t *testing.T, open func(t *testing.T) Stores) UserTokenStores {
	t.Helper()
	s, ok := open(t).(UserTokenStores)
	if !ok {
		t.Fatal("the store does not implement aiproxy.UserTokenStore")
	}
	return s
}

// runUserTokens holds every engine to the user token contract: what is
// minted reads back whole, tokens are listed per org and user without the
// expired ones, one org cannot revoke another's, a single-use token is
// spent exactly once however many requests race for it, and expired
// tokens can be removed.
func runUserTokens(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("CreateThenGet", func(t *testing.T) { testUserTokenRoundTrip(t, userTokenStores(t, open)) })
	t.Run("DuplicateIDIsConflict", func(t *testing.T) { testUserTokenConflict(t, userTokenStores(t, open)) })
	t.Run("UnknownOrgOrKeyIsNotFound", func(t *testing.T) { testUserTokenUnknownOwner(t, userTokenStores(t, open)) })
	t.Run("NoExpiryIsRefused", func(t *testing.T) { testUserTokenNoExpiry(t, userTokenStores(t, open)) })
	t.Run("ListPerOrgAndUser", func(t *testing.T) { testUserTokenList(t, userTokenStores(t, open)) })
	t.Run("RevokeScopedByOrg", func(t *testing.T) { testUserTokenRevoke(t, userTokenStores(t, open)) })
	t.Run("SpendOnce", func(t *testing.T) { testUserTokenSpendRace(t, userTokenStores(t, open)) })
	t.Run("SpendRevokedOrUnknown", func(t *testing.T) { testUserTokenSpendRefused(t, userTokenStores(t, open)) })
	t.Run("DeleteExpired", func(t *testing.T) { testUserTokenDeleteExpired(t, userTokenStores(t, open)) })
}

// userTokenOwners creates orgs acme and beta with keys ka and kb.
func userTokenOwners(t *testing.T, s UserTokenStores) {
	t.Helper()
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	mustCreateOrg(ctx, t, s, "beta")
	mustCreateKey(ctx, t, s, newKey("ka", "acme", aiproxy.RoleInvoke, 0))
	mustCreateKey(ctx, t, s, newKey("kb", "beta", aiproxy.RoleInvoke, 0))
}

// newUserToken is a token of an org's user minted by its key at minute
// created, for ttl minutes.
func newUserToken(id, org, user string, created, ttl int) aiproxy.UserToken {
	key := map[string]string{"acme": "ka", "beta": "kb"}[org]
	return aiproxy.UserToken{ID: id, OrgKey: org, User: user, KeyID: key, SecretHash: aiproxy.HashKeySecret("s-" + id),
		CreatedAt: at(created), ExpiresAt: at(created + ttl)}
}

func mustCreateUserToken(t *testing.T, s UserTokenStores, tok aiproxy.UserToken) {
	t.Helper()
	if err := s.CreateUserToken(t.Context(), tok); err != nil {
		t.Fatalf("CreateUserToken(%q): %v", tok.ID, err)
	}
}

func mustUserToken(t *testing.T, s UserTokenStores, id string) aiproxy.UserToken {
	t.Helper()
	tok, err := s.UserToken(t.Context(), id)
	if err != nil {
		t.Fatalf("UserToken(%q): %v", id, err)
	}
	return tok
}

// sameUTC reports whether got is the instant want, in UTC (or both zero).
func sameUTC(got, want time.Time) bool {
	return sameTime(got, want) && got.Location() == time.UTC
}

func checkUserToken(t *testing.T, what string, got, want aiproxy.UserToken) {
	t.Helper()
	ok := got.ID == want.ID && got.OrgKey == want.OrgKey && got.User == want.User && got.KeyID == want.KeyID &&
		bytes.Equal(got.SecretHash, want.SecretHash) && slices.Equal(got.Services, want.Services) &&
		slices.Equal(got.Actions, want.Actions) && got.MaxSpendMicros == want.MaxSpendMicros &&
		got.SingleUse == want.SingleUse && got.TestOnly == want.TestOnly &&
		sameUTC(got.CreatedAt, want.CreatedAt) && sameUTC(got.ExpiresAt, want.ExpiresAt) &&
		sameUTC(got.RevokedAt, want.RevokedAt) && sameUTC(got.UsedAt, want.UsedAt)
	if !ok {
		t.Fatalf("%s =\n\t%+v\nwant\n\t%+v", what, got, want)
	}
}

func tokenIDs(toks []aiproxy.UserToken) []string {
	var ids []string
	for _, tok := range toks {
		ids = append(ids, tok.ID)
	}
	return ids
}

func testUserTokenRoundTrip(t *testing.T, s UserTokenStores) {
	userTokenOwners(t, s)
	// Every field set, with times below the millisecond and away from UTC.
	full := aiproxy.UserToken{ID: "ut-full", OrgKey: "acme", User: "alice@example.com", KeyID: "ka",
		SecretHash: aiproxy.HashKeySecret("secret"), Services: []string{"heygen", "elevenlabs"},
		Actions: []string{"tts", "generate-video"}, MaxSpendMicros: 2_500_000, SingleUse: true, TestOnly: true,
		CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute), RevokedAt: t0.Add(time.Minute),
		UsedAt: t0.Add(30 * time.Second)}
	// Nothing optional set.
	bare := newUserToken("ut-bare", "beta", "bob", 0, 10)
	mustCreateUserToken(t, s, full)
	mustCreateUserToken(t, s, bare)

	want := full
	ms := func(tm time.Time) time.Time { return tm.Truncate(time.Millisecond).UTC() }
	want.CreatedAt, want.ExpiresAt, want.RevokedAt, want.UsedAt = ms(full.CreatedAt), ms(full.ExpiresAt),
		ms(full.RevokedAt), ms(full.UsedAt)
	checkUserToken(t, "UserToken(ut-full)", mustUserToken(t, s, "ut-full"), want)
	got := mustUserToken(t, s, "ut-bare")
	checkUserToken(t, "UserToken(ut-bare)", got, bare)
	if got.Services != nil || got.Actions != nil || !got.RevokedAt.IsZero() || !got.UsedAt.IsZero() {
		t.Fatalf("bare token = %+v, want no services, actions, revocation or use", got)
	}
	listed, err := s.UserTokens(t.Context(), "acme", "alice@example.com", t0)
	if err != nil || len(listed) != 1 {
		t.Fatalf("UserTokens(acme, alice) = %v, %v; want ut-full", tokenIDs(listed), err)
	}
	checkUserToken(t, "listed ut-full", listed[0], want)
	if _, err := s.UserToken(t.Context(), "ut-none"); !errors.Is(err, aiproxy.ErrNotFound) {
		t.Fatalf("UserToken(unknown) error = %v, want ErrNotFound", err)
	}
}

func testUserTokenConflict(t *testing.T, s UserTokenStores) {
	userTokenOwners(t, s)
	want := newUserToken("ut-1", "acme", "alice", 1, 10)
	mustCreateUserToken(t, s, want)
	for _, again := range []aiproxy.UserToken{newUserToken("ut-1", "acme", "alice", 2, 10),
		newUserToken("ut-1", "beta", "mallory", 3, 10)} {
		if err := s.CreateUserToken(t.Context(), again); !errors.Is(err, aiproxy.ErrConflict) {
			t.Fatalf("CreateUserToken(duplicate ID, org %s) error = %v, want ErrConflict", again.OrgKey, err)
		}
	}
	checkUserToken(t, "UserToken(ut-1)", mustUserToken(t, s, "ut-1"), want)
}

func testUserTokenUnknownOwner(t *testing.T, s UserTokenStores) {
	userTokenOwners(t, s)
	ghostOrg := newUserToken("ut-ghost-org", "acme", "alice", 1, 10)
	ghostOrg.OrgKey = "ghost"
	ghostKey := newUserToken("ut-ghost-key", "acme", "alice", 1, 10)
	ghostKey.KeyID = "k-none"
	for _, tok := range []aiproxy.UserToken{ghostOrg, ghostKey} {
		if err := s.CreateUserToken(t.Context(), tok); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("CreateUserToken(%s) error = %v, want ErrNotFound", tok.ID, err)
		}
		if _, err := s.UserToken(t.Context(), tok.ID); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("refused token %s was stored: %v", tok.ID, err)
		}
	}
}

// testUserTokenNoExpiry checks that a token cannot live forever: one
// without an expiry would never be listed as live, nor ever be deleted.
func testUserTokenNoExpiry(t *testing.T, s UserTokenStores) {
	userTokenOwners(t, s)
	tok := newUserToken("ut-forever", "acme", "alice", 1, 10)
	tok.ExpiresAt = time.Time{}
	if err := s.CreateUserToken(t.Context(), tok); err == nil {
		t.Fatal("CreateUserToken without an expiry succeeded, want an error")
	}
	if _, err := s.UserToken(t.Context(), tok.ID); !errors.Is(err, aiproxy.ErrNotFound) {
		t.Fatalf("a token without an expiry was stored: %v", err)
	}
}

func testUserTokenList(t *testing.T, s UserTokenStores) {
	userTokenOwners(t, s)
	revoked := newUserToken("ut-f", "acme", "alice", 4, 10)
	revoked.RevokedAt = at(5)
	// Created out of order, with IDs that do not sort by age, and two
	// created in the same millisecond.
	for _, tok := range []aiproxy.UserToken{
		newUserToken("ut-b", "acme", "alice", 3, 10),
		newUserToken("ut-a", "acme", "alice", 1, 10),
		newUserToken("ut-z", "acme", "alice", 0, 5),  // expired at minute 5
		newUserToken("ut-c", "acme", "alice", 3, 10), // same time as ut-b
		newUserToken("ut-y", "acme", "bob", 2, 10),
		newUserToken("ut-x", "acme", "bob", 1, 5), // expires at minute 6 itself
		revoked,
		newUserToken("ut-g", "beta", "alice", 5, 10),
	} {
		mustCreateUserToken(t, s, tok)
	}
	for _, c := range []struct {
		org, user string
		now       int
		want      []string
	}{
		{"acme", "alice", 6, []string{"ut-f", "ut-c", "ut-b", "ut-a"}},
		{"acme", "", 6, []string{"ut-f", "ut-c", "ut-b", "ut-y", "ut-a"}},
		{"acme", "bob", 6, []string{"ut-y"}},
		{"acme", "", 0, []string{"ut-f", "ut-c", "ut-b", "ut-y", "ut-x", "ut-a", "ut-z"}},
		{"acme", "", 20, nil},
		{"beta", "", 6, []string{"ut-g"}},
		{"beta", "bob", 6, nil},
		{"ghost", "", 6, nil},
	} {
		got, err := s.UserTokens(t.Context(), c.org, c.user, at(c.now))
		if err != nil {
			t.Fatalf("UserTokens(%q, %q, minute %d): %v", c.org, c.user, c.now, err)
		}
		for _, tok := range got {
			if tok.OrgKey != c.org || (c.user != "" && tok.User != c.user) {
				t.Fatalf("UserTokens(%q, %q) returned %s of %s/%s", c.org, c.user, tok.ID, tok.OrgKey, tok.User)
			}
		}
		checkStrings(t, "UserTokens("+c.org+", "+c.user+")", tokenIDs(got), c.want)
	}
}

func testUserTokenRevoke(t *testing.T, s UserTokenStores) {
	userTokenOwners(t, s)
	ctx := t.Context()
	want := newUserToken("ut-1", "acme", "alice", 1, 10)
	mustCreateUserToken(t, s, want)
	if err := s.RevokeUserToken(ctx, "beta", "ut-1", at(2)); !errors.Is(err, aiproxy.ErrNotFound) {
		t.Fatalf("RevokeUserToken(another org's token) error = %v, want ErrNotFound", err)
	}
	checkUserToken(t, "token after another org's revocation", mustUserToken(t, s, "ut-1"), want)
	if err := s.RevokeUserToken(ctx, "acme", "ut-none", at(2)); !errors.Is(err, aiproxy.ErrNotFound) {
		t.Fatalf("RevokeUserToken(unknown) error = %v, want ErrNotFound", err)
	}
	for _, n := range []int{3, 5, 2} {
		if err := s.RevokeUserToken(ctx, "acme", "ut-1", at(n)); err != nil {
			t.Fatalf("RevokeUserToken at minute %d: %v", n, err)
		}
	}
	want.RevokedAt = at(3)
	got := mustUserToken(t, s, "ut-1")
	checkUserToken(t, "revoked token", got, want)
	if got.Valid(at(4)) {
		t.Fatal("a revoked token is still valid")
	}
}

// testUserTokenSpendRace spends one single-use token from 20 goroutines
// at once: exactly one wins, and the time it spent it at is kept.
func testUserTokenSpendRace(t *testing.T, s UserTokenStores) {
	userTokenOwners(t, s)
	tok := newUserToken("ut-once", "acme", "alice", 0, 10)
	tok.SingleUse = true
	mustCreateUserToken(t, s, tok)
	const racers = 20
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []int
		errs    []error
	)
	start := make(chan struct{})
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			won, err := s.SpendUserToken(t.Context(), "ut-once", at(1+i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if won {
				winners = append(winners, i)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) != 0 {
		t.Fatalf("racing SpendUserToken: %v", errors.Join(errs...))
	}
	if len(winners) != 1 {
		t.Fatalf("%d of %d racing spenders won, want exactly 1", len(winners), racers)
	}
	got := mustUserToken(t, s, "ut-once")
	if !sameUTC(got.UsedAt, at(1+winners[0])) {
		t.Fatalf("UsedAt = %v, want the winner's %v", got.UsedAt, at(1+winners[0]))
	}
	if got.Valid(at(9)) {
		t.Fatal("a spent single-use token is still valid")
	}
	if won, err := s.SpendUserToken(t.Context(), "ut-once", at(30)); err != nil || won {
		t.Fatalf("SpendUserToken(spent) = %v, %v; want false", won, err)
	}
	if got := mustUserToken(t, s, "ut-once"); !sameUTC(got.UsedAt, at(1+winners[0])) {
		t.Fatalf("a second spend moved UsedAt to %v", got.UsedAt)
	}
}

func testUserTokenSpendRefused(t *testing.T, s UserTokenStores) {
	userTokenOwners(t, s)
	ctx := t.Context()
	tok := newUserToken("ut-revoked", "acme", "alice", 0, 10)
	tok.SingleUse = true
	mustCreateUserToken(t, s, tok)
	if err := s.RevokeUserToken(ctx, "acme", tok.ID, at(1)); err != nil {
		t.Fatalf("RevokeUserToken: %v", err)
	}
	if won, err := s.SpendUserToken(ctx, tok.ID, at(2)); err != nil || won {
		t.Fatalf("SpendUserToken(revoked) = %v, %v; want false", won, err)
	}
	if got := mustUserToken(t, s, tok.ID); !got.UsedAt.IsZero() {
		t.Fatalf("a revoked token was marked used at %v", got.UsedAt)
	}
	if won, err := s.SpendUserToken(ctx, "ut-none", at(2)); err != nil || won {
		t.Fatalf("SpendUserToken(unknown) = %v, %v; want false", won, err)
	}
}

func testUserTokenDeleteExpired(t *testing.T, s UserTokenStores) {
	userTokenOwners(t, s)
	ctx := t.Context()
	spent := newUserToken("ut-spent", "beta", "bob", 0, 10) // expires at minute 10
	spent.SingleUse, spent.UsedAt = true, at(1)
	for _, tok := range []aiproxy.UserToken{
		newUserToken("ut-5", "acme", "alice", 0, 5),
		newUserToken("ut-10", "acme", "alice", 0, 10),
		spent,
		newUserToken("ut-20", "beta", "alice", 0, 20),
	} {
		mustCreateUserToken(t, s, tok)
	}
	for _, c := range []struct {
		before int
		n      int64
		left   []string
	}{
		{0, 0, []string{"ut-5", "ut-10", "ut-spent", "ut-20"}},
		{10, 1, []string{"ut-10", "ut-spent", "ut-20"}}, // expiring at minute 10 is not before it
		{11, 2, []string{"ut-20"}},
		{11, 0, []string{"ut-20"}},
	} {
		n, err := s.DeleteExpiredUserTokens(ctx, at(c.before))
		if err != nil || n != c.n {
			t.Fatalf("DeleteExpiredUserTokens(minute %d) = %d, %v; want %d", c.before, n, err, c.n)
		}
		for _, id := range []string{"ut-5", "ut-10", "ut-spent", "ut-20"} {
			_, err := s.UserToken(ctx, id)
			if kept := slices.Contains(c.left, id); (err == nil) != kept || (!kept && !errors.Is(err, aiproxy.ErrNotFound)) {
				t.Fatalf("after deleting before minute %d: UserToken(%s) error = %v, want kept = %v", c.before, id, err, kept)
			}
		}
	}
}

package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// liveSessionStores is an engine that keeps live sessions.
type liveSessionStores interface {
	Stores
	aiproxy.LiveSessionStore
}

func liveSessions(t *testing.T, open func(t *testing.T) Stores) liveSessionStores {
	t.Helper()
	s, ok := open(t).(liveSessionStores)
	if !ok {
		t.Fatal("the store does not implement aiproxy.LiveSessionStore")
	}
	return s
}

// liveClaim is a claim of org on a credential source at minute n.
func liveClaim(id, org string, src aiproxy.Source, n int) aiproxy.LiveSession {
	return aiproxy.LiveSession{ID: id, Service: "liveavatar", OrgKey: org, User: "u1", KeyID: "k1", Source: src, Mode: "FULL",
		MaxDuration: 10 * time.Minute, ReservedMinutes: 10, State: aiproxy.LiveSessionClaimed, CreatedAt: at(n), ExpiresAt: at(n + 2)}
}

// mintLive claims and records a session; it fails the test on a full cap.
func mintLive(ctx context.Context, t *testing.T, s liveSessionStores, id, org string, src aiproxy.Source, n int) aiproxy.LiveSession {
	t.Helper()
	c := liveClaim("claim-"+id, org, src, n)
	full, err := s.ClaimLiveSession(ctx, c, aiproxy.LiveSessionCaps{}, at(n))
	if err != nil || full != aiproxy.LiveCapNone {
		t.Fatalf("ClaimLiveSession = %q, %v", full, err)
	}
	sess := c
	sess.ID, sess.State, sess.TokenHash, sess.ExpiresAt = id, aiproxy.LiveSessionCreated, aiproxy.HashSessionToken("token-"+id), time.Time{}
	if err := s.RecordLiveSession(ctx, c.ID, sess); err != nil {
		t.Fatalf("RecordLiveSession: %v", err)
	}
	return sess
}

func runLiveSessions(t *testing.T, open func(t *testing.T) Stores) {
	ctx := context.Background()
	t.Run("bind", func(t *testing.T) {
		s := liveSessions(t, open)
		mustCreateOrg(ctx, t, s, "a")
		mintLive(ctx, t, s, "lst_tok", "a", aiproxy.SourceTenant, 0)
		if err := s.BindLiveSession(ctx, "lst_tok", "sess-1"); err != nil {
			t.Fatalf("BindLiveSession: %v", err)
		}
		got, err := s.LiveSessionByToken(ctx, aiproxy.HashSessionToken("token-lst_tok"))
		if err != nil || got.ID != "sess-1" || got.State != aiproxy.LiveSessionCreated || got.OrgKey != "a" {
			t.Fatalf("after bind: %+v, %v", got, err)
		}
		if _, err := s.LiveSession(ctx, "lst_tok"); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Errorf("the token's own id after bind: %v", err)
		}
		if err := s.BindLiveSession(ctx, "lst_tok", "sess-2"); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Errorf("second bind: %v", err)
		}
		mintLive(ctx, t, s, "lst_gone", "a", aiproxy.SourceTenant, 1)
		if _, err := s.StopLiveSession(ctx, "lst_gone", at(2), aiproxy.EndZombie, "reaper"); err != nil {
			t.Fatal(err)
		}
		if err := s.BindLiveSession(ctx, "lst_gone", "sess-3"); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Errorf("bind of a stopped token: %v", err)
		}
	})
	t.Run("caps", func(t *testing.T) {
		s := liveSessions(t, open)
		mustCreateOrg(ctx, t, s, "a")
		mustCreateOrg(ctx, t, s, "b")
		caps := aiproxy.LiveSessionCaps{PerOrg: 2, PerCredential: 3}
		claim := func(id, org string, src aiproxy.Source, n int) aiproxy.LiveSessionCapScope {
			t.Helper()
			full, err := s.ClaimLiveSession(ctx, liveClaim(id, org, src, n), caps, at(n))
			if err != nil {
				t.Fatalf("claim %s: %v", id, err)
			}
			return full
		}
		for _, c := range []struct {
			id, org string
			src     aiproxy.Source
			want    aiproxy.LiveSessionCapScope
		}{
			{"a1", "a", aiproxy.SourcePlatform, aiproxy.LiveCapNone},
			{"a2", "a", aiproxy.SourceTenant, aiproxy.LiveCapNone},
			{"a3", "a", aiproxy.SourceTenant, aiproxy.LiveCapOrg},
			{"b1", "b", aiproxy.SourcePlatform, aiproxy.LiveCapNone},
			{"b2", "b", aiproxy.SourcePlatform, aiproxy.LiveCapNone},
			{"b3", "b", aiproxy.SourcePlatform, aiproxy.LiveCapOrg},
		} {
			if got := claim(c.id, c.org, c.src, 0); got != c.want {
				t.Errorf("claim %s = %q, want %q", c.id, got, c.want)
			}
		}
		// The platform credential holds a1, b1, b2: a third org is refused
		// on it, but not on its own credential.
		mustCreateOrg(ctx, t, s, "c")
		if got := claim("c1", "c", aiproxy.SourcePlatform, 0); got != aiproxy.LiveCapCredential {
			t.Errorf("claim on the full platform credential = %q", got)
		}
		if got := claim("c2", "c", aiproxy.SourceTenant, 0); got != aiproxy.LiveCapNone {
			t.Errorf("claim on c's own credential = %q", got)
		}
		// A released claim frees room; an expired one stops counting.
		if err := s.ReleaseLiveSession(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		if got := claim("a4", "a", aiproxy.SourceTenant, 0); got != aiproxy.LiveCapNone {
			t.Errorf("claim after a release = %q", got)
		}
		if got := claim("b4", "b", aiproxy.SourcePlatform, 3); got != aiproxy.LiveCapNone {
			t.Errorf("claim after the claims expired = %q", got)
		}
		if _, err := s.LiveSession(ctx, "a2"); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Errorf("a claim is read as a session: %v", err)
		}
	})
	t.Run("cap under racing claims", func(t *testing.T) {
		s := liveSessions(t, open)
		mustCreateOrg(ctx, t, s, "a")
		var wg sync.WaitGroup
		var mu sync.Mutex
		granted := 0
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				full, err := s.ClaimLiveSession(ctx, liveClaim(fmt.Sprintf("r%d", i), "a", aiproxy.SourceTenant, 0),
					aiproxy.LiveSessionCaps{PerOrg: 3}, at(0))
				if err != nil {
					t.Error(err)
					return
				}
				if full == aiproxy.LiveCapNone {
					mu.Lock()
					granted++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if granted != 3 {
			t.Errorf("%d racing claims granted under a cap of 3", granted)
		}
	})
	t.Run("life", func(t *testing.T) {
		s := liveSessions(t, open)
		mustCreateOrg(ctx, t, s, "a")
		sess := mintLive(ctx, t, s, "s1", "a", aiproxy.SourceTenant, 0)
		got, err := s.LiveSessionByToken(ctx, aiproxy.HashSessionToken("token-s1"))
		if err != nil || got.ID != "s1" || got.State != aiproxy.LiveSessionCreated || !bytes.Equal(got.TokenHash, sess.TokenHash) ||
			got.MaxDuration != 10*time.Minute || got.ReservedMinutes != 10 || got.User != "u1" || !sameTime(got.CreatedAt, at(0)) {
			t.Fatalf("LiveSessionByToken = %+v, %v", got, err)
		}
		if _, err := s.LiveSessionByToken(ctx, aiproxy.HashSessionToken("other")); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Errorf("unknown token: %v", err)
		}
		if err := s.MarkLiveSessionStarted(ctx, "s1", at(1)); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkLiveSessionStarted(ctx, "s1", at(2)); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkLiveSessionAlive(ctx, "s1", at(3)); err != nil {
			t.Fatal(err)
		}
		got, _ = s.LiveSession(ctx, "s1")
		if got.State != aiproxy.LiveSessionStarted || !sameTime(got.StartedAt, at(1)) || !sameTime(got.LastKeepAlive, at(3)) {
			t.Fatalf("after start and keep-alive: %+v", got)
		}
		if ok, err := s.StopLiveSession(ctx, "s1", at(4), aiproxy.EndUserClosed, "client"); err != nil || !ok {
			t.Fatalf("StopLiveSession = %v, %v", ok, err)
		}
		if ok, err := s.StopLiveSession(ctx, "s1", at(5), aiproxy.EndZombie, "reaper"); err != nil || ok {
			t.Fatalf("second StopLiveSession = %v, %v", ok, err)
		}
		if err := s.MarkLiveSessionAlive(ctx, "s1", at(5)); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Errorf("keep-alive of a stopped session: %v", err)
		}
		if err := s.ReconcileLiveSession(ctx, "s1", 180, 6, at(6)); err != nil {
			t.Fatal(err)
		}
		got, _ = s.LiveSession(ctx, "s1")
		if got.State != aiproxy.LiveSessionStopped || got.EndReason != aiproxy.EndUserClosed || got.StoppedBy != "client" ||
			got.DurationSeconds != 180 || got.Credits != 6 || !sameTime(got.StoppedAt, at(4)) || !sameTime(got.ReconciledAt, at(6)) {
			t.Fatalf("after stop and reconcile: %+v", got)
		}
		mustCreateOrg(ctx, t, s, "b")
		mintLive(ctx, t, s, "s2", "a", aiproxy.SourceTenant, 1)
		mintLive(ctx, t, s, "s3", "b", aiproxy.SourceTenant, 2)
		list, err := s.LiveSessions(ctx, aiproxy.LiveSessionFilter{OrgKey: "a"})
		if err != nil || len(list) != 2 || list[0].ID != "s2" || list[1].ID != "s1" {
			t.Fatalf("LiveSessions(a) = %v, %v", list, err)
		}
		list, _ = s.LiveSessions(ctx, aiproxy.LiveSessionFilter{OrgKey: "a", State: aiproxy.LiveSessionStopped})
		if len(list) != 1 || list[0].ID != "s1" {
			t.Fatalf("stopped sessions of a = %v", list)
		}
		list, _ = s.LiveSessions(ctx, aiproxy.LiveSessionFilter{OrgKey: "a", User: "u2"})
		if len(list) != 0 {
			t.Fatalf("sessions of another user = %v", list)
		}
	})
	t.Run("due", func(t *testing.T) {
		s := liveSessions(t, open)
		mustCreateOrg(ctx, t, s, "a")
		due := aiproxy.LiveSessionDue{StartGrace: 2 * time.Minute, Idle: 5 * time.Minute, SettleAfter: time.Minute}
		mintLive(ctx, t, s, "long", "a", aiproxy.SourceTenant, 0) // max 10 min, kept alive
		mintLive(ctx, t, s, "never", "a", aiproxy.SourceTenant, 0)
		mintLive(ctx, t, s, "fresh", "a", aiproxy.SourceTenant, 12) // due at 14
		mintLive(ctx, t, s, "idle", "a", aiproxy.SourceTenant, 0)
		mintLive(ctx, t, s, "over", "a", aiproxy.SourceTenant, 0)
		for _, id := range []string{"long", "idle"} {
			if err := s.MarkLiveSessionStarted(ctx, id, at(1)); err != nil {
				t.Fatal(err)
			}
		}
		_ = s.MarkLiveSessionAlive(ctx, "long", at(9))
		_ = s.MarkLiveSessionStarted(ctx, "over", at(9))
		_, _ = s.StopLiveSession(ctx, "over", at(10), aiproxy.EndUserClosed, "client")
		// At minute 10: idle (no keep-alive since 1) and never (not
		// started) are due; long reaches its length at 11; over settles
		// at 11.
		ids := func(list []aiproxy.LiveSession) map[string]bool {
			m := map[string]bool{}
			for _, x := range list {
				m[x.ID] = true
			}
			return m
		}
		got, err := s.ClaimDueLiveSessions(ctx, due, at(10), at(20), 10)
		if err != nil {
			t.Fatal(err)
		}
		if m := ids(got); len(m) != 2 || !m["idle"] || !m["never"] {
			t.Fatalf("due at 10 = %v", m)
		}
		// Held sessions are not handed out again until their hold ends.
		got, _ = s.ClaimDueLiveSessions(ctx, due, at(12), at(20), 10)
		if m := ids(got); len(m) != 2 || !m["long"] || !m["over"] {
			t.Fatalf("due at 12 = %v", m)
		}
		got, _ = s.ClaimDueLiveSessions(ctx, due, at(13), at(20), 10)
		if len(got) != 0 {
			t.Fatalf("held sessions handed out again: %v", ids(got))
		}
		if err := s.ReconcileLiveSession(ctx, "over", 60, 2, at(13)); err != nil {
			t.Fatal(err)
		}
		got, _ = s.ClaimDueLiveSessions(ctx, due, at(21), at(30), 10)
		if m := ids(got); len(m) != 4 || m["over"] || !m["fresh"] {
			t.Fatalf("due after the holds ended = %v", m)
		}
	})
	t.Run("due under racing reapers", func(t *testing.T) {
		s := liveSessions(t, open)
		mustCreateOrg(ctx, t, s, "a")
		for i := range 6 {
			mintLive(ctx, t, s, fmt.Sprintf("z%d", i), "a", aiproxy.SourcePlatform, 0)
		}
		due := aiproxy.LiveSessionDue{StartGrace: time.Minute, Idle: time.Minute, SettleAfter: time.Minute}
		var wg sync.WaitGroup
		var mu sync.Mutex
		seen := map[string]int{}
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := s.ClaimDueLiveSessions(ctx, due, at(5), at(10), 10)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, x := range got {
					seen[x.ID]++
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		if len(seen) != 6 {
			t.Errorf("%d of 6 due sessions handed out", len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("%s handed to %d reapers", id, n)
			}
		}
	})
}

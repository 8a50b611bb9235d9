package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// LiveSessionAdmin reads the live avatar sessions aiproxy minted and stops
// one at the provider.
type LiveSessionAdmin interface {
	LiveSessions(ctx context.Context, f aiproxy.LiveSessionFilter) ([]aiproxy.LiveSession, error)
	LiveSession(ctx context.Context, id string) (aiproxy.LiveSession, error)
	// StopLiveSession stops a live session at the provider, with the
	// credential it was minted on, and records it stopped by "admin".
	StopLiveSession(ctx context.Context, s aiproxy.LiveSession) (aiproxy.LiveSession, error)
}

// LiveSessionJSON is a live session as the API shows it; never its token.
type LiveSessionJSON struct {
	ID                 string     `json:"id"`
	Service            string     `json:"service"`
	User               string     `json:"user"`
	KeyID              string     `json:"key_id"`
	Source             string     `json:"source"`
	Mode               string     `json:"mode"`
	Sandbox            bool       `json:"sandbox"`
	State              string     `json:"state"`
	MaxDurationSeconds int64      `json:"max_duration_seconds"`
	ReservedMinutes    int64      `json:"reserved_minutes"`
	CreatedAt          time.Time  `json:"created_at"`
	StartedAt          *time.Time `json:"started_at"`
	LastKeepAliveAt    *time.Time `json:"last_keep_alive_at"`
	StoppedAt          *time.Time `json:"stopped_at"`
	EndReason          string     `json:"end_reason"`
	StoppedBy          string     `json:"stopped_by"`
	// DurationSeconds, Minutes and Credits are the provider's record once
	// the session is reconciled (ReconciledAt).
	DurationSeconds int64      `json:"duration_seconds"`
	Minutes         int64      `json:"minutes"`
	Credits         float64    `json:"credits"`
	ReconciledAt    *time.Time `json:"reconciled_at"`
}

// LiveSessionListJSON is a page of live sessions, newest first.
type LiveSessionListJSON struct {
	Sessions []LiveSessionJSON `json:"sessions"`
}

// ToLiveSessionJSON converts a live session for the API.
func ToLiveSessionJSON(s aiproxy.LiveSession) LiveSessionJSON {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		u := t.UTC()
		return &u
	}
	return LiveSessionJSON{ID: s.ID, Service: s.Service, User: s.User, KeyID: s.KeyID, Source: string(s.Source), Mode: s.Mode,
		Sandbox: s.Sandbox, State: string(s.State), MaxDurationSeconds: int64(s.MaxDuration / time.Second),
		ReservedMinutes: s.ReservedMinutes, CreatedAt: s.CreatedAt.UTC(), StartedAt: opt(s.StartedAt),
		LastKeepAliveAt: opt(s.LastKeepAlive), StoppedAt: opt(s.StoppedAt), EndReason: s.EndReason, StoppedBy: s.StoppedBy,
		DurationSeconds: s.DurationSeconds, Minutes: (s.DurationSeconds + 59) / 60, Credits: s.Credits,
		ReconciledAt: opt(s.ReconciledAt)}
}

// liveSessionRoutes registers the live-session routes.
func (s *server) liveSessionRoutes(a LiveSessionAdmin) {
	s.route("/orgs/{org}/live-sessions", s.orgAccess(s.listLiveSessions(a)), http.MethodGet)
	s.route("/orgs/{org}/live-sessions/{id}", s.orgAccess(s.getLiveSession(a)), http.MethodGet)
	s.route("/orgs/{org}/live-sessions/{id}/stop", s.orgAccess(s.stopLiveSession(a)), http.MethodPost)
}

// listLiveSessions lists an org's sessions: all of them (or ?user=) for
// the org, a member's own only.
func (s *server) listLiveSessions(a LiveSessionAdmin) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		f := aiproxy.LiveSessionFilter{OrgKey: r.PathValue("org"), User: q.Get("user"), State: aiproxy.LiveSessionState(q.Get("state"))}
		if f.State != "" && !aiproxy.ValidLiveSessionState(f.State) {
			return aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid state %q: use created, started or stopped.", f.State)
		}
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 500 {
				return aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid limit %q: use 1 to 500.", v)
			}
			f.Limit = n
		}
		p := principal(r)
		if p.Kind == aiproxy.KindLiveSession {
			return errForbidden()
		}
		if p.Member() {
			f.User = p.User
		}
		list, err := a.LiveSessions(r.Context(), f)
		if err != nil {
			return err
		}
		out := LiveSessionListJSON{Sessions: []LiveSessionJSON{}}
		for _, ls := range list {
			if p.CanUseService(ls.Service) {
				out.Sessions = append(out.Sessions, ToLiveSessionJSON(ls))
			}
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

// liveSessionOf returns the session a route names, if the caller may see
// it: one of the path's org, and for a member its own; anything else is
// the contract's 404.
func liveSessionOf(ctx context.Context, a LiveSessionAdmin, r *http.Request) (aiproxy.LiveSession, error) {
	id, p := r.PathValue("id"), principal(r)
	ls, err := a.LiveSession(ctx, id)
	if err == nil && (ls.OrgKey != r.PathValue("org") || !p.CanUseService(ls.Service) ||
		(p.Member() && (ls.User != p.User || p.Kind == aiproxy.KindLiveSession))) {
		err = aiproxy.ErrNotFound
	}
	if errors.Is(err, aiproxy.ErrNotFound) {
		svc := ls.Service
		if svc == "" {
			svc = "liveavatar"
		}
		return ls, aiproxy.ErrObjectNotFound("Live session", svc, id)
	}
	return ls, err
}

func (s *server) getLiveSession(a LiveSessionAdmin) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ls, err := liveSessionOf(r.Context(), a, r)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, ToLiveSessionJSON(ls))
		return nil
	}
}

// stopLiveSession stops a session: the org's admin key (or the platform's)
// may stop any of the org's, a member or an org key with a user only its
// user's.
func (s *server) stopLiveSession(a LiveSessionAdmin) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ls, err := liveSessionOf(r.Context(), a, r)
		if err != nil {
			return err
		}
		p := principal(r)
		if !p.CanAdminOrg(ls.OrgKey) && (p.User == "" || p.User != ls.User) {
			return errForbidden()
		}
		if ls.State == aiproxy.LiveSessionStopped {
			return aiproxy.Errorf(aiproxy.CodeConflict, "Live session '%s' has already stopped.", ls.ID)
		}
		ls, err = a.StopLiveSession(r.Context(), ls)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, ToLiveSessionJSON(ls))
		return nil
	}
}

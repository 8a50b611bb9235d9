package livesession

import (
	"context"
	"errors"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// VerifyLiveSession recognises a provider session token that aiproxy
// minted for service, by its SHA-256 in the store, and returns the
// principal it acts as: the session's org and user, allowed only the
// session's start, keep-alive and stop. ok is false when the token is not
// one aiproxy minted for the service, so that the caller may try other
// credentials; a stopped session's token is "Invalid token.".
func (s *Sessions) VerifyLiveSession(ctx context.Context, service, raw string) (p aiproxy.Principal, ok bool, err error) {
	if service != s.cfg.Service || raw == "" {
		return aiproxy.Principal{}, false, nil
	}
	sess, err := s.cfg.Store.LiveSessionByToken(ctx, aiproxy.HashSessionToken(raw))
	if errors.Is(err, aiproxy.ErrNotFound) {
		return aiproxy.Principal{}, false, nil
	}
	if err != nil {
		return aiproxy.Principal{}, true, err
	}
	if sess.State == aiproxy.LiveSessionStopped {
		return aiproxy.Principal{}, true, &aiproxy.Error{Code: aiproxy.CodeUnauthenticated, Message: aiproxy.MsgInvalidToken}
	}
	return SessionPrincipal(sess), true, nil
}

// SessionPrincipal is who a session token acts as.
func SessionPrincipal(sess aiproxy.LiveSession) aiproxy.Principal {
	svc := sess.Service
	return aiproxy.Principal{Kind: aiproxy.KindLiveSession, KeyID: sess.KeyID, OrgKey: sess.OrgKey, Role: aiproxy.RoleInvoke,
		User: sess.User, Services: []string{svc}, LiveSession: sess.ID,
		Actions: []string{svc + "/" + ActionStart, svc + "/" + ActionKeepAlive, svc + "/" + ActionStop, svc + "/" + ActionClose}}
}

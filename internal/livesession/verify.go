package livesession

import (
	"context"
	"errors"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// VerifyLiveSession recognises a provider session token that aiproxy
// minted for service, by its SHA-256 in the store, and returns the
// principal it acts as: the session's org and user, allowed only the
// session's own calls (a legacy streaming token also its one
// streaming.new). A token of another tracked service is not one. ok is false when the token is not
// one aiproxy minted for the service, so that the caller may try other
// credentials; a stopped session's token is "Invalid token.".
func (s *Sessions) VerifyLiveSession(ctx context.Context, service, raw string) (p aiproxy.Principal, ok bool, err error) {
	fl, tracked := s.flavours[service]
	if !tracked || raw == "" {
		return aiproxy.Principal{}, false, nil
	}
	sess, err := s.cfg.Store.LiveSessionByToken(ctx, aiproxy.HashSessionToken(raw))
	if errors.Is(err, aiproxy.ErrNotFound) || (err == nil && sess.Service != service) {
		return aiproxy.Principal{}, false, nil
	}
	if err != nil {
		return aiproxy.Principal{}, true, err
	}
	if sess.State == aiproxy.LiveSessionStopped {
		return aiproxy.Principal{}, true, &aiproxy.Error{Code: aiproxy.CodeUnauthenticated, Message: aiproxy.MsgInvalidToken}
	}
	return sessionPrincipal(sess, fl), true, nil
}

// sessionPrincipal is who a session token acts as: allowed its session's
// calls only (a legacy token also its one streaming.new).
func sessionPrincipal(sess aiproxy.LiveSession, fl flavour) aiproxy.Principal {
	svc := sess.Service
	actions := []string{}
	for _, a := range fl.uses() {
		actions = append(actions, svc+"/"+a)
	}
	return aiproxy.Principal{Kind: aiproxy.KindLiveSession, KeyID: sess.KeyID, OrgKey: sess.OrgKey, Role: aiproxy.RoleInvoke,
		User: sess.User, Services: []string{svc}, LiveSession: sess.ID, Actions: actions}
}

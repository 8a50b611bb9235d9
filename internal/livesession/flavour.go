package livesession

import (
	"slices"
	"strings"
)

// DefaultLegacyService is the service of HeyGen's legacy streaming
// endpoints, whose sessions are tracked too.
const DefaultLegacyService = "heygen"

// The legacy streaming endpoints, by catalog slug.
const (
	LegacyMint           = "streaming-create-token"
	LegacyNew            = "streaming-new"
	LegacyStart          = "streaming-start"
	LegacyTask           = "streaming-task"
	LegacyInterrupt      = "streaming-interrupt"
	LegacyKeepAlive      = "streaming-keep-alive"
	LegacyStop           = "streaming-stop"
	LegacyStartListening = "streaming-start-listening"
	LegacyStopListening  = "streaming-stop-listening"
)

// LegacyMode is the mode recorded for a legacy streaming session.
const LegacyMode = "STREAMING"

// unboundPrefix starts the id of a legacy token's row until its first
// streaming.new binds it to the session it created.
const unboundPrefix = "lst_"

// Unbound reports whether a session id is a legacy token's own, not yet
// bound to a provider session.
func Unbound(id string) bool { return strings.HasPrefix(id, unboundPrefix) }

// flavour names one provider's session endpoints by catalog slug.
type flavour struct {
	service string
	legacy  bool
	// mint makes the token; bind, for legacy, creates the token's one
	// session.
	mint, bind string
	// start, keepAlive, stop and close are the uses recorded as such;
	// touches are further session calls, recorded as activity.
	start, keepAlive, stop, close string
	touches                       []string
	// get reads the provider's record of a session; "" when it has none.
	get string
	// okCode is the envelope "code" of success.
	okCode string
}

func liveAvatarFlavour(service string) flavour {
	return flavour{service: service, mint: ActionMint, start: ActionStart, keepAlive: ActionKeepAlive,
		stop: ActionStop, close: ActionClose, get: ActionGet, okCode: "1000"}
}

func legacyFlavour(service string) flavour {
	return flavour{service: service, legacy: true, mint: LegacyMint, bind: LegacyNew, start: LegacyStart,
		keepAlive: LegacyKeepAlive, stop: LegacyStop,
		touches: []string{LegacyTask, LegacyInterrupt, LegacyStartListening, LegacyStopListening}, okCode: "100"}
}

// uses lists the endpoints a session token may call.
func (f flavour) uses() []string {
	out := []string{}
	for _, a := range append([]string{f.bind, f.start, f.keepAlive, f.stop, f.close}, f.touches...) {
		if a != "" {
			out = append(out, a)
		}
	}
	return out
}

// isUse reports whether slug is one of the session's calls (not the mint).
func (f flavour) isUse(slug string) bool { return slug != "" && slices.Contains(f.uses(), slug) }

// bodyID reports whether a call names its session by the body's
// session_id: every legacy call but streaming.new, and LiveAvatar's stop
// and keep-alive.
func (f flavour) bodyID(action string) bool {
	if f.legacy {
		return action != f.bind
	}
	return action == f.stop || action == f.keepAlive
}

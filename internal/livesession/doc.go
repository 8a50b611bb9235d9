// Package livesession tracks the live avatar sessions aiproxy mints
// (LiveAvatar's sessions, and HeyGen's legacy streaming sessions, whose
// token is minted first and bound to the one session it creates through
// aiproxy; flavour.go names each service's endpoints): a hook on the proxy's pipeline caps concurrent
// sessions per org and per credential, clamps each session's length,
// holds its live-minutes quota and records the session the provider
// minted; the same hook follows the session's start, keep-alives and stop,
// and keeps each caller to its own sessions. Verifier recognises a
// provider session token that aiproxy minted, so that a browser can start,
// keep alive and stop that one session with it and nothing else. The
// Reaper, on every replica, stops sessions past their length or orphaned
// (exactly one replica stops each) and reconciles every stopped session
// with the provider's record of its duration and credits (aiproxy's own
// times where the provider keeps none).
package livesession

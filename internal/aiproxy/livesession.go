package aiproxy

import (
	"context"
	"crypto/sha256"
	"time"
)

// A live avatar session (LiveAvatar, HeyGen's real-time avatars) bills by
// the minute while it runs. aiproxy mints each session's token on the org's
// credential, hands the browser only that token, and tracks the session as
// it tracks a job: who owns it, when it started, was kept alive and
// stopped, and what the provider says it lasted and cost.

// LiveSessionState is where a live session is in its life.
type LiveSessionState string

// The states. A claim holds room under the caps while the token is minted;
// created is minted and not started; started runs (and bills); stopped is
// over, by the client, the provider or the reaper.
const (
	LiveSessionClaimed LiveSessionState = "claimed"
	LiveSessionCreated LiveSessionState = "created"
	LiveSessionStarted LiveSessionState = "started"
	LiveSessionStopped LiveSessionState = "stopped"
)

// Live reports whether a session in this state counts against the caps.
func (s LiveSessionState) Live() bool {
	return s == LiveSessionClaimed || s == LiveSessionCreated || s == LiveSessionStarted
}

// ValidLiveSessionState reports whether s is a state a listing may filter on.
func ValidLiveSessionState(s LiveSessionState) bool {
	return s == LiveSessionCreated || s == LiveSessionStarted || s == LiveSessionStopped
}

// The reasons aiproxy gives the provider when it stops a session itself,
// from the provider's own list of end reasons.
const (
	EndMaxDuration = "MAX_DURATION_REACHED"
	EndZombie      = "ZOMBIE_SESSION_REAP"
	EndUserClosed  = "USER_CLOSED"
)

// LiveSession is one live avatar session aiproxy minted. The session token
// itself is never kept: only its SHA-256 (TokenHash), to recognise it when
// a browser presents it.
type LiveSession struct {
	// ID is the provider's session id (a claim's own id until minted).
	ID      string
	Service string
	OrgKey  string
	// User is the user within the org it was minted for; "" for the org.
	User string
	// KeyID is the aiproxy key behind the mint.
	KeyID string
	// Source is the credential the session was minted with; the reaper
	// stops it with the same one.
	Source Source
	// Mode is the provider's mode ("FULL", "LITE"); Sandbox a session that
	// costs nothing.
	Mode    string
	Sandbox bool
	// MaxDuration is the longest the session may run, as aiproxy asked
	// the provider (clamped to the configured maximum).
	MaxDuration time.Duration
	// ReservedMinutes is the live-minutes quota held for it, settled to
	// the minutes it really ran once it is reconciled.
	ReservedMinutes int64
	TokenHash       []byte
	State           LiveSessionState
	CreatedAt       time.Time
	StartedAt       time.Time
	LastKeepAlive   time.Time
	StoppedAt       time.Time
	// EndReason is why it stopped, as the provider or aiproxy said.
	EndReason string
	// StoppedBy says who stopped it: "client", "reaper", "admin" or
	// "provider".
	StoppedBy string
	// DurationSeconds and Credits are the provider's record of the
	// session, read once it is over (ReconciledAt).
	DurationSeconds int64
	Credits         float64
	ReconciledAt    time.Time
	// ExpiresAt bounds a claim's life, in case its holder died.
	ExpiresAt time.Time
}

// HashSessionToken returns the stored form of a provider session token.
func HashSessionToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// LiveSessionCaps caps the live sessions (claimed, created or started) of
// one org, and of one credential: an org's own credential, or the
// platform's credential of a service shared by every org. Zero means no cap.
type LiveSessionCaps struct {
	PerOrg        int
	PerCredential int
}

// LiveSessionCapScope names the cap a claim would pass.
type LiveSessionCapScope string

// The cap scopes.
const (
	LiveCapNone       LiveSessionCapScope = ""
	LiveCapOrg        LiveSessionCapScope = "org"
	LiveCapCredential LiveSessionCapScope = "credential"
)

// LiveSessionFilter selects sessions of an org for a listing.
type LiveSessionFilter struct {
	OrgKey string
	// User, when set, keeps one user's sessions.
	User string
	// State, when set, keeps sessions in that state.
	State LiveSessionState
	// Limit caps the listing (newest first); 0 means 100.
	Limit int
}

// LiveSessionDue says which sessions the reaper takes up: sessions past
// their MaxDuration since they started, created but not started within
// StartGrace, started but not kept alive within Idle, and stopped ones not
// yet reconciled SettleAfter after they stopped.
type LiveSessionDue struct {
	StartGrace  time.Duration
	Idle        time.Duration
	SettleAfter time.Duration
}

// LiveSessionStore keeps live sessions.
type LiveSessionStore interface {
	// ClaimLiveSession stores s (State LiveSessionClaimed, with an
	// ExpiresAt) unless a cap is full: the live sessions of s's org, or of
	// its credential (its org's tenant credential, or the service's
	// platform credential), with unexpired claims, already reach the cap.
	// Then it stores nothing and returns the full cap's scope. The count
	// and the insert are one transaction that racing claims from any
	// replica cannot interleave.
	ClaimLiveSession(ctx context.Context, s LiveSession, caps LiveSessionCaps, now time.Time) (LiveSessionCapScope, error)
	// RecordLiveSession turns the claim with id claimID into the minted
	// session s (State LiveSessionCreated, ID the provider's).
	RecordLiveSession(ctx context.Context, claimID string, s LiveSession) error
	// BindLiveSession gives the created (not started, not stopped) row
	// tokenID, a legacy streaming token's, the id of the session the token
	// created, sessionID; ErrNotFound when no such row is left (another
	// bind won, or it stopped).
	BindLiveSession(ctx context.Context, tokenID, sessionID string) error
	// ReleaseLiveSession removes a claim that minted nothing; a missing
	// claim is not an error.
	ReleaseLiveSession(ctx context.Context, claimID string) error
	// LiveSession returns one session by the provider's id, or ErrNotFound.
	LiveSession(ctx context.Context, id string) (LiveSession, error)
	// LiveSessionByToken returns the session whose token hashes to hash,
	// or ErrNotFound.
	LiveSessionByToken(ctx context.Context, hash []byte) (LiveSession, error)
	// LiveSessions lists an org's sessions, newest first.
	LiveSessions(ctx context.Context, f LiveSessionFilter) ([]LiveSession, error)
	// MarkLiveSessionStarted records a start (the first one counts) and
	// MarkLiveSessionAlive a keep-alive; both of a session not stopped.
	MarkLiveSessionStarted(ctx context.Context, id string, at time.Time) error
	MarkLiveSessionAlive(ctx context.Context, id string, at time.Time) error
	// StopLiveSession records that a live session stopped, with why and
	// by whom; it reports false, changing nothing, when it had already
	// stopped.
	StopLiveSession(ctx context.Context, id string, at time.Time, reason, by string) (bool, error)
	// ClaimDueLiveSessions takes up to limit sessions that due says are
	// the reaper's (see LiveSessionDue) and that no replica holds, and
	// holds them until until: a conditional update, so that of racing
	// replicas exactly one gets each. Expired claims that minted nothing
	// are removed on the way.
	ClaimDueLiveSessions(ctx context.Context, due LiveSessionDue, now, until time.Time, limit int) ([]LiveSession, error)
	// ReconcileLiveSession records the provider's duration and credits of
	// a stopped session and the minutes quota settled, and releases the
	// reaper's hold.
	ReconcileLiveSession(ctx context.Context, id string, durationSeconds int64, credits float64, at time.Time) error
}

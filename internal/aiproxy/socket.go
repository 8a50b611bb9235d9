package aiproxy

// ResponseWebSocket is the response mode of an endpoint that is a
// WebSocket: the client upgrades its native GET request, aiproxy opens the
// provider's socket with the credential in a header, and relays messages
// both ways until one side closes.
const ResponseWebSocket ResponseMode = "websocket"

// SocketSpec says how aiproxy reads the messages of a WebSocket endpoint:
// which protocol they follow (so that credentials are stripped from them
// and what they spend is metered) and the provider's limits that aiproxy
// enforces before the provider does.
type SocketSpec struct {
	// Protocol names the message protocol; one of SocketProtocols.
	Protocol string
	// MaxContexts caps the contexts open at once on one socket, for a
	// protocol with contexts; 0 means the protocol's own limit.
	MaxContexts int
	// MaxMessageBytes caps one client message; 0 means 1 MiB.
	MaxMessageBytes int64
}

// The socket protocols aiproxy can relay.
const (
	// ProtocolElevenLabsTTS is ElevenLabs' text-to-speech input stream:
	// JSON text messages in, JSON audio messages out.
	ProtocolElevenLabsTTS = "elevenlabs-tts"
	// ProtocolElevenLabsTTSMulti is the same with several contexts on one
	// socket.
	ProtocolElevenLabsTTSMulti = "elevenlabs-tts-multi"
	// ProtocolElevenLabsScribe is ElevenLabs' realtime speech to text:
	// base64 audio chunks in, transcripts out.
	ProtocolElevenLabsScribe = "elevenlabs-scribe"
)

// SocketProtocols lists the protocols a catalog may name.
var SocketProtocols = []string{ProtocolElevenLabsTTS, ProtocolElevenLabsTTSMulti, ProtocolElevenLabsScribe}

// The close codes aiproxy itself closes a relayed socket with (RFC 6455
// leaves 4000 to 4999 to applications). The reason carries the error code;
// the provider's own close codes are relayed unchanged.
const (
	// CloseBudgetExceeded: a budget ran out while the socket was open.
	CloseBudgetExceeded = 4402
	// CloseQuotaExceeded: an org's quota ran out while the socket was open.
	CloseQuotaExceeded = 4429
	// CloseMaxDuration: the socket was open for the longest time aiproxy
	// allows one; the client may open another.
	CloseMaxDuration = 4408
	// CloseUpstreamFailed: the provider's socket broke without a close.
	CloseUpstreamFailed = 1011
	// CloseGoingAway: aiproxy is shutting down.
	CloseGoingAway = 1001
	// ClosePolicy: a limit of the provider's that aiproxy enforces first
	// (too many contexts, too large a message, inactivity), with the
	// provider's own error message.
	ClosePolicy = 1008
	// CloseTooBig: a client message over the endpoint's limit.
	CloseTooBig = 1009
)

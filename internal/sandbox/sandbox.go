// Package sandbox simulates the HeyGen and ElevenLabs REST APIs in process, faithfully enough
// that aiproxy's tests and its demo and sandbox commands can run against it instead of the real
// providers.
//
// A Server is an http.Handler. HeyGen lives under the prefix /heygen (including the upload
// host's POST /v1/asset) and ElevenLabs under /elevenlabs, so a proxy configured with the base
// URL http://HOST/heygen calls http://HOST/heygen/v2/avatars. Paths, field names, status codes
// and error bodies follow shared/reference/heygen-api.md and shared/reference/elevenlabs-api.md.
// Absolute URLs in responses (video_url, thumbnail_url, preview images and audio) are built from
// the incoming request's Host, so they work wherever the sandbox listens; the media behind them
// is real (an H.264 MP4, a JPEG, a GIF, a WebP, MP3 or PCM audio) and embedded in the binary.
//
// # Render outcomes
//
// A HeyGen render is pending for the first 20% of Config.RenderTime, then processing, then
// completed. Markers in any scene's input_text (or in any template variable's content) change
// the outcome:
//
//   - SANDBOX_FAIL_MODERATION: the render fails with code 400105 (BLOCKED_WORDS_DETECTED).
//   - SANDBOX_FAIL: the render fails with code 40119 ("Video is too long"), HeyGen's documented
//     failure example.
//   - SANDBOX_STUCK: the render stays processing forever, for poll-timeout tests.
//
// # Where the references are silent
//
// The sandbox picks an answer and keeps to it:
//
//   - HeyGen: an unknown avatar_id or voice_id in a generate body is 400 avatar_not_found or
//     voice_not_found (v2 envelope); an unknown template is 404 template_not_found; a missing
//     video_id is 400 {"code":40001,...}; an unknown or deleted video is 404
//     {"code":40031,"message":"Invalid video id: video not found"}; an unknown path is 404 and
//     a wrong method 405, in the v1 envelope under /v1/ and the v2 envelope elsewhere. Media
//     links whose Expires has passed answer 403 with CloudFront-style XML. Keys' quotas start at
//     6000 seconds (100 credits) and non-test renders spend them in 30-second steps.
//   - ElevenLabs: an unknown model_id is 400 invalid_uid with the reference's message; a model
//     that cannot do text to speech is 400 model_can_not_do_text_to_speech; an output_format
//     the sandbox cannot produce (opus, ulaw, alaw, or anything unknown) is a 422 enum error;
//     a foreign next_page_token on GET /v2/voices is 400 invalid_page_token. Unknown paths and
//     wrong methods get FastAPI's {"detail":"Not Found"} and {"detail":"Method Not Allowed"}.
//     Every key's subscription has a character_limit of 100000; character-cost is the text's
//     length in characters times the model's multiplier, rounded up.
//   - Beyond the references (shapes from docs.heygen.com and ElevenLabs' OpenAPI where they
//     have them): HeyGen's POST /v2/photo_avatar takes {name, image_key} like the documented
//     /v2/photo_avatar/avatar_group/create, POST /v2/video/talking_photo takes the
//     /v2/video/generate body with talking-photo characters only, GET /v1/talking_photo.list
//     lists {id, image_url, circle_image}, endpoint.update reads endpoint_id from the body or
//     the query, and unknown translations, photo avatars and groups are 404
//     video_translate_not_found, avatar_not_found and avatar_group_not_found. ElevenLabs'
//     unknown history items and dubbings are 404 history_item_not_found and
//     dubbing_not_found, a dub with neither or both of file and source_url is 400
//     invalid_parameters, a sound effect costs 40 characters a second (200 when the model
//     picks the length, which is then 5 s) and isolation 1,000 a minute of input.
//
// # Accounts
//
// Objects belong to the API key that made them, as they belong to an account at the
// providers: videos, translations, assets, photo avatars and webhook endpoints at HeyGen;
// cloned voices, history items and dubbings at ElevenLabs. Another key's id is "not found",
// and lists show the caller's objects only. The seeded catalogs (avatars, voices, templates)
// are shared, but a key that edits or deletes a seeded ElevenLabs voice changes its own view
// only. A text-to-speech generation becomes a history item named by its history-item-id
// header (none with enable_logging=false).
//
// # Per-key limits
//
// Besides the provider-wide caps of Config, a key may get its own (SetKeyLimits, keys.go): a
// latency, a cap on its requests in flight on every route, answered 429 with Retry-After: 1 (HeyGen
// rate_limit_exceeded in the v2 envelope, or v3's under /v3; ElevenLabs
// too_many_concurrent_requests), and credits of its own (HeyGen quota seconds, which v2 renders
// then spend too, answering 402 insufficient_credit in the v2 envelope beyond them, as v3
// does; ElevenLabs characters, 401 quota_exceeded beyond them). RevokeKey refuses a key from
// then on with the provider's 401, as a key revoked mid-run. KeyStats counts each key's
// requests, its requests in flight and refused for its cap, and the renders it started.
//
// # Unknown routes
//
// A method and path the sandbox does not serve is answered with the provider's own 404 or
// 405 body plus the UnknownRouteField member and the UnknownRouteHeader header, so that
// tests can tell a missing route from a missing object.
//
// # Webhooks
//
// DeliverWebhooks (or RunWebhooks, on a ticker) announces finished HeyGen renders the way
// HeyGen does: avatar_video.success or avatar_video.fail POSTed to the render's callback_url,
// signed with Config.WebhookSecret, and to the endpoints registered for the event with
// /v1/webhook/endpoint.add, signed with their secrets. DropWebhooks and DuplicateWebhooks lose
// or repeat deliveries on demand; Webhooks lists what was sent.
//
// # HeyGen v3
//
// Under /heygen/v3/ the sandbox speaks HeyGen's v3 API (heygen_v3*.go, after
// shared/reference/heygen-v3.md): {"data":…} answers, lists paged by limit and an opaque
// token with has_more and next_token, POST /v3/videos as a union on type, videos with id and
// pending|processing|completed|failed plus failure_code and failure_message, the
// {"error":{"code","message","param","doc_url"}} envelope (also for 401, 404 and injected
// faults on /v3 paths; a 429 fault should carry its own Retry-After), HeyGen's own
// Idempotency-Key replay (409 request_in_progress while the first is in flight), the shared
// concurrency cap and credit balance, multipart asset upload, GET /v3/users/me, webhook
// endpoints under /v3/webhooks/endpoints, and webhooks for v3 renders signed with
// Heygen-Signature only (no legacy Signature header).
//
// # LiveAvatar
//
// Under /liveavatar the sandbox speaks HeyGen's LiveAvatar API (liveavatar*.go, after
// shared/reference/realtime-apis.md §6 and §9), so aiproxy's base URL for it is
// http://HOST/liveavatar. Answers are {"code":1000,"data":…,"message":"Success"}, the only
// success code the official web SDK accepts; POST /v1/sessions/start answers 201. Schema errors
// are FastAPI's 422 {"detail":[{"loc","msg","type","input"}]}, unknown routes
// {"detail":"Not Found"} (405 {"detail":"Method Not Allowed"}). Where the reference is silent:
//
//   - Auth: POST /v1/sessions/token, the lists, GET /v1/sessions/{id}[/transcript] and the
//     catalogs take X-API-KEY (GET /v1/avatars/public nothing); start and DELETE /v1/sessions
//     take only "Authorization: Bearer <session_token>"; stop and keep-alive take either. A
//     missing or unknown key, or a missing, malformed, forged or expired token, is 401
//     {"code":4010,"data":null,"message":…}.
//   - An unknown avatar, voice or context in the token body, and any session or context of
//     another key, is 404 {"code":4040,"data":null,"message":…}. is_sandbox with an avatar
//     other than dd73ea75-1218-4ef3-92ce-606d5f7fbc0a, and stop or keep-alive with the key but
//     no session_id, are 400 {"code":4000,…}.
//   - A start that fails is HTTP 200 {"code":4000,"data":null,"message":…}: "Session already
//     started", "Session already ended", or "Insufficient credits" when the key's wallet holds
//     less than the session's first minute. Keep-alive of a session that is not running is 200
//     code 4000 too. Stop of an ended session answers 1000 again and changes nothing, so a
//     reaper may repeat it; stop before start ends the session with duration 0.
//   - Session tokens are JWT-shaped (HS256 over {"session_id","iat","exp"}), valid one hour
//     plus the session's maximum duration. ws_url is
//     ws://HOST/liveavatar/v1/ws/lite/{session_id}?session_token=…; the URL is the credential.
//   - Lifecycle, evaluated against Config.Now whenever a request looks at the key's sessions:
//     a started session ends IDLE_TIMEOUT LiveAvatarIdleTimeout after its last keep-alive (or
//     start), MAX_DURATION_REACHED at max_session_duration (default and cap
//     LiveAvatarMaxDuration), NO_CREDITS at a minute boundary the wallet cannot pay. The first
//     minute is charged at start (the escrow), then each started minute: FULL 2 credits, LITE 1.
//     is_sandbox sessions cost nothing and last LiveAvatarSandboxDuration. Each key's wallet
//     starts at LiveAvatarCredits; KeyLimits.Credits replaces what is left.
//   - A session item is {"id","avatar_id","duration" (whole seconds started to ended or now),
//     "source":"API","mode","is_sandbox","credits_consumed","created_at","started_at",
//     "ended_at","status" (CREATED|ACTIVE|ENDED),"end_reason"}. type=active lists started,
//     running sessions and type=historic ended ones, newest first, paged DRF-style with
//     absolute next and previous URLs.
//   - The LITE socket sends session.state_updated "connecting", then "connected" after
//     LiveAvatarConnectDelay, and drops commands sent before; agent.speak_end answers
//     agent.speak_started then agent.speak_ended at once; a message over 1 MiB closes it 1009;
//     when the session ends it sends "closing", "closed" and closes 1000.
//
// # Legacy HeyGen streaming
//
// HeyGen's deprecated streaming API lives under /heygen/v1/streaming.* (heygen_streaming.go)
// in the v1 envelope {"code":100,"data":…,"message":"Success"}. streaming.create_token takes
// X-Api-Key and gives a token valid one hour; the other calls take that token as Bearer or the
// key. activity_idle_timeout outside 30–3600, a body without session_id and a task without
// text are 400 code 40001. A session ends after activity_idle_timeout seconds (default 120)
// without a call, or 600 s after streaming.new (session_duration_limit). An unknown, ended or
// foreign session_id is 400 code 10005 "Session not found"; a second streaming.start is 400
// code 10004, a task before start 400 code 10006.
// GET /v1/streaming.list lists the key's running sessions as {"session_id","status"
// (new|connected),"created_at" (unix seconds)}. The WebSocket streaming.chat is not served.
//
// # Real time
//
// ElevenLabs' sockets and browser-safe credentials (elevenlabs_ws.go, elevenlabs_scribe.go,
// elevenlabs_tokens.go), after shared/reference/realtime-apis.md §1–5 and §9:
//
//	GET  /v1/text-to-speech/{voice_id}/stream-input        WebSocket, one context
//	GET  /v1/text-to-speech/{voice_id}/multi-stream-input  WebSocket, up to 5 contexts
//	GET  /v1/speech-to-text/realtime                       WebSocket, Scribe
//	POST /v1/single-use-token/{token_type}                 {"token":"sutkn_…"}
//	GET  /v1/convai/conversation/get-signed-url?agent_id=  {"signed_url":"ws://HOST/elevenlabs/v1/convai/conversation?…"}
//	GET  /v1/convai/conversation/token?agent_id=           {"token":"<JWT>"}
//	GET  /v1/convai/conversation?agent_id=&conversation_signature=  WebSocket, agent
//
// Every socket upgrades (101) before it checks anything, and is logged in the request log
// like any request; the frames its client sends go to the socket log (SocketMessages).
// Where the references disagree or are silent, the sandbox decides:
//
//   - Text to speech authenticates when the first message arrives: the xi-api-key header
//     (or Authorization: Bearer), else the single_use_token query, else xi-api-key,
//     xi_api_key or authorization ("Bearer " optional) in that message. A used, expired or
//     foreign token is {"message":"Invalid or expired single-use token",
//     "error":"invalid_api_key","code":1008}. Then an unknown voice (the REST voice catalog,
//     as the key sees it) is voice_not_found, an unknown model invalid_uid, both 1008;
//     model_id=eleven_v3 (text-to-dialogue only) is a bare close 1009, the incompatible
//     voice/model close seen in the wild.
//   - Bad query values answer right after the upgrade with a 1008 error frame:
//     invalid_output_format (only mp3_* and pcm_* are produced) and
//     invalid_inactivity_timeout (outside 1–180 s). stream-input's first message must be
//     the BOS {"text":" "} (invalid_message otherwise); multi-stream-input's need not be.
//   - A buffer is spoken as one audio frame with the REST synthesizer's bytes (Speech) once
//     it reaches the context's next chunk_length_schedule step, on flush, EOS, close_context,
//     close_socket, or at once with auto_mode. Both alignments are always sent, equal, in
//     whole milliseconds from the chunk's start; sync_alignment, try_trigger_generation and
//     changed voice_settings are accepted and ignored. Each frame costs its characters
//     times the model's multiplier from the key's quota; beyond it the socket fails
//     quota_exceeded with the REST quota message.
//   - Inactivity is per connection on both sockets: every message (keep-alives included)
//     restarts it. Config.SocketSecond scales it for tests; the message names the seconds.
//   - Multi-context: no context_id means the context "", whose frames carry no contextId.
//     close_context and close_socket speak what is still buffered, then send isFinal;
//     generation is synchronous, so a closed context's slot is free as soon as its isFinal
//     is sent. close_context on an unknown id is ignored.
//   - Scribe: the xi-api-key header or the token query (a realtime_scribe token); a wrong
//     or missing one is {"message_type":"auth_error","error":…} and close 1008. A bad
//     audio_format, commit_strategy or vad_silence_threshold_secs is input_error and 1008.
//     Every ScribeWordSeconds of audio louder than ±300 completes a word from a fixed list;
//     a partial_transcript follows each chunk that completed one; commit (manual) or a
//     silence of vad_silence_threshold_secs (default 1.5, vad) sends committed_transcript
//     (even empty) and, with include_timestamps, committed_transcript_with_timestamps
//     whose words have session-relative start and end. A late previous_text is an
//     input_error; the session goes on.
//   - Single-use tokens live 15 minutes on Config.Now and are used up by their first
//     connection, good or not; an unknown token_type is FastAPI's 422 enum error.
//   - Agents: PublicAgentID for every key (its token needs no key) and AgentID(key), the
//     key's private agent. An agent the caller cannot see is 404
//     {"detail":{"status":"agent_not_found",…}}; a private agent's token without a key is
//     401. Signed URLs use conversation_signature, and admit new sockets for 15 minutes
//     (then close 1008 after the upgrade); the token is an HS256 JWT with video.room
//     "conv_…", valid 15 minutes. The agent socket only answers
//     conversation_initiation_client_data with conversation_initiation_metadata.
//   - Socket faults: a Fault with Socket set (and optionally Key) fails the next matching
//     socket in band: text to speech right after its first message is authenticated,
//     Scribe at its first audio chunk. An HTTP fault on a socket's path refuses the
//     upgrade itself with that HTTP answer.
//
// # Control API
//
// Besides the Go methods, the sandbox answers an HTTP control API under /_sandbox/ (no auth):
//
//	POST   /_sandbox/faults    adds a fault (JSON below); 204
//	DELETE /_sandbox/faults    clears all faults; 204
//	GET    /_sandbox/requests  the request log: [{"provider","method","path","raw_query","header",
//	                           "body"}], with "body_base64" instead of "body" for binary bodies
//	DELETE /_sandbox/requests  clears the request log; 204
//	GET    /_sandbox/sockets   {"open","accepted","messages":[{"provider","path","socket","binary",
//	                           "data"}]}: the socket log, with "data_base64" for binary frames
//	DELETE /_sandbox/sockets   clears the socket log; 204
//	POST   /_sandbox/keys      {"provider":"heygen","key":"..."} accepts another key; 204
//	                           (providers: heygen, elevenlabs, liveavatar)
//	POST   /_sandbox/keys/revoke  {"provider","key"}: the key is refused from now on (401); 204
//	POST   /_sandbox/keys/limits  {"provider","key","max_concurrent":N,"credits":N,"latency":"50ms"}:
//	                           the key's own cap on requests in flight (429 beyond), credits left
//	                           (HeyGen quota seconds, ElevenLabs characters, LiveAvatar credits;
//	                           null for the default) and latency (as a fault's "delay"); 204
//	GET    /_sandbox/keys/stats?provider=&key=  {"requests","in_flight","refused","job_starts"}
//	                           (job_starts: renders, or LiveAvatar sessions started)
//	POST   /_sandbox/liveavatar/end  {"session_id","reason"}: LiveAvatar ends the session now
//	                           with reason, as the provider may (EndLiveAvatarSession); 204, or
//	                           404 if it does not exist or has ended
//
// A fault in JSON has the fields of Fault in snake case; all but provider are optional:
//
//	{"provider":"heygen","method":"GET","path":"/v2/avatars","status":429,"body":"",
//	 "header":{"Retry-After":"3"},"delay":"1.5s","count":2,"reset":false,"ok200_error":false,
//	 "socket":"","key":""}
//
// "delay" is either a Go duration string ("1.5s", "250ms") or a number of milliseconds (250).
// Header values may be a string or a list of strings.
package sandbox

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Provider names one of the simulated upstream APIs.
type Provider string

// The providers the sandbox simulates.
const (
	HeyGen     Provider = "heygen"
	ElevenLabs Provider = "elevenlabs"
	// LiveAvatar is HeyGen's LiveAvatar API (api.liveavatar.com), served under /liveavatar.
	LiveAvatar Provider = "liveavatar"
)

// Config configures a Server. Zero values mean the stated defaults.
type Config struct {
	// HeyGenKeys are the API keys HeyGen accepts in X-Api-Key. With none, every call is 401.
	HeyGenKeys []string
	// ElevenLabsKeys are the API keys ElevenLabs accepts in xi-api-key. With none, every
	// authenticated call is 401.
	ElevenLabsKeys []string
	// RenderTime is the time from generate to completed; default 6s. A render is pending for
	// the first 20%, then processing, then completed.
	RenderTime time.Duration
	// Now is the clock; default time.Now. Tests inject one to walk a render through its states.
	Now func() time.Time
	// Seed seeds the generated catalogs and ids, which are deterministic for a given seed;
	// default 1.
	Seed int64
	// TestDailyCap, when above zero, limits test:true HeyGen generations per key and UTC day;
	// the next one is answered 429 trial_video_limit_exceeded. Default: no cap.
	TestDailyCap int
	// MaxConcurrentRenders, when above zero, limits HeyGen renders in flight (pending or
	// processing) per key; the next generate is answered 429 rate_limit_exceeded with a
	// Retry-After header. Default: no cap.
	MaxConcurrentRenders int
	// MaxConcurrentTTS, when above zero, limits ElevenLabs text-to-speech requests in flight
	// across the server; the next one is answered 429 too_many_concurrent_requests. Default:
	// no cap (the maximum-concurrent-requests header then reports 10).
	MaxConcurrentTTS int
	// StreamChunkDelay is the pause between chunks of a streamed TTS response; default 50ms.
	// A negative value means no pause.
	StreamChunkDelay time.Duration
	// TTSLatency is how long a non-streamed TTS request holds its concurrency slot before
	// answering, to simulate generation time; default 0.
	TTSLatency time.Duration
	// AvatarCount, when above the seeded 300–600, grows HeyGen's avatar list to this many
	// generated avatars (about 400 bytes each in GET /v2/avatars), for benchmarks of large
	// lists. Default: the seeded catalog.
	AvatarCount int
	// CharacterLimit is every ElevenLabs key's character quota; default 100000 (the Creator
	// tier). Benchmarks that generate much audio raise it.
	CharacterLimit int
	// MemoizeSpeech keeps the last synthesized speech and answers a repeated text-to-speech
	// request with it, so that a benchmark's time to first byte measures the proxy and not
	// the synthesizer. Default: every request is synthesized.
	MemoizeSpeech bool
	// LiveAvatarKeys are the API keys LiveAvatar accepts in X-API-KEY. With none, every
	// authenticated call is 401.
	LiveAvatarKeys []string
	// LiveAvatarCredits is every LiveAvatar key's wallet in credits; default 100. A key's
	// own credits (SetKeyLimits) replace it.
	LiveAvatarCredits int
	// LiveAvatarIdleTimeout ends a started LiveAvatar session (IDLE_TIMEOUT) after this long
	// without a keep-alive; default 5 minutes.
	LiveAvatarIdleTimeout time.Duration
	// LiveAvatarMaxDuration caps a LiveAvatar session's max_session_duration (and is its
	// default); default 20 minutes.
	LiveAvatarMaxDuration time.Duration
	// LiveAvatarSandboxDuration is how long an is_sandbox session lasts; default 1 minute.
	LiveAvatarSandboxDuration time.Duration
	// LiveAvatarConnectDelay is how long a LITE socket stays "connecting" before it is
	// "connected"; default 100ms, negative for none.
	LiveAvatarConnectDelay time.Duration
	// SocketSecond is how long one second of an ElevenLabs socket's inactivity_timeout
	// lasts; default 1s. Tests shorten it so that the 20 s default expires in moments; the
	// timeout's text still names the configured seconds.
	SocketSecond time.Duration
	// WebhookSecret signs the webhooks HeyGen sends to a render's callback_url; registered
	// endpoints use their own secrets. See DeliverWebhooks. Default: "" (unsigned).
	WebhookSecret string
}

// maxBody bounds what the sandbox reads of a request body; asset uploads are the largest.
const maxBody = 64 << 20

// maxLoggedBody bounds the body kept per request in the request log.
const maxLoggedBody = 1 << 20

// Request is one request the sandbox received, as recorded in the request log.
type Request struct {
	// Provider is the simulated provider the request was for.
	Provider Provider
	// Method is the HTTP method.
	Method string
	// Path is the provider path, without the /heygen or /elevenlabs prefix.
	Path string
	// RawQuery is the query string without the leading "?".
	RawQuery string
	// Header holds the request headers.
	Header http.Header
	// Body holds up to 1 MiB of the request body.
	Body []byte
}

// Server simulates HeyGen and ElevenLabs. Create one with New; it is safe for concurrent use.
type Server struct {
	cfg    Config
	heygen *heygenCatalog
	eleven *elevenCatalog
	apis   map[Provider]*service

	rngMu sync.Mutex
	rng   *rand.Rand

	mu       sync.Mutex
	keys     map[Provider]map[string]bool
	faults   []*activeFault
	requests []Request
	hg       heygenState
	el       elevenState
	la       liveAvatarState // liveavatar_session.go
	hgs      streamingState  // heygen_streaming.go
	wh       webhookState
	memo     speechMemo

	// bodyFaults spoil answers mid-body (bodyfault.go); guarded by mu.
	bodyFaults []*activeBodyFault
	// perKey holds each key's own limits and counts (keys.go); guarded by mu.
	perKey map[keyRef]*keyUsage
}

var _ http.Handler = (*Server)(nil)

// New returns a Server configured by cfg, with defaults filled in.
func New(cfg Config) *Server {
	if cfg.RenderTime <= 0 {
		cfg.RenderTime = 6 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.StreamChunkDelay == 0 {
		cfg.StreamChunkDelay = 50 * time.Millisecond
	}
	s := &Server{
		cfg:    cfg,
		heygen: newHeyGenCatalog(cfg.Seed),
		eleven: newElevenCatalog(cfg.Seed),
		rng:    rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed5a4db0c5)),
		keys:   map[Provider]map[string]bool{HeyGen: {}, ElevenLabs: {}, LiveAvatar: {}},
		hg:     newHeyGenState(),
		el:     newElevenState(),
		la:     newLiveAvatarState(cfg.Seed),
		hgs:    newStreamingState(),
	}
	s.heygen.growAvatars(cfg.AvatarCount, cfg.Seed)
	for _, k := range cfg.HeyGenKeys {
		s.keys[HeyGen][k] = true
	}
	for _, k := range cfg.ElevenLabsKeys {
		s.keys[ElevenLabs][k] = true
	}
	for _, k := range cfg.LiveAvatarKeys {
		s.keys[LiveAvatar][k] = true
	}
	s.apis = map[Provider]*service{
		HeyGen: s.heygenService(), ElevenLabs: s.elevenService(), LiveAvatar: s.liveAvatarService(),
	}
	return s
}

// AddKey makes provider accept key from now on. It is safe for concurrent use.
func (s *Server) AddKey(provider Provider, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys[provider] == nil {
		s.keys[provider] = map[string]bool{}
	}
	s.keys[provider][key] = true
}

// keyAccepted reports whether provider accepts key.
func (s *Server) keyAccepted(provider Provider, key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return key != "" && s.keys[provider][key]
}

// Requests returns a copy of the requests received so far, oldest first. Requests to the
// control API are not logged.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Header = r.Header.Clone()
		r.Body = bytes.Clone(r.Body)
		out[i] = r
	}
	return out
}

// ClearRequests empties the request log.
func (s *Server) ClearRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// ServeHTTP routes r to the control API, HeyGen or ElevenLabs by its path prefix.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sandbox/") {
		s.serveControl(w, r)
		return
	}
	provider, path, ok := splitProvider(r.URL.Path)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{
			"error": "unknown path; the sandbox serves /heygen/..., /elevenlabs/..., /liveavatar/... and /_sandbox/...",
		})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return // The client went away while sending; there is no one to answer.
	}
	s.record(provider, r, path, body)
	if s.applyFault(w, r, provider, path) {
		return
	}
	w, ok = s.spoilBody(w, r, provider, path) // bodyfault.go
	if !ok {
		return
	}
	s.apis[provider].serve(w, &call{r: r, path: path, body: body})
}

// splitProvider separates "/heygen/v2/avatars" into HeyGen and "/v2/avatars".
func splitProvider(p string) (Provider, string, bool) {
	for _, prov := range []Provider{HeyGen, ElevenLabs, LiveAvatar} {
		prefix := "/" + string(prov)
		if rest, ok := strings.CutPrefix(p, prefix); ok && (rest == "" || rest[0] == '/') {
			if rest == "" {
				rest = "/"
			}
			return prov, rest, true
		}
	}
	return "", "", false
}

// record appends r to the request log.
func (s *Server) record(provider Provider, r *http.Request, path string, body []byte) {
	logged := body
	if len(logged) > maxLoggedBody {
		logged = logged[:maxLoggedBody]
	}
	req := Request{
		Provider: provider,
		Method:   r.Method,
		Path:     path,
		RawQuery: r.URL.RawQuery,
		Header:   r.Header.Clone(),
		Body:     bytes.Clone(logged),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
}

// now returns the configured clock's time.
func (s *Server) now() time.Time { return s.cfg.Now() }

const (
	lowerHex = "0123456789abcdef"
	alnum    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

// newID returns n characters drawn from alphabet with the server's seeded generator.
func (s *Server) newID(alphabet string, n int) string {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return randomString(s.rng, alphabet, n)
}

// randomString returns n characters drawn from alphabet with rng.
func randomString(rng *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// baseURL returns the absolute URL of provider's prefix as seen by the client of r.
func baseURL(r *http.Request, provider Provider) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s/%s", scheme, r.Host, provider)
}

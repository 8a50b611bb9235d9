package sandbox

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// ElevenLabs' real-time text to speech: the stream-input (one context) and
// multi-stream-input (up to five contexts) WebSockets, after
// shared/reference/realtime-apis.md §1, §2 and §9. The sockets, the request log of their
// messages and the socket faults shared with Scribe (elevenlabs_scribe.go) live here too.

// SocketFault is a failure a WebSocket suffers after it is accepted, injected with a Fault
// whose Socket is set.
type SocketFault string

// The socket faults. On a text-to-speech socket each is the frame
// {"message":…,"error":<fault>,"code":1008} and close 1008, except SocketMessageTooBig,
// which is a bare close 1009; on a Scribe socket each is {"message_type":<fault>,"error":…}
// and close 1008 (SocketMessageTooBig there is a close 1009 too).
const (
	SocketQuotaExceeded    SocketFault = "quota_exceeded"
	SocketUnusualActivity  SocketFault = "detected_unusual_activity"
	SocketRateLimited      SocketFault = "rate_limited"
	SocketSessionTimeLimit SocketFault = "session_time_limit_exceeded"
	SocketMessageTooBig    SocketFault = "message_too_big"
)

// socketFaultMessages are the human texts of the socket faults.
var socketFaultMessages = map[SocketFault]string{
	SocketQuotaExceeded:    "This request exceeds your quota. You have 0 credits remaining.",
	SocketUnusualActivity:  "Unusual activity detected. Free Tier usage disabled. If you are using a proxy/VPN you might need to purchase a Paid Plan to not trigger our abuse detectors. Free Tier only works if users do not abuse it, for example by creating multiple free accounts. If we notice that many people try to abuse it, we will need to reconsider Free Tier altogether. \nPlease play fair and purchase any Paid Subscription to continue.",
	SocketRateLimited:      "Rate limit exceeded. Please slow down your requests.",
	SocketSessionTimeLimit: "Maximum session duration exceeded.",
}

// socketFaultMessage is the text sent with fault f.
func socketFaultMessage(f SocketFault) string {
	if m, ok := socketFaultMessages[f]; ok {
		return m
	}
	return strings.ReplaceAll(string(f), "_", " ")
}

// SocketMessage is one frame a client sent on one of the sandbox's WebSockets, as recorded
// in the socket log.
type SocketMessage struct {
	// Provider is the simulated provider the socket belongs to.
	Provider Provider
	// Path is the socket's provider path, e.g. "/v1/text-to-speech/{voice}/stream-input".
	Path string
	// Socket numbers the socket: 1 for the first the sandbox accepted, and so on.
	Socket int
	// Binary reports a binary frame; text frames have it false.
	Binary bool
	// Data holds the frame, up to 1 MiB.
	Data []byte
}

// realtimeState is the sockets' and tokens' shared state; Server.mu guards it.
type realtimeState struct {
	open     int             // sockets open now
	openBy   map[string]int  // sockets open now per authenticated key
	accepted int             // sockets accepted so far
	messages []SocketMessage // the socket log
	tokens   map[string]*singleUseToken
	signed   map[string]signedConversation
}

// SocketMessages returns a copy of the socket log: every frame clients sent on the
// sandbox's WebSockets, oldest first. ClearSocketMessages empties it.
func (s *Server) SocketMessages() []SocketMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SocketMessage, len(s.el.rt.messages))
	for i, m := range s.el.rt.messages {
		m.Data = append([]byte(nil), m.Data...)
		out[i] = m
	}
	return out
}

// ClearSocketMessages empties the socket log.
func (s *Server) ClearSocketMessages() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.el.rt.messages = nil
}

// OpenSockets reports how many of the sandbox's WebSockets are open now.
func (s *Server) OpenSockets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.el.rt.open
}

// OpenSocketsOf reports how many of the sandbox's WebSockets are open now and
// authenticated with ElevenLabs key key (a single-use token counts as the key that minted
// it), as a provider counts a key's concurrent sockets.
func (s *Server) OpenSocketsOf(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.el.rt.openBy[key]
}

// SocketsAccepted reports how many WebSockets the sandbox has accepted so far.
func (s *Server) SocketsAccepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.el.rt.accepted
}

// socketMessageJSON is one entry of GET /_sandbox/sockets' messages; Data is the frame as
// text, DataBase64 a binary frame.
type socketMessageJSON struct {
	Provider   Provider `json:"provider"`
	Path       string   `json:"path"`
	Socket     int      `json:"socket"`
	Binary     bool     `json:"binary"`
	Data       string   `json:"data,omitempty"`
	DataBase64 []byte   `json:"data_base64,omitempty"`
}

// socketsJSON is the answer of GET /_sandbox/sockets.
func (s *Server) socketsJSON() map[string]any {
	msgs := s.SocketMessages()
	out := make([]socketMessageJSON, len(msgs))
	for i, m := range msgs {
		out[i] = socketMessageJSON{Provider: m.Provider, Path: m.Path, Socket: m.Socket, Binary: m.Binary}
		if m.Binary {
			out[i].DataBase64 = m.Data
		} else {
			out[i].Data = string(m.Data)
		}
	}
	return map[string]any{"open": s.OpenSockets(), "accepted": s.SocketsAccepted(), "messages": out}
}

// takeSocketFault returns the first socket fault matching a socket of key on path and uses
// up one of its count.
func (s *Server) takeSocketFault(provider Provider, path, key string) (SocketFault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, af := range s.faults {
		f := af.f
		if f.Socket == "" || f.Provider != provider || (f.Method != "" && !strings.EqualFold(f.Method, http.MethodGet)) ||
			!strings.HasPrefix(path, f.Path) || (f.Key != "" && f.Key != key) {
			continue
		}
		if f.Count > 0 {
			af.remaining--
			if af.remaining <= 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return f.Socket, true
	}
	return "", false
}

// socketReadLimit bounds one client frame; Scribe's audio chunks are the largest.
const socketReadLimit = 8 << 20

// errSocketDone ends a socket's loop after the socket has been closed on purpose.
var errSocketDone = errors.New("socket closed")

// socket is one accepted WebSocket.
type socket struct {
	s        *Server
	conn     *websocket.Conn
	id       int
	provider Provider
	path     string
	key      string // the authenticated key, once known
	ctx      context.Context
	in       chan []byte // text frames from the client; closed when reading fails
}

// acceptSocket upgrades c to a WebSocket, counts it and starts reading its frames. When
// the upgrade fails, Accept has already answered and the returned socket is nil.
func (s *Server) acceptSocket(w http.ResponseWriter, c *call, provider Provider) *socket {
	conn, err := websocket.Accept(w, c.r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return nil
	}
	conn.SetReadLimit(socketReadLimit)
	s.mu.Lock()
	s.el.rt.open++
	s.el.rt.accepted++
	id := s.el.rt.accepted
	s.mu.Unlock()
	sk := &socket{s: s, conn: conn, id: id, provider: provider, path: c.path, ctx: context.Background(), in: make(chan []byte, 16)}
	go sk.readLoop()
	return sk
}

// readLoop logs the client's frames and hands text frames to in, until reading fails.
func (sk *socket) readLoop() {
	defer close(sk.in)
	for {
		typ, data, err := sk.conn.Read(sk.ctx)
		if err != nil {
			return
		}
		logged := data
		if len(logged) > maxLoggedBody {
			logged = logged[:maxLoggedBody]
		}
		sk.s.mu.Lock()
		sk.s.el.rt.messages = append(sk.s.el.rt.messages, SocketMessage{Provider: sk.provider, Path: sk.path,
			Socket: sk.id, Binary: typ == websocket.MessageBinary, Data: append([]byte(nil), logged...)})
		sk.s.mu.Unlock()
		if typ == websocket.MessageText {
			sk.in <- data
		}
	}
}

// finish closes the connection if still open and uncounts it.
func (sk *socket) finish() {
	_ = sk.conn.CloseNow()
	for range sk.in { // Let readLoop end.
	}
	sk.s.mu.Lock()
	sk.s.el.rt.open--
	if sk.key != "" {
		sk.s.el.rt.openBy[sk.key]--
	}
	sk.s.mu.Unlock()
}

// authenticated records that the socket belongs to key.
func (sk *socket) authenticated(key string) {
	sk.s.mu.Lock()
	defer sk.s.mu.Unlock()
	if sk.s.el.rt.openBy == nil {
		sk.s.el.rt.openBy = map[string]int{}
	}
	sk.key = key
	sk.s.el.rt.openBy[key]++
}

// send writes v as one JSON text frame.
func (sk *socket) send(v any) error {
	b, err := marshalJSON(v)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(sk.ctx, 10*time.Second)
	defer cancel()
	return sk.conn.Write(ctx, websocket.MessageText, b)
}

// close closes the socket with code and reason and reports errSocketDone.
func (sk *socket) close(code websocket.StatusCode, reason string) error {
	if len(reason) > 120 {
		reason = reason[:120]
	}
	_ = sk.conn.Close(code, reason) // A peer that is gone cannot be told.
	return errSocketDone
}

// ttsErrorFrame is the error frame of the text-to-speech sockets.
type ttsErrorFrame struct {
	Message string `json:"message"`
	Error   string `json:"error"`
	Code    int    `json:"code"`
}

// fail sends a text-to-speech error frame, then closes 1008.
func (sk *socket) fail(code, message string) error {
	_ = sk.send(ttsErrorFrame{Message: message, Error: code, Code: int(websocket.StatusPolicyViolation)})
	return sk.close(websocket.StatusPolicyViolation, code)
}

// Defaults and bounds of the text-to-speech sockets.
const (
	defaultInactivity = 20
	maxInactivity     = 180
	maxContexts       = 5
)

// defaultSchedule is generation_config.chunk_length_schedule's default.
var defaultSchedule = []int{120, 160, 250, 290}

// ttsSocketFormats are the output formats the sockets produce: mp3 and raw pcm.
func ttsSocketFormat(name string) (outputFormat, bool) {
	f, ok := parseOutputFormat(name)
	return f, ok && f.codec != "wav"
}

// ttsClientMessage is any message a client sends on a text-to-speech socket.
type ttsClientMessage struct {
	Text             *string `json:"text"`
	Flush            bool    `json:"flush"`
	GenerationConfig *struct {
		ChunkLengthSchedule []int `json:"chunk_length_schedule"`
	} `json:"generation_config"`
	KeyDash       string  `json:"xi-api-key"`
	KeyUnderscore string  `json:"xi_api_key"`
	Authorization string  `json:"authorization"`
	ContextID     *string `json:"context_id"`
	CloseContext  bool    `json:"close_context"`
	CloseSocket   bool    `json:"close_socket"`
}

// key returns the credential the message carries, if any.
func (m ttsClientMessage) key() string {
	for _, k := range []string{m.KeyDash, m.KeyUnderscore, strings.TrimPrefix(m.Authorization, "Bearer ")} {
		if k != "" {
			return k
		}
	}
	return ""
}

// ttsContext is one context's buffer and schedule.
type ttsContext struct {
	buf      string
	chunks   int
	schedule []int
}

// ttsSession is one text-to-speech socket's state.
type ttsSession struct {
	s         *Server
	sk        *socket
	multi     bool
	voiceID   string
	modelID   string
	model     elModel
	format    outputFormat
	autoMode  bool
	timeout   int // seconds
	key       string
	contexts  map[string]*ttsContext
	order     []string // context ids in creation order
	authed    bool
	headerKey string // the key in the xi-api-key or Authorization header
	token     string // "ok" or "bad" when a single_use_token was given, with tokenKey
	tokenKey  string
}

// elStreamInput serves GET /v1/text-to-speech/{voice_id}/stream-input (multi false) and
// /multi-stream-input (multi true).
func (s *Server) elStreamInput(multi bool) handler {
	return func(w http.ResponseWriter, c *call) error {
		sk := s.acceptSocket(w, c, ElevenLabs)
		if sk == nil {
			return nil
		}
		defer sk.finish()
		ts := &ttsSession{s: s, sk: sk, multi: multi, voiceID: c.params["voice_id"], contexts: map[string]*ttsContext{}}
		_ = ts.run(c.r)
		return nil
	}
}

// run checks the query, then serves messages until the socket ends.
func (ts *ttsSession) run(r *http.Request) error {
	q := r.URL.Query()
	ts.headerKey = r.Header.Get("Xi-Api-Key")
	if ts.headerKey == "" {
		ts.headerKey = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	if tok := q.Get("single_use_token"); tok != "" {
		ts.tokenKey, ts.token = ts.s.consumeToken(tok, tokenTTS), "bad"
		if ts.tokenKey != "" {
			ts.token = "ok"
		}
	}
	if err := ts.parseQuery(q); err != nil {
		return err
	}
	timer := time.NewTimer(ts.timeoutDuration())
	defer timer.Stop()
	for {
		select {
		case data, ok := <-ts.sk.in:
			if !ok {
				return errSocketDone
			}
			timer.Reset(ts.timeoutDuration())
			if err := ts.handle(data); err != nil {
				return err
			}
		case <-timer.C:
			return ts.sk.fail("input_timeout_exceeded", "Have not received a new text input within the timeout of "+
				strconv.FormatFloat(float64(ts.timeout), 'f', 1, 64)+" seconds. Streaming input terminated. Please send text more often.")
		}
	}
}

// parseQuery reads output_format, inactivity_timeout, auto_mode and model_id; a bad value
// is an error frame and close 1008.
func (ts *ttsSession) parseQuery(q map[string][]string) error {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	name := get("output_format")
	if name == "" {
		name = defaultOutputFormat
	}
	f, ok := ttsSocketFormat(name)
	if !ok {
		return ts.sk.fail("invalid_output_format", "Invalid output_format '"+name+"'. The sandbox serves mp3_* and pcm_* formats on this socket.")
	}
	ts.format = f
	ts.timeout = defaultInactivity
	if v := get("inactivity_timeout"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxInactivity {
			return ts.sk.fail("invalid_inactivity_timeout", "inactivity_timeout must be an integer between 1 and 180 seconds, got '"+v+"'.")
		}
		ts.timeout = n
	}
	ts.autoMode = get("auto_mode") == "true"
	ts.modelID = get("model_id")
	if ts.modelID == "" {
		ts.modelID = defaultModelID
	}
	return nil
}

// timeoutDuration is the inactivity timeout on the server's socket clock.
func (ts *ttsSession) timeoutDuration() time.Duration {
	return time.Duration(ts.timeout) * ts.s.socketSecond()
}

// socketSecond is how long one second of a socket's inactivity_timeout lasts.
func (s *Server) socketSecond() time.Duration {
	if s.cfg.SocketSecond > 0 {
		return s.cfg.SocketSecond
	}
	return time.Second
}

// handle serves one client message.
func (ts *ttsSession) handle(data []byte) error {
	var m ttsClientMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return ts.sk.fail("invalid_message", "Could not parse the message as JSON: "+err.Error())
	}
	first := !ts.authed
	if first {
		if err := ts.authenticate(m); err != nil {
			return err
		}
		if !ts.multi && (m.Text == nil || *m.Text != " ") {
			return ts.sk.fail("invalid_message", `The first message must be the initial message with text " " (a single space).`)
		}
	}
	if ts.multi {
		return ts.handleMulti(m)
	}
	return ts.handleSingle(m, first)
}

// authenticate finds the socket's key (header, single-use token, then the first message),
// then checks the voice and model and applies any socket fault.
func (ts *ttsSession) authenticate(m ttsClientMessage) error {
	key := ts.headerKey
	switch {
	case key != "":
	case ts.token == "ok":
		key = ts.tokenKey
	case ts.token == "bad":
		return ts.sk.fail("invalid_api_key", "Invalid or expired single-use token")
	default:
		key = m.key()
	}
	switch {
	case key == "":
		return ts.sk.fail("authentication_required", "None of the authentication methods (xi-api-key, authorization header, single-use token) were found.")
	case !ts.s.keyAccepted(ElevenLabs, key):
		return ts.sk.fail("invalid_api_key", "Invalid API key")
	}
	ts.key, ts.authed = key, true
	ts.sk.authenticated(key)
	if _, ok := ts.s.elVoice(key, ts.voiceID); !ok {
		return ts.sk.fail("voice_not_found", "A voice with the voice_id "+ts.voiceID+" was not found.")
	}
	model, ok := ts.s.eleven.model(ts.modelID)
	switch {
	case !ok || !model.TTS:
		return ts.sk.fail("invalid_uid", "An invalid ID has been received: '"+ts.modelID+"'. Make sure to provide a correct one.")
	case model.ID == "eleven_v3": // served by text-to-dialogue only; the real socket answers 1009
		return ts.sk.close(websocket.StatusMessageTooBig, "")
	}
	ts.model = model
	if f, ok := ts.s.takeSocketFault(ElevenLabs, ts.sk.path, key); ok {
		if f == SocketMessageTooBig {
			return ts.sk.close(websocket.StatusMessageTooBig, "")
		}
		return ts.sk.fail(string(f), socketFaultMessage(f))
	}
	return nil
}

// handleSingle serves a stream-input message.
func (ts *ttsSession) handleSingle(m ttsClientMessage, first bool) error {
	ctx := ts.context("", m)
	text := ""
	if m.Text != nil {
		text = *m.Text
	}
	switch {
	case m.Text != nil && text == "": // EOS
		if err := ts.generate("", ctx); err != nil {
			return err
		}
		if err := ts.sk.send(ttsFinalFrame{IsFinal: true}); err != nil {
			return err
		}
		return ts.sk.close(websocket.StatusNormalClosure, "")
	case first || text == " ": // BOS or keep-alive
		if m.Flush {
			return ts.generate("", ctx)
		}
		return nil
	}
	return ts.addText("", ctx, text, m.Flush)
}

// handleMulti serves a multi-stream-input message.
func (ts *ttsSession) handleMulti(m ttsClientMessage) error {
	if m.CloseSocket {
		for _, id := range ts.order {
			if err := ts.closeContext(id); err != nil {
				return err
			}
		}
		return ts.sk.close(websocket.StatusNormalClosure, "")
	}
	id := ""
	if m.ContextID != nil {
		id = *m.ContextID
	}
	if _, ok := ts.contexts[id]; !ok {
		if m.CloseContext {
			return nil // Nothing to close.
		}
		if len(ts.contexts) >= maxContexts {
			return ts.sk.fail("max_active_conversations", "Maximum simultaneous contexts per WebSocket connection exceeded (5). Please close an existing context before opening a new one.")
		}
	}
	ctx := ts.context(id, m)
	if m.CloseContext {
		return ts.closeContext(id)
	}
	text := ""
	if m.Text != nil {
		text = *m.Text
	}
	if text == "" || text == " " { // init or keep-alive
		if m.Flush {
			return ts.generate(id, ctx)
		}
		return nil
	}
	return ts.addText(id, ctx, text, m.Flush)
}

// context returns context id, creating it with m's generation_config if new.
func (ts *ttsSession) context(id string, m ttsClientMessage) *ttsContext {
	if ctx, ok := ts.contexts[id]; ok {
		return ctx
	}
	ctx := &ttsContext{schedule: defaultSchedule}
	if g := m.GenerationConfig; g != nil && len(g.ChunkLengthSchedule) > 0 {
		ctx.schedule = g.ChunkLengthSchedule
	}
	ts.contexts[id] = ctx
	ts.order = append(ts.order, id)
	return ctx
}

// closeContext generates what context id still buffers, sends its isFinal and frees its
// slot.
func (ts *ttsSession) closeContext(id string) error {
	ctx, ok := ts.contexts[id]
	if !ok {
		return nil
	}
	if err := ts.generate(id, ctx); err != nil {
		return err
	}
	delete(ts.contexts, id)
	for i, o := range ts.order {
		if o == id {
			ts.order = append(ts.order[:i:i], ts.order[i+1:]...)
			break
		}
	}
	return ts.sk.send(ttsFinalFrame{IsFinal: true, ContextID: id})
}

// addText buffers text and generates the buffer when the schedule, a flush or auto_mode
// says so.
func (ts *ttsSession) addText(id string, ctx *ttsContext, text string, flush bool) error {
	ctx.buf += text
	if flush || ts.autoMode {
		return ts.generate(id, ctx)
	}
	threshold := ctx.schedule[min(ctx.chunks, len(ctx.schedule)-1)]
	if utf8.RuneCountInString(ctx.buf) >= threshold {
		return ts.generate(id, ctx)
	}
	return nil
}

// ttsAlignment is the per-character timing of one audio frame.
type ttsAlignment struct {
	Chars            []string `json:"chars"`
	CharStartTimesMs []int    `json:"charStartTimesMs"`
	CharDurationsMs  []int    `json:"charDurationsMs"`
}

// ttsAudioFrame is one chunk of audio with its alignment.
type ttsAudioFrame struct {
	Audio               string        `json:"audio"`
	NormalizedAlignment *ttsAlignment `json:"normalizedAlignment"`
	Alignment           *ttsAlignment `json:"alignment"`
	ContextID           string        `json:"contextId,omitempty"`
}

// ttsFinalFrame ends a stream or a context.
type ttsFinalFrame struct {
	IsFinal   bool   `json:"isFinal"`
	ContextID string `json:"contextId,omitempty"`
}

// generate speaks what ctx buffers as one audio frame, charging its characters; an empty
// buffer sends nothing. Beyond the key's characters the socket fails quota_exceeded.
func (ts *ttsSession) generate(id string, ctx *ttsContext) error {
	text := ctx.buf
	if text == "" {
		return nil
	}
	ctx.buf = ""
	ctx.chunks++
	cost := int(math.Ceil(float64(utf8.RuneCountInString(text)) * ts.model.CostMultiplier))
	if err := ts.s.checkQuota(ts.key, cost); err != nil {
		var ae *apiError
		msg := "This request exceeds your quota."
		if errors.As(err, &ae) {
			var body struct {
				Detail struct{ Message string } `json:"detail"`
			}
			if json.Unmarshal(ae.body, &body) == nil {
				msg = body.Detail.Message
			}
		}
		return ts.sk.fail("quota_exceeded", msg)
	}
	ts.s.chargeTTS(ts.key, cost)
	sp := synthesize(text, ts.voiceID, ts.modelID, ts.format)
	al := wsAlignment(text, sp.units)
	norm := *al
	return ts.sk.send(ttsAudioFrame{Audio: base64.StdEncoding.EncodeToString(sp.audio), Alignment: al,
		NormalizedAlignment: &norm, ContextID: id})
}

// wsAlignment times every character of text within its chunk, in whole milliseconds.
func wsAlignment(text string, units []timedUnit) *ttsAlignment {
	runes := []rune(text)
	al := &ttsAlignment{Chars: []string{}, CharStartTimesMs: []int{}, CharDurationsMs: []int{}}
	for _, u := range units {
		k := u.runeEnd - u.runeStart
		step := (u.end - u.start) / float64(max(k, 1))
		for i := range k {
			start := int(math.Round((u.start + step*float64(i)) * 1000))
			end := int(math.Round((u.start + step*float64(i+1)) * 1000))
			al.Chars = append(al.Chars, string(runes[u.runeStart+i]))
			al.CharStartTimesMs = append(al.CharStartTimesMs, start)
			al.CharDurationsMs = append(al.CharDurationsMs, end-start)
		}
	}
	return al
}

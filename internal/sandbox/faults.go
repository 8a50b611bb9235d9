package sandbox

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault makes matching requests misbehave, for tests of the proxy's error handling.
// A request matches when Provider, Method and Path all match; the first matching fault applies.
type Fault struct {
	// Provider is the provider whose requests the fault matches.
	Provider Provider
	// Method is the HTTP method to match; "" matches any.
	Method string
	// Path is a provider path prefix such as "/v2/avatars"; "" matches any.
	Path string
	// Status is the status to answer with; 0 leaves the answer to the simulator.
	Status int
	// Body is the body sent with Status. If empty, the provider's realistic body for that
	// status is used (see defaultFaultBody).
	Body string
	// Header holds extra headers for the response, such as Retry-After.
	Header http.Header
	// Delay is a pause before answering. A client that cancels meanwhile gets no answer.
	Delay time.Duration
	// Count is how many matching requests the fault applies to; 0 means until cleared.
	Count int
	// Reset closes the connection (with a TCP reset where possible) without answering.
	Reset bool
	// OK200Error answers HTTP 200 with an error body, a quirk HeyGen really has. It applies
	// to HeyGen faults only.
	OK200Error bool
	// Socket, when set, makes the fault one of a WebSocket's instead of an HTTP answer: the
	// next matching socket is accepted and then fails in band that way (see SocketFault and
	// the package doc's "Real time"). HTTP requests never match it.
	Socket SocketFault
	// Key, when set, matches only sockets authenticated with this API key (a single-use
	// token counts as the key that minted it). It applies to Socket faults only.
	Key string
}

// activeFault is an injected fault and how many more requests it may still affect.
type activeFault struct {
	f         Fault
	remaining int // meaningful only when f.Count > 0
}

// InjectFault adds f after the faults already injected.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &activeFault{f: f, remaining: f.Count})
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	s.bodyFaults = nil
}

// takeFault returns the first fault matching the request and uses up one of its count.
func (s *Server) takeFault(provider Provider, method, path string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, af := range s.faults {
		f := af.f
		if f.Socket != "" || f.Provider != provider || (f.Method != "" && !strings.EqualFold(f.Method, method)) ||
			!strings.HasPrefix(path, f.Path) {
			continue
		}
		if f.Count > 0 {
			af.remaining--
			if af.remaining <= 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return f, true
	}
	return Fault{}, false
}

// applyFault applies a matching fault. It reports whether the request has been fully handled.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, provider Provider, path string) bool {
	f, ok := s.takeFault(provider, r.Method, path)
	if !ok {
		return false
	}
	if f.Delay > 0 && !sleepCtx(r, f.Delay) {
		return true
	}
	if f.Reset {
		resetConnection(w)
		return true
	}
	for k, vs := range f.Header {
		w.Header()[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	switch {
	case f.OK200Error && provider == HeyGen:
		s.apis[provider].decorate(w.Header())
		writeRaw(w, heygenOK200Error(path))
	case f.Status != 0:
		sv := s.apis[provider]
		sv.decorate(w.Header())
		if sv.decorateError != nil && f.Status >= 400 {
			sv.decorateError(w.Header())
		}
		writeRaw(w, faultResponse(provider, path, f))
	default:
		return false // Only a delay or extra headers: the simulator answers as usual.
	}
	return true
}

// sleepCtx waits d or until r's client goes away; it reports whether d elapsed.
func sleepCtx(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// resetConnection drops the connection without a response. Over HTTP/1 it hijacks the
// connection and closes it with SO_LINGER 0, so the client sees a reset; otherwise it aborts
// the handler, which makes net/http drop the stream.
func resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // Best effort: a plain close still ends the exchange.
	}
	_ = conn.Close()
}

// faultResponse builds the response for a fault with a Status.
func faultResponse(provider Provider, path string, f Fault) *apiError {
	if f.Body == "" {
		return defaultFaultBody(provider, path, f.Status)
	}
	ct := "text/plain; charset=utf-8"
	if t := strings.TrimSpace(f.Body); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		ct = "application/json"
	}
	return &apiError{status: f.Status, contentType: ct, body: []byte(f.Body)}
}

// defaultFaultBody returns the body a provider really sends with status.
//
// HeyGen: 401 and 404 as the simulator answers them; 429 trial_video_limit_exceeded (the 429
// body seen in the wild); 502/503/504 the load balancer's HTML page; anything else the v2 (or,
// for /v1 paths, v1) error envelope. ElevenLabs: 401 invalid_api_key; 404 voice_not_found;
// 429 too_many_concurrent_requests; 500 the bare internal_server_error body; 503 system_busy;
// 502/504 the Google front end's HTML page; anything else a {"detail":{...}} body. LiveAvatar:
// 401 {"code":4010,...}; 404 and 405 {"detail":"Not Found"}; 502/504 the HTML page; anything
// else {"code":status*10,"data":null,"message":<status text>}.
func defaultFaultBody(provider Provider, path string, status int) *apiError {
	if status == http.StatusBadGateway || status == http.StatusGatewayTimeout ||
		(provider == HeyGen && status == http.StatusServiceUnavailable) {
		return gatewayPage(status)
	}
	switch provider {
	case HeyGen:
		return heygenStatusBody(path, status)
	case LiveAvatar:
		return laStatusBody(status) // liveavatar.go
	}
	return elevenStatusBody(status)
}

// gatewayPage is the HTML a load balancer answers with when the service behind it fails.
func gatewayPage(status int) *apiError {
	text := http.StatusText(status)
	code := strconv.Itoa(status)
	body := "<html>\r\n<head><title>" + code + " " + text + "</title></head>\r\n<body>\r\n<center><h1>" +
		code + " " + text + "</h1></center>\r\n</body>\r\n</html>\r\n"
	return &apiError{status: status, contentType: "text/html", body: []byte(body)}
}

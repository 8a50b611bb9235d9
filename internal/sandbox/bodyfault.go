package sandbox

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"time"
)

// BodyFaultKind names how a BodyFault spoils an answer.
type BodyFaultKind string

// The body fault kinds.
const (
	// BodyCut sends the answer's head and its first CutAfter body bytes, then
	// drops the connection: a stream cut midway.
	BodyCut BodyFaultKind = "cut"
	// BodySlow sends the answer's body in pieces of at most 64 bytes with
	// Pause between them: a slow, or with a long Pause a stalled, body.
	BodySlow BodyFaultKind = "slow"
	// BodyGarbage answers with bytes that are not HTTP at all, then closes
	// the connection.
	BodyGarbage BodyFaultKind = "garbage"
)

// BodyFault spoils matching answers after the simulator has made them, for
// tests of what the proxy does when a provider fails mid-answer. Matching
// works as for Fault.
type BodyFault struct {
	Provider Provider
	// Method is the HTTP method to match; "" matches any.
	Method string
	// Path is a provider path prefix; "" matches any.
	Path string
	Kind BodyFaultKind
	// CutAfter is how many body bytes BodyCut lets through.
	CutAfter int
	// Pause is BodySlow's wait between pieces.
	Pause time.Duration
	// Count is how many matching requests the fault applies to; 0 means
	// until cleared.
	Count int
}

type activeBodyFault struct {
	f         BodyFault
	remaining int
}

// InjectBodyFault adds f after the body faults already injected.
// ClearFaults removes them too.
func (s *Server) InjectBodyFault(f BodyFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bodyFaults = append(s.bodyFaults, &activeBodyFault{f: f, remaining: f.Count})
}

// takeBodyFault returns the first body fault matching a request and uses
// up one of its count.
func (s *Server) takeBodyFault(provider Provider, method, path string) (BodyFault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, af := range s.bodyFaults {
		f := af.f
		if f.Provider != provider || (f.Method != "" && !strings.EqualFold(f.Method, method)) ||
			!strings.HasPrefix(path, f.Path) {
			continue
		}
		if f.Count > 0 {
			af.remaining--
			if af.remaining <= 0 {
				s.bodyFaults = append(s.bodyFaults[:i:i], s.bodyFaults[i+1:]...)
			}
		}
		return f, true
	}
	return BodyFault{}, false
}

// spoilBody wraps w by the first matching body fault. It reports false
// when the request has been answered already (garbage).
func (s *Server) spoilBody(w http.ResponseWriter, r *http.Request, provider Provider, path string) (http.ResponseWriter, bool) {
	f, ok := s.takeBodyFault(provider, r.Method, path)
	if !ok {
		return w, true
	}
	switch f.Kind {
	case BodyGarbage:
		writeGarbage(w)
		return w, false
	case BodyCut:
		return &cutWriter{ResponseWriter: w, left: f.CutAfter}, true
	case BodySlow:
		return &slowWriter{ResponseWriter: w, r: r, pause: f.Pause}, true
	}
	return w, true
}

// writeGarbage answers with bytes no HTTP client can parse.
func writeGarbage(w http.ResponseWriter) {
	conn, buf, err := hijack(w)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_, _ = buf.WriteString("\x00\xffNOT HTTP AT ALL\r\n\r\n\x13\x37garbage")
	_ = buf.Flush()
	_ = conn.Close()
}

func hijack(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w).Hijack()
}

// cutWriter lets left body bytes through, then aborts the connection.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if len(p) > c.left {
		n, _ := c.ResponseWriter.Write(p[:c.left])
		c.left = 0
		_ = http.NewResponseController(c.ResponseWriter).Flush()
		_ = n
		panic(http.ErrAbortHandler) // net/http drops the connection mid-body
	}
	c.left -= len(p)
	return c.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the real writer.
func (c *cutWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// slowWriter trickles the body out in small pieces.
type slowWriter struct {
	http.ResponseWriter
	r     *http.Request
	pause time.Duration
}

func (s *slowWriter) Write(p []byte) (int, error) {
	written := 0
	rc := http.NewResponseController(s.ResponseWriter)
	for len(p) > 0 {
		n := min(len(p), 64)
		m, err := s.ResponseWriter.Write(p[:n])
		written += m
		if err != nil {
			return written, err
		}
		_ = rc.Flush()
		p = p[n:]
		if !sleepCtx(s.r, s.pause) {
			panic(http.ErrAbortHandler)
		}
	}
	return written, nil
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *slowWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

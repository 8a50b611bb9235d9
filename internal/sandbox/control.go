package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// faultJSON is a Fault as POST /_sandbox/faults reads it; the package doc shows the format.
type faultJSON struct {
	Provider   Provider                   `json:"provider"`
	Method     string                     `json:"method"`
	Path       string                     `json:"path"`
	Status     int                        `json:"status"`
	Body       string                     `json:"body"`
	Header     map[string]json.RawMessage `json:"header"`
	Delay      json.RawMessage            `json:"delay"`
	Count      int                        `json:"count"`
	Reset      bool                       `json:"reset"`
	OK200Error bool                       `json:"ok200_error"`
	Socket     SocketFault                `json:"socket"`
	Key        string                     `json:"key"`
}

// requestJSON is one entry of GET /_sandbox/requests. Body is the body as text when it is
// valid UTF-8; otherwise BodyBase64 carries it.
type requestJSON struct {
	Provider   Provider    `json:"provider"`
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	RawQuery   string      `json:"raw_query"`
	Header     http.Header `json:"header"`
	Body       string      `json:"body,omitempty"`
	BodyBase64 []byte      `json:"body_base64,omitempty"`
}

// keyJSON is the body of POST /_sandbox/keys.
type keyJSON struct {
	Provider Provider `json:"provider"`
	Key      string   `json:"key"`
}

// serveControl answers the /_sandbox/ control API.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	if s.serveKeyControl(w, r) { // keys.go
		return
	}
	switch r.Method + " " + r.URL.Path {
	case "POST /_sandbox/faults":
		s.controlAddFault(w, r)
	case "DELETE /_sandbox/faults":
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	case "GET /_sandbox/requests":
		writeJSON(w, http.StatusOK, requestsJSON(s.Requests()))
	case "DELETE /_sandbox/requests":
		s.ClearRequests()
		w.WriteHeader(http.StatusNoContent)
	case "GET /_sandbox/sockets":
		writeJSON(w, http.StatusOK, s.socketsJSON()) // elevenlabs_ws.go
	case "DELETE /_sandbox/sockets":
		s.ClearSocketMessages()
		w.WriteHeader(http.StatusNoContent)
	case "POST /_sandbox/keys":
		s.controlAddKey(w, r)
	case "POST /_sandbox/liveavatar/end":
		s.controlEndLiveAvatar(w, r) // liveavatar_session.go
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown control endpoint"})
	}
}

// controlAddFault decodes a fault and injects it.
func (s *Server) controlAddFault(w http.ResponseWriter, r *http.Request) {
	var fj faultJSON
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&fj); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "decode fault: " + err.Error()})
		return
	}
	f, err := fj.fault()
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	s.InjectFault(f)
	w.WriteHeader(http.StatusNoContent)
}

// controlAddKey decodes a provider and key and accepts the key.
func (s *Server) controlAddKey(w http.ResponseWriter, r *http.Request) {
	var kj keyJSON
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&kj)
	if err == nil && (kj.Key == "" || !knownProvider(kj.Provider)) {
		err = errors.New(`want {"provider":"heygen"|"elevenlabs"|"liveavatar","key":"..."}`)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	s.AddKey(kj.Provider, kj.Key)
	w.WriteHeader(http.StatusNoContent)
}

// knownProvider reports whether p is one of the simulated providers.
func knownProvider(p Provider) bool {
	return p == HeyGen || p == ElevenLabs || p == LiveAvatar
}

// fault converts the JSON form to a Fault, checking it.
func (fj faultJSON) fault() (Fault, error) {
	if !knownProvider(fj.Provider) {
		return Fault{}, fmt.Errorf("fault provider %q: want heygen, elevenlabs or liveavatar", fj.Provider)
	}
	delay, err := parseDelay(fj.Delay)
	if err != nil {
		return Fault{}, err
	}
	header, err := parseHeader(fj.Header)
	if err != nil {
		return Fault{}, err
	}
	return Fault{
		Provider: fj.Provider, Method: fj.Method, Path: fj.Path, Status: fj.Status, Body: fj.Body,
		Header: header, Delay: delay, Count: fj.Count, Reset: fj.Reset, OK200Error: fj.OK200Error,
		Socket: fj.Socket, Key: fj.Key,
	}, nil
}

// parseDelay reads a Go duration string or a number of milliseconds.
func parseDelay(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var text string
	if err := json.Unmarshal(raw, &text); err == nil {
		d, err := time.ParseDuration(text)
		if err != nil {
			return 0, fmt.Errorf("fault delay: %w", err)
		}
		return d, nil
	}
	ms, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, fmt.Errorf("fault delay %s: want a duration string or milliseconds", raw)
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}

// parseHeader reads header values given as strings or lists of strings.
func parseHeader(raw map[string]json.RawMessage) (http.Header, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	h := http.Header{}
	for k, v := range raw {
		var one string
		if err := json.Unmarshal(v, &one); err == nil {
			h.Add(k, one)
			continue
		}
		var many []string
		if err := json.Unmarshal(v, &many); err != nil {
			return nil, fmt.Errorf("fault header %q: want a string or a list of strings", k)
		}
		for _, m := range many {
			h.Add(k, m)
		}
	}
	return h, nil
}

// requestsJSON converts the request log to its JSON form.
func requestsJSON(reqs []Request) []requestJSON {
	out := make([]requestJSON, len(reqs))
	for i, r := range reqs {
		out[i] = requestJSON{
			Provider: r.Provider, Method: r.Method, Path: r.Path, RawQuery: r.RawQuery, Header: r.Header,
		}
		if utf8.Valid(r.Body) {
			out[i].Body = string(r.Body)
		} else {
			out[i].BodyBase64 = bytes.Clone(r.Body)
		}
	}
	return out
}

package proxy

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// input is what the client sent: its envelope and, for uploads, the
// multipart stream positioned at the first file part.
type input struct {
	env   Envelope
	mr    *multipart.Reader
	first *multipart.Part

	mu      sync.Mutex
	failure error
}

func (in *input) close() {
	if in.first != nil {
		in.first.Close()
	}
}

func (in *input) err() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.failure
}

func (in *input) fail(err error) {
	err = uploadError(err)
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.failure == nil {
		in.failure = err
	}
}

// readInput reads the envelope. A JSON envelope is read whole (it is
// bounded); a multipart request is read only up to its first file part so
// that files stream to the provider.
func (p *reader) readInput(r *http.Request, ep *aiproxy.Endpoint) (*input, error) {
	mediaType, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body, err := limitBody(r, p.bodyLimit(ep, mediaType == "multipart/form-data"))
	if err != nil {
		return nil, err
	}
	if mediaType == "multipart/form-data" {
		if ep.RequestMode != aiproxy.RequestMultipart && ep.RequestMode != aiproxy.RequestBinary {
			return nil, invalidf("This endpoint takes a JSON envelope, not multipart/form-data.")
		}
		in, err := p.readMultipart(body, params["boundary"])
		if err == nil && ep.RequestMode == aiproxy.RequestBinary && in.first == nil {
			return nil, invalidf("This endpoint takes a file upload as multipart/form-data.")
		}
		return in, err
	}
	if ep.RequestMode == aiproxy.RequestBinary {
		return nil, invalidf("This endpoint takes a file upload as multipart/form-data.")
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, bodyReadError(err)
	}
	env, err := DecodeEnvelope(data)
	if err != nil {
		return nil, err
	}
	return &input{env: env}, nil
}

func bodyReadError(err error) error {
	if e := uploadError(err); e != err {
		return e
	}
	return invalidf("Could not read the request body.")
}

func (p *reader) readMultipart(body io.Reader, boundary string) (*input, error) {
	if boundary == "" {
		return nil, invalidf("Invalid multipart/form-data request.")
	}
	mr := multipart.NewReader(body, boundary)
	fields := map[string]json.RawMessage{}
	in := &input{mr: mr}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, multipartError(err)
		}
		name := part.FormName()
		if part.FileName() == "" && envelopeFields[name] && name != "files" {
			if _, dup := fields[name]; dup {
				return nil, invalidf("Invalid request envelope: field %q appears twice.", name)
			}
			data, err := io.ReadAll(io.LimitReader(part, p.cfg.MaxEnvelopeBytes+1))
			if err != nil {
				return nil, multipartError(err)
			}
			if int64(len(data)) > p.cfg.MaxEnvelopeBytes {
				return nil, aiproxy.Errorf(aiproxy.CodeTooLarge, "Envelope field %q exceeds %d bytes.", name, p.cfg.MaxEnvelopeBytes)
			}
			fields[name] = data
			continue
		}
		in.first = part
		break
	}
	env, err := envelopeFromFields(fields)
	if err != nil {
		return nil, err
	}
	in.env = env
	return in, nil
}

func envelopeFromFields(fields map[string]json.RawMessage) (Envelope, error) {
	obj := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		if !json.Valid(v) {
			return Envelope{}, invalidf("Invalid request envelope: form field %q must hold JSON.", k)
		}
		obj[k] = v
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return Envelope{}, internal("encode envelope", err)
	}
	return DecodeEnvelope(data)
}

// upstreamBody returns the outbound body and its Content-Type for the
// endpoint's request mode.
func (in *input) upstreamBody(ep *aiproxy.Endpoint) (io.Reader, string) {
	switch ep.RequestMode {
	case aiproxy.RequestRaw:
		return nil, ""
	case aiproxy.RequestMultipart:
		return in.multipartBody()
	case aiproxy.RequestBinary:
		return in.binaryBody()
	}
	if in.env.Body == nil || !methodHasBody(ep.HTTPMethod) {
		return nil, ""
	}
	return strings.NewReader(string(in.env.Body)), "application/json"
}

func methodHasBody(m string) bool { return m != http.MethodGet && m != http.MethodHead }

// binaryBody streams the single uploaded file as the raw upstream body.
func (in *input) binaryBody() (io.Reader, string) {
	if in.first == nil {
		return nil, ""
	}
	ct := in.first.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	return &singlePart{in: in}, ct
}

type singlePart struct {
	in   *input
	done bool
}

func (s *singlePart) Read(p []byte) (int, error) {
	if s.done {
		return 0, io.EOF
	}
	n, err := s.in.first.Read(p)
	if err != nil && err != io.EOF {
		s.in.fail(err)
	}
	if err == io.EOF {
		s.done = true
		if next, nerr := s.in.mr.NextPart(); nerr != io.EOF {
			if next != nil {
				next.Close()
			}
			e := invalidf("This endpoint takes exactly one file part.")
			s.in.fail(e)
			return n, e
		}
	}
	return n, err
}

// multipartBody re-encodes the upload for the provider through a pipe: the
// envelope's body fields first, then every remaining part, streamed.
func (in *input) multipartBody() (io.Reader, string) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := in.writeMultipart(mw)
		if err == nil {
			err = mw.Close()
		}
		if err != nil {
			in.fail(err)
		}
		pw.CloseWithError(err)
	}()
	return pr, mw.FormDataContentType()
}

func (in *input) writeMultipart(mw *multipart.Writer) error {
	if err := writeBodyFields(mw, in.env.Body); err != nil {
		return err
	}
	part := in.first
	for part != nil {
		if err := copyPart(mw, part); err != nil {
			return err
		}
		if in.mr == nil {
			return nil
		}
		next, err := in.mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return invalidf("Invalid multipart/form-data request.")
		}
		part = next
	}
	return nil
}

func copyPart(mw *multipart.Writer, part *multipart.Part) error {
	h := textproto.MIMEHeader{}
	disp := fmt.Sprintf(`form-data; name=%q`, part.FormName())
	if fn := part.FileName(); fn != "" {
		disp += fmt.Sprintf(`; filename=%q`, fn)
	}
	h.Set("Content-Disposition", disp)
	if ct := part.Header.Get("Content-Type"); ct != "" {
		h.Set("Content-Type", ct)
	}
	w, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, part)
	return err
}

// writeBodyFields turns a JSON object into form fields: strings as they are,
// arrays as repeated fields, anything else as its JSON text.
func writeBodyFields(mw *multipart.Writer, body json.RawMessage) error {
	if body == nil {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return invalidf("Invalid request envelope: body must be a JSON object for a multipart endpoint.")
	}
	for _, k := range sortedKeys(obj) {
		var items []json.RawMessage
		if json.Unmarshal(obj[k], &items) != nil {
			items = []json.RawMessage{obj[k]}
		}
		for _, it := range items {
			if err := mw.WriteField(k, fieldText(it)); err != nil {
				return err
			}
		}
	}
	return nil
}

func fieldText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// upstreamURL builds the provider URL from the catalog's base URL, the
// expanded path template and the envelope's query.
func upstreamURL(svc *aiproxy.Service, ep *aiproxy.Endpoint, env Envelope) (string, error) {
	path, err := ep.Path.Expand(env.PathParams)
	if err != nil {
		return "", err
	}
	u := strings.TrimRight(svc.BaseURLFor(ep), "/") + path
	if len(env.Query) > 0 {
		u += "?" + url.Values(env.Query).Encode()
	}
	return u, nil
}

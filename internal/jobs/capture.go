package jobs

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
)

// maxCaptured bounds a provider answer that jobs read whole: the answer of a
// job start or a status read is a small JSON document.
const maxCaptured = 4 << 20

var errTooLarge = errors.New("provider answer exceeds 4 MiB")

// capture is an http.ResponseWriter that keeps what the proxy would have
// sent the client, so that jobs can read it, store it and send it later.
type capture struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newCapture() *capture { return &capture{header: http.Header{}} }

func (c *capture) Header() http.Header { return c.header }

func (c *capture) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}

func (c *capture) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if c.body.Len()+len(p) > maxCaptured {
		return 0, errTooLarge
	}
	return c.body.Write(p)
}

// reply is a complete answer to a client: status, headers and body.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (c *capture) reply() reply {
	return reply{status: c.status, header: c.header, body: bytes.Clone(c.body.Bytes())}
}

// jsonReply is a stored JSON body answered with 200.
func jsonReply(body []byte) reply {
	return reply{status: http.StatusOK, header: http.Header{"Content-Type": {"application/json"}}, body: body}
}

// write sends the reply and returns the number of body bytes written.
func (r reply) write(w http.ResponseWriter) int64 {
	h := w.Header()
	for k, v := range r.header {
		h[k] = v
	}
	h.Set("Content-Length", strconv.Itoa(len(r.body)))
	w.WriteHeader(r.status)
	n, _ := w.Write(r.body)
	return int64(n)
}

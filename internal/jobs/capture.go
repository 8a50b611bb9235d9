package jobs

import (
	"errors"
	"net/http"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// maxCaptured bounds a provider answer that jobs read whole: the answer of a
// job start or a status read is a small JSON document.
const maxCaptured = 4 << 20

// reply is a complete answer that jobs keep: status, headers and body.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// readReply reads an answer whole, at most maxCaptured bytes, leaving it
// fit to be written.
func readReply(a *proxy.Answer) (reply, error) {
	body, err := a.Bytes(maxCaptured)
	if err != nil {
		if errors.Is(err, proxy.ErrAnswerTooLarge) {
			err = errors.New("provider answer exceeds 4 MiB")
		}
		return reply{}, &aiproxy.Error{Code: aiproxy.CodeUpstreamFailed, Message: aiproxy.MsgUpstreamFailed, Err: err}
	}
	return reply{status: a.Status, header: a.Header, body: body}, nil
}

// jsonReply is a stored JSON body answered with 200.
func jsonReply(body []byte) reply {
	return reply{status: http.StatusOK, header: http.Header{"Content-Type": {"application/json"}}, body: body}
}

// answer is the reply as the pipeline's answer.
func (r reply) answer() *proxy.Answer {
	return proxy.NewAnswer(r.status, r.header.Clone(), r.body)
}

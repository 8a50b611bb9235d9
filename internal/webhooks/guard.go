package webhooks

import (
	"errors"
	"net/url"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/egress"
)

// An org admin chooses where aiproxy posts its webhooks, so unless the
// operator allows it (Config.AllowPrivateWebhooks) aiproxy refuses to post
// to addresses inside its own network. The egress package holds the
// guard: a URL naming such an address (or a numeric host in any form but
// the canonical a.b.c.d) is refused when it is registered, here, and the
// delivery client (egress.NewClient) checks the host and the address it
// resolved to again on every connection, so that a name cannot be pointed
// inside later.

// checkWebhookHost refuses, at registration, a webhook URL whose host the
// egress guard refuses, with a message for the org admin who registers it.
func checkWebhookHost(u *url.URL) error {
	switch err := egress.CheckURL(u); {
	case errors.Is(err, egress.ErrPrivateHost):
		return aiproxy.Errorf(aiproxy.CodeInvalid,
			"Invalid webhook URL %q: it points at a loopback, private or link-local address, which this server does not post to.", u.String())
	case err != nil:
		return aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid webhook URL %q: %s.", u.String(), err.Error())
	}
	return nil
}

package jobs

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// An org admin chooses where aiproxy posts its webhooks, so unless the
// operator allows it (Config.AllowPrivateWebhooks) aiproxy refuses to post
// to addresses inside its own network: loopback, private and link-local
// ranges (cloud metadata services live at 169.254.169.254), carrier-grade
// NAT, unique-local IPv6, and the unspecified, multicast and reserved
// addresses. A URL naming such an address is refused when it is
// registered; a host name is checked on every connection, against the
// address it resolved to, so that a name cannot be pointed inside later.

// sharedAddressSpace is 100.64.0.0/10 (RFC 6598), which netip does not
// count as private.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

// blockedWebhookAddr reports whether a webhook may not be posted to addr.
func blockedWebhookAddr(addr netip.Addr) bool {
	addr = addr.Unmap()
	return !addr.IsValid() || addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast() ||
		addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast() || addr.IsMulticast() ||
		addr.IsUnspecified() || sharedAddressSpace.Contains(addr) ||
		(addr.Is4() && addr.As4()[0] >= 240) // 240.0.0.0/4, reserved, and the broadcast address
}

// checkWebhookHost refuses, at registration, a webhook URL whose host is a
// blocked address written out, or a name that always means this machine.
func checkWebhookHost(u *url.URL) error {
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return privateWebhookError(u.String())
	}
	if addr, err := netip.ParseAddr(host); err == nil && blockedWebhookAddr(addr) {
		return privateWebhookError(u.String())
	}
	return nil
}

func privateWebhookError(raw string) error {
	return aiproxy.Errorf(aiproxy.CodeInvalid,
		"Invalid webhook URL %q: it points at a loopback, private or link-local address, which this server does not post to.", raw)
}

// errBlockedAddr is a delivery's failure to connect to a blocked address.
type errBlockedAddr struct{ addr string }

func (e errBlockedAddr) Error() string {
	return fmt.Sprintf("address %s is loopback, private or link-local: webhooks are not posted there", e.addr)
}

// guardedDialer connects only to addresses blockedWebhookAddr allows. The
// check runs on the resolved address of each connection attempt.
func guardedDialer() *net.Dialer {
	return &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || blockedWebhookAddr(ap.Addr()) {
				return errBlockedAddr{addr: address}
			}
			return nil
		},
	}
}

// newDeliveryClient is the default client for webhook deliveries: no
// redirects, no proxy from the environment (it would connect on the
// webhook's behalf, past the guard), and the address guard unless private
// addresses are allowed.
func newDeliveryClient(timeout time.Duration, allowPrivate bool) *http.Client {
	dialer := guardedDialer()
	if allowPrivate {
		dialer.Control = nil
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          64,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// An org admin chooses where aiproxy posts its webhooks, so unless the
// operator allows it (Config.AllowPrivateWebhooks) aiproxy refuses to post
// to addresses inside its own network: loopback, private and link-local
// ranges (cloud metadata services live at 169.254.169.254), carrier-grade
// NAT, unique-local IPv6, the unspecified, multicast and reserved
// addresses, the other special-purpose ranges that are never reachable on
// the internet, and IPv6 addresses that carry one of those IPv4 addresses
// by a translation or tunnelling convention (IPv4-mapped and -compatible,
// NAT64, 6to4, Teredo). A URL naming such an address is refused when it is
// registered, and so is a numeric host written in any form but the
// canonical a.b.c.d (2130706433, 0x7f000001, 0177.0.0.1, 127.1), which a
// resolver would read as an address. On every connection the host is
// checked again, and so is the address it resolved to, so that a name
// cannot be pointed inside later.

// blockedPrefixes are special-purpose ranges (IANA's IPv4 and IPv6
// special-purpose address registries) that netip's predicates do not
// cover and that no webhook receiver on the internet uses.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space, carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation (TEST-NET-1)
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast, deprecated
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation (TEST-NET-2)
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation (TEST-NET-3)
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	netip.MustParsePrefix("::/96"),           // IPv4-compatible, deprecated (with :: and ::1)
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated (SIIT)
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64 (RFC 8215)
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001:2::/48"),     // benchmarking
	netip.MustParsePrefix("2001:10::/28"),    // ORCHID, deprecated
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("3fff::/20"),       // documentation (RFC 9637)
	netip.MustParsePrefix("5f00::/16"),       // segment routing SIDs (RFC 9602)
	netip.MustParsePrefix("fec0::/10"),       // site-local, deprecated
}

// The IPv6 ranges whose addresses embed an IPv4 address.
var (
	nat64Prefix  = netip.MustParsePrefix("64:ff9b::/96") // well-known NAT64 (RFC 6052): the last 32 bits
	sixToFour    = netip.MustParsePrefix("2002::/16")    // 6to4 (RFC 3056): bits 16 to 47
	teredoPrefix = netip.MustParsePrefix("2001::/32")    // Teredo (RFC 4380): the server, and the client inverted
)

// blockedWebhookAddr reports whether a webhook may not be posted to addr.
func blockedWebhookAddr(addr netip.Addr) bool {
	// A zoned address matches no prefix, and an IPv4-mapped one no IPv4
	// prefix: compare the bare address.
	addr = addr.WithZone("").Unmap()
	if !addr.IsValid() || addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast() ||
		addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast() || addr.IsMulticast() ||
		addr.IsUnspecified() {
		return true
	}
	for _, p := range blockedPrefixes {
		if p.Contains(addr) {
			return true
		}
	}
	for _, v4 := range embeddedIPv4(addr) {
		if blockedWebhookAddr(v4) {
			return true
		}
	}
	return false
}

// embeddedIPv4 returns the IPv4 addresses an IPv6 address carries by the
// NAT64, 6to4 or Teredo conventions, which a translator or relay would
// forward to.
func embeddedIPv4(addr netip.Addr) []netip.Addr {
	if !addr.Is6() {
		return nil
	}
	b := addr.As16()
	v4 := func(o int, mask byte) netip.Addr {
		return netip.AddrFrom4([4]byte{b[o] ^ mask, b[o+1] ^ mask, b[o+2] ^ mask, b[o+3] ^ mask})
	}
	switch {
	case nat64Prefix.Contains(addr):
		return []netip.Addr{v4(12, 0)}
	case sixToFour.Contains(addr):
		return []netip.Addr{v4(2, 0)}
	case teredoPrefix.Contains(addr):
		return []netip.Addr{v4(4, 0), v4(12, 0xff)}
	}
	return nil
}

// checkWebhookHost refuses, at registration, a webhook URL whose host is a
// blocked address, a numeric host in a form other than a.b.c.d or an IPv6
// literal, or a name that always means this machine.
func checkWebhookHost(u *url.URL) error {
	switch err := checkHost(u.Hostname()); {
	case errors.Is(err, errPrivateHost):
		return aiproxy.Errorf(aiproxy.CodeInvalid,
			"Invalid webhook URL %q: it points at a loopback, private or link-local address, which this server does not post to.", u.String())
	case err != nil:
		return aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid webhook URL %q: %s.", u.String(), err.Error())
	}
	return nil
}

// errPrivateHost is a host that is, or always resolves to, a blocked
// address.
var errPrivateHost = errors.New("the host is a loopback, private or link-local address")

// checkHost checks a URL's host name (without brackets or port) the way a
// resolver would read it. It returns errPrivateHost for a blocked address
// or a name that always means this machine, and another error for a host
// that no canonical URL would carry.
func checkHost(host string) error {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" {
		return errors.New("the URL has no host")
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return errPrivateHost
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if blockedWebhookAddr(addr) {
			return errPrivateHost
		}
		if addr.Zone() != "" {
			return errors.New("an IPv6 zone names an interface of this server")
		}
		return nil
	}
	for _, c := range []byte(host) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return errors.New("write the host name in ASCII letters, digits, hyphens and dots (an internationalised name in its xn-- form)")
		}
	}
	if !endsInNumber(host) {
		return nil
	}
	// A resolver reads such a host as an IPv4 address (inet_aton), whatever
	// DNS would say; only its canonical form is accepted.
	addr, ok := parseInetAton(host)
	switch {
	case !ok:
		return errors.New("the host looks like a number but is not an IPv4 address")
	case blockedWebhookAddr(addr):
		return errPrivateHost
	}
	return fmt.Errorf("write the IPv4 address as %s", addr)
}

// endsInNumber reports whether a host's last label is a number (decimal,
// or hexadecimal after 0x), which makes URL parsers and resolvers read the
// whole host as an IPv4 address rather than a name.
func endsInNumber(host string) bool {
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" {
		return false
	}
	if rest, ok := strings.CutPrefix(last, "0x"); ok {
		return strings.Trim(rest, "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}

// parseInetAton parses an IPv4 address in any form inet_aton accepts: one
// to four parts, each decimal, octal (leading 0) or hexadecimal (0x), the
// last filling the remaining bytes (127.1 is 127.0.0.1; 2130706433 is
// 127.0.0.1 too).
func parseInetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		n, ok := parseAtonPart(p)
		last := i == len(parts)-1
		if !ok || (!last && n > 0xff) || (last && n>>(8*(4-i)) != 0) {
			return netip.Addr{}, false
		}
		if last {
			v = v<<(8*(4-i)) | n
		} else {
			v = v<<8 | n
		}
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// parseAtonPart parses one part of an inet_aton address.
func parseAtonPart(p string) (uint64, bool) {
	base := 10
	switch {
	case strings.HasPrefix(p, "0x"):
		base, p = 16, p[2:]
		if p == "" {
			return 0, true // glibc reads a bare 0x as 0
		}
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	if p == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(p, base, 32)
	return n, err == nil
}

// errBlockedAddr is a delivery's failure to connect to a blocked address.
// Its text names the address, so it is logged and never shown to the org:
// see deliveryReason.
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
		Control:   guardAddress,
	}
}

// guardAddress is the dialer's check of a resolved address.
func guardAddress(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || blockedWebhookAddr(ap.Addr()) {
		return errBlockedAddr{addr: address}
	}
	return nil
}

// guardedDial checks the host a connection is asked for before it is
// resolved (a numeric host in an odd form is refused whatever the
// resolver would make of it), then dials with the address guard.
func guardedDial(d *net.Dialer) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return nil, err
		}
		if err := checkHost(host); err != nil {
			return nil, errBlockedAddr{addr: address}
		}
		return d.DialContext(ctx, network, address)
	}
}

// newDeliveryClient is the default client for webhook deliveries: no
// redirects, no proxy from the environment (it would connect on the
// webhook's behalf, past the guard), and the address guard unless private
// addresses are allowed.
func newDeliveryClient(timeout time.Duration, allowPrivate bool) *http.Client {
	dialer := guardedDialer()
	dial := guardedDial(dialer)
	if allowPrivate {
		dialer.Control = nil
		dial = dialer.DialContext
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dial,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          64,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

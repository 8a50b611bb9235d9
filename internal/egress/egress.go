// Package egress guards aiproxy's outbound connections to addresses that
// someone other than the operator chose: an org admin's webhook URL, an
// identity provider's issuer and the key set URL its discovery document
// names. Unless the operator allows private addresses, such a connection
// may not reach inside aiproxy's own network: loopback, private and
// link-local ranges (cloud metadata services live at 169.254.169.254),
// carrier-grade NAT, unique-local IPv6, the unspecified, multicast and
// reserved addresses, the other special-purpose ranges that are never
// reachable on the internet, and IPv6 addresses that carry one of those
// IPv4 addresses by a translation or tunnelling convention (IPv4-mapped
// and -compatible, NAT64, 6to4, Teredo).
//
// The guard works at two moments. CheckURL and CheckHost refuse, when a
// URL is accepted, a host that is such an address, a name that always
// means this machine (localhost), and a numeric host written in any form
// but the canonical a.b.c.d (2130706433, 0x7f000001, 0177.0.0.1, 127.1),
// which a resolver would read as an address. The client NewClient returns
// checks the host again on every connection, and then the address it
// resolved to, so that a name cannot be pointed inside later. The package
// imports only the standard library.
package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// blockedPrefixes are special-purpose ranges (IANA's IPv4 and IPv6
// special-purpose address registries) that netip's predicates do not
// cover and that no server on the internet uses.
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

// Blocked reports whether the guard refuses to connect to addr: it is
// inside aiproxy's network, or is not an address any server on the
// internet uses.
func Blocked(addr netip.Addr) bool {
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
		if Blocked(v4) {
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

// ErrPrivateHost is CheckHost's answer for a host that is, or always
// resolves to, an address the guard refuses.
var ErrPrivateHost = errors.New("the host is a loopback, private or link-local address")

// CheckURL checks the host of u as CheckHost does. It does not look at
// the scheme, the path or the port: what a URL may otherwise hold is its
// caller's rule.
func CheckURL(u *url.URL) error {
	return CheckHost(u.Hostname())
}

// CheckHost checks a URL's host name (without brackets or port) the way a
// resolver would read it. It returns ErrPrivateHost for a blocked address
// or a name that always means this machine, and another error, whose text
// says how to write the host, for a host that no canonical URL would
// carry. A host that passes may still resolve inside the network: the
// client's dialer checks the resolved address.
func CheckHost(host string) error {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" {
		return errors.New("the URL has no host")
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return ErrPrivateHost
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if Blocked(addr) {
			return ErrPrivateHost
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
	case Blocked(addr):
		return ErrPrivateHost
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

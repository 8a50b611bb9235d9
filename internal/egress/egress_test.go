package egress

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

func TestBlocked(t *testing.T) {
	for _, tc := range []struct {
		addr    string
		blocked bool
	}{
		{"127.0.0.1", true}, {"127.8.9.10", true}, {"::1", true}, {"::ffff:127.0.0.1", true},
		{"10.0.0.1", true}, {"172.16.5.4", true}, {"192.168.1.1", true}, {"fd12:3456::1", true},
		{"169.254.169.254", true}, {"fe80::1", true}, {"100.64.0.1", true}, {"100.127.255.254", true},
		{"0.0.0.0", true}, {"::", true}, {"224.0.0.1", true}, {"ff02::1", true}, {"240.0.0.1", true}, {"255.255.255.255", true},
		// Other special-purpose ranges.
		{"0.1.2.3", true}, {"192.0.0.8", true}, {"192.0.2.1", true}, {"198.18.0.1", true}, {"198.51.100.7", true},
		{"203.0.113.9", true}, {"192.88.99.1", true}, {"2001:db8::1", true}, {"3fff::1", true}, {"fec0::1", true},
		{"100::1", true}, {"2001:2::1", true}, {"5f00::1", true},
		// IPv4-mapped: every blocked IPv4 range, not only those netip unmaps itself.
		{"::ffff:100.64.0.1", true}, {"::ffff:240.0.0.1", true}, {"::ffff:10.0.0.1", true},
		{"::ffff:169.254.169.254", true}, {"::ffff:0.0.0.0", true}, {"::ffff:192.0.2.1", true},
		// IPv4-compatible (deprecated, never public) and IPv4-translated.
		{"::127.0.0.1", true}, {"::10.0.0.1", true}, {"::8.8.8.8", true}, {"::ffff:0:10.0.0.1", true}, {"::ffff:0:8.8.8.8", true},
		// NAT64: the well-known prefix carries the IPv4 address in its last 32 bits.
		{"64:ff9b::127.0.0.1", true}, {"64:ff9b::10.0.0.1", true}, {"64:ff9b::169.254.169.254", true},
		{"64:ff9b::100.64.0.1", true}, {"64:ff9b::a00:1", true}, {"64:ff9b:1::a00:1", true}, {"64:ff9b:1::808:808", true},
		// 6to4: bits 16 to 47.
		{"2002:7f00:1::1", true}, {"2002:a00:1::", true}, {"2002:c0a8:101:1::1", true}, {"2002:a9fe:a9fe::1", true},
		// Teredo: the server in bits 32 to 63, the client inverted in the last 32.
		{"2001:0:a00:1::1", true}, {"2001:0:808:808:0:0:f5ff:fffe", true}, {"2001:0:808:808:0:0:80ff:fffe", true},
		// A zone does not hide an address.
		{"fe80::1%eth0", true}, {"64:ff9b::a00:1%eth0", true}, {"2002:a00:1::1%1", true},
		// Public.
		{"8.8.8.8", false}, {"1.1.1.1", false}, {"100.128.0.1", false}, {"172.32.0.1", false}, {"192.0.3.1", false},
		{"2606:4700:4700::1111", false}, {"::ffff:8.8.8.8", false}, {"64:ff9b::8.8.8.8", false},
		{"2002:808:808::1", false}, {"2001:0:808:808:0:0:f7f7:f7f7", false}, {"2a00:1450:4001::1", false},
	} {
		if got := Blocked(netip.MustParseAddr(tc.addr)); got != tc.blocked {
			t.Errorf("Blocked(%s) = %v, want %v", tc.addr, got, tc.blocked)
		}
	}
}

// TestParseInetAton pins the reading of numeric hosts to what glibc's
// inet_aton makes of them.
func TestParseInetAton(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"2130706433", "127.0.0.1"}, {"0x7f000001", "127.0.0.1"}, {"0177.0.0.1", "127.0.0.1"},
		{"127.1", "127.0.0.1"}, {"10.1", "10.0.0.1"}, {"0x7f.1", "127.0.0.1"}, {"127.0.0.0x1", "127.0.0.1"},
		{"017700000001", "127.0.0.1"}, {"192.168.257", "192.168.1.1"}, {"10.0x10203", "10.1.2.3"},
		{"0", "0.0.0.0"}, {"0x", "0.0.0.0"}, {"1.2.3.4", "1.2.3.4"}, {"4294967295", "255.255.255.255"},
		{"1.2.3.4.5", ""}, {"256.1.1.1", ""}, {"1.2.3.256", ""}, {"1.2.65536", ""}, {"4294967296", ""},
		{"08.1.1.1", ""}, {"0x1g", ""}, {"1..2", ""}, {"", ""},
	} {
		got, ok := parseInetAton(tc.in)
		if (tc.want == "") != !ok || (ok && got.String() != tc.want) {
			t.Errorf("parseInetAton(%q) = %v, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

// specialHosts are URL hosts that mean an address inside the network, in
// every form a URL can write one.
var specialHosts = []string{
	"127.0.0.1", "localhost", "LOCALHOST.", "api.localhost", "10.1.2.3", "169.254.169.254", "100.64.1.1", "0.0.0.0",
	"[::1]", "[fd00::1]", "[fe80::1%25eth0]",
	// IPv4-mapped, -compatible and -translated IPv6.
	"[::ffff:100.64.0.1]", "[::ffff:240.0.0.1]", "[::ffff:127.0.0.1]", "[::ffff:10.0.0.1]", "[::ffff:192.168.0.1]",
	"[::ffff:7f00:1]", "[0:0:0:0:0:ffff:a00:1]", "[::127.0.0.1]", "[::a00:1]", "[::ffff:0:10.0.0.1]",
	// NAT64, 6to4 and Teredo carrying a private IPv4 address.
	"[64:ff9b::10.0.0.1]", "[64:ff9b::7f00:1]", "[64:ff9b::a9fe:a9fe]", "[64:ff9b:1::a00:1]",
	"[2002:7f00:1::1]", "[2002:a00:1::]", "[2001:0:a00:1::1]", "[2001:0:808:808::f5ff:fffe]",
	// IPv4 in the integer, hexadecimal, octal and short forms a resolver accepts.
	"2130706433", "0x7f000001", "0X7F000001", "0177.0.0.1", "0177.0000.0000.0001", "127.1", "10.1", "0x7f.1",
	"127.0.0.0x1", "017700000001", "167772161", "0xa9fea9fe", "0251.0376.0251.0376", "169.254.43518", "100.64.1",
}

// TestCheckURLRefusesHostsInsideTheNetwork checks every special host as a
// URL carries it: each is ErrPrivateHost.
func TestCheckURLRefusesHostsInsideTheNetwork(t *testing.T) {
	for _, host := range specialHosts {
		raw := "https://" + host + ":8443/path"
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("parse %q: %v", raw, err)
		}
		if err := CheckURL(u); !errors.Is(err, ErrPrivateHost) {
			t.Errorf("CheckURL(%q) = %v, want ErrPrivateHost", raw, err)
		}
	}
}

// TestCheckURLHostForms checks the hosts that are not inside the network
// but that no canonical URL carries: a numeric host in an odd form is
// refused whatever it means, with the canonical form in the message.
func TestCheckURLHostForms(t *testing.T) {
	for _, tc := range []struct {
		host string
		want string // "" when the host is accepted
	}{
		{"idp.example", ""}, {"8.8.8.8", ""}, {"[2606:4700:4700::1111]", ""}, {"[64:ff9b::808:808]", ""},
		{"[2002:808:808::1]", ""}, {"1e100.net", ""}, {"0x10.example", ""}, {"a-b_c.example.", ""}, {"xn--bcher-kva.example", ""},
		{"134744072", "write the IPv4 address as 8.8.8.8"}, {"0x8080808", "write the IPv4 address as 8.8.8.8"},
		{"010.010.010.010", "write the IPv4 address as 8.8.8.8"}, {"8.8.2056", "write the IPv4 address as 8.8.8.8"},
		{"1.2.3.4.5", "not an IPv4 address"}, {"999.1.1.1", "not an IPv4 address"}, {"08.8.8.8", "not an IPv4 address"},
		{"idp.99999999999", "not an IPv4 address"},
		{"%EF%BC%91%EF%BC%92%EF%BC%97.0.0.1", "ASCII"}, // fullwidth digits, which IDNA maps to 127
		{"b%C3%BCcher.example", "ASCII"}, {"[2606:4700::1%25eth0]", "zone"},
		{"", "no host"},
	} {
		raw := "https://" + tc.host + "/keys"
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("parse %q: %v", raw, err)
		}
		err = CheckURL(u)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckURL(%q) = %v, want it accepted", raw, err)
		case tc.want != "" && (err == nil || errors.Is(err, ErrPrivateHost) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckURL(%q) = %v, want an error saying %q", raw, err, tc.want)
		}
	}
}

// FuzzCheckHost checks the host check on any input, seeded from the
// tables: it never accepts a host that reads as a blocked address, nor a
// numeric host in a form other than the canonical one, and every address
// inet_aton reads comes back the same from its canonical form.
func FuzzCheckHost(f *testing.F) {
	for _, h := range specialHosts {
		f.Add(strings.Trim(h, "[]"))
	}
	for _, h := range []string{"idp.example", "8.8.8.8", "134744072", "1.2.3.4.5", "0x", "2606:4700::1%eth0", "64:ff9b::808:808"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, host string) {
		err := CheckHost(host)
		h := strings.TrimSuffix(strings.ToLower(host), ".")
		if addr, perr := netip.ParseAddr(h); perr == nil && Blocked(addr) && err == nil {
			t.Fatalf("CheckHost(%q) accepted a blocked address", host)
		}
		addr, ok := parseInetAton(h)
		if !ok {
			return
		}
		if err == nil && addr.String() != h {
			t.Fatalf("CheckHost(%q) accepted a non-canonical form of %s", host, addr)
		}
		if back, ok := parseInetAton(addr.String()); !ok || back != addr {
			t.Fatalf("parseInetAton(%q) = %s, but its canonical form reads as %s, %v", h, addr, back, ok)
		}
	})
}

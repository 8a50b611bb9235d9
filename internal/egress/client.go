package egress

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// BlockedError is the guarded client's refusal to connect to an address.
// Its text names the address, so it is for the operator's log: a caller
// that shows a reason to whoever chose the URL says less (see the
// webhooks package's delivery log).
type BlockedError struct {
	// Addr is the host and port refused, as the dialer was asked for it
	// or as it resolved.
	Addr string
}

// Error names the refused address.
func (e BlockedError) Error() string {
	return fmt.Sprintf("address %s is loopback, private or link-local: aiproxy does not connect there", e.Addr)
}

// dialer connects only to addresses Blocked allows. The check runs on the
// resolved address of each connection attempt.
func dialer() *net.Dialer {
	return &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Control:   guardAddress,
	}
}

// guardAddress is the dialer's check of a resolved address.
func guardAddress(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || Blocked(ap.Addr()) {
		return BlockedError{Addr: address}
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
		if err := CheckHost(host); err != nil {
			return nil, BlockedError{Addr: address}
		}
		return d.DialContext(ctx, network, address)
	}
}

// NewClient returns a client for connections to addresses that someone
// other than the operator chose. It follows no redirect (the first
// response is returned, so a redirect cannot lead past a check its caller
// made on the URL), takes no proxy from the environment (a proxy would
// connect on the caller's behalf, past the guard), and refuses blocked
// addresses, by name and once resolved, unless allowPrivate is set (for
// tests and for operators whose receivers live inside their network).
// timeout bounds a whole request, reading the body included; zero means
// none.
func NewClient(timeout time.Duration, allowPrivate bool) *http.Client {
	d := dialer()
	dial := guardedDial(d)
	if allowPrivate {
		d.Control = nil
		dial = d.DialContext
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

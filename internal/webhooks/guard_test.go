package webhooks

import (
	"context"
	"errors"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/egress"
	"github.com/aiproxy/aiproxy/internal/sqlite"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// newTestOutbox is an Outbox on a fresh SQLite store with org acme.
func newTestOutbox(t *testing.T, allowPrivate bool) *Outbox {
	t.Helper()
	db, v := newTestStore(t)
	return NewOutbox(OutboxConfig{Store: db, Vault: v, AllowPrivate: allowPrivate})
}

// newTestStore is a fresh SQLite store with org acme, and a vault.
func newTestStore(t *testing.T) (*sqlite.DB, *vault.Vault) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "aiproxy.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key, _ := vault.GenerateMasterKey()
	raw, _ := vault.ParseMasterKey(key)
	v, err := vault.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.New(db, v, nil, nil).CreateOrg(ctx, "acme", ""); err != nil {
		t.Fatal(err)
	}
	return db, v
}

// specialHosts are a few URL hosts that mean an address inside the
// network, one of each kind; the egress package's tests hold every form.
var specialHosts = []string{
	"127.0.0.1", "localhost", "169.254.169.254", "[::1]", "[fe80::1%25eth0]", "[::ffff:10.0.0.1]",
	"[64:ff9b::a9fe:a9fe]", "[2002:a00:1::]", "2130706433", "0177.0.0.1", "127.1",
}

func TestWebhookURLsInsideTheNetworkAreRefused(t *testing.T) {
	o := newTestOutbox(t, false)
	ctx := context.Background()
	for _, host := range specialHosts {
		u := "http://" + host + ":8080/hooks"
		_, _, err := o.CreateWebhook(ctx, "acme", u, nil)
		if aiproxy.ErrorCode(err) != aiproxy.CodeInvalid || !strings.Contains(err.Error(), "private") {
			t.Errorf("CreateWebhook(%q) = %v, want an invalid error naming private addresses", u, err)
		}
	}
	if _, _, err := o.CreateWebhook(ctx, "acme", "https://hooks.example/a", nil); err != nil {
		t.Fatalf("a public host name was refused: %v", err)
	}
	// Allowed, the same loopback URL registers.
	if _, _, err := newTestOutbox(t, true).CreateWebhook(ctx, "acme", "http://127.0.0.1:8080/hooks", nil); err != nil {
		t.Fatalf("with private webhooks allowed, a loopback URL was refused: %v", err)
	}
}

// TestWebhookHostForms checks the hosts that are not inside the network
// but that no canonical URL carries: a numeric host in an odd form is
// refused whatever it means, with the canonical form in the message.
func TestWebhookHostForms(t *testing.T) {
	o := newTestOutbox(t, false)
	ctx := context.Background()
	for _, tc := range []struct {
		host string
		want string // "" when the host is accepted
	}{
		{"hooks.example", ""}, {"8.8.8.8", ""}, {"[2606:4700:4700::1111]", ""}, {"[64:ff9b::808:808]", ""},
		{"[2002:808:808::1]", ""}, {"1e100.net", ""}, {"0x10.example", ""}, {"a-b_c.example.", ""}, {"xn--bcher-kva.example", ""},
		{"134744072", "write the IPv4 address as 8.8.8.8"}, {"0x8080808", "write the IPv4 address as 8.8.8.8"},
		{"010.010.010.010", "write the IPv4 address as 8.8.8.8"}, {"8.8.2056", "write the IPv4 address as 8.8.8.8"},
		{"1.2.3.4.5", "not an IPv4 address"}, {"999.1.1.1", "not an IPv4 address"}, {"08.8.8.8", "not an IPv4 address"},
		{"hooks.99999999999", "not an IPv4 address"},
		{"%EF%BC%91%EF%BC%92%EF%BC%97.0.0.1", "ASCII"}, // fullwidth digits, which IDNA maps to 127
		{"b%C3%BCcher.example", "ASCII"}, {"[2606:4700::1%25eth0]", "zone"},
	} {
		u := "http://" + tc.host + "/hooks"
		_, _, err := o.CreateWebhook(ctx, "acme", u, nil)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CreateWebhook(%q) = %v, want it accepted", u, err)
		case tc.want != "" && (aiproxy.ErrorCode(err) != aiproxy.CodeInvalid || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CreateWebhook(%q) = %v, want an invalid error saying %q", u, err, tc.want)
		}
	}
}

// TestDeliveryReason maps each failure to its reason, which names no
// address, host or certificate.
func TestDeliveryReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errEndpointStatus(503), "endpoint answered 503"},
		{errors.Join(errDeliverySetup, errors.New("open secret at 10.1.1.1")), "could not prepare"},
		{&url.Error{Op: "Post", URL: "http://hooks.example", Err: egress.BlockedError{Addr: "10.1.2.3:443"}}, "not posted there"},
		{&url.Error{Op: "Post", URL: "http://x", Err: context.DeadlineExceeded}, "did not answer in time"},
		{&net.OpError{Op: "dial", Err: timeoutErr{}}, "did not answer in time"},
		{errors.New("x509: certificate is valid for intranet.corp, not hooks.example"), "post to the endpoint failed"},
		{context.Canceled, "interrupted"},
	} {
		got := deliveryReason(tc.err)
		if !strings.Contains(got, tc.want) || hasIPv4(got) || strings.Contains(got, "corp") {
			t.Errorf("deliveryReason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

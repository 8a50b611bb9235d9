package jobs

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

func TestBlockedWebhookAddr(t *testing.T) {
	for _, tc := range []struct {
		addr    string
		blocked bool
	}{
		{"127.0.0.1", true}, {"127.8.9.10", true}, {"::1", true}, {"::ffff:127.0.0.1", true},
		{"10.0.0.1", true}, {"172.16.5.4", true}, {"192.168.1.1", true}, {"fd12:3456::1", true},
		{"169.254.169.254", true}, {"fe80::1", true}, {"100.64.0.1", true}, {"100.127.255.254", true},
		{"0.0.0.0", true}, {"::", true}, {"224.0.0.1", true}, {"ff02::1", true}, {"240.0.0.1", true}, {"255.255.255.255", true},
		{"8.8.8.8", false}, {"1.1.1.1", false}, {"100.128.0.1", false}, {"172.32.0.1", false},
		{"2606:4700:4700::1111", false}, {"::ffff:8.8.8.8", false},
	} {
		if got := blockedWebhookAddr(netip.MustParseAddr(tc.addr)); got != tc.blocked {
			t.Errorf("blockedWebhookAddr(%s) = %v, want %v", tc.addr, got, tc.blocked)
		}
	}
}

func noPrivateWebhooks(h *harness) { h.cfg.AllowPrivateWebhooks = false }

func TestWebhookURLsInsideTheNetworkAreRefused(t *testing.T) {
	h := newHarness(t, noPrivateWebhooks)
	ctx := context.Background()
	for _, u := range []string{
		"http://127.0.0.1:8080/hooks", "http://localhost/hooks", "https://LOCALHOST./x", "http://api.localhost/x",
		"http://10.1.2.3/x", "http://169.254.169.254/latest/meta-data/", "http://[::1]:9000/x",
		"http://[fd00::1]/x", "http://100.64.1.1/x", "http://0.0.0.0/x", "http://[::ffff:192.168.0.1]/x",
	} {
		_, _, err := h.jobs.CreateWebhook(ctx, "acme", u, nil)
		if aiproxy.ErrorCode(err) != aiproxy.CodeInvalid || !strings.Contains(err.Error(), "private") {
			t.Errorf("CreateWebhook(%q) = %v, want an invalid error naming private addresses", u, err)
		}
	}
	if _, _, err := h.jobs.CreateWebhook(ctx, "acme", "https://hooks.example/a", nil); err != nil {
		t.Fatalf("a public host name was refused: %v", err)
	}
	// Allowed, the same loopback URL registers.
	h2 := newHarness(t)
	if _, _, err := h2.jobs.CreateWebhook(ctx, "acme", "http://127.0.0.1:8080/hooks", nil); err != nil {
		t.Fatalf("with private webhooks allowed, a loopback URL was refused: %v", err)
	}
}

// TestDeliveryClientChecksTheResolvedAddress checks the guard at connect
// time: a host name (here localhost, which resolves to loopback) is
// refused by the address it resolves to, so no request reaches the
// receiver; with private addresses allowed, the same request arrives.
func TestDeliveryClientChecksTheResolvedAddress(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	byName := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	for _, u := range []string{srv.URL, byName} {
		_, err := newDeliveryClient(5*time.Second, false).Post(u, "application/json", strings.NewReader("{}"))
		if err == nil || !strings.Contains(err.Error(), "webhooks are not posted there") {
			t.Errorf("guarded POST %s: err %v, want the guard's refusal", u, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the receiver got %d requests through the guard", n)
	}
	resp, err := newDeliveryClient(5*time.Second, true).Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("with private addresses allowed: %v", err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Fatal("with private addresses allowed, the request did not arrive")
	}
}

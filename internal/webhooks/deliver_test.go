package webhooks

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/sqlite"
)

// queueEvent stores a job of org acme with its creation event, which the
// store queues for every endpoint of the org that subscribes to it.
func queueEvent(t *testing.T, db *sqlite.DB) {
	t.Helper()
	now := time.Now().UTC()
	j := aiproxy.Job{ID: aiproxy.NewID("job_"), OrgKey: "acme", Service: "heygen", Action: "generate-video",
		StatusAction: "video-status", ProviderJobID: aiproxy.NewID("v"), Source: aiproxy.SourcePlatform,
		State: aiproxy.JobPending, ResultURLs: map[string]string{}, CreatedAt: now, UpdatedAt: now}
	ev := aiproxy.JobEvent{ID: aiproxy.NewID("evt_"), OrgKey: "acme", JobID: j.ID, Type: aiproxy.EventJobCreated,
		CreatedAt: now, Data: []byte(`{"id":"` + j.ID + `"}`)}
	if err := db.CreateJob(context.Background(), j, ev, nil); err != nil {
		t.Fatal(err)
	}
}

// receiver is an org's webhook endpoint that records what it gets.
type receiver struct {
	mu  sync.Mutex
	got []http.Header
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.got = append(r.got, req.Header.Clone())
	r.mu.Unlock()
}

// TestDeliveryLogHidesInternalAddresses checks that what an org admin
// reads in the delivery log of a failed attempt names no internal address
// (neither what the endpoint's name resolved to nor aiproxy's resolver),
// while the operator's log keeps the detail.
func TestDeliveryLogHidesInternalAddresses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error // what the delivery client fails with; nil posts for real
		reason string
		detail string
	}{
		{"resolved inside", nil, "loopback, private or link-local", "127.0.0.1"},
		{"unknown host", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "hooks.example",
			Server: "10.20.30.40:53", IsNotFound: true}}, "host name was not found", "10.20.30.40"},
		{"resolver down", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "read udp 10.0.0.7:41234->10.20.30.40:53: i/o timeout",
			Name: "hooks.example", Server: "10.20.30.40:53", IsTimeout: true}}, "could not be resolved", "10.20.30.40"},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 9, 8, 7), Port: 443},
			Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "refused the connection", "10.9.8.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs lockedBuffer
			db, v := newTestStore(t)
			ctx := context.Background()
			recv := &receiver{}
			srv := httptest.NewServer(recv)
			t.Cleanup(srv.Close)
			// Registered while allowed (as a name that later resolves
			// inside would be), then delivered by a guarded process.
			open := NewOutbox(OutboxConfig{Store: db, Vault: v, AllowPrivate: true})
			if _, _, err := open.CreateWebhook(ctx, "acme", srv.URL+"/hooks", []string{aiproxy.EventJobCreated}); err != nil {
				t.Fatal(err)
			}
			cfg := OutboxConfig{Store: db, Vault: v, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			if tc.err != nil {
				cfg.Client = &http.Client{Transport: failingTransport{tc.err}}
			}
			guarded := NewOutbox(cfg)
			queueEvent(t, db)
			if n := guarded.DeliverOnce(ctx); n != 1 {
				t.Fatalf("deliveries attempted = %d", n)
			}
			log, _ := guarded.Deliveries(ctx, aiproxy.DeliveryFilter{OrgKey: "acme"})
			if len(log) != 1 || log[0].State != aiproxy.DeliveryPending || log[0].Attempts != 1 {
				t.Fatalf("delivery log = %+v", log)
			}
			shown := log[0].LastError
			if !strings.Contains(shown, tc.reason) || strings.Contains(shown, tc.detail) || hasIPv4(shown) {
				t.Errorf("the delivery log shows %q: want %q and no address", shown, tc.reason)
			}
			if !strings.Contains(logs.String(), tc.detail) {
				t.Errorf("the operator's log lacks the detail %q: %s", tc.detail, logs.String())
			}
			if strings.Contains(logs.String(), srv.URL) {
				t.Errorf("the operator's log holds the endpoint's URL: %s", logs.String())
			}
			if len(recv.got) != 0 {
				t.Fatal("the receiver got the delivery")
			}
		})
	}
}

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// failingTransport fails every request with an error.
type failingTransport struct{ err error }

func (f failingTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }

// hasIPv4 reports whether s holds something shaped like a dotted IPv4
// address.
func hasIPv4(s string) bool {
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return !(r == '.' || r >= '0' && r <= '9') }) {
		if _, err := netip.ParseAddr(strings.Trim(f, ".")); err == nil {
			return true
		}
	}
	return false
}

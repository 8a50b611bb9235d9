package egress

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestClientRefusesSpecialHosts checks the guard at dial time, for a URL
// no check saw before: every special host is refused by the client before
// it connects, whatever the resolver would make of it.
func TestClientRefusesSpecialHosts(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	client := NewClient(5*time.Second, false)
	for _, host := range specialHosts {
		u := "http://" + host + ":" + port + "/keys"
		resp, err := client.Get(u)
		if err == nil {
			resp.Body.Close()
		}
		var blocked BlockedError
		if !errors.As(err, &blocked) {
			t.Errorf("guarded GET %s: err %v, want the guard's refusal", u, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the server got %d requests through the guard", n)
	}
}

// TestGuardAddress checks the dialer's check of resolved addresses, in the
// forms the resolver hands it.
func TestGuardAddress(t *testing.T) {
	for _, tc := range []struct {
		addr    string
		blocked bool
	}{
		{"127.0.0.1:80", true}, {"[::ffff:127.0.0.1]:80", true}, {"[::ffff:100.64.0.1]:443", true},
		{"[::ffff:240.0.0.1]:443", true}, {"[64:ff9b::a00:1]:443", true}, {"[2002:a00:1::1]:443", true},
		{"[2001:0:a00:1::1]:443", true}, {"[::a00:1]:443", true}, {"[fe80::1%eth0]:80", true}, {"not-an-address:80", true},
		{"8.8.8.8:443", false}, {"[2606:4700:4700::1111]:443", false}, {"[64:ff9b::808:808]:443", false},
	} {
		err := guardAddress("tcp", tc.addr, nil)
		if (err != nil) != tc.blocked {
			t.Errorf("guardAddress(%s) = %v, want blocked %v", tc.addr, err, tc.blocked)
		}
	}
}

// TestClientChecksTheResolvedAddress checks the guard at connect time: a
// host name (here localhost, which resolves to loopback) is refused by the
// address it resolves to, so no request reaches the server; with private
// addresses allowed, the same request arrives.
func TestClientChecksTheResolvedAddress(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	byName := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	for _, u := range []string{srv.URL, byName} {
		_, err := NewClient(5*time.Second, false).Get(u)
		if err == nil || !strings.Contains(err.Error(), "aiproxy does not connect there") {
			t.Errorf("guarded GET %s: err %v, want the guard's refusal", u, err)
		}
	}
	// The resolved address is checked even when the name passes the host
	// check: a dialer without the name check still refuses.
	conn, err := dialer().Dial("tcp", strings.Replace(srv.Listener.Addr().String(), "127.0.0.1", "localhost", 1))
	if err == nil {
		conn.Close()
		t.Error("the dialer connected to localhost")
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the server got %d requests through the guard", n)
	}
	resp, err := NewClient(5*time.Second, true).Get(srv.URL)
	if err != nil {
		t.Fatalf("with private addresses allowed: %v", err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Fatal("with private addresses allowed, the request did not arrive")
	}
}

// TestClientFollowsNoRedirect checks that a redirect comes back as the
// response, so that it cannot lead the client past a check its caller made
// on the URL it was given.
func TestClientFollowsNoRedirect(t *testing.T) {
	var followed atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			followed.Add(1)
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	resp, err := NewClient(5*time.Second, true).Get(srv.URL + "/start")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || followed.Load() != 0 {
		t.Fatalf("status %d, redirect followed %d times; want 302 and none", resp.StatusCode, followed.Load())
	}
}

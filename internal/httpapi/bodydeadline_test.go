package httpapi

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/proxy"
)

// stalledRequest sends a request whose body is shorter than its
// Content-Length and then goes silent, and returns the status of the
// answer (0 when the connection closed without one) and how long the
// answer took. It gives up after limit.
func stalledRequest(t *testing.T, url, path, key, sent string, declared int, limit time.Duration) (int, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	auth := ""
	if key != "" {
		auth = "Authorization: Api-Key " + key + "\r\n"
	}
	start := time.Now()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		path, auth, declared, sent)
	_ = conn.SetReadDeadline(time.Now().Add(limit))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, time.Since(start)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

// TestStalledBodyIsAnswered checks that a body that stops short of its
// Content-Length is answered within the body timeout, with or without a
// key: 408 when the handler was reading it, the refusal otherwise, and
// never a provider call.
func TestStalledBodyIsAnswered(t *testing.T) {
	e := newHardEnv(t, proxy.Config{}, Config{BodyReadTimeout: 300 * time.Millisecond})
	invoke := base + "/orgs/acme/services/elevenlabs/list-models/"
	tests := []struct {
		name, key string
		want      int
	}{
		{"no key", "", http.StatusUnauthorized},
		{"bad key", "aip_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", http.StatusUnauthorized},
		{"valid key, handler reads the body", e.invoke, http.StatusRequestTimeout},
		{"other org's key", e.other, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, took := stalledRequest(t, e.url, invoke, tc.key, `{"body":`, 100, 5*time.Second)
			if status != tc.want || took > 3*time.Second {
				t.Fatalf("stalled body: status %d after %v, want %d within the body timeout", status, took, tc.want)
			}
		})
	}
	if n := len(e.sandbox.Requests()); n != 0 {
		t.Fatalf("the provider got %d requests from stalled bodies", n)
	}
}

// TestStalledBodiesAreShed checks that many stalled connections are all
// closed within the body timeout, so that they cannot pile up.
func TestStalledBodiesAreShed(t *testing.T) {
	e := newHardEnv(t, proxy.Config{}, Config{BodyReadTimeout: 300 * time.Millisecond})
	const n = 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	late := 0
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, took := stalledRequest(t, e.url, base+"/orgs/acme/services/heygen/list-avatars/", e.invoke, `{`, 1000, 10*time.Second)
			if took > 5*time.Second {
				mu.Lock()
				late++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if late > 0 {
		t.Fatalf("%d of %d stalled connections were still open after 5s with a 300ms body timeout", late, n)
	}
}

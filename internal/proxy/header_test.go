package proxy

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

func TestRequestHeaders(t *testing.T) {
	svc := testService("http://x", bothPolicy)
	tests := []struct {
		name string
		in   map[string]string
		want http.Header
		ok   bool
	}{
		{"none", nil, http.Header{}, true},
		{"built-in allow-list, any case", map[string]string{"accept": "a", "ACCEPT-LANGUAGE": "fr", "content-language": "de", "idempotency-key": "k1"},
			http.Header{"Accept": {"a"}, "Accept-Language": {"fr"}, "Content-Language": {"de"}, "Idempotency-Key": {"k1"}}, true},
		{"service extra", map[string]string{"x-extra-in": "1"}, http.Header{"X-Extra-In": {"1"}}, true},
		{"credential header", map[string]string{"x-test-key": "mine"}, nil, false},
		{"authorization", map[string]string{"Authorization": "Bearer x"}, nil, false},
		{"cookie", map[string]string{"Cookie": "a=b"}, nil, false},
		{"host", map[string]string{"Host": "evil"}, nil, false},
		{"content-type", map[string]string{"Content-Type": "text/plain"}, nil, false},
		{"content-length", map[string]string{"Content-Length": "1"}, nil, false},
		{"transfer-encoding", map[string]string{"Transfer-Encoding": "chunked"}, nil, false},
		{"forwarding", map[string]string{"X-Forwarded-For": "1.2.3.4"}, nil, false},
		{"user-agent", map[string]string{"User-Agent": "me"}, nil, false},
		{"one bad among good", map[string]string{"Accept": "a", "Connection": "close"}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := requestHeaders(svc, tc.in)
			if !tc.ok {
				if aiproxy.ErrorCode(err) != aiproxy.CodeInvalid {
					t.Fatalf("err = %v, want invalid", err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("requestHeaders = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestAuthHeaderNeverAllowedEvenIfListed(t *testing.T) {
	svc := testService("http://x", bothPolicy)
	svc.Upstream.RequestHeaders = append(svc.Upstream.RequestHeaders, "X-Test-Key")
	if _, err := requestHeaders(svc, map[string]string{"X-TEST-KEY": "mine"}); err == nil {
		t.Fatal("the credential header was accepted from the client")
	}
}

func TestCopyResponseHeaders(t *testing.T) {
	svc := testService("http://x", bothPolicy)
	src := http.Header{
		"Content-Type": {"audio/mpeg"}, "Retry-After": {"3"}, "Etag": {`"x"`}, "X-Extra-Out": {"a", "b"},
		"Set-Cookie": {"s=1"}, "Connection": {"close"}, "Server": {"x"}, "X-Api-Key": {"k"}, "Content-Length": {"9"},
	}
	dst := http.Header{}
	copyResponseHeaders(dst, src, svc)
	want := http.Header{"Content-Type": {"audio/mpeg"}, "Retry-After": {"3"}, "Etag": {`"x"`}, "X-Extra-Out": {"a", "b"}}
	if !reflect.DeepEqual(dst, want) {
		t.Fatalf("copied %v, want %v", dst, want)
	}
	src["X-Extra-Out"][0] = "changed"
	if dst.Get("X-Extra-Out") != "a" {
		t.Fatal("copied header values share the provider's slice")
	}
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/aiproxy/aiproxy/internal/proxy"
)

// goProxyChildCmd is the hidden first argument that makes this binary run
// the bare Go reverse proxy of the go-proxy path as a child process.
const goProxyChildCmd = "_goproxy"

func goProxyArgs(upstream, hgKey, elKey string) []string {
	return []string{goProxyChildCmd, "--upstream", upstream, "--heygen-key", hgKey, "--elevenlabs-key", elKey}
}

// runGoProxyChild serves the bare Go reverse proxy on a loopback port in
// front of the sandbox at --upstream, and prints GOPROXY_URL= once it
// listens.
func runGoProxyChild(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(goProxyChildCmd, flag.ContinueOnError)
	upstream := fs.String("upstream", "", "the sandbox's base URL (http://127.0.0.1:PORT)")
	hg := fs.String("heygen-key", "", "key injected into /heygen/ requests")
	el := fs.String("elevenlabs-key", "", "key injected into /elevenlabs/ requests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	target, err := url.Parse(*upstream)
	if err != nil || target.Scheme == "" || target.Host == "" {
		return fmt.Errorf("--upstream %q is not a base URL", *upstream)
	}
	return serveChild(ctx, goProxy(target, *hg, *el), stdout, "GOPROXY_URL")
}

// goProxy does what the nginx reference does, with only the standard
// library: forward /heygen/ and /elevenlabs/ to target with the provider's
// key set, stream the request body and every response chunk as they arrive,
// and answer 404 to anything else. Its upstream transport is aiproxy's, so
// that the two differ only in what aiproxy does on top of net/http.
func goProxy(target *url.URL, hgKey, elKey string) http.Handler {
	transport := proxy.NewTransport()
	heygen := keyProxy(target, transport, "X-Api-Key", hgKey)
	elevenlabs := keyProxy(target, transport, "Xi-Api-Key", elKey)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 {
			// The transport may still be reading the request body, if only
			// to check that it ends where Content-Length says, when the
			// answer starts; by default net/http's HTTP/1 server closes the
			// body then, which fails that read and cuts the answer short
			// (golang/go#40747). nginx streams both ways at once; so must this.
			_ = http.NewResponseController(w).EnableFullDuplex()
		}
		switch {
		case strings.HasPrefix(r.URL.Path, "/heygen/"):
			heygen.ServeHTTP(w, r)
		case strings.HasPrefix(r.URL.Path, "/elevenlabs/"):
			elevenlabs.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

// keyProxy forwards to target with header set to key on the outbound
// request, replacing any value the client sent.
func keyProxy(target *url.URL, transport http.RoundTripper, header, key string) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set(header, key)
		},
		Transport:     transport,
		FlushInterval: -1, // Flush after every write, as nginx's proxy_buffering off does.
	}
}

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The four ways a request can reach the sandbox.
const (
	pathDirect  = "direct"
	pathAIProxy = "aiproxy"
	pathNginx   = "nginx"
	// pathGoProxy is a bare httputil.ReverseProxy doing what nginx does:
	// the floor of Go's net/http server and client, beneath any Go proxy.
	pathGoProxy = "go-proxy"
)

// allPaths lists every path in the order they are measured and drawn.
var allPaths = []string{pathDirect, pathAIProxy, pathNginx, pathGoProxy}

// world is what every scenario shares: the binaries, the seeded aiproxy
// database, and the keys.
type world struct {
	opts      options
	dir       string
	self      string // this binary, which runs the sandbox child
	masterKey string
	apiKey    string
	hgKey     string
	elKey     string
	// guardFlags turn on the limits a production server would run with,
	// set high enough never to refuse the benchmark's load.
	guardFlags []string
}

const benchOrg = "bench"

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newWorld prepares the database that every aiproxy run uses: an org, an
// invoke key, and tenant credentials for both providers.
func newWorld(ctx context.Context, opts options, dir string) (*world, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	w := &world{opts: opts, dir: dir, self: self, masterKey: randomHex(32),
		hgKey: "bench_hg_" + randomHex(12), elKey: "bench_el_" + randomHex(12)}
	if _, err := w.admin(ctx, "", "org", "create", benchOrg, "--name", "Benchmark"); err != nil {
		return nil, err
	}
	key, err := w.admin(ctx, "", "key", "create", "--org", benchOrg, "--name", "bench", "--role", "invoke")
	if err != nil {
		return nil, err
	}
	w.apiKey = strings.TrimSpace(key)
	w.guardFlags = guardFlags(ctx, opts.aiproxy)
	for name, secret := range map[string]string{"heygen": w.hgKey, "elevenlabs": w.elKey} {
		if _, err := w.admin(ctx, secret, "credential", "set", "--org", benchOrg, name); err != nil {
			return nil, err
		}
	}
	return w, nil
}

func (w *world) env() []string {
	return []string{"AIPROXY_MASTER_KEY=" + w.masterKey, "AIPROXY_DATA_DIR=" + filepath.Join(w.dir, "data")}
}

// admin runs one aiproxy management command and returns its output.
func (w *world) admin(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, w.opts.aiproxy, args...)
	cmd.Env = append(os.Environ(), w.env()...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("aiproxy %s: %w: %s", strings.Join(args[:2], " "), err, errb.String())
	}
	return out.String(), nil
}

// stack is one scenario's processes: a fresh sandbox, and in front of it an
// aiproxy, the bare Go proxy, and nginx when installed.
type stack struct {
	w          *world
	sandbox    *child
	aiproxy    *child
	goproxy    *child
	nginx      *child
	sandboxURL string
	aiproxyURL string
	goproxyURL string
	nginxURL   string
}

func (w *world) start(ctx context.Context, name string, knobs sandboxKnobs) (*stack, error) {
	dir := filepath.Join(w.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s := &stack{w: w}
	var err error
	var vals map[string]string
	s.sandbox, vals, err = startChild(ctx, "sandbox", dir, w.self, knobs.args(w.hgKey, w.elKey), nil, "SANDBOX_URL")
	if err != nil {
		return nil, err
	}
	s.sandboxURL = vals["SANDBOX_URL"]
	s.goproxy, vals, err = startChild(ctx, "goproxy", dir, w.self, goProxyArgs(s.sandboxURL, w.hgKey, w.elKey), nil, "GOPROXY_URL")
	if err != nil {
		s.stop()
		return nil, err
	}
	s.goproxyURL = vals["GOPROXY_URL"]
	args := []string{"serve", "--addr", "127.0.0.1:0", "--log-level", "info",
		"--upstream", "heygen=" + s.sandboxURL + "/heygen", "--upstream", "elevenlabs=" + s.sandboxURL + "/elevenlabs"}
	args = append(args, w.guardFlags...)
	s.aiproxy, vals, err = startChild(ctx, "aiproxy", dir, w.opts.aiproxy, args, w.env(), "AIPROXY_URL")
	if err != nil {
		s.stop()
		return nil, err
	}
	s.aiproxyURL = vals["AIPROXY_URL"]
	if w.opts.nginx != "" {
		hostPort := strings.TrimPrefix(s.sandboxURL, "http://")
		s.nginx, s.nginxURL, err = startNginx(ctx, w.opts.nginx, dir, hostPort, w.hgKey, w.elKey)
		if err != nil {
			s.stop()
			return nil, err
		}
	}
	return s, nil
}

func (s *stack) stop() {
	s.nginx.stop()
	s.aiproxy.stop()
	s.goproxy.stop()
	s.sandbox.stop()
}

// paths lists the paths this stack can measure, in allPaths order: all of
// them, or all but nginx when it is not installed.
func (s *stack) paths() []string {
	var out []string
	for _, p := range allPaths {
		if p != pathNginx || s.nginx != nil {
			out = append(out, p)
		}
	}
	return out
}

// server is the process whose CPU and memory a path is charged: the
// sandbox when called directly, otherwise the proxy.
func (s *stack) server(path string) *child {
	switch path {
	case pathAIProxy:
		return s.aiproxy
	case pathNginx:
		return s.nginx
	case pathGoProxy:
		return s.goproxy
	}
	return s.sandbox
}

// call is one provider call, which each path expresses its own way.
type call struct {
	service    string // heygen or elevenlabs
	action     string // the catalog endpoint
	method     string
	path       string // the provider path, placeholders filled
	pathParams map[string]string
	query      url.Values
	body       any // JSON body, or nil
}

// request renders the call for a path: the provider's own request with its
// key (direct), without it (nginx and the Go proxy inject it), or an
// aiproxy envelope.
func (s *stack) request(path string, c call) request {
	var body []byte
	if c.body != nil {
		body, _ = json.Marshal(c.body)
	}
	native := func(base string) request {
		u := base + "/" + c.service + c.path
		if len(c.query) > 0 {
			u += "?" + c.query.Encode()
		}
		h := http.Header{}
		if body != nil {
			h.Set("Content-Type", "application/json")
		}
		return request{method: c.method, url: u, header: h, body: body}
	}
	switch path {
	case pathDirect:
		r := native(s.sandboxURL)
		if c.service == "heygen" {
			r.header.Set("X-Api-Key", s.w.hgKey)
		} else {
			r.header.Set("Xi-Api-Key", s.w.elKey)
		}
		return r
	case pathNginx:
		return native(s.nginxURL)
	case pathGoProxy:
		return native(s.goproxyURL)
	}
	env := map[string]any{}
	if body != nil {
		env["body"] = json.RawMessage(body)
	}
	if len(c.query) > 0 {
		env["query"] = c.query
	}
	if len(c.pathParams) > 0 {
		env["path_params"] = c.pathParams
	}
	envBody, _ := json.Marshal(env)
	h := http.Header{}
	h.Set("Authorization", "Api-Key "+s.w.apiKey)
	h.Set("Content-Type", "application/json")
	u := fmt.Sprintf("%s/api/ai-proxy/orgs/%s/services/%s/%s/", s.aiproxyURL, benchOrg, c.service, c.action)
	return request{method: http.MethodPost, url: u, header: h, body: envBody}
}

// sandboxRequests returns how many provider requests the sandbox has logged
// and clears its log, which would otherwise grow for the whole run.
func (s *stack) sandboxRequests(ctx context.Context) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.sandboxURL+"/_sandbox/requests", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var log []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&log); err != nil {
		return 0, err
	}
	return len(log), s.clearSandboxLog(ctx)
}

func (s *stack) clearSandboxLog(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, s.sandboxURL+"/_sandbox/requests", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// direct sends one request straight to the sandbox and decodes its JSON.
func (s *stack) direct(ctx context.Context, c call, out any) error {
	return s.fetch(ctx, s.request(pathDirect, c), out)
}

// fetch sends one request and decodes its JSON answer.
func (s *stack) fetch(ctx context.Context, rq request, out any) error {
	req, err := rq.build(ctx)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: status %d", rq.method, rq.url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// productionLimits are the guardrail flags the aiproxy path runs with: a
// per-key rate limit and a per-org cap on calls in flight, both far above
// what the benchmark offers, so that their bookkeeping is measured but they
// never refuse a call. Metering, retries, the breaker and the response
// cache are on by default.
var productionLimits = [][2]string{
	{"--rate-limit", "key=100000000/m"},
	{"--max-inflight", "org=50000"},
}

// guardFlags returns the productionLimits that this aiproxy binary knows.
func guardFlags(ctx context.Context, bin string) []string {
	out, _ := exec.CommandContext(ctx, bin, "serve", "--help").CombinedOutput()
	var flags []string
	for _, f := range productionLimits {
		if strings.Contains(string(out), " -"+strings.TrimPrefix(f[0], "--")+" ") {
			flags = append(flags, f[0], f[1])
		}
	}
	return flags
}

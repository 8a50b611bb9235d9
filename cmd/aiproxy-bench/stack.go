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

// The ways a request can reach the sandbox.
const (
	pathDirect  = "direct"
	pathAIProxy = "aiproxy"
	// pathBaseline is a second aiproxy binary (--baseline), measured beside
	// the first in the same run so that a change can be compared A/B.
	pathBaseline = "aiproxy-base"
	pathNginx    = "nginx"
	// pathGoProxy is a bare httputil.ReverseProxy doing what nginx does:
	// the floor of Go's net/http server and client, beneath any Go proxy.
	pathGoProxy = "go-proxy"
)

// allPaths lists every path in the order a single round measures them and
// the chart draws them.
var allPaths = []string{pathDirect, pathAIProxy, pathBaseline, pathGoProxy, pathNginx}

// world is what every scenario shares: the binaries, the seeded aiproxy
// databases, and the keys.
type world struct {
	opts      options
	dir       string
	self      string // this binary, which runs the sandbox child
	masterKey string
	hgKey     string
	elKey     string
	aiproxy   *install
	// baseline is the --baseline binary with its own database; nil without
	// the flag.
	baseline *install
}

// install is one aiproxy binary with its own data directory, seeded with
// the bench org, an invoke key and tenant credentials for both providers.
type install struct {
	bin     string
	dataDir string
	apiKey  string
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

// newWorld prepares the database of each aiproxy binary: an org, an invoke
// key, and tenant credentials for both providers.
func newWorld(ctx context.Context, opts options, dir string) (*world, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	w := &world{opts: opts, dir: dir, self: self, masterKey: randomHex(32),
		hgKey: "bench_hg_" + randomHex(12), elKey: "bench_el_" + randomHex(12)}
	if w.aiproxy, err = w.seed(ctx, opts.aiproxy, filepath.Join(dir, "data")); err != nil {
		return nil, err
	}
	if opts.baseline != "" {
		if w.baseline, err = w.seed(ctx, opts.baseline, filepath.Join(dir, "data-base")); err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
	}
	return w, nil
}

// seed creates the bench org, an invoke key and both credentials in a new
// data directory with bin's own management commands, so that each binary
// runs on a schema it made.
func (w *world) seed(ctx context.Context, bin, dataDir string) (*install, error) {
	in := &install{bin: bin, dataDir: dataDir}
	if _, err := w.admin(ctx, in, "", "org", "create", benchOrg, "--name", "Benchmark"); err != nil {
		return nil, err
	}
	key, err := w.admin(ctx, in, "", "key", "create", "--org", benchOrg, "--name", "bench", "--role", "invoke")
	if err != nil {
		return nil, err
	}
	in.apiKey = strings.TrimSpace(key)
	in.guardFlags = guardFlags(ctx, bin)
	for name, secret := range map[string]string{"heygen": w.hgKey, "elevenlabs": w.elKey} {
		if _, err := w.admin(ctx, in, secret, "credential", "set", "--org", benchOrg, name); err != nil {
			return nil, err
		}
	}
	return in, nil
}

func (w *world) env(in *install) []string {
	return []string{"AIPROXY_MASTER_KEY=" + w.masterKey, "AIPROXY_DATA_DIR=" + in.dataDir}
}

// admin runs one management command of an aiproxy binary and returns its
// output.
func (w *world) admin(ctx context.Context, in *install, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, in.bin, args...)
	cmd.Env = append(os.Environ(), w.env(in)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", in.bin, strings.Join(args[:2], " "), err, errb.String())
	}
	return out.String(), nil
}

// stack is one scenario's processes: a fresh sandbox, and in front of it an
// aiproxy (two with --baseline), the bare Go proxy, and nginx when
// installed.
type stack struct {
	w           *world
	sandbox     *child
	aiproxy     *child
	baseline    *child
	goproxy     *child
	nginx       *child
	sandboxURL  string
	aiproxyURL  string
	baselineURL string
	goproxyURL  string
	nginxURL    string
}

func (w *world) start(ctx context.Context, name string, knobs sandboxKnobs) (*stack, error) {
	dir := filepath.Join(w.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s := &stack{w: w}
	if err := s.startAll(ctx, dir, knobs); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// startAll starts the sandbox and every server in front of it; the caller
// stops whatever started if it fails.
func (s *stack) startAll(ctx context.Context, dir string, knobs sandboxKnobs) error {
	w := s.w
	var err error
	var vals map[string]string
	s.sandbox, vals, err = startChild(ctx, "sandbox", dir, w.self, knobs.args(w.hgKey, w.elKey), nil, "SANDBOX_URL")
	if err != nil {
		return err
	}
	s.sandboxURL = vals["SANDBOX_URL"]
	s.goproxy, vals, err = startChild(ctx, "goproxy", dir, w.self, goProxyArgs(s.sandboxURL, w.hgKey, w.elKey), nil, "GOPROXY_URL")
	if err != nil {
		return err
	}
	s.goproxyURL = vals["GOPROXY_URL"]
	if s.aiproxy, s.aiproxyURL, err = s.startAIProxy(ctx, "aiproxy", dir, w.aiproxy); err != nil {
		return err
	}
	if w.baseline != nil {
		if s.baseline, s.baselineURL, err = s.startAIProxy(ctx, pathBaseline, dir, w.baseline); err != nil {
			return err
		}
	}
	if w.opts.nginx != "" {
		hostPort := strings.TrimPrefix(s.sandboxURL, "http://")
		s.nginx, s.nginxURL, err = startNginx(ctx, w.opts.nginx, dir, hostPort, w.hgKey, w.elKey)
	}
	return err
}

// startAIProxy serves one aiproxy binary on its own database in front of
// the sandbox, as production runs it, and returns it with its base URL.
func (s *stack) startAIProxy(ctx context.Context, name, dir string, in *install) (*child, string, error) {
	args := []string{"serve", "--addr", "127.0.0.1:0", "--log-level", "info",
		"--upstream", "heygen=" + s.sandboxURL + "/heygen", "--upstream", "elevenlabs=" + s.sandboxURL + "/elevenlabs"}
	args = append(args, in.guardFlags...)
	c, vals, err := startChild(ctx, name, dir, in.bin, args, s.w.env(in), "AIPROXY_URL")
	if err != nil {
		return nil, "", err
	}
	return c, vals["AIPROXY_URL"], nil
}

func (s *stack) stop() {
	s.nginx.stop()
	s.baseline.stop()
	s.aiproxy.stop()
	s.goproxy.stop()
	s.sandbox.stop()
}

// paths lists the paths this stack can measure, in allPaths order: all of
// them but the baseline without --baseline and nginx when it is not
// installed.
func (s *stack) paths() []string {
	var out []string
	for _, p := range allPaths {
		if s.server(p) != nil {
			out = append(out, p)
		}
	}
	return out
}

// aiproxyPaths lists the paths that are an aiproxy: aiproxy, and the
// baseline when there is one.
func (s *stack) aiproxyPaths() []string {
	if s.baseline != nil {
		return []string{pathAIProxy, pathBaseline}
	}
	return []string{pathAIProxy}
}

// server is the process whose CPU and memory a path is charged: the
// sandbox when called directly, otherwise the proxy; nil for a path this
// stack does not run.
func (s *stack) server(path string) *child {
	switch path {
	case pathAIProxy:
		return s.aiproxy
	case pathBaseline:
		return s.baseline
	case pathNginx:
		return s.nginx
	case pathGoProxy:
		return s.goproxy
	case pathDirect:
		return s.sandbox
	}
	return nil
}

// aiproxyFor returns the base URL and install of an aiproxy path.
func (s *stack) aiproxyFor(path string) (string, *install) {
	if path == pathBaseline {
		return s.baselineURL, s.w.baseline
	}
	return s.aiproxyURL, s.w.aiproxy
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
// aiproxy envelope with that aiproxy's key.
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
	base, in := s.aiproxyFor(path)
	h := http.Header{}
	h.Set("Authorization", "Api-Key "+in.apiKey)
	h.Set("Content-Type", "application/json")
	u := fmt.Sprintf("%s/api/ai-proxy/orgs/%s/services/%s/%s/", base, benchOrg, c.service, c.action)
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
	return fetch(ctx, s.request(pathDirect, c), out)
}

// fetch sends one request and decodes its JSON answer.
func fetch(ctx context.Context, rq request, out any) error {
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

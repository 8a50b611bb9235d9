package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/sandbox"
	"github.com/aiproxy/aiproxy/internal/vault"
)

func runDemo(ctx context.Context, args []string, e env, s stdio) error {
	var f serverFlags
	fs := newFlagSet("demo", "demo [flags]", s)
	f.register(fs, e, "aiproxy-demo")
	org := fs.String("org", envOr(e, "AIPROXY_DEMO_ORG", "demo"), orgDemo)
	renderTime := fs.Duration("render-time", 15*time.Second, "how long a sandbox video takes to render")
	if err := configureServer(&f, fs, args); err != nil {
		return err
	}
	// Only a valid configuration may write a fresh master key.
	v, err := demoVault(e, &f, s)
	if err != nil {
		return err
	}
	hookSecret := demoWebhooks(&f.jobs)
	if f.speech.orgs == nil {
		f.speech.orgs = []string{*org} // the demo shows repeated speech answered from the cache
	}
	if f.obs.metricsToken == "" && f.obs.metricsAddr == "" {
		// The demo shows its metrics too, behind a token of its own.
		f.obs.metricsToken = aiproxy.NewID("metrics_") + aiproxy.NewID("")
	}
	sb, err := startSandbox(ctx, "127.0.0.1:0", sandbox.Config{RenderTime: *renderTime, WebhookSecret: hookSecret})
	if err != nil {
		return err
	}
	go sb.server.RunWebhooks(ctx, 250*time.Millisecond)
	keys := map[string]string{"heygen": randomKey("hg"), "elevenlabs": randomKey("el"), "liveavatar": randomKey("la")}
	sb.server.AddKey(sandbox.HeyGen, keys["heygen"])
	sb.server.AddKey(sandbox.ElevenLabs, keys["elevenlabs"])
	sb.server.AddKey(sandbox.LiveAvatar, keys["liveavatar"])
	// The platform's credentials are pools of two sandbox keys, for the
	// orgs that have no key of their own.
	pools := map[string][]string{"heygen": {randomKey("hgp"), randomKey("hgp")}, "elevenlabs": {randomKey("elp"), randomKey("elp")},
		"liveavatar": {randomKey("lap"), randomKey("lap")}}
	for _, k := range pools["heygen"] {
		sb.server.AddKey(sandbox.HeyGen, k)
	}
	for _, k := range pools["elevenlabs"] {
		sb.server.AddKey(sandbox.ElevenLabs, k)
	}
	for _, k := range pools["liveavatar"] {
		sb.server.AddKey(sandbox.LiveAvatar, k)
	}
	for svc := range keys {
		if _, set := f.upstreams[svc]; !set {
			f.upstreams[svc] = sb.url + "/" + svc
		}
	}
	a, err := assemble(ctx, f, v, s)
	if err != nil {
		return explainTakenPort(err, f.addr, f.obs.metricsAddr)
	}
	defer a.close()
	full, err := seedDemo(ctx, a, *org, keys, pools)
	if err != nil {
		return err
	}
	return a.serve(ctx, s, func() {
		printGuide(s, guideData{URL: a.url(), Org: *org, Key: full, Sandbox: sb.url, Engine: f.store.engine(),
			MetricsToken: f.obs.metricsToken})
	})
}

// explainTakenPort adds to a listen failure on a port that another
// program holds (often an earlier demo still running) the flag that moves
// the demo and a free address to give it.
func explainTakenPort(err error, addr, metricsAddr string) error {
	var op *net.OpError
	if !errors.Is(err, syscall.EADDRINUSE) || !errors.As(err, &op) {
		return err
	}
	tcp, ok := op.Addr.(*net.TCPAddr)
	if !ok {
		return err
	}
	flagName, taken := "--addr", addr
	if metricsAddr != "" && portOf(metricsAddr) == tcp.Port && portOf(addr) != tcp.Port {
		flagName, taken = "--metrics-addr", metricsAddr
	}
	host, _, splitErr := net.SplitHostPort(taken)
	if splitErr != nil {
		host = tcp.IP.String()
	}
	try := net.JoinHostPort(host, "0") + " for any free port"
	for port := tcp.Port + 1; port <= tcp.Port+20 && port < 65536; port++ {
		candidate := net.JoinHostPort(host, strconv.Itoa(port))
		if ln, err := net.Listen("tcp", candidate); err == nil {
			ln.Close()
			try = candidate + " (free now), or " + flagName + " " + net.JoinHostPort(host, "0") + " for any free port"
			break
		}
	}
	return fmt.Errorf("%w\n\n%s is taken, perhaps by an aiproxy demo still running: stop it, or give the demo another address with %s %s", err, taken, flagName, try)
}

func portOf(addr string) int {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return -1
	}
	return n
}

// demoVault uses the configured master key or, failing that, the one in the
// data dir, generating it on first use.
func demoVault(e env, f *serverFlags, s stdio) (*vault.Vault, error) {
	v, err := f.key.vault(e)
	if !errors.Is(err, errNoMasterKey) {
		return v, err
	}
	if err := os.MkdirAll(f.store.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(f.store.dataDir, "master.key")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		key, err := vault.GenerateMasterKey()
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write master key: %w", err)
		}
		fmt.Fprintf(s.err, "aiproxy demo: generated a master key in %s (keep it: it opens the stored credentials)\n", path)
	}
	f.key.keyFile = path
	return f.key.vault(e)
}

func randomKey(prefix string) string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return "sandbox_" + prefix + "_" + hex.EncodeToString(b)
}

// seedDemo makes sure the demo org exists, points its credentials at the
// sandbox, and returns a fresh admin key for it.
func seedDemo(ctx context.Context, a *app, org string, keys map[string]string, pools map[string][]string) (string, error) {
	if _, err := a.admin.CreateOrg(ctx, org, "Demo org"); err != nil && aiproxy.ErrorCode(err) != aiproxy.CodeConflict {
		return "", err
	}
	for name, pk := range pools {
		v := aiproxy.NewPoolValue(aiproxy.PoolKey{ID: "sandbox-1", Value: aiproxy.CredentialValue{"key": pk[0]}},
			aiproxy.PoolKey{ID: "sandbox-2", Value: aiproxy.CredentialValue{"key": pk[1]}})
		if _, err := a.admin.SetCredential(ctx, aiproxy.SourcePlatform, "", name, v); err != nil {
			return "", fmt.Errorf("set demo platform pool %s: %w", name, err)
		}
	}
	for name, key := range keys {
		if _, err := a.admin.SetCredential(ctx, aiproxy.SourceTenant, org, name, aiproxy.CredentialValue{"key": key}); err != nil {
			return "", fmt.Errorf("set demo credential %s: %w", name, err)
		}
	}
	full, _, err := a.admin.CreateKey(ctx, org, "demo "+time.Now().UTC().Format(time.RFC3339), aiproxy.RoleAdmin)
	return full, err
}

// runningSandbox is a sandbox serving on a loopback address.
type runningSandbox struct {
	server *sandbox.Server
	url    string
}

func startSandbox(ctx context.Context, addr string, cfg sandbox.Config) (*runningSandbox, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox listen: %w", err)
	}
	sb := sandbox.New(cfg)
	srv := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	return &runningSandbox{server: sb, url: "http://" + ln.Addr().String()}, nil
}

type guideData struct {
	URL, Org, Key, Sandbox string
	// MetricsToken guards /metrics on the API's address.
	MetricsToken string
	// Engine names the database engine: sqlite or postgres.
	Engine string
}

var guide = template.Must(template.New("guide").Parse(strings.TrimLeft(`
aiproxy demo is ready: {{.Engine}}, sandbox HeyGen and ElevenLabs at {{.Sandbox}}, org "{{.Org}}".

AIPROXY_URL={{.URL}}
AIPROXY_ORG={{.Org}}
AIPROXY_API_KEY={{.Key}}
{{if .MetricsToken}}AIPROXY_METRICS_TOKEN={{.MetricsToken}}
{{end}}
Try it from another shell:

  export AIPROXY_URL={{.URL}} AIPROXY_ORG={{.Org}} AIPROXY_API_KEY={{.Key}}
  P="$AIPROXY_URL/api/ai-proxy/orgs/$AIPROXY_ORG/services"; A="Authorization: Api-Key $AIPROXY_API_KEY"

  curl -s -H "$A" $P/                                   # list services
  curl -s -H "$A" $P/heygen/                            # HeyGen's endpoints
  curl -s -H "$A" -X POST $P/heygen/list-avatars/ -d '{}' | head -c 300; echo
  curl -s -H "$A" -X POST $P/heygen/generate-video/ -H 'Content-Type: application/json' -d '{"body":{"test":true,"video_inputs":[{"character":{"type":"avatar","avatar_id":"Abigail_expressive_2024112501","avatar_style":"normal"},"voice":{"type":"text","input_text":"Hello from aiproxy.","voice_id":"f38a635bee7a4d1f9b0a654a31d050d2"}}],"dimension":{"width":1280,"height":720}}}'
  curl -s -H "$A" -X POST $P/heygen/video-status/ -d '{"query":{"video_id":"PASTE_VIDEO_ID"}}'
  curl -s -H "$A" -X POST $P/elevenlabs/tts/ -d '{"path_params":{"voice_id":"21m00Tcm4TlvDq8ikWAM"},"body":{"text":"Hello from aiproxy.","model_id":"eleven_multilingual_v2"}}' -o hello.mp3
{{if .MetricsToken}}  curl -s -H "Authorization: Bearer {{.MetricsToken}}" $AIPROXY_URL/metrics | grep aiproxy_requests_total
{{end}}
Press Ctrl-C to stop.
`, "\n")))

func printGuide(s stdio, d guideData) {
	_ = guide.Execute(s.out, d)
}

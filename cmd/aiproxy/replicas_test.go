package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/postgres/pgtest"
	"github.com/aiproxy/aiproxy/internal/redis"
)

// The multi-replica test runs the built binary as three `aiproxy serve`
// replicas on one Postgres schema and one Redis prefix, with one `aiproxy
// sandbox` as both providers and a round-robin balancer in front, and
// shows that they behave as one server. It needs AIPROXY_TEST_POSTGRES_URL
// and AIPROXY_TEST_REDIS_URL, and skips without them.
//
//	go test ./cmd/aiproxy -run TestMultiReplica -v
const (
	mrRate       = 40.0 // tokens per second of the global rate limit
	mrBurst      = 40
	mrLoad       = 5 * time.Second
	mrQuota      = 40
	mrRenderTime = 3 * time.Second
)

func TestMultiReplica(t *testing.T) {
	redisURL := os.Getenv("AIPROXY_TEST_REDIS_URL")
	if redisURL == "" || os.Getenv(pgtest.EnvVar) == "" {
		t.Skip("set AIPROXY_TEST_POSTGRES_URL and AIPROXY_TEST_REDIS_URL to run the multi-replica test")
	}
	if testing.Short() {
		t.Skip("the multi-replica test takes about a minute; not in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := newCluster(ctx, t, pgtest.URL(t), redisURL)

	t.Run("OwnershipAcrossReplicas", func(t *testing.T) { c.testOwnership(t) })
	t.Run("GlobalRateLimit", func(t *testing.T) { c.testRateLimit(t) })
	t.Run("QuotaNeverOverspends", func(t *testing.T) { c.testQuota(t) })
	t.Run("JobsExactlyOnce", func(t *testing.T) { c.testJobs(t, false) })
	t.Run("ReplicaKilledMidLoad", func(t *testing.T) { c.testJobs(t, true) })
}

// cluster is the running installation.
type cluster struct {
	ctx      context.Context
	bin, dir string
	env      []string
	sandbox  string
	lb       *balancer
	replicas []*replica
	keys     map[string]string // org → invoke key
	hooks    *hookRecorder
	// lines holds each started process's stdout lines.
	lines map[*exec.Cmd]chan string
}

type replica struct {
	cmd  *exec.Cmd
	url  string
	dead atomic.Bool
}

func newCluster(ctx context.Context, t *testing.T, dbURL, redisURL string) *cluster {
	dir := t.TempDir()
	c := &cluster{ctx: ctx, dir: dir, bin: filepath.Join(dir, "aiproxy"), keys: map[string]string{},
		lines: map[*exec.Cmd]chan string{}}
	build := exec.CommandContext(ctx, "go", "build", "-o", c.bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	prefix := "aiproxy_mr_" + randomKey("p") + ":"
	t.Cleanup(func() { dropRedisPrefix(redisURL, prefix) })
	secret, hgKey, elKey := randomKey("whs"), randomKey("hg"), randomKey("el")
	c.env = append(os.Environ(), "AIPROXY_DATABASE_URL="+dbURL, "AIPROXY_MASTER_KEY="+strings.Repeat("ab", 32),
		"AIPROXY_REDIS_URL="+redisURL, "AIPROXY_REDIS_PREFIX="+prefix,
		"AIPROXY_PROVIDER_WEBHOOK_SECRETS=heygen="+secret, "AIPROXY_SANDBOX_WEBHOOK_SECRET="+secret,
		"AIPROXY_SANDBOX_HEYGEN_KEY="+hgKey, "AIPROXY_SANDBOX_ELEVENLABS_KEY="+elKey,
		"AIPROXY_WEBHOOK_ALLOW_PRIVATE=true") // the test's webhook receiver is on loopback

	sb := c.start(t, "sandbox", "--addr", "127.0.0.1:0", "--render-time", mrRenderTime.String())
	c.sandbox = strings.TrimSuffix(c.waitVar(t, sb, "HEYGEN_BASE_URL"), "/heygen")

	c.cli(t, "", "migrate")
	for _, org := range []string{"acme", "beta"} {
		c.cli(t, "", "org", "create", org)
		c.keys[org] = strings.TrimSpace(c.cli(t, "", "key", "create", "--org", org))
	}
	c.cli(t, hgKey, "credential", "set", "--platform", "heygen")
	c.cli(t, elKey, "credential", "set", "--platform", "elevenlabs")
	c.cli(t, "", "quota", "set", "--org", "beta", "--service", "elevenlabs", "--metric", "requests", "--period", "day",
		"--limit", fmt.Sprint(mrQuota))
	c.hooks = newHookRecorder(t)
	c.cli(t, "", "webhook", "add", c.hooks.url, "--org", "acme", "--events", "job.created,job.completed,job.failed")

	c.lb = newBalancer(t, c)
	for range 3 {
		p := c.start(t, "serve", "--addr", "127.0.0.1:0", "--public-url", c.lb.url,
			"--upstream", "heygen="+c.sandbox+"/heygen", "--upstream", "elevenlabs="+c.sandbox+"/elevenlabs",
			"--rate-limit", fmt.Sprintf("org:elevenlabs/list-voices=%g/s:%d", mrRate, mrBurst),
			"--job-poll-interval", "1s", "--job-lease", "3s", "--shutdown-timeout", "2s", "--log-level", "warn")
		c.replicas = append(c.replicas, &replica{cmd: p, url: c.waitVar(t, p, "AIPROXY_URL")})
	}
	return c
}

// start runs the binary until the test ends; its stdout is read by waitVar.
func (c *cluster) start(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.Command(c.bin, args...)
	cmd.Env = c.env
	cmd.Stderr = &prefixWriter{t: t, prefix: args[0]}
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	vars := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			vars <- sc.Text()
		}
		close(vars)
	}()
	c.lines[cmd] = vars
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return cmd
}

func (c *cluster) waitVar(t *testing.T, cmd *exec.Cmd, name string) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-c.lines[cmd]:
			if !ok {
				t.Fatalf("%s exited before printing %s", cmd.Args[1], name)
			}
			if v, ok := strings.CutPrefix(line, name+"="); ok {
				return v
			}
		case <-timeout:
			t.Fatalf("%s printed no %s", cmd.Args[1], name)
		}
	}
}

// cli runs one admin command to completion with stdin and returns stdout.
func (c *cluster) cli(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(c.ctx, c.bin, args...)
	cmd.Env, cmd.Stdin = c.env, strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("aiproxy %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// balancer spreads requests over the live replicas in turn, moving on when
// one refuses the connection: what a load balancer does.
type balancer struct {
	url  string
	c    *cluster
	next atomic.Int64
}

func newBalancer(t *testing.T, c *cluster) *balancer {
	b := &balancer{c: c}
	srv := httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

func (b *balancer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	for range 2 * len(b.c.replicas) {
		rep := b.c.replicas[int(b.next.Add(1))%len(b.c.replicas)]
		if rep.dead.Load() {
			continue
		}
		target, _ := url.Parse(rep.url)
		failed := false
		p := httputil.NewSingleHostReverseProxy(target)
		p.ErrorHandler = func(http.ResponseWriter, *http.Request, error) { failed = true }
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		p.ServeHTTP(w, r)
		if !failed {
			return
		}
	}
	w.WriteHeader(http.StatusBadGateway)
}

// call sends an invoke through the balancer.
func (c *cluster) call(org, service, action, envelope string) (int, []byte, error) {
	req, _ := http.NewRequestWithContext(c.ctx, http.MethodPost,
		fmt.Sprintf("%s/api/ai-proxy/orgs/%s/services/%s/%s/", c.lb.url, org, service, action), strings.NewReader(envelope))
	req.Header.Set("Authorization", "Api-Key "+c.keys[org])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// sandboxCalls counts the provider requests whose path has a prefix.
func (c *cluster) sandboxCalls(t *testing.T, pathPrefix string) (n int, byQuery map[string]int) {
	t.Helper()
	resp, err := http.Get(c.sandbox + "/_sandbox/requests")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var reqs []struct {
		Path     string `json:"path"`
		RawQuery string `json:"raw_query"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&reqs); err != nil {
		t.Fatal(err)
	}
	byQuery = map[string]int{}
	for _, r := range reqs {
		if strings.HasPrefix(r.Path, pathPrefix) {
			n++
			byQuery[r.RawQuery]++
		}
	}
	return n, byQuery
}

// testRateLimit overloads one org's global bucket through every replica
// for mrLoad: what passes is the burst plus the rate over the time taken,
// within 5%, not three times that.
func (c *cluster) testRateLimit(t *testing.T) {
	var ok, limited, other atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			for time.Since(start) < mrLoad {
				status, _, err := c.call("acme", "elevenlabs", "list-voices", `{}`)
				switch {
				case err == nil && status == 200:
					ok.Add(1)
				case err == nil && status == 429:
					limited.Add(1)
				default:
					other.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	want := float64(mrBurst) + mrRate*elapsed.Seconds()
	dev := (float64(ok.Load()) - want) / want
	t.Logf("global rate limit %g/s burst %d over %v through 3 replicas: %d allowed (want %.0f, %+.1f%%), %d refused, %d other; %.0f requests/s",
		mrRate, mrBurst, elapsed.Round(time.Millisecond), ok.Load(), want, 100*dev, limited.Load(), other.Load(),
		float64(ok.Load()+limited.Load())/elapsed.Seconds())
	if math.Abs(dev) > 0.05 || other.Load() > 0 {
		t.Fatalf("allowed %d, want %.0f ± 5%%; %d unexpected answers", ok.Load(), want, other.Load())
	}
}

// testQuota races 200 calls of an org with a quota of mrQuota requests
// through every replica: exactly mrQuota reach the provider.
func (c *cluster) testQuota(t *testing.T) {
	before, _ := c.sandboxCalls(t, "/v1/voices")
	var ok, exceeded atomic.Int64
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			status, body, err := c.call("beta", "elevenlabs", "list-voices", `{}`)
			switch {
			case err == nil && status == 200:
				ok.Add(1)
			case err == nil && status == 429 && strings.Contains(string(body), "quota_exceeded"):
				exceeded.Add(1)
			case err == nil && status == 429:
				// The rate limit refused it before the quota: fine.
			default:
				t.Errorf("call: %d %s %v", status, body, err)
			}
		})
	}
	wg.Wait()
	after, _ := c.sandboxCalls(t, "/v1/voices")
	t.Logf("quota %d requests/day, 200 racing calls through 3 replicas: %d allowed, %d quota_exceeded, %d provider calls",
		mrQuota, ok.Load(), exceeded.Load(), after-before)
	if ok.Load() != mrQuota || after-before != mrQuota {
		t.Fatalf("allowed %d with %d provider calls; want exactly %d", ok.Load(), after-before, mrQuota)
	}
}

// testJobs starts renders through every replica and waits for each to be
// completed and announced: one job.created and one job.completed event per
// job, and each event delivered. With kill, a replica is SIGKILLed after
// some renders were accepted: no accepted job and no event is lost.
func (c *cluster) testJobs(t *testing.T, kill bool) {
	const n = 12
	var videos []string
	for i := range n {
		if kill && i == n/3 {
			victim := c.replicas[2]
			victim.dead.Store(true)
			_ = victim.cmd.Process.Kill()
			t.Logf("SIGKILLed replica %s after %d accepted renders", victim.url, len(videos))
		}
		status, body, err := c.call("acme", "heygen", "generate-video",
			fmt.Sprintf(`{"body":{"test":true,"dimension":{"width":1280,"height":720},"video_inputs":[{`+
				`"character":{"type":"avatar","avatar_id":"Abigail_expressive_2024112501","avatar_style":"normal"},`+
				`"voice":{"type":"text","input_text":"Replica test %d","voice_id":"f38a635bee7a4d1f9b0a654a31d050d2"}}]}}`, i))
		if err != nil || status != 200 {
			t.Fatalf("generate-video %d: %d %s %v", i, status, body, err)
		}
		var r struct {
			Data struct {
				VideoID string `json:"video_id"`
			} `json:"data"`
		}
		if json.Unmarshal(body, &r) != nil || r.Data.VideoID == "" {
			t.Fatalf("generate-video answered %s", body)
		}
		videos = append(videos, r.Data.VideoID)
		time.Sleep(100 * time.Millisecond)
	}
	started := time.Now()
	ids := c.waitCompleted(t, videos, 60*time.Second)
	t.Logf("%d renders completed %v after the last start", n, time.Since(started).Round(100*time.Millisecond))
	c.checkAnnounced(t, ids, kill, 45*time.Second)
	_, reads := c.sandboxCalls(t, "/v1/video_status.get")
	total := 0
	for _, v := range videos {
		total += reads["video_id="+v]
	}
	perJob := float64(total) / n
	// One tracker polls every second while a 3s render runs, plus the read
	// that each provider webhook triggers: about 4-5 reads a job. Three
	// trackers that did not share the work would make about three times
	// as many.
	t.Logf("provider status reads: %.1f per job", perJob)
	if limit := mrRenderTime.Seconds() + 4; !kill && perJob > limit {
		t.Errorf("%.1f status reads per job; more than %.0f means replicas tracked the same jobs", perJob, limit)
	}
}

// waitCompleted waits until every video's job is completed and returns the
// job ids by video.
func (c *cluster) waitCompleted(t *testing.T, videos []string, within time.Duration) map[string]string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		jobs := c.jobs(t)
		ids, done := map[string]string{}, 0
		for _, v := range videos {
			if j, ok := jobs[v]; ok {
				ids[v] = j.ID
				if j.State == "completed" {
					done++
				}
			}
		}
		if len(ids) != len(videos) {
			t.Fatalf("%d of %d accepted renders have a job", len(ids), len(videos))
		}
		if done == len(videos) {
			return ids
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d jobs completed after %v", done, len(videos), within)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

type jobRow struct {
	ID            string `json:"id"`
	ProviderJobID string `json:"provider_job_id"`
	State         string `json:"state"`
}

// jobs lists acme's jobs by provider id.
func (c *cluster) jobs(t *testing.T) map[string]jobRow {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.lb.url+"/api/ai-proxy/orgs/acme/jobs/?limit=200", nil)
	req.Header.Set("Authorization", "Api-Key "+c.keys["acme"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Jobs []jobRow `json:"jobs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	out := map[string]jobRow{}
	for _, j := range page.Jobs {
		out[j.ProviderJobID] = j
	}
	return out
}

// checkAnnounced waits until the webhook receiver has every job's created
// and completed event, then checks each was emitted once; without a kill,
// each was also delivered once.
func (c *cluster) checkAnnounced(t *testing.T, ids map[string]string, kill bool, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		missing := 0
		for _, id := range ids {
			for _, typ := range []string{"job.created", "job.completed"} {
				if len(c.hooks.events(id, typ)) == 0 {
					missing++
				}
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d job events never delivered after %v", missing, within)
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, id := range ids {
		for _, typ := range []string{"job.created", "job.completed"} {
			evs := c.hooks.events(id, typ)
			distinct := map[string]bool{}
			for _, e := range evs {
				distinct[e] = true
			}
			if len(distinct) != 1 {
				t.Errorf("job %s: %d distinct %s events, want 1", id, len(distinct), typ)
			}
			if !kill && len(evs) != 1 {
				t.Errorf("job %s: %s delivered %d times, want once", id, typ, len(evs))
			}
		}
	}
	t.Logf("webhook receiver: %d deliveries in all (%d duplicates of one event id, allowed only across a kill)",
		c.hooks.total(), c.hooks.duplicates())
}

// hookRecorder is an org's webhook endpoint that records every delivery.
type hookRecorder struct {
	url string
	mu  sync.Mutex
	got map[string][]string // job id + type → event ids, one per delivery
	n   int
}

func newHookRecorder(t *testing.T) *hookRecorder {
	h := &hookRecorder{got: map[string][]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			ID   string `json:"id"`
			Type string `json:"type"`
			Job  struct {
				ID string `json:"id"`
			} `json:"job"`
		}
		_ = json.NewDecoder(r.Body).Decode(&ev)
		h.mu.Lock()
		h.got[ev.Job.ID+" "+ev.Type] = append(h.got[ev.Job.ID+" "+ev.Type], ev.ID)
		h.n++
		h.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL + "/hook"
	return h
}

func (h *hookRecorder) events(job, typ string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got[job+" "+typ]...)
}

func (h *hookRecorder) total() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

func (h *hookRecorder) duplicates() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, ids := range h.got {
		n += len(ids) - 1
	}
	return n
}

// prefixWriter logs a process's stderr lines into the test log.
type prefixWriter struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, "level=ERROR") {
			p.t.Logf("%s: %s", p.prefix, line)
		}
	}
	return len(b), nil
}

func dropRedisPrefix(url, prefix string) {
	rc, err := redis.Open(url, redis.Options{Prefix: prefix})
	if err != nil {
		return
	}
	defer rc.Close()
	_ = rc.DropPrefix(context.Background())
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/httpapi"
	"github.com/aiproxy/aiproxy/internal/jobs"
	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// The key pool tests run the real program: `aiproxy serve` on :0 over a
// SQLite data dir (two replicas sharing it and a miniredis in the last
// test), the management commands on the same dir, and an in-process
// sandbox on loopback as both providers. The platform's HeyGen credential
// is a pool of two sandbox keys, a and b; the org acme has no credential
// of its own, so its calls fall back to the pool.

// poolEnv is the installation of one test.
type poolEnv struct {
	t          *testing.T
	sb         *sandbox.Server
	sbURL      string
	env        map[string]string
	keyA, keyB string
	// invoke is acme's key; platform is a platform admin's.
	invoke, platform string
	// seen holds every response body the test read, for the leak scan.
	mu   sync.Mutex
	seen [][]byte
}

// poolReplica is one running `aiproxy serve`.
type poolReplica struct {
	url    string
	stderr *syncBuffer
}

// newPoolEnv starts the sandbox, creates the org and keys and sets the
// pool, with extra JSON members (",\"weight\":3") for key a and key b.
func newPoolEnv(t *testing.T, extraA, extraB string) *poolEnv {
	t.Helper()
	e := &poolEnv{t: t, keyA: "sandbox_pool_a_" + randomText(32), keyB: "sandbox_pool_b_" + randomText(32)}
	sb, err := startSandbox(t.Context(), "127.0.0.1:0", sandbox.Config{
		HeyGenKeys: []string{e.keyA, e.keyB}, RenderTime: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e.sb, e.sbURL = sb.server, sb.url
	e.env = map[string]string{"AIPROXY_MASTER_KEY": strings.Repeat("cd", 32), "AIPROXY_DATA_DIR": t.TempDir(),
		"AIPROXY_METRICS_TOKEN": "metrics_" + randomText(24)}
	e.cli("", "migrate")
	e.cli("", "org", "create", "acme")
	e.invoke = strings.TrimSpace(e.cli("", "key", "create", "--org", "acme"))
	e.platform = strings.TrimSpace(e.cli("", "key", "create", "--platform"))
	pool := `{"keys":[{"id":"a","key":"` + e.keyA + `"` + extraA + `},{"id":"b","key":"` + e.keyB + `"` + extraB + `}]}`
	e.cli(pool, "credential", "set", "--platform", "heygen")
	return e
}

// cli runs a management command on the data dir and returns its output.
func (e *poolEnv) cli(stdin string, args ...string) string {
	e.t.Helper()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	if err := run(context.Background(), args, e.getenv, strings.NewReader(stdin), out, errOut); err != nil {
		e.t.Fatalf("aiproxy %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	e.note([]byte(out.String() + errOut.String()))
	return out.String()
}

func (e *poolEnv) getenv(name string) string { return e.env[name] }

func (e *poolEnv) note(b []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seen = append(e.seen, b)
}

// serve starts a replica until the test ends.
func (e *poolEnv) serve(extra ...string) *poolReplica {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncBuffer{}, &syncBuffer{}
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "debug", "--job-poll-interval", "300ms",
		"--upstream", "heygen=" + e.sbURL + "/heygen", "--upstream", "elevenlabs=" + e.sbURL + "/elevenlabs"}, extra...)
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, e.getenv, strings.NewReader(""), out, errOut) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("serve: %v", err)
		}
		e.note([]byte(errOut.String()))
	})
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if u := parseVars(out.String())["AIPROXY_URL"]; u != "" {
			return &poolReplica{url: u, stderr: errOut}
		}
		select {
		case err := <-done:
			e.t.Fatalf("serve stopped: %v\n%s", err, errOut.String())
		default:
		}
	}
	e.t.Fatalf("serve printed no AIPROXY_URL:\n%s", errOut.String())
	return nil
}

// do sends a request and returns the status, headers and body.
func (e *poolEnv) do(r *poolReplica, method, path, auth, body string) (int, http.Header, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, r.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read %s: %v", path, err)
	}
	e.note(b)
	return resp.StatusCode, resp.Header, b
}

// getJSON reads a JSON answer that must be 200.
func (e *poolEnv) getJSON(r *poolReplica, path, auth string, v any) {
	e.t.Helper()
	status, _, body := e.do(r, "GET", path, auth, "")
	if status != 200 {
		e.t.Fatalf("GET %s = %d %s", path, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		e.t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

const orgBase = "/api/ai-proxy/orgs/acme/services/heygen/"

// listVoices makes a retry-safe call (HeyGen's GET /v2/voices).
func (e *poolEnv) listVoices(r *poolReplica) (int, http.Header, []byte) {
	return e.do(r, "POST", orgBase+"list-voices/", "Api-Key "+e.invoke, `{}`)
}

// generate starts a test render and returns its video id on a 200.
func (e *poolEnv) generate(r *poolReplica, text string) (int, http.Header, []byte, string) {
	body := `{"body":{"test":true,"video_inputs":[{"character":{"type":"avatar","avatar_id":"Abigail_expressive_2024112501",` +
		`"avatar_style":"normal"},"voice":{"type":"text","input_text":"` + text + `","voice_id":"f38a635bee7a4d1f9b0a654a31d050d2"}}],` +
		`"dimension":{"width":1280,"height":720}}}`
	status, h, b := e.do(r, "POST", orgBase+"generate-video/", "Api-Key "+e.invoke, body)
	var out struct {
		Data struct {
			VideoID string `json:"video_id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(b, &out)
	return status, h, b, out.Data.VideoID
}

// pool reads the platform pool through the admin API of r.
func (e *poolEnv) pool(r *poolReplica) map[string]httpapi.PoolKeyJSON {
	e.t.Helper()
	var p httpapi.PoolJSON
	e.getJSON(r, "/api/ai-proxy/admin/credentials/heygen/pool/", "Api-Key "+e.platform, &p)
	out := map[string]httpapi.PoolKeyJSON{}
	for _, k := range p.Keys {
		out[k.ID] = k
	}
	return out
}

// poolAudit returns the key pool events of the audit log, oldest first, as
// "ACTOR ACTION TARGET".
func (e *poolEnv) poolAudit(r *poolReplica) []string {
	e.t.Helper()
	var events []httpapi.AuditJSON
	e.getJSON(r, "/api/ai-proxy/admin/audit/?limit=1000", "Api-Key "+e.platform, &events)
	var out []string
	for i := len(events) - 1; i >= 0; i-- {
		if ev := events[i]; strings.HasPrefix(ev.Action, "credential.key_") {
			out = append(out, ev.Actor+" "+ev.Action+" "+ev.Target)
		}
	}
	return out
}

// removedMetric reads aiproxy_pool_keys for the platform HeyGen pool's
// removed keys.
func (e *poolEnv) removedMetric(r *poolReplica) string {
	e.t.Helper()
	_, _, body := e.do(r, "GET", "/metrics", "Bearer "+e.env["AIPROXY_METRICS_TOKEN"], "")
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, `aiproxy_pool_keys{service="heygen",source="platform",state="removed"} `) {
			return strings.TrimSpace(line[strings.LastIndex(line, " "):])
		}
	}
	return "absent"
}

// statusReadKeys returns the keys the sandbox saw reading a video's
// status.
func (e *poolEnv) statusReadKeys(videoID string) map[string]int {
	keys := map[string]int{}
	for _, req := range e.sb.Requests() {
		if req.Path == "/v1/video_status.get" && strings.Contains(req.RawQuery, videoID) {
			switch req.Header.Get("X-Api-Key") {
			case e.keyA:
				keys["a"]++
			case e.keyB:
				keys["b"]++
			default:
				keys["other"]++
			}
		}
	}
	return keys
}

// sentWith counts the requests the sandbox received with a key, accepted
// or not.
func (e *poolEnv) sentWith(key string) int {
	n := 0
	for _, req := range e.sb.Requests() {
		if req.Header.Get("X-Api-Key") == key {
			n++
		}
	}
	return n
}

// leakCheck scans every body the test read, the replicas' logs and the
// audit log for the pool's keys, whole or eight characters in a row.
func (e *poolEnv) leakCheck(replicas ...*poolReplica) {
	e.t.Helper()
	scan := newLeakScanner(
		secretText{name: "pool key a", whole: e.keyA, random: strings.TrimPrefix(e.keyA, "sandbox_pool_a_")},
		secretText{name: "pool key b", whole: e.keyB, random: strings.TrimPrefix(e.keyB, "sandbox_pool_b_")})
	for _, r := range replicas {
		e.note([]byte(r.stderr.String()))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, b := range e.seen {
		if found := scan.find(b); len(found) > 0 {
			e.t.Errorf("output %d shows a pool key: %v", i, found)
		}
	}
}

// outcome is one client call's answer.
type outcome struct {
	start      bool
	status     int
	code       string
	retryAfter int
	videoID    string
	afterCut   bool
}

// TestPoolSurvivesARevokedKeyAndARateLimitedOne is the acceptance test:
// key b is slow and allows one request at a time (the sandbox answers more
// with 429 and Retry-After: 1), key a is revoked mid-run, and four clients
// that honour Retry-After make retry-safe calls and job starts. Every call
// succeeds or gets the documented 429 rate_limited; no job starts twice;
// a is removed and reported (admin API, audit, metric, CLI); once a is
// back and restored, it takes calls again, and a job started on b keeps
// polling with b.
func TestPoolSurvivesARevokedKeyAndARateLimitedOne(t *testing.T) {
	e := newPoolEnv(t, "", "")
	r := e.serve()
	e.sb.SetKeyLimits(sandbox.HeyGen, e.keyB, sandbox.KeyLimits{MaxConcurrent: 1, Latency: 30 * time.Millisecond})

	const workers, perWorker, cutAfter = 4, 12, 16
	var (
		mu       sync.Mutex
		outcomes []outcome
		calls    int
		cut      bool
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				mu.Lock()
				calls++
				if calls == cutAfter {
					e.sb.RevokeKey(sandbox.HeyGen, e.keyA)
					cut = true
				}
				afterCut := cut
				mu.Unlock()
				o := outcome{start: i%2 == 1, afterCut: afterCut}
				var h http.Header
				var body []byte
				if o.start {
					o.status, h, body, o.videoID = e.generate(r, fmt.Sprintf("Worker %d, render %d.", w, i))
				} else {
					o.status, h, body = e.listVoices(r)
				}
				var ae struct {
					Code string `json:"code"`
				}
				_ = json.Unmarshal(body, &ae)
				o.code = ae.Code
				o.retryAfter, _ = strconv.Atoi(h.Get("Retry-After"))
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
				if o.status == 429 {
					// A client that honours Retry-After, as the providers' SDKs do.
					time.Sleep(time.Duration(o.retryAfter) * time.Second)
				}
			}
		})
	}
	wg.Wait()

	started := map[string]bool{}
	okAfterCut, refused := 0, 0
	for _, o := range outcomes {
		switch {
		case o.status == 200:
			if o.start {
				if o.videoID == "" || started[o.videoID] {
					t.Fatalf("a start answered 200 without a new video id: %+v", o)
				}
				started[o.videoID] = true
			}
			if o.afterCut {
				okAfterCut++
			}
		case o.status == 429 && o.code == "rate_limited" && o.retryAfter >= 1:
			refused++
		default:
			t.Errorf("a call got %d %q (Retry-After %d); want 200 or the documented 429 rate_limited", o.status, o.code, o.retryAfter)
		}
	}
	starts := e.sb.KeyStats(sandbox.HeyGen, e.keyA).JobStarts + e.sb.KeyStats(sandbox.HeyGen, e.keyB).JobStarts
	if starts != len(started) {
		t.Fatalf("the sandbox started %d renders for %d started jobs: a job started twice or a refusal started one", starts, len(started))
	}
	if okAfterCut == 0 {
		t.Fatalf("no call succeeded after key a was revoked (%d refused)", refused)
	}
	var list struct {
		Jobs []jobs.JobJSON `json:"jobs"`
	}
	e.getJSON(r, "/api/ai-proxy/orgs/acme/jobs/?service=heygen&limit=200", "Api-Key "+e.invoke, &list)
	if len(list.Jobs) != len(started) {
		t.Fatalf("%d jobs recorded for %d started", len(list.Jobs), len(started))
	}
	t.Logf("%d calls: %d started jobs, %d refused with 429, %d succeeded after the revocation", len(outcomes), len(started), refused, okAfterCut)

	// Key a is out and reported.
	keys := e.pool(r)
	if a := keys["a"]; a.State != "removed" || !strings.HasPrefix(a.Reason, "provider answered 401") || a.Since == nil {
		t.Fatalf("key a = %+v, want removed for its 401", a)
	}
	if b := keys["b"]; b.State == "removed" || b.MaxConcurrency != 0 || b.Masked["key"] != "****"+e.keyB[len(e.keyB)-4:] {
		t.Fatalf("key b = %+v", b)
	}
	if got := e.poolAudit(r); strings.Join(got, ",") != "aiproxy credential.key_removed heygen/a" {
		t.Fatalf("pool audit = %q, want one removal by aiproxy", got)
	}
	if got := e.removedMetric(r); got != "1" {
		t.Fatalf("aiproxy_pool_keys removed = %s, want 1", got)
	}
	if out := e.cli("", "credential", "pool", "--platform", "heygen"); !strings.Contains(out, "unknown") ||
		!strings.Contains(out, "****"+e.keyA[len(e.keyA)-4:]) {
		t.Fatalf("aiproxy credential pool (health in the server's memory):\n%s", out)
	}

	// A job started while a is out runs on b. Its render never ends
	// (SANDBOX_STUCK), so that it is still read after a is back.
	e.sb.SetKeyLimits(sandbox.HeyGen, e.keyB, sandbox.KeyLimits{})
	onB := ""
	for deadline := time.Now().Add(10 * time.Second); onB == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if status, _, _, id := e.generate(r, "SANDBOX_STUCK, started on b."); status == 200 {
			onB = id
		}
	}
	if onB == "" {
		t.Fatal("no render started on key b once its cap was lifted")
	}

	// Key a comes back at the provider. Once every other job has ended, no
	// read with a that the provider refused is still on its way, and a is
	// restored.
	e.sb.AddKey(sandbox.HeyGen, e.keyA)
	for id := range started {
		if job := e.waitJob(r, id); job.State != "completed" {
			t.Fatalf("job of %s = %+v, want completed once its key is back", id, job)
		}
	}
	status, _, body := e.do(r, "POST", "/api/ai-proxy/admin/credentials/heygen/pool/a/restore/", "Api-Key "+e.platform, "")
	var restored httpapi.PoolKeyJSON
	if err := json.Unmarshal(body, &restored); status != 200 || err != nil || restored.State != "healthy" {
		t.Fatalf("restore = %d %s", status, body)
	}
	adminID, _, _ := aiproxy.ParseKey(e.platform)
	if got := e.poolAudit(r); len(got) != 2 || got[1] != adminID+" credential.key_restored heygen/a" {
		t.Fatalf("pool audit = %q, want the platform admin's restore after the removal", got)
	}
	if got := e.removedMetric(r); got != "0" {
		t.Fatalf("aiproxy_pool_keys removed after the restore = %s, want 0", got)
	}
	before := e.sb.KeyStats(sandbox.HeyGen, e.keyA).Requests
	for range 30 {
		if status, _, body := e.listVoices(r); status != 200 {
			t.Fatalf("list-voices after the restore = %d %s", status, body)
		}
	}
	if after := e.sb.KeyStats(sandbox.HeyGen, e.keyA).Requests; after == before {
		t.Fatal("key a took no call after its restore")
	}

	// The job started on b is still read, with b only: with a, the
	// provider would not know it, and the job would fail.
	reads := e.statusReadKeys(onB)["b"]
	for deadline := time.Now().Add(10 * time.Second); e.statusReadKeys(onB)["b"] < reads+2 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if keys := e.statusReadKeys(onB); keys["b"] < reads+2 || keys["a"] != 0 || keys["other"] != 0 {
		t.Fatalf("status reads of the job started on b, by key: %v (%d before a's restore)", keys, reads)
	}
	if job := e.jobOf(r, onB); job.State != "processing" {
		t.Fatalf("the job started on b = %+v, want still processing", job)
	}
	e.leakCheck(r)
}

// jobOf returns the job of a video.
func (e *poolEnv) jobOf(r *poolReplica, videoID string) jobs.JobJSON {
	e.t.Helper()
	var list struct {
		Jobs []jobs.JobJSON `json:"jobs"`
	}
	e.getJSON(r, "/api/ai-proxy/orgs/acme/jobs/?service=heygen&limit=200", "Api-Key "+e.invoke, &list)
	for _, j := range list.Jobs {
		if j.ProviderJobID == videoID {
			return j
		}
	}
	e.t.Fatalf("no job for video %s", videoID)
	return jobs.JobJSON{}
}

// waitJob waits, for a bounded time, until the job of a video is final and
// returns it.
func (e *poolEnv) waitJob(r *poolReplica, videoID string) jobs.JobJSON {
	e.t.Helper()
	j := e.jobOf(r, videoID)
	for i := 0; i < 6 && j.State != "completed" && j.State != "failed"; i++ {
		e.getJSON(r, "/api/ai-proxy/orgs/acme/jobs/"+j.ID+"?wait=5", "Api-Key "+e.invoke, &j)
	}
	return j
}

// TestPoolWeightsThroughThePipeline: weights 3 and 1 share many calls
// about 3 to 1.
func TestPoolWeightsThroughThePipeline(t *testing.T) {
	e := newPoolEnv(t, `,"weight":3`, `,"weight":1`)
	r := e.serve()
	const calls = 400
	for range calls {
		if status, _, body := e.listVoices(r); status != 200 {
			t.Fatalf("list-voices = %d %s", status, body)
		}
	}
	a, b := e.sb.KeyStats(sandbox.HeyGen, e.keyA).Requests, e.sb.KeyStats(sandbox.HeyGen, e.keyB).Requests
	// 300 expected on a, sd about 8.7: 240 to 360 is beyond 6 sd.
	if a+b != calls || a < 240 || a > 360 {
		t.Fatalf("requests per key: a %d, b %d; want about 300 and 100", a, b)
	}
	e.leakCheck(r)
}

// TestPoolKeyHealthAcrossReplicas: two replicas sharing a (mini)redis
// agree on a removed key: the one that met its 401 reports it once, the
// other never sends it, both show it removed, and the CLI reads it from
// the same Redis.
func TestPoolKeyHealthAcrossReplicas(t *testing.T) {
	m := miniredis.RunT(t)
	e := newPoolEnv(t, `,"weight":1000`, "")
	e.env["AIPROXY_REDIS_URL"] = "redis://" + m.Addr() + "/0"
	one := e.serve()
	two := e.serve()
	e.sb.RevokeKey(sandbox.HeyGen, e.keyA)
	for range 5 {
		if status, _, body := e.listVoices(one); status != 200 {
			t.Fatalf("list-voices on replica one = %d %s", status, body)
		}
	}
	sentA := e.sentWith(e.keyA)
	if sentA != 1 {
		t.Fatalf("key a was sent %d requests on replica one, want 1 (then removed)", sentA)
	}
	if a := e.pool(two)["a"]; a.State != "removed" || !strings.HasPrefix(a.Reason, "provider answered 401") {
		t.Fatalf("key a on replica two = %+v, want removed", a)
	}
	for range 20 {
		if status, _, body := e.listVoices(two); status != 200 {
			t.Fatalf("list-voices on replica two = %d %s", status, body)
		}
	}
	if got := e.sentWith(e.keyA); got != sentA {
		t.Fatalf("replica two sent key a %d requests after replica one removed it", got-sentA)
	}
	if got := e.poolAudit(two); strings.Join(got, ",") != "aiproxy credential.key_removed heygen/a" {
		t.Fatalf("pool audit = %q, want one removal", got)
	}
	out := e.cli("", "credential", "pool", "--platform", "heygen", "--json")
	var p httpapi.PoolJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil || len(p.Keys) != 2 || p.Keys[0].State != "removed" {
		t.Fatalf("aiproxy credential pool --json = %s (%v)", out, err)
	}
	e.sb.AddKey(sandbox.HeyGen, e.keyA)
	e.cli("", "credential", "pool", "--platform", "heygen", "--restore", "a")
	if a := e.pool(one)["a"]; a.State != "healthy" {
		t.Fatalf("key a on replica one after the CLI's restore = %+v", a)
	}
	if got := e.poolAudit(one); len(got) != 2 || got[1] != "cli credential.key_restored heygen/a" {
		t.Fatalf("pool audit = %q", got)
	}
	e.leakCheck(one, two)
}

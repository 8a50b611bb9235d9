package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/idempotency"
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/sandbox"
	"github.com/aiproxy/aiproxy/internal/usage"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// The durability tests start jobs while a real database breaks the way
// production breaks: a SQLite file locked by another process past the
// busy timeout, made read-only, or full; a Postgres server that refuses
// connections (a loopback relay cut) or terminates its backends. The
// fault is switched on right before each store call a job start makes,
// in turn, and off once the client has its answer. Whatever the step,
// every client told 200 has its job recorded once the database is back
// (tracked, its event queued for webhooks, its status readable), a retry
// with the same Idempotency-Key gets the same job and never a second
// provider call, and every call is metered exactly once.

// guardedUsage writes usage while no fault is being switched, so that the
// SQLite writer connection a fault changes is never used by two
// goroutines at once.
type guardedUsage struct {
	db  durableDB
	rig *rig
}

func (g guardedUsage) AppendUsage(ctx context.Context, recs []aiproxy.UsageRecord) error {
	g.rig.dbMu.Lock()
	defer g.rig.dbMu.Unlock()
	return g.db.AppendUsage(ctx, recs)
}

// rig is aiproxy's job starts on a database that breaks, in front of a
// sandbox HeyGen. open makes a new process on the same database and
// spool directory.
type rig struct {
	t     *testing.T
	db    durableDB
	dir   string
	sb    *sandbox.Server
	cat   *catalog.Catalog
	vault *vault.Vault

	// dbMu orders the switching of faults and the usage writes.
	dbMu sync.Mutex
	on   *fault

	steps   *stepStore
	spooled *SpooledStore
	jobs    *Service
	keys    *idempotency.Keys
	proxy   *proxy.Proxy
	meter   *usage.Recorder
	stopMtr func()

	// calls and successes count the client calls made and those answered
	// 2xx, for the usage check.
	calls, successes int
	// lastCalls are the store calls of the last start's first request.
	lastCalls []string
}

func newRig(t *testing.T, db durableDB) *rig {
	t.Helper()
	r := &rig{t: t, db: db, dir: filepath.Join(t.TempDir(), "spool")}
	r.sb = sandbox.New(sandbox.Config{HeyGenKeys: []string{platformKey}, RenderTime: time.Hour})
	srv := httptest.NewServer(r.sb)
	t.Cleanup(srv.Close)
	var err error
	if r.cat, err = catalog.Load(catalog.Options{BaseURLs: map[string]string{"heygen": srv.URL + "/heygen"}}); err != nil {
		t.Fatal(err)
	}
	if r.vault, err = vault.New(bytes.Repeat([]byte{7}, 32)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ad := admin.New(db, r.vault, r.cat, nil)
	for _, org := range []string{"acme", "filler"} {
		if _, err := ad.CreateOrg(ctx, org, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ad.SetCredential(ctx, aiproxy.SourcePlatform, "", "heygen", aiproxy.CredentialValue{"key": platformKey}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateWebhookEndpoint(ctx, aiproxy.WebhookEndpoint{ID: aiproxy.NewID("whe_"), OrgKey: "acme",
		URL: "https://hooks.example/acme", Sealed: []byte("sealed"), Events: []string{aiproxy.EventJobCreated},
		CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	r.steps = &stepStore{durableDB: db, rig: r}
	r.startMeter()
	r.open(r.dir)
	t.Cleanup(func() { r.switchOff() })
	return r
}

// startMeter runs a usage recorder on the database, with its own spool.
func (r *rig) startMeter() {
	r.meter = usage.New(guardedUsage{db: r.db, rig: r}, usage.Config{Every: 20 * time.Millisecond,
		RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond, SpoolDir: filepath.Join(r.dir, "usage")})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.meter.Run(ctx); close(done) }()
	r.stopMtr = func() { cancel(); <-done }
	r.t.Cleanup(r.stopMtr)
}

// open starts a new process's job hooks on the database and a spool
// directory, as serve wires them.
func (r *rig) open(dir string) {
	r.spooled = NewSpooledStore(r.steps, SpoolConfig{Dir: dir, Retry: 300 * time.Millisecond})
	r.proxy = proxy.New(proxy.Config{Catalog: r.cat, Credentials: r.steps, Vault: r.vault, Meter: r.meter})
	r.jobs = New(Config{Store: r.spooled, Catalog: r.cat, Proxy: r.proxy, PollInterval: time.Second, Deadline: time.Hour,
		RunningJobCaps: []aiproxy.JobCap{{Scope: aiproxy.JobCapOrg, Max: 1000}}})
	r.keys = idempotency.New(idempotency.Config{Store: r.spooled})
}

// switchOn and switchOff switch a fault, under dbMu.
func (r *rig) switchOn(f fault) {
	r.dbMu.Lock()
	defer r.dbMu.Unlock()
	if err := f.cut(); err != nil {
		r.t.Errorf("cut the database (%s): %v", f.name, err)
	}
	r.on = &f
}

func (r *rig) switchOff() {
	r.dbMu.Lock()
	defer r.dbMu.Unlock()
	if r.on == nil {
		return
	}
	if err := r.on.restore(); err != nil {
		r.t.Errorf("restore the database (%s): %v", r.on.name, err)
	}
	r.on = nil
}

// invoke calls an action for acme as httpapi does, rendering an error
// like its renderer: a database outage is 503 with Retry-After.
func (r *rig) invoke(action string, env any, header ...string) response {
	r.t.Helper()
	data, _ := json.Marshal(env)
	req := httptest.NewRequest(http.MethodPost, "/api/ai-proxy/orgs/acme/services/heygen/"+action+"/", bytes.NewReader(data))
	// A client that waits at most 5s keeps every call, and the test,
	// bounded, even one that waits for a key another request holds.
	ctx, cancel := context.WithTimeout(req.Context(), 5*time.Second)
	defer cancel()
	req = req.WithContext(aiproxy.WithPrincipal(ctx, aiproxy.Principal{KeyID: "key-acme", OrgKey: "acme", Role: aiproxy.RoleInvoke}))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	_, err := r.proxy.WithHooks(r.keys, r.jobs).Invoke(w, req, "acme", "heygen", action)
	r.calls++
	if err == nil {
		if w.Code < 300 {
			r.successes++
		}
		return response{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
	}
	var e *aiproxy.Error
	if !errors.As(err, &e) {
		if !errors.Is(err, aiproxy.ErrUnavailable) {
			return response{status: 500, body: []byte(err.Error())}
		}
		e = &aiproxy.Error{Code: aiproxy.CodeUnavailable, Message: "database unavailable", RetryAfter: 2}
	}
	status := statusOf(err)
	if e.Code == aiproxy.CodeUnavailable {
		status = http.StatusServiceUnavailable
	}
	h := http.Header{}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	b, _ := json.Marshal(map[string]string{"detail": e.Message, "code": string(e.Code)})
	return response{status: status, header: h, body: b}
}

// start asks for a render, with an Idempotency-Key unless key is "".
func (r *rig) start(key string) response {
	r.t.Helper()
	env := map[string]any{"body": generateBody("durable " + key)}
	if key == "" {
		return r.invoke("generate-video", env)
	}
	return r.invoke("generate-video", env, "Idempotency-Key", key)
}

func videoID(t *testing.T, resp response) string {
	t.Helper()
	id, _ := aiproxy.LookupJSON(resp.json(t), "data.video_id")
	s, _ := id.(string)
	if s == "" {
		t.Fatalf("no video_id in %d %s", resp.status, resp.body)
	}
	return s
}

func (r *rig) generateCalls() int {
	n := 0
	for _, req := range r.sb.Requests() {
		if req.Method == http.MethodPost && req.Path == "/v2/video/generate" {
			n++
		}
	}
	return n
}

// expectRecorded checks, through a status call first (which a client
// would make), that a start is recorded once with its key: the job is in
// the database, its job.created event was queued once for the org's
// webhook endpoint, and its status is readable.
func (r *rig) expectRecorded(t *testing.T, video, key string) {
	t.Helper()
	if st := r.invoke("video-status", map[string]any{"query": map[string]any{"video_id": video}}); st.status != 200 {
		t.Fatalf("video-status of %s = %d %s", video, st.status, st.body)
	}
	ctx := context.Background()
	j, err := r.db.JobByProviderID(ctx, "heygen", video)
	if err != nil {
		t.Fatalf("job of %s: %v", video, err)
	}
	if j.OrgKey != "acme" || j.IdempotencyKey != key {
		t.Fatalf("job of %s: org %q, key %q, want acme and %q", video, j.OrgKey, j.IdempotencyKey, key)
	}
	evs, err := r.db.JobEvents(ctx, "acme", 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var created []aiproxy.JobEvent
	for _, ev := range evs {
		if ev.JobID == j.ID && ev.Type == aiproxy.EventJobCreated {
			created = append(created, ev)
		}
	}
	if len(created) != 1 {
		t.Fatalf("job %s has %d job.created events, want 1", j.ID, len(created))
	}
	dl, err := r.db.Deliveries(ctx, aiproxy.DeliveryFilter{OrgKey: "acme", EventID: created[0].ID})
	if err != nil || len(dl) != 1 {
		t.Fatalf("deliveries of job %s's creation: %d, %v; want 1", j.ID, len(dl), err)
	}
}

// expectTidy checks what every step leaves: as many jobs as provider
// starts, none twice, nothing left in the spool.
func (r *rig) expectTidy(t *testing.T) {
	t.Helper()
	list, err := r.db.Jobs(context.Background(), aiproxy.JobFilter{OrgKey: "acme", Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, j := range list {
		ids[j.ProviderJobID] = true
	}
	if len(list) != r.generateCalls() || len(ids) != len(list) {
		t.Fatalf("%d jobs (%d distinct provider ids) for %d provider starts", len(list), len(ids), r.generateCalls())
	}
	if onDisk, inMemory := r.spooled.Held(); onDisk+inMemory != 0 {
		t.Fatalf("%d starts still held on disk, %d in memory", onDisk, inMemory)
	}
	if files, _ := filepath.Glob(filepath.Join(r.dir, "*"+spoolExt)); len(files) != 0 {
		t.Fatalf("%d spool files left", len(files))
	}
}

// expectMetered checks that every client call was metered once, and
// every success as one.
func (r *rig) expectMetered(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r.meter.Flush(ctx)
	rows, err := r.db.UsageReport(context.Background(), aiproxy.UsageFilter{OrgKey: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	var requests, errs int64
	for _, row := range rows {
		requests, errs = requests+row.Requests, errs+row.Errors
	}
	if requests != int64(r.calls) || requests-errs != int64(r.successes) {
		t.Fatalf("metered %d calls, %d successful; made %d, %d successful (pending %d, dropped %d)",
			requests, requests-errs, r.calls, r.successes, r.meter.Pending(), r.meter.Dropped())
	}
}

// startThroughOutage starts a render with the database cut right before
// the n-th store call of the start (0: never), restores it once the
// client has its answer, and retries with the same key as a client told
// 503 would. It checks the answers and returns the video id.
func (r *rig) startThroughOutage(t *testing.T, f *fault, n int, key string) string {
	t.Helper()
	before := r.generateCalls()
	r.steps.arm(n, f)
	first := r.start(key)
	seen, failures := r.steps.calls()
	r.lastCalls = seen
	r.steps.arm(0, nil)
	r.switchOff()
	if f != nil && f.sure && n <= len(seen) && failures == 0 && !slices.Contains(f.spares, seen[n-1]) {
		t.Fatalf("cut before call %d of %v: no call failed (answer %d %s)", n, seen, first.status, first.body)
	}
	var video string
	switch first.status {
	case 200:
		video = videoID(t, first)
	case 503:
		if first.header.Get("Retry-After") == "" || first.json(t)["code"] != "unavailable" {
			t.Fatalf("503 without Retry-After or code unavailable: %v %s", first.header, first.body)
		}
	default:
		t.Fatalf("start with the database cut before call %d of %v = %d %s", n, seen, first.status, first.body)
	}
	if key == "" {
		if first.status != 200 && r.generateCalls() != before {
			// A start without a key that got 503 after the provider
			// accepted it: the job is recorded; find it in the list.
			video = r.latestJob(t)
		}
	} else {
		// The client retries with its key while it gets 5xx, as
		// Retry-After says (here faster).
		again, until := r.start(key), time.Now().Add(10*time.Second)
		for again.status >= 500 && time.Now().Before(until) {
			time.Sleep(20 * time.Millisecond)
			again = r.start(key)
		}
		if again.status != 200 {
			t.Fatalf("retry with key %s after %d = %d %s", key, first.status, again.status, again.body)
		}
		if first.status == 200 && (!bytes.Equal(again.body, first.body) || again.header.Get("Idempotent-Replayed") != "true") {
			t.Fatalf("retry after 200: %s (replayed %q), want the first answer %s replayed",
				again.body, again.header.Get("Idempotent-Replayed"), first.body)
		}
		video = videoID(t, again)
	}
	if video == "" {
		if r.generateCalls() != before {
			t.Fatalf("the provider started a job, and the client has no id for it")
		}
		return ""
	}
	if got := r.generateCalls() - before; got != 1 {
		t.Fatalf("%d provider starts for one client's start and its retry, want 1", got)
	}
	return video
}

func (r *rig) latestJob(t *testing.T) string {
	t.Helper()
	if r.spooled.Replay(context.Background()) != 0 {
		t.Fatal("starts still held after the database came back")
	}
	list, err := r.db.Jobs(context.Background(), aiproxy.JobFilter{OrgKey: "acme", Limit: 1})
	if err != nil || len(list) != 1 {
		t.Fatalf("newest job: %v %v", list, err)
	}
	return list[0].ProviderJobID
}

// TestJobStartThroughDatabaseOutages cuts the database before each store
// call of a job start in turn (claiming the key, reading credentials,
// claiming a running-job slot, recording the job, freeing the slot), with
// and without an Idempotency-Key and with a spool that cannot be written,
// on every engine and fault.
func TestJobStartThroughDatabaseOutages(t *testing.T) {
	for _, e := range dbEngines {
		t.Run(e.name, func(t *testing.T) {
			db, faults := e.open(t)
			r := newRig(t, db)
			base := r.startThroughOutage(t, nil, 0, "baseline")
			r.expectRecorded(t, base, "baseline")
			keyed := r.lastCalls
			r.startThroughOutage(t, nil, 0, "")
			keyless := r.lastCalls
			t.Logf("a start's store calls: with a key %v, without %v", keyed, keyless)
			if !slices.Contains(keyed, "CreateJob") || !slices.Contains(keyed, "ClaimIdempotency") {
				t.Fatalf("a keyed start's calls %v lack the key's claim or the job's record", keyed)
			}
			for _, f := range faults {
				t.Run(f.name, func(t *testing.T) {
					t.Cleanup(r.switchOff) // also when the test fails
					for n := 1; n <= len(keyed); n++ {
						key := fmt.Sprintf("%s-%d-%s", f.name, n, keyed[n-1])
						if video := r.startThroughOutage(t, &f, n, key); video != "" {
							r.expectRecorded(t, video, key)
						}
					}
					n := slices.Index(keyless, "CreateJob") + 1
					if video := r.startThroughOutage(t, &f, n, ""); video != "" {
						r.expectRecorded(t, video, "")
					}
					r.expectTidy(t)
				})
			}
			t.Run("spool unwritable", func(t *testing.T) {
				t.Cleanup(r.switchOff)
				f := faults[0]
				blocked := filepath.Join(t.TempDir(), "file")
				if err := os.WriteFile(blocked, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				r.open(filepath.Join(blocked, "spool"))
				defer r.open(r.dir)
				n := slices.Index(keyed, "CreateJob") + 1
				r.steps.arm(n, &f)
				first := r.start("unspooled")
				r.steps.arm(0, nil)
				if onDisk, inMemory := r.spooled.Held(); first.status != 503 || onDisk != 0 || inMemory != 1 {
					t.Fatalf("start with the database and the spool away = %d %s, held %d on disk and %d in memory; want 503 and 0/1",
						first.status, first.body, onDisk, inMemory)
				}
				if !strings.Contains(first.json(t)["detail"].(string), "Idempotency-Key") {
					t.Fatalf("the 503 does not say how to find the job: %s", first.body)
				}
				r.switchOff()
				again := r.start("unspooled")
				if again.status != 200 || again.header.Get("Idempotent-Replayed") != "true" {
					t.Fatalf("retry with the key once the database is back = %d %s", again.status, again.body)
				}
				r.expectRecorded(t, videoID(t, again), "unspooled")
				r.expectTidy(t)
			})
			r.expectMetered(t)
		})
	}
}

// TestSpooledStartsSurviveRestart: a start spooled while the database is
// away is recorded by the next process, once; a spool file that comes
// back after its replay (a crash between the database's commit and the
// file's removal) records nothing twice.
func TestSpooledStartsSurviveRestart(t *testing.T) {
	for _, e := range dbEngines {
		t.Run(e.name, func(t *testing.T) {
			db, faults := e.open(t)
			r := newRig(t, db)
			f := faults[0]
			r.startThroughOutage(t, nil, 0, "warm-up")
			r.steps.arm(slices.Index(r.lastCalls, "CreateJob")+1, &f)
			first := r.start("restart")
			r.steps.arm(0, nil)
			if first.status != 200 {
				t.Fatalf("start while the database is away = %d %s, want 200 from the spool", first.status, first.body)
			}
			files, _ := filepath.Glob(filepath.Join(r.dir, "*"+spoolExt))
			if len(files) != 1 {
				t.Fatalf("%d spool files, want 1", len(files))
			}
			saved, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}

			r.open(r.dir) // the process died; a new one starts while the database is still away
			if onDisk, _ := r.spooled.Held(); onDisk != 1 {
				t.Fatalf("the new process holds %d spooled starts, want 1", onDisk)
			}
			r.jobs.TrackOnce(context.Background()) // the tracker's tick replays; the database is away
			if onDisk, _ := r.spooled.Held(); onDisk != 1 {
				t.Fatalf("after a tick during the outage: %d held, want 1", onDisk)
			}
			r.switchOff()
			deadline := time.Now().Add(10 * time.Second)
			for onDisk, _ := r.spooled.Held(); onDisk != 0; onDisk, _ = r.spooled.Held() {
				if time.Now().After(deadline) {
					t.Fatal("the spooled start was not recorded within 10s of the database's return")
				}
				r.jobs.TrackOnce(context.Background())
				time.Sleep(50 * time.Millisecond)
			}
			video := videoID(t, first)
			r.expectRecorded(t, video, "restart")
			if again := r.start("restart"); again.status != 200 || !bytes.Equal(again.body, first.body) {
				t.Fatalf("retry with the key after the replay = %d %s, want %s", again.status, again.body, first.body)
			}

			if err := os.WriteFile(files[0], saved, 0o600); err != nil {
				t.Fatal(err)
			}
			r.open(r.dir)
			if left := r.spooled.Replay(context.Background()); left != 0 {
				t.Fatalf("replaying a start already recorded left %d held", left)
			}
			r.expectRecorded(t, video, "restart")
			r.expectTidy(t)
			r.expectMetered(t)
		})
	}
}

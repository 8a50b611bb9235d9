package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// The pool tests run the real pipeline over a SQLite store against a fake
// provider that answers each key as the test decides.

const (
	poolKeyA = "pool-key-aaaa-secret-000A"
	poolKeyB = "pool-key-bbbb-secret-000B"
	poolKeyC = "pool-key-cccc-secret-000C"
)

// poolKeyName names the test keys by their secret.
var poolKeyName = map[string]string{poolKeyA: "a", poolKeyB: "b", poolKeyC: "c"}

// keyedUpstream answers each request by the key it carries; a key with no
// answer gets {"ok":true}. It counts what each key was sent.
type keyedUpstream struct {
	*upstream
	mu      sync.Mutex
	answers map[string]http.HandlerFunc
	sent    map[string]int
}

func newKeyedUpstream(t *testing.T) *keyedUpstream {
	k := &keyedUpstream{answers: map[string]http.HandlerFunc{}, sent: map[string]int{}}
	k.upstream = newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("X-Test-Key")
		k.mu.Lock()
		k.sent[poolKeyName[key]]++
		answer := k.answers[key]
		k.mu.Unlock()
		if answer != nil {
			answer(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":true,"id":"job-%s"}`, poolKeyName[key])
	})
	return k
}

func (k *keyedUpstream) answer(key string, h http.HandlerFunc) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.answers[key] = h
}

func (k *keyedUpstream) counts() map[string]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[string]int{}
	for n, c := range k.sent {
		out[n] = c
	}
	return out
}

// status answers with a status, a JSON body and headers.
func status(code int, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

func ioNopCloser(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// poolFixture is the pipeline with a platform credential holding a pool.
type poolFixture struct {
	*fixture
	up      *keyedUpstream
	clock   *fakeClock
	health  *MemoryKeyHealth
	logs    *bytes.Buffer
	mu      sync.Mutex
	changes []string
}

var poolEndpoints = []aiproxy.Endpoint{
	{Slug: "list", HTTPMethod: http.MethodGet, RetrySafe: true},
	{Slug: "start", HTTPMethod: http.MethodPost, CallbackMode: aiproxy.CallbackPoll},
}

func newPoolFixture(t *testing.T, keys string, hooks ...Hooks) *poolFixture {
	t.Helper()
	up := newKeyedUpstream(t)
	svc := testService(up.URL, aiproxy.CredentialPolicy{AllowPlatformKey: true, DefaultSource: aiproxy.SourcePlatform}, poolEndpoints...)
	pf := &poolFixture{up: up, clock: &fakeClock{t: time.Unix(1_700_000_000, 0)}, logs: &bytes.Buffer{}}
	pf.health = NewMemoryKeyHealth(pf.clock.Now)
	pf.fixture = newFixture(t, services{"svc": svc}, Config{Now: pf.clock.Now,
		Logger: slog.New(slog.NewTextHandler(pf.logs, nil)), Retry: RetryPolicy{Attempts: 3, BaseDelay: time.Millisecond}})
	pf.proxy.UsePools(PoolConfig{Health: pf.health, OnChange: func(_ context.Context, ref aiproxy.PoolRef, id string, st aiproxy.KeyStatus) error {
		pf.mu.Lock()
		defer pf.mu.Unlock()
		pf.changes = append(pf.changes, fmt.Sprintf("%s %s %s", ref, id, st.State))
		return nil
	}})
	if len(hooks) > 0 {
		pf.proxy = pf.proxy.WithHooks(hooks...)
	}
	var v aiproxy.CredentialValue
	if err := json.Unmarshal([]byte(`{"keys":`+keys+`}`), &v); err != nil {
		t.Fatal(err)
	}
	if _, err := pf.admin.SetCredential(t.Context(), aiproxy.SourcePlatform, "", "svc", v); err != nil {
		t.Fatal(err)
	}
	return pf
}

var platformPool = aiproxy.PoolRef{Source: aiproxy.SourcePlatform, Name: "svc"}

func twoKeys(extraA, extraB string) string {
	return `[{"id":"a","key":"` + poolKeyA + `"` + extraA + `},{"id":"b","key":"` + poolKeyB + `"` + extraB + `}]`
}

// call invokes an action and returns the recorder and the error.
func (pf *poolFixture) call(t *testing.T, action string) (*httptest.ResponseRecorder, error) {
	t.Helper()
	w := httptest.NewRecorder()
	_, err := pf.proxy.Invoke(w, invokeRequest(`{}`), testOrg, "svc", action)
	return w, err
}

func (pf *poolFixture) state(t *testing.T, id string) aiproxy.KeyStatus {
	t.Helper()
	st, err := pf.health.KeyStates(t.Context(), platformPool, []string{id})
	if err != nil {
		t.Fatal(err)
	}
	return st[id].At(pf.clock.Now())
}

func TestPoolWeightsShareTheCalls(t *testing.T) {
	pf := newPoolFixture(t, twoKeys(`,"weight":3`, ``))
	const calls = 400
	for range calls {
		if w, err := pf.call(t, "list"); err != nil || w.Code != 200 {
			t.Fatalf("call = %d, %v", w.Code, err)
		}
	}
	got := pf.up.counts()
	// Weight 3 of 4: 300 expected, sd about 8.7; 240 to 360 is beyond 6 sd.
	if got["a"]+got["b"] != calls || got["a"] < 240 || got["a"] > 360 {
		t.Fatalf("calls per key = %v, want about 300 a and 100 b", got)
	}
}

func TestPoolRevokedKeyIsRemovedAndTheCallMovesOn(t *testing.T) {
	probe := &keyProbe{}
	pf := newPoolFixture(t, twoKeys(`,"weight":1000`, ""), probe)
	pf.up.answer(poolKeyA, status(401, `{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}`))
	for i := range 20 {
		w, err := pf.call(t, "start")
		if err != nil || w.Code != 200 || !strings.Contains(w.Body.String(), "job-b") {
			t.Fatalf("start %d = %d %s, %v", i, w.Code, w.Body, err)
		}
		if probe.last() != "b" {
			t.Fatalf("start %d recorded key %q, want b", i, probe.last())
		}
	}
	got := pf.up.counts()
	if got["a"] != 1 || got["b"] != 20 {
		t.Fatalf("requests per key = %v, want a once (then removed) and b once per start", got)
	}
	st := pf.state(t, "a")
	if st.State != aiproxy.KeyRemoved || st.Reason != "provider answered 401 invalid_api_key" || !st.Since.Equal(pf.clock.Now()) {
		t.Fatalf("key a = %+v, want removed for its 401", st)
	}
	if strings.Join(pf.changes, ",") != "platform//svc a removed" {
		t.Fatalf("changes reported = %v, want the one removal", pf.changes)
	}
	ps := &pf.proxy.keys.cache.pools
	ps.mu.Lock()
	left := len(ps.calls)
	ps.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d calls still hold pool entries after they ended", left)
	}
	for _, secret := range []string{poolKeyA, poolKeyB} {
		if strings.Contains(pf.logs.String(), secret) {
			t.Fatalf("the logs show a key: %s", pf.logs)
		}
	}
	if _, _, err := pf.health.RestoreKey(t.Context(), platformPool, "a"); err != nil {
		t.Fatal(err)
	}
	pf.up.answer(poolKeyA, nil)
	pf.up.answer(poolKeyB, status(401, `{"data":null,"error":{"code":"internal_error","message":"Unauthorized"}}`))
	if w, err := pf.call(t, "start"); err != nil || !strings.Contains(w.Body.String(), "job-a") {
		t.Fatalf("start after a's restore and b's revocation = %s, %v", w.Body, err)
	}
}

func TestPoolRateLimitedKeyRestsUntilRetryAfter(t *testing.T) {
	pf := newPoolFixture(t, twoKeys(`,"weight":1000`, ""))
	pf.up.answer(poolKeyA, status(429, `{"detail":{"status":"too_many_concurrent_requests"}}`, "Retry-After", "30"))
	for range 10 {
		if w, err := pf.call(t, "list"); err != nil || w.Code != 200 {
			t.Fatalf("call = %d, %v", w.Code, err)
		}
	}
	if got := pf.up.counts(); got["a"] != 1 || got["b"] != 10 {
		t.Fatalf("requests per key = %v, want a once, then resting", got)
	}
	st := pf.state(t, "a")
	if st.State != aiproxy.KeyResting || !st.Until.Equal(pf.clock.Now().Add(30*time.Second)) {
		t.Fatalf("key a = %+v, want resting 30s", st)
	}
	pf.up.answer(poolKeyA, nil)
	pf.clock.Add(31 * time.Second)
	for range 10 {
		if _, err := pf.call(t, "list"); err != nil {
			t.Fatal(err)
		}
	}
	if got := pf.up.counts(); got["a"] < 2 {
		t.Fatalf("requests per key = %v, want a back in use after its rest", got)
	}
}

func TestPoolQuotaRefusalsRest(t *testing.T) {
	pf := newPoolFixture(t, twoKeys(`,"weight":1000`, ""))
	pf.up.answer(poolKeyA, status(401, `{"detail":{"status":"quota_exceeded","message":"This request exceeds your quota of 10000."}}`))
	for range 20 {
		if w, err := pf.call(t, "start"); err != nil || w.Code != 200 {
			t.Fatalf("start = %d, %v", w.Code, err)
		}
	}
	if got := pf.up.counts(); got["a"] != 1 || got["b"] != 20 {
		t.Fatalf("requests per key = %v, want a once (then resting)", got)
	}
	if st := pf.state(t, "a"); st.State != aiproxy.KeyResting || !st.Until.Equal(pf.clock.Now().Add(DefaultQuotaRest)) {
		t.Fatalf("key a = %+v, want resting for DefaultQuotaRest", st)
	}
	if len(pf.changes) != 1 || pf.changes[0] != "platform//svc a resting" {
		t.Fatalf("changes = %v", pf.changes)
	}
}

func TestPoolWithNoKeyLeft(t *testing.T) {
	t.Run("every key removed", func(t *testing.T) {
		pf := newPoolFixture(t, twoKeys("", ""))
		pf.up.answer(poolKeyA, status(401, `{"code":400112,"message":"Unauthorized"}`))
		pf.up.answer(poolKeyB, status(403, `{"detail":{"status":"invalid_api_key"}}`))
		_, err := pf.call(t, "start")
		errorOf(t, err, aiproxy.CodeUpstreamFailed, aiproxy.MsgUpstreamFailed)
		_, err = pf.call(t, "list")
		errorOf(t, err, aiproxy.CodeUpstreamFailed, aiproxy.MsgUpstreamFailed)
		if got := pf.up.counts(); got["a"] != 1 || got["b"] != 1 {
			t.Fatalf("requests per key = %v, want one each, then none", got)
		}
	})
	t.Run("every key resting", func(t *testing.T) {
		pf := newPoolFixture(t, twoKeys("", ""))
		pf.up.answer(poolKeyA, status(429, `{}`, "Retry-After", "40"))
		pf.up.answer(poolKeyB, status(429, `{}`, "Retry-After", "12"))
		_, err := pf.call(t, "start")
		e := errorOf(t, err, aiproxy.CodeRateLimited, "")
		if e.RetryAfter != 12 || !strings.Contains(e.Message, "retry in 12 seconds") {
			t.Fatalf("error = %q, Retry-After %d; want 12, when b's rest ends", e.Message, e.RetryAfter)
		}
		pf.clock.Add(5 * time.Second)
		_, err = pf.call(t, "list")
		if e := errorOf(t, err, aiproxy.CodeRateLimited, ""); e.RetryAfter != 7 {
			t.Fatalf("Retry-After %d, want 7", e.RetryAfter)
		}
		if got := pf.up.counts(); got["a"] != 1 || got["b"] != 1 {
			t.Fatalf("requests per key = %v, want one each", got)
		}
	})
	t.Run("every key at its cap", func(t *testing.T) {
		pf := newPoolFixture(t, twoKeys(`,"max_concurrency":1`, `,"max_concurrency":1`))
		release := make(chan struct{})
		inside := make(chan struct{}, 2)
		hold := func(w http.ResponseWriter, r *http.Request) {
			inside <- struct{}{}
			<-release
			w.Write([]byte(`{"ok":true}`))
		}
		pf.up.answer(poolKeyA, hold)
		pf.up.answer(poolKeyB, hold)
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				if _, err := pf.call(t, "list"); err != nil {
					t.Errorf("held call: %v", err)
				}
			})
		}
		for range 2 {
			waitOrFail(t, inside, "a call at the provider")
		}
		_, err := pf.call(t, "list")
		if e := errorOf(t, err, aiproxy.CodeRateLimited, ""); e.RetryAfter != 1 || !strings.Contains(e.Message, "most calls in flight") {
			t.Fatalf("error = %q, Retry-After %d", e.Message, e.RetryAfter)
		}
		close(release)
		wg.Wait()
		if w, err := pf.call(t, "list"); err != nil || w.Code != 200 {
			t.Fatalf("call once the slots are free = %d, %v", w.Code, err)
		}
	})
}

func TestPoolKeyCapSendsCallsElsewhere(t *testing.T) {
	pf := newPoolFixture(t, twoKeys(`,"weight":1000,"max_concurrency":1`, ""))
	release := make(chan struct{})
	inside := make(chan struct{}, 1)
	pf.up.answer(poolKeyA, func(w http.ResponseWriter, r *http.Request) {
		inside <- struct{}{}
		<-release
		w.Write([]byte(`{"ok":true}`))
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		pf.call(t, "list")
	}()
	waitOrFail(t, inside, "the call on key a")
	for range 5 {
		if w, err := pf.call(t, "list"); err != nil || w.Code != 200 {
			t.Fatalf("call = %d, %v", w.Code, err)
		}
	}
	if got := pf.up.counts(); got["a"] != 1 || got["b"] != 5 {
		t.Fatalf("requests per key = %v, want b while a is at its cap", got)
	}
	close(release)
	<-done
}

func TestPoolPinnedKeyIsUsedWhateverItsHealth(t *testing.T) {
	pin := &keyPinner{id: "b"}
	pf := newPoolFixture(t, twoKeys(`,"weight":1000`, ""), pin)
	if _, err := pf.health.MarkKey(t.Context(), platformPool, "b", aiproxy.KeyStatus{State: aiproxy.KeyResting,
		Until: pf.clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if w, err := pf.call(t, "list"); err != nil || w.Code != 200 {
			t.Fatalf("pinned call = %d, %v", w.Code, err)
		}
	}
	pf.up.answer(poolKeyB, status(401, `{"detail":{"status":"invalid_api_key"}}`))
	_, err := pf.call(t, "list")
	errorOf(t, err, aiproxy.CodeUpstreamFailed, aiproxy.MsgUpstreamFailed)
	if got := pf.up.counts(); got["a"] != 0 || got["b"] != 6 {
		t.Fatalf("requests per key = %v, want b only, never a failover", got)
	}
	if st := pf.state(t, "b"); st.State != aiproxy.KeyRemoved {
		t.Fatalf("key b = %+v, want removed by its 401 even when pinned", st)
	}

	fetchFixture := newPoolFixture(t, twoKeys(`,"weight":1000`, ""))
	svc, _ := fetchFixture.cat.Service("svc")
	ep, _ := svc.Endpoint("list")
	for range 5 {
		a, err := fetchFixture.proxy.Fetch(WithCredentialKey(t.Context(), "b"), testOrg, svc, ep, Envelope{}, aiproxy.SourcePlatform)
		if err != nil || a.Status != 200 {
			t.Fatalf("Fetch pinned to b = %v, %v", a, err)
		}
	}
	a, err := fetchFixture.proxy.Fetch(WithCredentialKey(t.Context(), "gone"), testOrg, svc, ep, Envelope{}, aiproxy.SourcePlatform)
	if err != nil || a.Status != 200 {
		t.Fatalf("Fetch pinned to a key the pool lost = %v, %v", a, err)
	}
	if got := fetchFixture.up.counts(); got["b"] != 5 || got["a"] != 1 {
		t.Fatalf("requests per key = %v, want b for the pinned reads, then a by weight", got)
	}
}

func TestPoolOfOneKeyIsNotTracked(t *testing.T) {
	up := newKeyedUpstream(t)
	svc := testService(up.URL, aiproxy.CredentialPolicy{AllowPlatformKey: true, DefaultSource: aiproxy.SourcePlatform}, poolEndpoints...)
	f := newFixture(t, services{"svc": svc}, Config{})
	h := NewMemoryKeyHealth(nil)
	f.proxy.UsePools(PoolConfig{Health: h})
	f.setCredential(t, aiproxy.SourcePlatform, "svc", poolKeyA)
	up.answer(poolKeyA, status(401, `{"detail":{"status":"invalid_api_key"}}`))
	for range 3 {
		_, err := f.proxy.Invoke(httptest.NewRecorder(), invokeRequest(`{}`), testOrg, "svc", "start")
		errorOf(t, err, aiproxy.CodeUpstreamFailed, aiproxy.MsgUpstreamFailed)
	}
	if got := up.counts(); got["a"] != 3 {
		t.Fatalf("requests = %v, want each call sent as before", got)
	}
	if st, _ := h.KeyStates(t.Context(), platformPool, []string{""}); len(st) != 0 {
		t.Fatalf("states = %v, want none", st)
	}
}

func TestClassifyRefusal(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		bodyErr bool
		header  []string
		want    aiproxy.KeyState
		quota   bool
		reason  string
		after   time.Duration
	}{
		{"elevenlabs invalid key", 401, `{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}`, false, nil, aiproxy.KeyRemoved, false, "provider answered 401 invalid_api_key", 0},
		{"heygen v2 401", 401, `{"data":null,"error":{"code":"internal_error","message":"Unauthorized"}}`, false, nil, aiproxy.KeyRemoved, false, "provider answered 401 internal_error", 0},
		{"heygen v1 401", 401, `{"code":400112,"message":"Unauthorized"}`, false, nil, aiproxy.KeyRemoved, false, "provider answered 401 400112", 0},
		{"401 without a body", 401, ``, false, nil, aiproxy.KeyRemoved, false, "provider answered 401", 0},
		{"elevenlabs quota", 401, `{"detail":{"status":"quota_exceeded","message":"..."}}`, false, nil, aiproxy.KeyResting, true, "provider answered 401 quota_exceeded", 0},
		{"elevenlabs scoped key", 401, `{"detail":{"status":"missing_permissions"}}`, false, nil, "", false, "", 0},
		{"heygen v3 credit", 402, `{"error":{"code":"insufficient_credit","message":"..."}}`, false, nil, aiproxy.KeyResting, true, "provider answered 402 insufficient_credit", 0},
		{"heygen v2 credit in a 400", 400, `{"data":null,"error":{"code":"MOVIO_PAYMENT_INSUFFICIENT_CREDIT"}}`, false, nil, aiproxy.KeyResting, true, "provider answered 400 MOVIO_PAYMENT_INSUFFICIENT_CREDIT", 0},
		{"heygen credit in a 200", 200, `{"code":900001,"message":"insufficient credit"}`, true, nil, aiproxy.KeyResting, true, "provider answered 200 900001", 0},
		{"heygen other 200 error", 200, `{"data":null,"error":{"code":"internal_error"}}`, true, nil, "", false, "", 0},
		{"a 400 about the request", 400, `{"data":null,"error":{"code":"invalid_parameter"}}`, false, nil, "", false, "", 0},
		{"trial cap", 429, `{"data":null,"error":{"code":"trial_video_limit_exceeded"}}`, false, nil, aiproxy.KeyResting, true, "provider answered 429 trial_video_limit_exceeded", 0},
		{"rate limit with Retry-After", 429, `{"data":null,"error":{"code":"rate_limit_exceeded"}}`, false, []string{"Retry-After", "9"}, aiproxy.KeyResting, false, "provider answered 429 rate_limit_exceeded", 9 * time.Second},
		{"retry-after-ms", 429, `{}`, false, []string{"Retry-After-Ms", "1500"}, aiproxy.KeyResting, false, "provider answered 429", 1500 * time.Millisecond},
		{"403 naming the key", 403, `{"detail":{"status":"invalid_api_key"}}`, false, nil, aiproxy.KeyRemoved, false, "provider answered 403 invalid_api_key", 0},
		{"403 for a plan feature", 403, `{"detail":{"status":"only_for_creator+"}}`, false, nil, "", false, "", 0},
		{"403 from a CDN", 403, `<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>`, false, nil, "", false, "", 0},
		{"a code that could carry text", 401, `{"detail":{"status":"bad key sk-123 here"}}`, false, nil, aiproxy.KeyRemoved, false, "provider answered 401", 0},
		{"500", 500, `{"detail":{"status":"quota_exceeded"}}`, false, nil, "", false, "", 0},
		{"200", 200, `{"ok":true}`, false, nil, "", false, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tc.status, Header: http.Header{}, Body: ioNopCloser(tc.body)}
			for i := 0; i+1 < len(tc.header); i += 2 {
				resp.Header.Set(tc.header[i], tc.header[i+1])
			}
			r, ok := classifyRefusal(resp, tc.bodyErr)
			if ok != (tc.want != "") || r.state != tc.want || r.quota != tc.quota || r.reason != tc.reason || r.retryAfter != tc.after {
				t.Fatalf("classifyRefusal = %+v, %v; want %s quota=%v %q after %v", r, ok, tc.want, tc.quota, tc.reason, tc.after)
			}
			rest, err := io.ReadAll(resp.Body)
			if err != nil || string(rest) != tc.body {
				t.Fatalf("the body read back = %q, %v; want it whole", rest, err)
			}
		})
	}
}

// keyProbe is a hook on every endpoint that notes the key a job start used.
type keyProbe struct {
	mu  sync.Mutex
	ids []string
}

func (k *keyProbe) Hook(*aiproxy.Endpoint) Hook { return k }

func (k *keyProbe) Before(context.Context, *Call) (*Answer, error) { return nil, nil }

func (k *keyProbe) After(_ context.Context, c *Call, a *Answer, err error) (*Answer, error) {
	if c.Endpoint.StartsJob() {
		k.mu.Lock()
		k.ids = append(k.ids, c.CredentialKeyID())
		k.mu.Unlock()
	}
	return a, err
}

func (k *keyProbe) last() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.ids) == 0 {
		return ""
	}
	return k.ids[len(k.ids)-1]
}

// keyPinner is a hook that pins every call to one key.
type keyPinner struct{ id string }

func (k *keyPinner) Hook(*aiproxy.Endpoint) Hook { return k }

func (k *keyPinner) Before(_ context.Context, c *Call) (*Answer, error) {
	c.PinKey(k.id)
	return nil, nil
}

func (k *keyPinner) After(_ context.Context, _ *Call, a *Answer, err error) (*Answer, error) {
	return a, err
}

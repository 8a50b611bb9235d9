package budget_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/budget"
	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// hello is 12 characters: 1,200 micro-USD on the default model, 600 on
// Flash.
const hello = "Hello, world"

func TestNoBudgetNoLedgerCall(t *testing.T) {
	h := newHarness(t)
	for range 5 {
		if r := h.tts(backend, hello, ""); r.status != 200 {
			t.Fatalf("tts = %d %s", r.status, r.body)
		}
	}
	if n := h.ledger.calls.Load(); n != 0 {
		t.Fatalf("%d ledger calls for an org without budgets, want none", n)
	}
	if n := h.reader.reads.Load(); n != 1 {
		t.Fatalf("%d budget reads within the cache's second, want 1", n)
	}
	// A free endpoint is not even claimed: no budget read.
	h.advance(2 * time.Second)
	if r := h.invoke(backend, "elevenlabs", "list-voices", map[string]any{}); r.status != 200 {
		t.Fatalf("list-voices = %d %s", r.status, r.body)
	}
	if n := h.reader.reads.Load(); n != 1 {
		t.Fatalf("%d budget reads after a free call, want still 1", n)
	}
	h.advance(2 * time.Second)
	h.tts(backend, hello, "")
	if n := h.reader.reads.Load(); n != 2 {
		t.Fatalf("%d budget reads once the cache aged, want 2", n)
	}
}

func TestTTSSettlesTheProvidersCost(t *testing.T) {
	h := newHarness(t)
	org := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeOrg, LimitMicros: 1_000_000})
	if r := h.tts(backend, hello, ""); r.status != 200 {
		t.Fatalf("tts = %d %s", r.status, r.body)
	}
	h.wantCounter(org, "", 1200, 0)
	if r := h.tts(backend, hello, "eleven_flash_v2_5"); r.status != 200 {
		t.Fatalf("tts(flash) = %d %s", r.status, r.body)
	}
	h.wantCounter(org, "", 1800, 0)
	// Flash bills half a credit a character, rounded up by the provider:
	// "Hello" is held at 250 and settled at the 3 credits it reports.
	if r := h.tts(backend, "Hello", "eleven_flash_v2_5"); r.status != 200 {
		t.Fatalf("tts(flash) = %d %s", r.status, r.body)
	}
	h.wantCounter(org, "", 2100, 0)
}

func TestRefusalNamesTheBudget(t *testing.T) {
	h := newHarness(t)
	org := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeOrg, LimitMicros: 2000})
	if r := h.tts(backend, hello, ""); r.status != 200 {
		t.Fatalf("first tts = %d %s", r.status, r.body)
	}
	before := h.sent.Load()
	r := h.tts(backend, hello, "")
	if r.status != 402 || r.err.Code != aiproxy.CodeBudgetExceeded {
		t.Fatalf("second tts = %d %s, want 402 budget_exceeded", r.status, r.body)
	}
	want := "Budget exceeded: org 'acme' monthly budget has $0.0008 left of $0.0020, and this call needs $0.0012; " +
		"it resets at 2027-01-01T00:00:00Z."
	if string(r.body) != want {
		t.Fatalf("message = %q\nwant      %q", r.body, want)
	}
	var be *aiproxy.BudgetExceededError
	if !errors.As(r.err, &be) || be.Available() != 800 || be.Charge.Amount != 1200 {
		t.Fatalf("the error carries %+v, want the ledger's refusal for the renderer", r.err.Err)
	}
	if h.sent.Load() != before {
		t.Fatal("a refused call reached the provider")
	}
	h.wantCounter(org, "", 1200, 0)
}

func TestAllOrNothingAcrossScopes(t *testing.T) {
	h := newHarness(t)
	org := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeOrg, LimitMicros: 10_000_000})
	key := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeKey, Subject: "key1", LimitMicros: 10_000_000})
	user := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeUser, Subject: "alice", Window: aiproxy.BudgetDay, LimitMicros: 1000})
	r := h.tts(alice, hello, "")
	if r.status != 402 || !strings.HasPrefix(string(r.body), "Budget exceeded: user 'alice' daily budget has $0.0010 left of $0.0010") ||
		!strings.HasSuffix(string(r.body), "it resets at 2026-12-16T00:00:00Z.") {
		t.Fatalf("tts as alice = %d %s, want 402 naming alice's daily budget", r.status, r.body)
	}
	h.wantCounter(org, "", 0, 0)
	h.wantCounter(key, "key1", 0, 0)
	h.wantCounter(user, "alice", 0, 0)
	// Bob has no user budget: the org and key budgets admit him.
	if r := h.tts(bob, hello, ""); r.status != 200 {
		t.Fatalf("tts as bob = %d %s", r.status, r.body)
	}
	h.wantCounter(org, "", 1200, 0)
	h.wantCounter(key, "key1", 1200, 0)
}

func TestUserDefaultAndOverride(t *testing.T) {
	h := newHarness(t)
	def := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeUser, LimitMicros: 2000})
	own := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeUser, Subject: "alice", LimitMicros: 5000})
	for i := range 4 {
		r := h.tts(alice, hello, "")
		if wantOK := i < 4; (r.status == 200) != wantOK {
			t.Fatalf("alice's call %d = %d %s", i, r.status, r.body)
		}
	}
	if r := h.tts(alice, hello, ""); r.status != 402 {
		t.Fatalf("alice's 5th call = %d, want 402 past her own 5000", r.status)
	}
	h.wantCounter(own, "alice", 4800, 0)
	h.wantCounter(def, "alice", 0, 0)
	if r := h.tts(bob, hello, ""); r.status != 200 {
		t.Fatalf("bob's first call = %d %s", r.status, r.body)
	}
	if r := h.tts(bob, hello, ""); r.status != 402 || !strings.Contains(string(r.body), "user 'bob' monthly budget") {
		t.Fatalf("bob's second call = %d %s, want 402 on the default applied to bob", r.status, r.body)
	}
	h.wantCounter(def, "bob", 1200, 0)
}

func TestFailedCallReleases(t *testing.T) {
	h := newHarness(t)
	org := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeOrg, LimitMicros: 1_000_000})
	h.sb.InjectFault(sandbox.Fault{Provider: sandbox.ElevenLabs, Path: "/v1/text-to-speech", Status: 500, Count: 1})
	if r := h.tts(backend, hello, ""); r.status < 400 {
		t.Fatalf("tts against a failing provider = %d", r.status)
	}
	h.wantCounter(org, "", 0, 0)
	// A provider's 4xx answer is released too.
	if r := h.tts(backend, hello, "no_such_model"); r.status != 400 {
		t.Fatalf("tts with an unknown model = %d %s, want the provider's 400", r.status, r.body)
	}
	h.wantCounter(org, "", 0, 0)
}

func TestTestModeIsFree(t *testing.T) {
	h := newHarness(t)
	org := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeOrg, LimitMicros: 1})
	r := h.invoke(backend, "heygen", "generate-video", map[string]any{"body": v2Body("A test render.", true)})
	if r.status != 200 {
		t.Fatalf("generate-video in test mode = %d %s, want it free", r.status, r.body)
	}
	h.wantCounter(org, "", 0, 0)
}

// v2Body is a generate-video body speaking text with a stock avatar.
func v2Body(text string, test bool) map[string]any {
	return map[string]any{
		"test": test,
		"video_inputs": []any{map[string]any{
			"character": map[string]any{"type": "avatar", "avatar_id": "Abigail_expressive_2024112501", "avatar_style": "normal"},
			"voice":     map[string]any{"type": "text", "input_text": text, "voice_id": "f38a635bee7a4d1f9b0a654a31d050d2"},
		}},
		"dimension": map[string]any{"width": 1280, "height": 720},
	}
}

func TestJobHoldSettledWhenTheJobEnds(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	org := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeOrg, LimitMicros: 100_000_000})
	text := strings.Repeat("Welcome to the course. ", 10) // 230 characters: 17 s estimated, 30 s billed
	r := h.invoke(alice, "heygen", "generate-video", map[string]any{"body": v2Body(text, false)})
	if r.status != 200 {
		t.Fatalf("generate-video = %d %s", r.status, r.body)
	}
	doc, _ := aiproxy.DecodeJSON(r.body)
	videoID := aiproxy.LookupJSONString(doc, "data.video_id")
	hold, err := h.db.BudgetHold(ctx, budget.JobHoldID("heygen", videoID))
	if err != nil {
		t.Fatalf("the job's hold: %v", err)
	}
	const estimate = 30 * 16500 // 30 s at $0.99 a credit, a credit a minute
	if len(hold.Charges) != 1 || hold.Charges[0].Amount != estimate || !hold.ExpiresAt.Equal(today.Add(6*time.Hour)) {
		t.Fatalf("hold = %+v, want %d held for 6 h", hold, estimate)
	}
	h.wantCounter(org, "", 0, estimate)
	// The job ends; its status answer says how long the video is.
	status := h.waitVideo(videoID)
	if err := h.enf.SettleJob(ctx, budget.JobHoldID("heygen", videoID), status, false); err != nil {
		t.Fatalf("SettleJob: %v", err)
	}
	doc, _ = aiproxy.DecodeJSON(status)
	if d := aiproxy.LookupJSONString(doc, "data.duration"); d == "" {
		t.Fatalf("the sandbox's status answer has no duration: %s", status)
	}
	h.wantCounter(org, "", estimate, 0) // the sandbox speaks 15 characters a second: 16 s, billed as 30
	// Settling again (another replica, a repeated event) changes nothing.
	if err := h.enf.SettleJob(ctx, budget.JobHoldID("heygen", videoID), status, false); err != nil {
		t.Fatalf("second SettleJob: %v", err)
	}
	h.wantCounter(org, "", estimate, 0)
	// A job nobody held for is no error.
	if err := h.enf.SettleJob(ctx, budget.JobHoldID("heygen", "unknown"), status, false); err != nil {
		t.Fatalf("SettleJob(no hold): %v", err)
	}
}

func TestJobSettledFromItsDuration(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	org := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeOrg, LimitMicros: 100_000_000})
	r := h.invoke(backend, "heygen", "v3-create-video", map[string]any{"body": map[string]any{
		"type": "avatar", "avatar_id": "Abigail_expressive_2024112501", "script": strings.Repeat("x", 140),
		"voice_id": "f38a635bee7a4d1f9b0a654a31d050d2"}})
	if r.status != 200 {
		t.Fatalf("v3-create-video = %d %s", r.status, r.body)
	}
	doc, _ := aiproxy.DecodeJSON(r.body)
	id := budget.JobHoldID("heygen", aiproxy.LookupJSONString(doc, "data.video_id"))
	h.wantCounter(org, "", 0, 1_000_000) // 140 characters: 10 s at $0.10
	// The tracker hands over the job's record; a running job is left alone.
	job := aiproxy.Job{Service: "heygen", ProviderJobID: aiproxy.LookupJSONString(doc, "data.video_id"),
		State: aiproxy.JobProcessing, StatusBody: []byte(`{"data":{"status":"processing"}}`)}
	if err := h.enf.FinishJob(ctx, job); err != nil {
		t.Fatal(err)
	}
	h.wantCounter(org, "", 0, 1_000_000)
	job.State, job.StatusBody = aiproxy.JobCompleted, []byte(`{"data":{"status":"completed","duration":61.25}}`)
	if err := h.enf.FinishJob(ctx, job); err != nil {
		t.Fatal(err)
	}
	h.wantCounter(org, "", 6_125_000, 0)
	if _, err := h.db.BudgetHold(ctx, id); !errors.Is(err, aiproxy.ErrNotFound) {
		t.Fatalf("the job's hold after it finished: %v, want gone", err)
	}
}

func TestFailedJobReleases(t *testing.T) {
	h := newHarness(t)
	org := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeOrg, LimitMicros: 100_000_000})
	r := h.invoke(backend, "heygen", "generate-video", map[string]any{"body": v2Body("Short.", false)})
	if r.status != 200 {
		t.Fatalf("generate-video = %d %s", r.status, r.body)
	}
	doc, _ := aiproxy.DecodeJSON(r.body)
	id := budget.JobHoldID("heygen", aiproxy.LookupJSONString(doc, "data.video_id"))
	h.wantCounter(org, "", 0, 495_000)
	if err := h.enf.SettleJob(t.Context(), id, []byte(`{"data":{"status":"failed"}}`), true); err != nil {
		t.Fatal(err)
	}
	h.wantCounter(org, "", 0, 0)
}

// waitVideo reads a v2 video's status through the pipeline until it is
// completed, and returns the answer.
func (h *harness) waitVideo(id string) []byte {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r := h.invoke(backend, "heygen", "video-status", map[string]any{"query": map[string][]string{"video_id": {id}}})
		doc, _ := aiproxy.DecodeJSON(r.body)
		if aiproxy.LookupJSONString(doc, "data.status") == "completed" {
			return r.body
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("video %s did not complete", id)
	return nil
}

func TestUnpricedCall(t *testing.T) {
	h := newHarness(t)
	body := map[string]any{"body": map[string]any{"video_url": "https://example.com/v.mp4", "output_language": "French"}}
	// Without a budget the call goes to the provider as before.
	if r := h.invoke(backend, "heygen", "translate-video", body); r.status != 200 {
		t.Fatalf("translate-video without a budget = %d %s", r.status, r.body)
	}
	h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeOrg, LimitMicros: 100_000_000})
	before := h.sent.Load()
	r := h.invoke(backend, "heygen", "translate-video", body)
	if r.status != 403 || !strings.Contains(string(r.body), "heygen/translate-video has no price") {
		t.Fatalf("translate-video with a budget = %d %s, want 403 naming the missing price", r.status, r.body)
	}
	if h.sent.Load() != before {
		t.Fatal("an unpriced call reached the provider")
	}
}

func TestOrgFlatPrice(t *testing.T) {
	flat, err := budget.LoadPrices(strings.NewReader(`{"version": "acme-1", "org_prices": [
		{"org": "acme", "service": "heygen", "actions": ["translate-video"], "micros": 250000}]}`))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *options) { o.prices = append(o.prices, flat) })
	org := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeOrg, LimitMicros: 100_000_000})
	r := h.invoke(backend, "heygen", "translate-video", map[string]any{"body": map[string]any{
		"video_url": "https://example.com/v.mp4", "output_language": "French"}})
	if r.status != 200 {
		t.Fatalf("translate-video with a flat price = %d %s", r.status, r.body)
	}
	h.wantCounter(org, "", 250_000, 0)
}

func TestLedgerDownFailsClosed(t *testing.T) {
	h := newHarness(t)
	h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeOrg, LimitMicros: 1_000_000})
	down := fmt.Errorf("%w: connection refused", aiproxy.ErrUnavailable)
	h.ledger.fail.Store(&down)
	before := h.sent.Load()
	r := h.tts(backend, hello, "")
	if r.status != 503 || r.err.Code != aiproxy.CodeUnavailable || r.err.RetryAfter <= 0 {
		t.Fatalf("tts with the ledger down = %d %+v, want 503 with Retry-After", r.status, r.err)
	}
	if h.sent.Load() != before {
		t.Fatal("a call whose budget could not be reserved reached the provider")
	}
	// The definitions unreadable: closed as well, for every caller of the
	// org, since nobody can tell whom a budget applies to.
	h.ledger.fail.Store(nil)
	h.reader.fail.Store(&down)
	h.advance(2 * time.Second)
	if r := h.tts(backend, hello, ""); r.status != 503 {
		t.Fatalf("tts with the budgets unreadable = %d, want 503", r.status)
	}
}

func TestAlertsWhenASettlementCrossesAThreshold(t *testing.T) {
	h := newHarness(t)
	b := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeUser, Subject: "alice", LimitMicros: 6000,
		AlertThresholds: []float64{0.5, 0.75}, Enforcement: aiproxy.EnforceAlertOnly})
	// Spent after each call: 1200, 2400, 3600 (past half), 4800 (past
	// three quarters), 6000 (the whole limit), 7200 (nothing new).
	want := []float64{0, 0, 0.5, 0.75, 1, 0}
	for i, th := range want {
		if r := h.tts(alice, hello, ""); r.status != 200 {
			t.Fatalf("call %d = %d %s (an alert-only budget never refuses)", i, r.status, r.body)
		}
		got := h.alerts.take()
		if th == 0 {
			if len(got) != 0 {
				t.Fatalf("call %d alerted %+v, want none", i, got)
			}
			continue
		}
		if len(got) != 1 || got[0].Threshold != th || got[0].Budget.ID != b.ID || got[0].Subject != "alice" ||
			got[0].SpentMicros != int64(1200*(i+1)) || got[0].LimitMicros != 6000 || !got[0].ResetsAt.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("call %d alerted %+v, want threshold %v", i, got, th)
		}
	}
	h.tts(alice, hello, "")
	if got := h.alerts.take(); len(got) != 0 {
		t.Fatalf("a call past the limit alerted again: %+v", got)
	}
	h.wantCounter(b, "alice", 8400, 0)
}

func TestTokenCap(t *testing.T) {
	h := newHarness(t)
	h.tokens.set("tok_alice", 2000)
	if r := h.tts(alice, hello, ""); r.status != 200 {
		t.Fatalf("first call = %d %s", r.status, r.body)
	}
	r := h.tts(alice, hello, "")
	want := "Budget exceeded: token 'tok_alice' lifetime budget has $0.0008 left of $0.0020, and this call needs $0.0012; it never resets."
	if r.status != 402 || string(r.body) != want {
		t.Fatalf("second call = %d %q, want 402 %q", r.status, r.body, want)
	}
	// Bob's token has no cap, and the org no budget: no ledger call.
	h.tokens.set("tok_bob", 0)
	calls := h.ledger.calls.Load()
	if r := h.tts(bob, hello, ""); r.status != 200 {
		t.Fatalf("bob = %d %s", r.status, r.body)
	}
	if h.ledger.calls.Load() != calls {
		t.Fatal("an uncapped token's call touched the ledger")
	}
	if n := h.tokens.reads.Load(); n != 2 {
		t.Fatalf("%d token reads, want one per token (caps never change)", n)
	}
}

func TestRacingCallsAdmitExactlyTheBudget(t *testing.T) {
	h := newHarness(t)
	org := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeOrg, LimitMicros: 7 * 1200})
	const n = 20
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { statuses[i] = h.tts(backend, hello, "").status })
	}
	wg.Wait()
	ok, refused := 0, 0
	for _, s := range statuses {
		switch s {
		case 200:
			ok++
		case 402:
			refused++
		default:
			t.Errorf("status %d", s)
		}
	}
	if ok != 7 || refused != n-7 {
		t.Fatalf("%d admitted and %d refused, want exactly 7 and %d", ok, refused, n-7)
	}
	h.wantCounter(org, "", 7*1200, 0)
}

func TestChangesApplyAtOnce(t *testing.T) {
	h := newHarness(t)
	if r := h.tts(backend, hello, ""); r.status != 200 {
		t.Fatal(r.status)
	}
	b := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeOrg, LimitMicros: 100})
	if r := h.tts(backend, hello, ""); r.status != 402 {
		t.Fatalf("tts right after a budget was set = %d, want 402 (the cache forgets)", r.status)
	}
	if err := h.admin.DeleteBudget(t.Context(), "acme", b.ID); err != nil {
		t.Fatal(err)
	}
	if r := h.tts(backend, hello, ""); r.status != 200 {
		t.Fatalf("tts right after the budget was deleted = %d", r.status)
	}
}

func TestSweepReleasesHoldsOfDeadCalls(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	org := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeOrg, LimitMicros: 100_000_000})
	r := h.invoke(backend, "heygen", "generate-video", map[string]any{"body": v2Body("Short.", false)})
	if r.status != 200 {
		t.Fatal(r.status)
	}
	h.wantCounter(org, "", 0, 495_000)
	h.advance(5 * time.Hour)
	if n, err := h.enf.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("Sweep before the job's hold expired = %d, %v", n, err)
	}
	h.advance(2 * time.Hour) // nobody settled the job in 6 h: its tracker died
	if n, err := h.enf.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	h.wantCounter(org, "", 0, 0)
}

// TestUnbudgetedCallsArePriced: a call no budget applies to is priced all
// the same, for its usage record, without a ledger call: the provider's
// own count for text-to-speech, the estimate for a job start, nothing for a
// failed call, a free endpoint or the provider's test mode.
func TestUnbudgetedCallsArePriced(t *testing.T) {
	h := newHarness(t)
	text := strings.Repeat("Welcome to the course. ", 10) // 230 characters: 17 s estimated, 30 s billed
	for _, c := range []struct {
		name   string
		call   func() response
		fault  *sandbox.Fault
		status int
		want   int64
	}{
		{name: "tts", call: func() response { return h.tts(backend, hello, "") }, status: 200, want: 1200},
		{name: "tts on Flash", call: func() response { return h.tts(backend, hello, "eleven_flash_v2_5") }, status: 200, want: 600},
		// Held at 250, "Hello" costs the 3 credits the provider reports.
		{name: "tts on Flash, rounded by the provider", call: func() response { return h.tts(backend, "Hello", "eleven_flash_v2_5") },
			status: 200, want: 300},
		{name: "tts the provider refuses", call: func() response { return h.tts(backend, hello, "no_such_model") }, status: 400},
		{name: "tts the provider fails", call: func() response { return h.tts(backend, hello, "") }, status: 502,
			fault: &sandbox.Fault{Provider: sandbox.ElevenLabs, Path: "/v1/text-to-speech", Status: 500, Count: 1}},
		{name: "a free endpoint", call: func() response { return h.invoke(backend, "elevenlabs", "list-voices", map[string]any{}) },
			status: 200},
		{name: "a video in test mode", status: 200, call: func() response {
			return h.invoke(backend, "heygen", "generate-video", map[string]any{"body": v2Body("A test render.", true)})
		}},
		{name: "a video", status: 200, want: 30 * 16500, call: func() response {
			return h.invoke(backend, "heygen", "generate-video", map[string]any{"body": v2Body(text, false)})
		}},
	} {
		if c.fault != nil {
			h.sb.InjectFault(*c.fault)
		}
		if r := c.call(); r.status != c.status {
			t.Fatalf("%s = %d %s, want %d", c.name, r.status, r.body, c.status)
		}
		if rec := h.meter.last(t); rec.CostMicros != c.want {
			t.Errorf("%s: usage record %+v, want cost %d", c.name, rec, c.want)
		}
	}
	if n := h.ledger.calls.Load(); n != 0 {
		t.Fatalf("%d ledger calls for an org without budgets, want none", n)
	}
	if n := h.reader.reads.Load(); n != 1 {
		t.Fatalf("%d budget reads within the cache's second, want 1", n)
	}
}

// TestBudgetedCallsCostWhatTheyCharge: a budgeted call's usage record
// carries what it charged its budgets: the settled cost, a job start's
// estimate (the budget later settles the job's actual length; the record
// keeps the estimate), 0 when the hold was released.
func TestBudgetedCallsCostWhatTheyCharge(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	org := h.setBudget(aiproxy.Budget{Scope: aiproxy.BudgetScopeOrg, LimitMicros: 100_000_000})
	if r := h.tts(alice, "Hello", "eleven_flash_v2_5"); r.status != 200 {
		t.Fatalf("tts = %d %s", r.status, r.body)
	}
	h.wantCounter(org, "", 300, 0)
	if rec := h.meter.last(t); rec.CostMicros != 300 || rec.UserID != "alice" {
		t.Fatalf("usage record %+v, want alice's call at the 300 settled", rec)
	}
	h.sb.InjectFault(sandbox.Fault{Provider: sandbox.ElevenLabs, Path: "/v1/text-to-speech", Status: 500, Count: 1})
	if r := h.tts(alice, hello, ""); r.status < 400 {
		t.Fatalf("tts against a failing provider = %d", r.status)
	}
	h.wantCounter(org, "", 300, 0)
	if rec := h.meter.last(t); rec.CostMicros != 0 {
		t.Fatalf("usage record of a failed call %+v, want no cost", rec)
	}
	r := h.invoke(backend, "heygen", "v3-create-video", map[string]any{"body": map[string]any{
		"type": "avatar", "avatar_id": "Abigail_expressive_2024112501", "script": strings.Repeat("x", 140),
		"voice_id": "f38a635bee7a4d1f9b0a654a31d050d2"}})
	if r.status != 200 {
		t.Fatalf("v3-create-video = %d %s", r.status, r.body)
	}
	h.wantCounter(org, "", 300, 1_000_000) // 140 characters: 10 s at $0.10
	if rec := h.meter.last(t); rec.CostMicros != 1_000_000 {
		t.Fatalf("usage record of a job start %+v, want the estimate held", rec)
	}
	doc, _ := aiproxy.DecodeJSON(r.body)
	job := aiproxy.Job{Service: "heygen", ProviderJobID: aiproxy.LookupJSONString(doc, "data.video_id"),
		State: aiproxy.JobCompleted, StatusBody: []byte(`{"data":{"status":"completed","duration":61.25}}`)}
	if err := h.enf.FinishJob(ctx, job); err != nil {
		t.Fatal(err)
	}
	h.wantCounter(org, "", 300+6_125_000, 0)
}

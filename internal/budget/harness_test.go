package budget_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/budget"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/sandbox"
	"github.com/aiproxy/aiproxy/internal/sqlite"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// The provider keys the sandbox accepts, which the platform's credentials
// hold.
const (
	hgKey = "hg-platform-key"
	elKey = "el-platform-key"
)

// rachel is a voice the ElevenLabs sandbox always has.
const rachel = "21m00Tcm4TlvDq8ikWAM"

// today is the harness's clock: mid-December, so that monthly budgets
// reset on 2027-01-01.
var today = time.Date(2026, 12, 15, 10, 0, 0, 0, time.UTC)

// harness is the call pipeline with the budget hook, on SQLite, with the
// sandbox as both providers and a platform credential for each.
type harness struct {
	t      *testing.T
	sb     *sandbox.Server
	db     *sqlite.DB
	ledger *countingLedger
	reader *countingReader
	enf    *budget.Enforcer
	admin  *budget.Admin
	p      *proxy.Proxy
	alerts *alerts
	tokens *tokens
	meter  *meter
	// sent counts the requests that reached a provider.
	sent atomic.Int64

	mu  sync.Mutex
	now time.Time
}

type options struct {
	prices []*budget.PriceTable
}

func newHarness(t *testing.T, opts ...func(*options)) *harness {
	t.Helper()
	var o options
	for _, f := range opts {
		f(&o)
	}
	ctx := t.Context()
	h := &harness{t: t, now: today, alerts: &alerts{}, tokens: &tokens{m: map[string]aiproxy.UserToken{}}, meter: &meter{}}
	h.sb = sandbox.New(sandbox.Config{HeyGenKeys: []string{hgKey}, ElevenLabsKeys: []string{elKey}, RenderTime: 40 * time.Millisecond})
	sbSrv := httptest.NewServer(h.sb)
	t.Cleanup(sbSrv.Close)
	cat, err := catalog.Load(catalog.Options{BaseURLs: map[string]string{
		"heygen": sbSrv.URL + "/heygen", "elevenlabs": sbSrv.URL + "/elevenlabs"}})
	if err != nil {
		t.Fatal(err)
	}
	h.db, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "aiproxy.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.db.Close() })
	v, err := vault.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	adm := admin.New(h.db, v, cat, nil)
	if _, err := adm.CreateOrg(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]string{"heygen": hgKey, "elevenlabs": elKey} {
		if _, err := adm.SetCredential(ctx, aiproxy.SourcePlatform, "", name, aiproxy.CredentialValue{"key": key}); err != nil {
			t.Fatal(err)
		}
	}
	pricer, err := budget.NewPricer(append([]*budget.PriceTable{budget.DefaultPrices()}, o.prices...)...)
	if err != nil {
		t.Fatal(err)
	}
	h.ledger = &countingLedger{BudgetLedger: h.db}
	h.reader = &countingReader{r: h.db}
	h.enf = budget.New(budget.Config{Budgets: h.reader, Ledger: h.ledger, Pricer: pricer, Tokens: h.tokens,
		Alerter: h.alerts, Now: h.clock})
	h.admin = budget.NewAdmin(budget.AdminConfig{Store: h.db, Ledger: h.ledger, Tokens: h.tokens, Enforcer: h.enf, Now: h.clock})
	transport := roundTripper(func(r *http.Request) (*http.Response, error) {
		h.sent.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})
	h.p = proxy.New(proxy.Config{Catalog: cat, Credentials: h.db, Vault: v, Transport: transport, Meter: h.meter}).WithHooks(h.enf)
	return h
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	h.now = h.now.Add(d)
	h.mu.Unlock()
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// response is what a client got.
type response struct {
	status int
	header http.Header
	body   []byte
	err    *aiproxy.Error
}

// statusOf maps the codes these tests meet to the HTTP adapter's statuses.
var statusOf = map[aiproxy.Code]int{
	aiproxy.CodeBudgetExceeded: 402, aiproxy.CodeForbidden: 403, aiproxy.CodeUnavailable: 503,
	aiproxy.CodeUpstreamFailed: 502, aiproxy.CodeInvalid: 400, aiproxy.CodeNotFound: 404,
}

// invoke makes an invoke call of org acme as a principal.
func (h *harness) invoke(pr aiproxy.Principal, service, action string, env any) response {
	h.t.Helper()
	body, err := json.Marshal(env)
	if err != nil {
		h.t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/api/ai-proxy/orgs/acme/services/"+service+"/"+action+"/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r = r.WithContext(aiproxy.WithPrincipal(r.Context(), pr))
	w := httptest.NewRecorder()
	_, err = h.p.Invoke(w, r, "acme", service, action)
	if err != nil {
		var e *aiproxy.Error
		if !errors.As(err, &e) {
			e = &aiproxy.Error{Code: aiproxy.CodeInternal, Message: err.Error()}
		}
		st := statusOf[e.Code]
		if st == 0 {
			st = 500
		}
		return response{status: st, err: e, body: []byte(e.Message)}
	}
	return response{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// tts speaks text with a model ("" for the API's default).
func (h *harness) tts(pr aiproxy.Principal, text, model string) response {
	h.t.Helper()
	body := map[string]any{"text": text}
	if model != "" {
		body["model_id"] = model
	}
	return h.invoke(pr, "elevenlabs", "tts", map[string]any{"path_params": map[string]string{"voice_id": rachel}, "body": body})
}

// setBudget creates a budget through the Admin.
func (h *harness) setBudget(b aiproxy.Budget) aiproxy.Budget {
	h.t.Helper()
	if b.OrgKey == "" {
		b.OrgKey = "acme"
	}
	if b.Window == "" {
		b.Window = aiproxy.BudgetMonth
	}
	out, err := h.admin.SetBudget(h.t.Context(), b)
	if err != nil {
		h.t.Fatalf("SetBudget(%+v): %v", b, err)
	}
	return out
}

// counter reads a budget's counter in the current window.
func (h *harness) counter(b aiproxy.Budget, subject string) aiproxy.BudgetCounter {
	h.t.Helper()
	start, _ := b.Window.Bounds(h.clock())
	got, err := h.db.BudgetCounters(h.t.Context(), []aiproxy.BudgetCounterKey{{BudgetID: b.ID, Subject: subject, WindowStart: start}})
	if err != nil {
		h.t.Fatal(err)
	}
	return got[0]
}

func (h *harness) wantCounter(b aiproxy.Budget, subject string, spent, reserved int64) {
	h.t.Helper()
	if c := h.counter(b, subject); c.Spent != spent || c.Reserved != reserved {
		h.t.Fatalf("budget %s (%s %q): spent %d, reserved %d; want %d and %d", b.ID, b.Scope, subject,
			c.Spent, c.Reserved, spent, reserved)
	}
}

// Principals of org acme.
var (
	backend = aiproxy.Principal{KeyID: "key1", OrgKey: "acme", Role: aiproxy.RoleInvoke}
	alice   = aiproxy.Principal{Kind: aiproxy.KindUserToken, KeyID: "key1", OrgKey: "acme", Role: aiproxy.RoleInvoke,
		User: "alice", TokenID: "tok_alice"}
	bob = aiproxy.Principal{Kind: aiproxy.KindUserToken, KeyID: "key1", OrgKey: "acme", Role: aiproxy.RoleInvoke,
		User: "bob", TokenID: "tok_bob"}
)

// countingLedger counts the ledger calls and can fail them all.
type countingLedger struct {
	aiproxy.BudgetLedger
	calls atomic.Int64
	fail  atomic.Pointer[error]
}

func (l *countingLedger) err() error {
	l.calls.Add(1)
	if p := l.fail.Load(); p != nil {
		return *p
	}
	return nil
}

func (l *countingLedger) ReserveBudget(ctx context.Context, h aiproxy.BudgetHold) error {
	if err := l.err(); err != nil {
		return err
	}
	return l.BudgetLedger.ReserveBudget(ctx, h)
}

func (l *countingLedger) SettleBudget(ctx context.Context, id string, actual int64) ([]aiproxy.BudgetSettlement, error) {
	if err := l.err(); err != nil {
		return nil, err
	}
	return l.BudgetLedger.SettleBudget(ctx, id, actual)
}

func (l *countingLedger) ReleaseBudget(ctx context.Context, id string) error {
	if err := l.err(); err != nil {
		return err
	}
	return l.BudgetLedger.ReleaseBudget(ctx, id)
}

func (l *countingLedger) RenameBudgetHold(ctx context.Context, from, to string, expires time.Time) error {
	if err := l.err(); err != nil {
		return err
	}
	return l.BudgetLedger.RenameBudgetHold(ctx, from, to, expires)
}

func (l *countingLedger) BudgetHold(ctx context.Context, id string) (aiproxy.BudgetHold, error) {
	if err := l.err(); err != nil {
		return aiproxy.BudgetHold{}, err
	}
	return l.BudgetLedger.BudgetHold(ctx, id)
}

// countingReader counts budget definition reads and can fail them.
type countingReader struct {
	r     budget.BudgetReader
	reads atomic.Int64
	fail  atomic.Pointer[error]
}

func (c *countingReader) Budgets(ctx context.Context, org string) ([]aiproxy.Budget, error) {
	c.reads.Add(1)
	if p := c.fail.Load(); p != nil {
		return nil, *p
	}
	return c.r.Budgets(ctx, org)
}

// meter collects the usage records of the harness's calls.
type meter struct {
	mu   sync.Mutex
	recs []aiproxy.UsageRecord
}

func (m *meter) Record(r aiproxy.UsageRecord) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = append(m.recs, r)
}

// last returns the last call's usage record.
func (m *meter) last(t *testing.T) aiproxy.UsageRecord {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.recs) == 0 {
		t.Fatal("no usage record")
	}
	return m.recs[len(m.recs)-1]
}

// alerts collects alerts.
type alerts struct {
	mu   sync.Mutex
	list []budget.Alert
}

func (a *alerts) BudgetAlert(_ context.Context, al budget.Alert) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.list = append(a.list, al)
}

func (a *alerts) take() []budget.Alert {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.list
	a.list = nil
	return out
}

// tokens is a user token store of tokens the test sets.
type tokens struct {
	mu    sync.Mutex
	m     map[string]aiproxy.UserToken
	reads atomic.Int64
}

func (s *tokens) UserToken(_ context.Context, id string) (aiproxy.UserToken, error) {
	s.reads.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.m[id]
	if !ok {
		return t, aiproxy.ErrNotFound
	}
	return t, nil
}

func (s *tokens) set(id string, maxSpend int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[id] = aiproxy.UserToken{ID: id, OrgKey: "acme", MaxSpendMicros: maxSpend, ExpiresAt: today.Add(time.Hour)}
}

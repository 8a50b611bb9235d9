package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/budget"
	"github.com/aiproxy/aiproxy/internal/sqlite"
)

// budgetEnv serves the API with the budget routes over a fresh SQLite
// database with org acme (an admin key, an invoke key and a user token of
// alice's) and org other (an admin key).
type budgetEnv struct {
	t                                 *testing.T
	url                               string
	db                                *sqlite.DB
	acmeAdmin, acmeInvoke, otherAdmin string
	aliceToken                        string
	invokeKeyID                       string
}

func newBudgetEnv(t *testing.T) *budgetEnv {
	t.Helper()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "aiproxy.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &budgetEnv{t: t, db: db}
	for _, org := range []string{"acme", "other"} {
		if err := db.CreateOrg(ctx, aiproxy.Org{Key: org, Name: org, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	e.acmeAdmin, _ = e.key("acme", aiproxy.RoleAdmin)
	e.acmeInvoke, e.invokeKeyID = e.key("acme", aiproxy.RoleInvoke)
	e.otherAdmin, _ = e.key("other", aiproxy.RoleAdmin)
	full, id, hash, err := aiproxy.NewUserTokenSecret()
	if err != nil {
		t.Fatal(err)
	}
	tok := aiproxy.UserToken{ID: id, OrgKey: "acme", User: "alice", KeyID: e.invokeKeyID, SecretHash: hash,
		MaxSpendMicros: 50_000, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	if err := db.CreateUserToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	e.aliceToken = full
	adm := budget.NewAdmin(budget.AdminConfig{Store: db, Ledger: db, Tokens: db})
	cfg := Config{Keys: db, UserTokens: db, Orgs: db, Logger: slog.New(slog.DiscardHandler), Now: time.Now}
	s := &server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(),
		auth: &authenticator{keys: db, tokens: db, now: time.Now, touched: map[string]time.Time{}}}
	s.budgetRoutes(adm)
	srv := httptest.NewServer(s.middleware(s.mux))
	t.Cleanup(srv.Close)
	e.url = srv.URL + base
	return e
}

func (e *budgetEnv) key(org string, role aiproxy.Role) (full, id string) {
	e.t.Helper()
	full, id, hash, err := aiproxy.NewKeySecret()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.db.CreateKey(e.t.Context(), aiproxy.APIKey{ID: id, OrgKey: org, Name: "k", Role: role, SecretHash: hash,
		CreatedAt: time.Now()}); err != nil {
		e.t.Fatal(err)
	}
	return full, id
}

// do sends a request with a key or token and returns the status and body.
func (e *budgetEnv) do(method, path, credential, body string) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	scheme := "Api-Key "
	if aiproxy.LooksLikeUserToken(credential) {
		scheme = "Token "
	}
	req.Header.Set("Authorization", scheme+credential)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func TestBudgetRoutes(t *testing.T) {
	e := newBudgetEnv(t)
	st, body := e.do("PUT", "/orgs/acme/budgets/", e.acmeAdmin,
		`{"scope": "org", "window": "month", "limit_micros": 5000000, "alert_thresholds": [0.5]}`)
	if st != 200 {
		t.Fatalf("PUT = %d %s", st, body)
	}
	var created BudgetJSON
	if err := json.Unmarshal(body, &created); err != nil || !strings.HasPrefix(created.ID, "bud_") ||
		created.Org != "acme" || created.LimitMicros != 5_000_000 || created.Enforcement != "block" ||
		len(created.AlertThresholds) != 1 {
		t.Fatalf("PUT answered %s", body)
	}
	st, body = e.do("PUT", "/orgs/acme/budgets", e.acmeAdmin,
		`{"scope": "user", "window": "day", "limit_micros": 1000, "enforcement": "alert_only"}`)
	if st != 200 {
		t.Fatalf("PUT (no slash) = %d %s", st, body)
	}
	// Replacing by id.
	st, body = e.do("PUT", "/orgs/acme/budgets/", e.acmeAdmin,
		`{"id": "`+created.ID+`", "scope": "org", "window": "month", "limit_micros": 7000000}`)
	if st != 200 || !strings.Contains(string(body), `"limit_micros":7000000`) {
		t.Fatalf("PUT (replace) = %d %s", st, body)
	}
	st, body = e.do("GET", "/orgs/acme/budgets/", e.acmeAdmin, "")
	var list []BudgetJSON
	if st != 200 || json.Unmarshal(body, &list) != nil || len(list) != 2 {
		t.Fatalf("GET = %d %s, want 2 budgets", st, body)
	}
	if list[1].AlertThresholds[0] != 0.8 || list[1].AlertThresholds[1] != 0.95 {
		t.Errorf("default thresholds = %v, want [0.8 0.95] shown", list[1].AlertThresholds)
	}
	refusals := []struct {
		name, method, path, cred, body string
		status                         int
		detail                         string
	}{
		{"a missing field", "PUT", "/orgs/acme/budgets/", e.acmeAdmin, `{"scope": "org", "window": "month"}`, 400,
			`Missing required field "limit_micros".`},
		{"an invalid budget", "PUT", "/orgs/acme/budgets/", e.acmeAdmin, `{"scope": "team", "window": "month", "limit_micros": 1}`, 400,
			`Invalid budget: scope "team" must be one of org, key, user, token.`},
		{"a twin", "PUT", "/orgs/acme/budgets/", e.acmeAdmin, `{"scope": "org", "window": "month", "limit_micros": 1}`, 409, ""},
		{"an unknown field", "PUT", "/orgs/acme/budgets/", e.acmeAdmin, `{"scope": "org", "window": "week", "limit_micros": 1, "limit": 2}`, 400, ""},
		{"an invoke key lists", "GET", "/orgs/acme/budgets/", e.acmeInvoke, "", 403, aiproxy.MsgPermissionDenied},
		{"an invoke key sets", "PUT", "/orgs/acme/budgets/", e.acmeInvoke, `{"scope": "org", "window": "week", "limit_micros": 1}`, 403, ""},
		{"a user token deletes", "DELETE", "/orgs/acme/budgets/" + created.ID + "/", e.aliceToken, "", 403, ""},
		{"another org's admin", "GET", "/orgs/acme/budgets/", e.otherAdmin, "", 403, ""},
		{"another org's admin deletes", "DELETE", "/orgs/other/budgets/" + created.ID + "/", e.otherAdmin, "", 404,
			`Budget "` + created.ID + `" not found.`},
		{"a POST", "POST", "/orgs/acme/budgets/", e.acmeAdmin, `{}`, 405, ""},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			st, body := e.do(tt.method, tt.path, tt.cred, tt.body)
			var got struct{ Detail string }
			_ = json.Unmarshal(body, &got)
			if st != tt.status || (tt.detail != "" && got.Detail != tt.detail) {
				t.Fatalf("%s %s = %d %s, want %d %q", tt.method, tt.path, st, body, tt.status, tt.detail)
			}
		})
	}
	if st, body := e.do("DELETE", "/orgs/acme/budgets/"+created.ID+"/", e.acmeAdmin, ""); st != 204 || len(body) != 0 {
		t.Fatalf("DELETE = %d %s, want 204", st, body)
	}
	if st, _ := e.do("DELETE", "/orgs/acme/budgets/"+created.ID, e.acmeAdmin, ""); st != 404 {
		t.Fatalf("second DELETE = %d, want 404", st)
	}
}

func TestBudgetStatusRoute(t *testing.T) {
	e := newBudgetEnv(t)
	ctx := t.Context()
	for _, in := range []string{
		`{"scope": "org", "window": "month", "limit_micros": 1000000}`,
		`{"scope": "user", "subject": "alice", "window": "month", "limit_micros": 10000}`,
		`{"scope": "user", "subject": "bob", "window": "month", "limit_micros": 10000}`,
	} {
		if st, body := e.do("PUT", "/orgs/acme/budgets/", e.acmeAdmin, in); st != 200 {
			t.Fatalf("PUT = %d %s", st, body)
		}
	}
	list, _ := e.db.Budgets(ctx, "acme")
	var aliceBudget aiproxy.Budget
	for _, b := range list {
		if b.Subject == "alice" {
			aliceBudget = b
		}
	}
	start, _ := aiproxy.BudgetMonth.Bounds(time.Now())
	hold := aiproxy.BudgetHold{ID: "h", OrgKey: "acme", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour),
		Charges: []aiproxy.BudgetCharge{{BudgetCounterKey: aiproxy.BudgetCounterKey{BudgetID: aliceBudget.ID, Subject: "alice", WindowStart: start},
			Scope: aiproxy.BudgetScopeUser, Window: aiproxy.BudgetMonth, Amount: 8500, Limit: 10000}}}
	if err := e.db.ReserveBudget(ctx, hold); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.SettleBudget(ctx, "h", 8500); err != nil {
		t.Fatal(err)
	}
	// The org admin sees every budget with its amounts.
	st, body := e.do("GET", "/orgs/acme/budgets/status/", e.acmeAdmin, "")
	var all []map[string]any
	if st != 200 || json.Unmarshal(body, &all) != nil || len(all) != 3 {
		t.Fatalf("status as admin = %d %s, want 3 rows", st, body)
	}
	// Alice, by her token, sees her own user budget and her token's cap,
	// as percent and zone only; never bob's, nor the org's.
	st, body = e.do("GET", "/orgs/acme/budgets/status", e.aliceToken, "")
	var mine []map[string]any
	if st != 200 || json.Unmarshal(body, &mine) != nil || len(mine) != 2 {
		t.Fatalf("status as alice = %d %s, want her 2 rows", st, body)
	}
	if m := mine[0]; m["scope"] != "user" || m["percent"] != 85.0 || m["zone"] != "warning" || m["window"] != "month" {
		t.Fatalf("alice's user budget = %v", m)
	}
	if m := mine[1]; m["scope"] != "token" || m["zone"] != "ok" || m["resets_at"] != nil {
		t.Fatalf("alice's token cap = %v", m)
	}
	for _, field := range []string{"limit_micros", "spent_micros", "remaining_micros", "reserved_micros", "subject", "id"} {
		if strings.Contains(string(body), field) {
			t.Fatalf("a member's status shows %q: %s", field, body)
		}
	}
	// The org's backend sees the budgets that apply to its own calls.
	st, body = e.do("GET", "/orgs/acme/budgets/status/", e.acmeInvoke, "")
	var backend []BudgetStatusJSON
	if st != 200 || json.Unmarshal(body, &backend) != nil || len(backend) != 1 || backend[0].Scope != "org" ||
		backend[0].RemainingMicros == nil || *backend[0].RemainingMicros != 1_000_000 {
		t.Fatalf("status as the backend = %d %s, want the org budget with amounts", st, body)
	}
	if st, _ := e.do("GET", "/orgs/acme/budgets/status/", e.otherAdmin, ""); st != 403 {
		t.Fatalf("status as another org = %d, want 403", st)
	}
}

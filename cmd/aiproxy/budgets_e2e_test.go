package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// putBudget sets a budget with an admin key and returns its id.
func (d *demo) putBudget(org, key string, b map[string]any) string {
	d.t.Helper()
	data, _ := json.Marshal(b)
	status, _, body := d.do("PUT", "/api/ai-proxy/orgs/"+org+"/budgets/", key, bytes.NewReader(data),
		http.Header{"Content-Type": {"application/json"}})
	var out struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &out); (status != 200 && status != 201) || err != nil || out.ID == "" {
		d.t.Fatalf("put budget %v = %d %s", b, status, body)
	}
	return out.ID
}

// budgetStatus reads the budget status as a credential sees it.
func (d *demo) budgetStatus(org, auth string) []map[string]any {
	d.t.Helper()
	status, _, body := d.as("GET", "/api/ai-proxy/orgs/"+org+"/budgets/status/", auth, nil)
	var out []map[string]any
	if err := json.Unmarshal(body, &out); status != 200 || err != nil {
		d.t.Fatalf("budget status = %d %s", status, body)
	}
	return out
}

func ttsEnv(text string) map[string]any {
	return map[string]any{"path_params": map[string]any{"voice_id": "21m00Tcm4TlvDq8ikWAM"}, "body": map[string]any{"text": text}}
}

// TestBudgetsThroughTheServer sets a per-user monthly budget that fits
// four 12-character speeches (ElevenLabs' default model, 1 credit, $0.0001,
// a character) and checks, through the real server: racing calls of one
// user admit exactly four; the fifth is a 402 naming the budget, with no
// provider call; another user and the org itself are not held back; a
// member sees their own budget as a percentage only; the change and the
// alert are in the audit log.
func TestBudgetsThroughTheServer(t *testing.T) {
	s := startSharedAccount(t)
	s.putBudget(s.org, s.key, map[string]any{"scope": "user", "window": "month", "limit_micros": 4 * 1200})
	alice, bob := s.token(s.org, s.key, "alice"), s.token(s.org, s.key, "bob")
	before := s.providerCalls()
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	var refusal []byte
	for range 10 {
		wg.Go(func() {
			status, _, body := s.as("POST", invokePath(s.org, "elevenlabs", "tts"), "Token "+alice, ttsEnv("Hello there."))
			mu.Lock()
			defer mu.Unlock()
			codes[status]++
			if status == 402 {
				refusal = body
			}
		})
	}
	wg.Wait()
	if codes[200] != 4 || codes[402] != 6 {
		t.Fatalf("10 racing calls against a budget for 4: %v", codes)
	}
	if n := s.providerCalls() - before; n != 4 {
		t.Errorf("the provider got %d calls, want 4", n)
	}
	var refused struct {
		Code, Detail, Scope string
		Available, Required float64
		ResetsAt            string `json:"resets_at"`
	}
	if err := json.Unmarshal(refusal, &refused); err != nil || refused.Code != "budget_exceeded" || refused.Scope != "user" ||
		refused.Required != 0.0012 || refused.Available != 0 || !strings.Contains(refused.Detail, "user 'alice' monthly budget") ||
		!strings.HasSuffix(refused.ResetsAt, "-01T00:00:00Z") {
		t.Errorf("the 402 = %s", refusal)
	}
	for who, auth := range map[string]string{"bob": "Token " + bob, "the org": "Api-Key " + s.key} {
		if status, _, body := s.as("POST", invokePath(s.org, "elevenlabs", "tts"), auth, ttsEnv("Hello there.")); status != 200 {
			t.Errorf("%s under a budget alice spent = %d %.200s", who, status, body)
		}
	}

	mine := s.budgetStatus(s.org, "Token "+alice)
	if len(mine) != 1 || mine[0]["percent"] != 100.0 || mine[0]["zone"] != "exhausted" || mine[0]["spent_micros"] != nil {
		t.Errorf("alice's budget status = %v", mine)
	}
	all := s.budgetStatus(s.org, "Api-Key "+s.key)
	spent := map[any]any{}
	for _, b := range all {
		spent[b["subject"]] = b["spent_micros"]
	}
	if spent["alice"] != 4800.0 || spent["bob"] != 1200.0 {
		t.Errorf("the admin's status = %v", all)
	}

	status, _, body := s.as("GET", "/api/ai-proxy/orgs/"+s.org+"/audit/", "Api-Key "+s.key, nil)
	if status != 200 || !strings.Contains(string(body), "budget.set") || !strings.Contains(string(body), "budget.alert") {
		t.Errorf("audit = %d %.600s", status, body)
	}
	// Members manage no budgets.
	if status, _, _ := s.as("PUT", "/api/ai-proxy/orgs/"+s.org+"/budgets/", "Token "+alice,
		map[string]any{"scope": "user", "subject": "alice", "window": "month", "limit_micros": 1e9}); status != 403 {
		t.Errorf("a member raising its own budget = %d", status)
	}
}

// TestJobBudgetHeldUntilTheJobEnds makes a non-test video as a user with
// a budget: the estimate is held while it renders, and when the job ends
// the hold is replaced by the video's actual cost.
func TestJobBudgetHeldUntilTheJobEnds(t *testing.T) {
	s := startSharedAccount(t)
	s.putBudget(s.org, s.key, map[string]any{"scope": "user", "subject": "carol", "window": "day", "limit_micros": 50_000_000})
	carol := s.token(s.org, s.key, "carol")
	env := videoBody("Carol's short lesson, held against her budget while it renders.")
	env["body"].(map[string]any)["test"] = false
	status, _, body := s.as("POST", invokePath(s.org, "heygen", "generate-video"), "Token "+carol, env)
	videoID(t, status, body)
	held := s.budgetStatus(s.org, "Api-Key "+s.key)
	if len(held) != 1 || held[0]["reserved_micros"].(float64) <= 0 {
		t.Fatalf("while rendering: %v", held)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := s.budgetStatus(s.org, "Api-Key "+s.key)
		if len(st) == 1 && st[0]["reserved_micros"] == 0.0 {
			if spent := st[0]["spent_micros"].(float64); spent <= 0 {
				t.Fatalf("the finished job settled at %v", spent)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job's hold was never settled: %v", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// TestKeyCanOnlyCreateWhatItHolds has keys limited to a service, to test
// mode or to an hour try to mint, revoke and manage beyond those limits:
// each attempt is the contract's 403 and changes nothing; the same calls
// within their limits succeed.
func TestKeyCanOnlyCreateWhatItHolds(t *testing.T) {
	f := newFullEnv(t)
	ctx := context.Background()
	heygenOnly := admin.KeyOptions{Services: []string{"heygen"}}
	hour := admin.KeyOptions{ExpiresAt: time.Now().Add(time.Hour)}
	scoped := f.key(t, "acme", aiproxy.RoleAdmin, heygenOnly)
	testOnly := f.key(t, "acme", aiproxy.RoleAdmin, admin.KeyOptions{TestOnly: true})
	hourly := f.key(t, "acme", aiproxy.RoleAdmin, hour)
	all := f.key(t, "acme", aiproxy.RoleAdmin, admin.KeyOptions{Services: []string{"heygen"}, TestOnly: true, ExpiresAt: hour.ExpiresAt})
	platScoped := f.key(t, "", aiproxy.RoleAdmin, heygenOnly)
	platTest := f.key(t, "", aiproxy.RoleAdmin, admin.KeyOptions{TestOnly: true})
	platHourly := f.key(t, "", aiproxy.RoleAdmin, hour)
	_, plainAdmin, err := f.admin.CreateKey(ctx, "acme", "plain", aiproxy.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	_, heygenInvoke, err := f.admin.CreateKeyWith(ctx, "acme", "heygen invoke", aiproxy.RoleInvoke, heygenOnly)
	if err != nil {
		t.Fatal(err)
	}
	_, plainPlatform, err := f.admin.CreateKey(ctx, "", "plain", aiproxy.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	f.guardSeed(t)

	refused := []struct{ name, auth, method, path, body string }{
		{"scoped mints a plain admin key", scoped, "POST", "/orgs/acme/keys/", `{"name":"x","role":"admin"}`},
		{"scoped mints a plain invoke key", scoped, "POST", "/orgs/acme/keys/", `{"name":"x"}`},
		{"scoped mints a key of another service", scoped, "POST", "/orgs/acme/keys/", `{"name":"x","services":["elevenlabs"]}`},
		{"scoped mints a wider key", scoped, "POST", "/orgs/acme/keys/", `{"name":"x","services":["heygen","elevenlabs"]}`},
		{"test-only mints a live key", testOnly, "POST", "/orgs/acme/keys/", `{"name":"x","role":"admin"}`},
		{"test-only mints a live invoke key", testOnly, "POST", "/orgs/acme/keys/", `{"name":"x","test_only":false}`},
		{"expiring mints a lasting key", hourly, "POST", "/orgs/acme/keys/", `{"name":"x","role":"admin"}`},
		{"expiring mints a key outliving it", hourly, "POST", "/orgs/acme/keys/", `{"name":"x","expires_in":"2h"}`},
		{"expiring mints a key outliving it, by date", hourly, "POST", "/orgs/acme/keys/", `{"name":"x","expires_at":"` + later + `"}`},
		{"fully limited mints a plain key", all, "POST", "/orgs/acme/keys/", `{"name":"x","role":"admin"}`},
		{"fully limited drops one limit", all, "POST", "/orgs/acme/keys/", `{"name":"x","services":["heygen"],"test_only":true}`},
		{"scoped platform mints a plain platform key", platScoped, "POST", "/admin/keys/", `{"name":"x"}`},
		{"scoped platform mints a plain org key", platScoped, "POST", "/orgs/acme/keys/", `{"name":"x","role":"admin"}`},
		{"test-only platform mints a live platform key", platTest, "POST", "/admin/keys/", `{"name":"x"}`},
		{"expiring platform mints a lasting platform key", platHourly, "POST", "/admin/keys/", `{"name":"x"}`},
		{"expiring platform mints a lasting org key", platHourly, "POST", "/orgs/other/keys/", `{"name":"x"}`},

		{"scoped revokes a plain admin key", scoped, "DELETE", "/orgs/acme/keys/" + plainAdmin.ID + "/", ``},
		{"test-only revokes a live key", testOnly, "DELETE", "/orgs/acme/keys/" + heygenInvoke.ID + "/", ``},
		{"expiring revokes a lasting key", hourly, "DELETE", "/orgs/acme/keys/" + heygenInvoke.ID + "/", ``},
		{"scoped platform revokes a plain platform key", platScoped, "DELETE", "/admin/keys/" + plainPlatform.ID + "/", ``},

		{"scoped sets another service's credential", scoped, "PUT", "/orgs/acme/credentials/elevenlabs/", `{"value":{"key":"el-key-0123456789"}}`},
		{"scoped deletes another service's credential", scoped, "DELETE", "/orgs/acme/credentials/elevenlabs/", ``},
		{"scoped platform sets another service's credential", platScoped, "PUT", "/admin/credentials/elevenlabs/", `{"value":{"key":"el-key-0123456789"}}`},
		{"scoped platform deletes another service's credential", platScoped, "DELETE", "/admin/credentials/elevenlabs/", ``},
		{"scoped platform sets another service's quota", platScoped, "PUT", "/orgs/acme/quotas/", `{"service":"elevenlabs","metric":"requests","period":"day","limit":1}`},
		{"scoped platform sets a quota on every service", platScoped, "PUT", "/orgs/acme/quotas/", `{"service":"","metric":"requests","period":"day","limit":1}`},
		{"scoped platform deletes another service's quota", platScoped, "DELETE", "/orgs/acme/quotas/?service=elevenlabs&metric=characters&period=day", ``},
		{"scoped platform deletes the all-services quota", platScoped, "DELETE", "/orgs/acme/quotas/?service=&metric=requests&period=month", ``},
		{"scoped platform turns another service off", platScoped, "PUT", "/orgs/acme/access/", `{"service":"elevenlabs","enabled":false}`},
		{"scoped platform turns another service back on", platScoped, "PUT", "/orgs/acme/access/", `{"service":"elevenlabs","endpoint":"tts","enabled":true}`},

		{"scoped registers a webhook", scoped, "POST", "/orgs/acme/webhooks/", `{"url":"https://example.com/hook"}`},
		{"scoped deletes a webhook", scoped, "DELETE", "/orgs/acme/webhooks/whe_a/", ``},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			before := f.snapshot(t)
			status, _, body := f.do(tc.method, base+tc.path, tc.auth, tc.body)
			if status != 403 {
				t.Fatalf("status %d, want 403: %s", status, body)
			}
			expectBody(t, body, map[string]string{"detail": aiproxy.MsgPermissionDenied, "code": "forbidden"})
			if after := f.snapshot(t); after != before {
				t.Fatalf("a refused call changed the stores:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	allowed := []struct {
		name, auth, method, path, body string
		status                         int
	}{
		{"scoped mints a key of its service", scoped, "POST", "/orgs/acme/keys/", `{"name":"x","role":"admin","services":["heygen"]}`, 201},
		{"test-only mints a test-only key", testOnly, "POST", "/orgs/acme/keys/", `{"name":"x","test_only":true}`, 201},
		{"expiring mints a key expiring sooner", hourly, "POST", "/orgs/acme/keys/", `{"name":"x","expires_in":"30m"}`, 201},
		{"fully limited mints its like", all, "POST", "/orgs/acme/keys/", `{"name":"x","services":["heygen"],"test_only":true,"expires_in":"30m"}`, 201},
		{"scoped platform mints a scoped platform key", platScoped, "POST", "/admin/keys/", `{"name":"x","services":["heygen"]}`, 201},
		{"scoped sets its service's credential", scoped, "PUT", "/orgs/acme/credentials/heygen/", `{"value":{"key":"hg-key-0123456789"}}`, 200},
		{"scoped platform sets its service's quota", platScoped, "PUT", "/orgs/acme/quotas/", `{"service":"heygen","metric":"renders","period":"day","limit":3}`, 200},
		{"scoped platform turns its service's endpoint off", platScoped, "PUT", "/orgs/acme/access/", `{"service":"heygen","endpoint":"generate-video","enabled":false}`, 200},
		{"scoped revokes a key within its own", scoped, "DELETE", "/orgs/acme/keys/" + heygenInvoke.ID + "/", ``, 200},
		{"a plain admin revokes anything", "Api-Key " + f.acmeAdmin, "DELETE", "/orgs/acme/keys/" + plainAdmin.ID + "/", ``, 200},
	}
	for _, tc := range allowed {
		t.Run(tc.name, func(t *testing.T) {
			if status, _, body := f.do(tc.method, base+tc.path, tc.auth, tc.body); status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
		})
	}
	// A limited key may always revoke itself.
	id := strings.SplitN(strings.TrimPrefix(hourly, "Api-Key "), "_", 3)[1]
	if status, _, body := f.do("DELETE", base+"/orgs/acme/keys/"+id+"/", hourly, ""); status != 200 {
		t.Fatalf("a key revoking itself = %d %s", status, body)
	}
}

// guardSeed stores a quota, an access rule and a credential for each
// service of acme, and a webhook, for the refusals to leave alone.
func (f *fullEnv) guardSeed(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []aiproxy.Quota{
		{OrgKey: "acme", Service: "elevenlabs", Metric: aiproxy.MetricCharacters, Period: aiproxy.PeriodDay, Limit: 100},
		{OrgKey: "acme", Service: "heygen", Metric: aiproxy.MetricRenders, Period: aiproxy.PeriodDay, Limit: 5},
		{OrgKey: "acme", Service: "", Metric: aiproxy.MetricRequests, Period: aiproxy.PeriodMonth, Limit: 1000},
	} {
		if _, err := f.guard.SetQuota(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for _, svc := range []string{"heygen", "elevenlabs"} {
		if err := f.guard.SetAccess(ctx, "acme", svc, map[string]string{"heygen": "translate-video", "elevenlabs": "tts"}[svc], false); err != nil {
			t.Fatal(err)
		}
		if _, err := f.admin.SetCredential(ctx, aiproxy.SourceTenant, "acme", svc, aiproxy.CredentialValue{"key": svc + "-key-0123456789"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.admin.SetCredential(ctx, aiproxy.SourcePlatform, "", svc, aiproxy.CredentialValue{"key": svc + "-platform-0123456789"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := f.webhooks.CreateWebhook(ctx, "acme", "https://example.com/seed", nil); err != nil {
		t.Fatal(err)
	}
}

// TestScopedKeysSeeOnlyTheirServices has keys limited to HeyGen read the
// org's jobs, job events, webhooks, usage, credentials, quotas and access
// rules: they see HeyGen's only, another service's job is not found, and
// naming another service is 403.
func TestScopedKeysSeeOnlyTheirServices(t *testing.T) {
	f := newFullEnv(t)
	ctx := context.Background()
	heygenOnly := admin.KeyOptions{Services: []string{"heygen"}}
	invoke := f.key(t, "acme", aiproxy.RoleInvoke, heygenOnly)
	scopedAdmin := f.key(t, "acme", aiproxy.RoleAdmin, heygenOnly)
	both := f.key(t, "acme", aiproxy.RoleInvoke, admin.KeyOptions{Services: []string{"heygen", "elevenlabs"}})
	platScoped := f.key(t, "", aiproxy.RoleAdmin, heygenOnly)
	f.guardSeed(t)

	// 30 jobs, newest first: one HeyGen job in three, the rest ElevenLabs.
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var heygenJobs []string
	for i := range 30 {
		svc := "elevenlabs"
		if i%3 == 0 {
			svc = "heygen"
		}
		j := aiproxy.Job{ID: fmt.Sprintf("job_%024d", 100-i), OrgKey: "acme", Service: svc, Action: "a",
			State: aiproxy.JobPending, CreatedAt: start.Add(-time.Duration(i) * time.Minute)}
		f.jobs.list = append(f.jobs.list, j)
		data, _ := json.Marshal(map[string]any{"id": fmt.Sprint("evt_", i), "job": map[string]string{"id": j.ID, "service": svc}})
		f.jobs.events = append(f.jobs.events, aiproxy.JobEvent{Seq: int64(i + 1), ID: fmt.Sprint("evt_", i), OrgKey: "acme", JobID: j.ID, Type: "job.created", Data: data})
		if svc == "heygen" {
			heygenJobs = append(heygenJobs, j.ID)
		}
	}
	if err := f.db.AppendUsage(ctx, []aiproxy.UsageRecord{
		{At: start, OrgKey: "acme", Service: "heygen", Action: "list-avatars", Status: 200},
		{At: start, OrgKey: "acme", Service: "elevenlabs", Action: "tts", Status: 200, Unit: aiproxy.MetricCharacters, Units: 12},
		{At: start, OrgKey: "other", Service: "elevenlabs", Action: "tts", Status: 200},
	}); err != nil {
		t.Fatal(err)
	}

	t.Run("jobs, page by page", func(t *testing.T) {
		for _, limit := range []int{1, 2, 4, 50} {
			var seen []string
			cursor := ""
			for pages := 0; pages < 40; pages++ {
				var page JobListJSON
				f.getJSON(t, fmt.Sprintf("/orgs/acme/jobs/?limit=%d&cursor=%s", limit, cursor), invoke, &page)
				if len(page.Jobs) > limit {
					t.Fatalf("limit %d: a page of %d", limit, len(page.Jobs))
				}
				for _, j := range page.Jobs {
					seen = append(seen, j.ID)
				}
				if cursor = page.NextCursor; cursor == "" {
					break
				}
			}
			if !slices.Equal(seen, heygenJobs) {
				t.Fatalf("limit %d: saw %v, want the HeyGen jobs %v", limit, seen, heygenJobs)
			}
		}
		var page JobListJSON
		f.getJSON(t, "/orgs/acme/jobs/?limit=50", both, &page)
		if len(page.Jobs) != 30 {
			t.Fatalf("a key of both services sees %d jobs, want 30", len(page.Jobs))
		}
	})

	t.Run("another service's job", func(t *testing.T) {
		if status, _, body := f.do("GET", base+"/orgs/acme/jobs/?service=elevenlabs", invoke, ""); status != 403 {
			t.Fatalf("filtering on another service = %d %s", status, body)
		}
		other := f.jobs.list[1].ID
		for _, path := range []string{"/orgs/acme/jobs/" + other + "/", "/orgs/acme/jobs/" + other + "/?wait=1"} {
			status, _, body := f.do("GET", base+path, invoke, "")
			if status != 404 {
				t.Fatalf("GET %s = %d %s", path, status, body)
			}
			expectBody(t, body, map[string]string{"detail": fmt.Sprintf("Job %q not found.", other), "code": "not_found"})
		}
		if status, _, _ := f.do("GET", base+"/orgs/acme/jobs/"+heygenJobs[0]+"/", invoke, ""); status != 200 {
			t.Fatalf("its own service's job = %d", status)
		}
	})

	t.Run("events", func(t *testing.T) {
		body := f.stream(t, "/orgs/acme/jobs/events", invoke)
		var got []string
		for _, line := range strings.Split(body, "\n") {
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var ev struct {
					Job struct{ Service string } `json:"job"`
				}
				json.Unmarshal([]byte(data), &ev)
				got = append(got, ev.Job.Service)
			}
		}
		if len(got) != len(heygenJobs) || slices.ContainsFunc(got, func(s string) bool { return s != "heygen" }) {
			t.Fatalf("events of services %v, want %d of heygen", got, len(heygenJobs))
		}
		if n := strings.Count(f.stream(t, "/orgs/acme/jobs/events", both), "data: "); n != 30 {
			t.Fatalf("a key of both services gets %d events, want 30", n)
		}
	})

	t.Run("webhooks", func(t *testing.T) {
		for _, path := range []string{"/orgs/acme/webhooks/", "/orgs/acme/webhook-deliveries/"} {
			status, _, body := f.do("GET", base+path, scopedAdmin, "")
			if status != 403 {
				t.Fatalf("GET %s = %d %s", path, status, body)
			}
			expectBody(t, body, map[string]string{"detail": aiproxy.MsgPermissionDenied, "code": "forbidden"})
		}
	})

	t.Run("usage", func(t *testing.T) {
		for _, tc := range []struct{ path, auth string }{{"/orgs/acme/usage/", scopedAdmin}, {"/admin/usage/", platScoped}} {
			var rows []UsageRowJSON
			f.getJSON(t, tc.path, tc.auth, &rows)
			if len(rows) != 1 || rows[0].Service != "heygen" {
				t.Fatalf("%s = %+v, want HeyGen's row only", tc.path, rows)
			}
			if status, _, body := f.do("GET", base+tc.path+"?service=elevenlabs", tc.auth, ""); status != 403 {
				t.Fatalf("%s?service=elevenlabs = %d %s", tc.path, status, body)
			}
		}
		status, _, body := f.do("GET", base+"/orgs/acme/usage/?format=csv", scopedAdmin, "")
		if status != 200 || strings.Contains(string(body), "elevenlabs") {
			t.Fatalf("CSV = %d %s", status, body)
		}
	})

	t.Run("credentials, quotas and access rules", func(t *testing.T) {
		for _, tc := range []struct{ path, auth string }{{"/orgs/acme/credentials/", scopedAdmin}, {"/admin/credentials/", platScoped}} {
			var creds []CredentialJSON
			f.getJSON(t, tc.path, tc.auth, &creds)
			if len(creds) != 1 || creds[0].Name != "heygen" {
				t.Fatalf("%s = %+v, want HeyGen's only", tc.path, creds)
			}
		}
		var quotas []QuotaJSON
		f.getJSON(t, "/orgs/acme/quotas/", scopedAdmin, &quotas)
		if len(quotas) != 2 || slices.ContainsFunc(quotas, func(q QuotaJSON) bool { return q.Service == "elevenlabs" }) {
			t.Fatalf("quotas = %+v, want HeyGen's and the all-services one", quotas)
		}
		var rules []AccessRuleJSON
		f.getJSON(t, "/orgs/acme/access/", scopedAdmin, &rules)
		if len(rules) != 1 || rules[0].Service != "heygen" {
			t.Fatalf("access rules = %+v, want HeyGen's only", rules)
		}
	})
}

func (f *fullEnv) getJSON(t *testing.T, path, auth string, v any) {
	t.Helper()
	status, _, body := f.do("GET", base+path, auth, "")
	if status != 200 {
		t.Fatalf("GET %s = %d %s", path, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

// stream reads an event stream for a moment and returns what came.
func (f *fullEnv) stream(t *testing.T, path, auth string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.url+base+path, nil)
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d", path, resp.StatusCode)
	}
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

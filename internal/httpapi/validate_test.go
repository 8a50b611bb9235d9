package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// fullEnv is env serving every admin route: guardrails, an audit log, and
// hand-written job and webhook stores, so that a test can tell exactly what
// a call changed.
type fullEnv struct {
	*env
	cat      *catalog.Catalog
	guard    *admin.Guardrails
	jobs     *fakeJobs
	webhooks *fakeWebhooks
}

func newFullEnv(t *testing.T) *fullEnv {
	t.Helper()
	e := newEnv(t)
	cat, err := catalog.Load(catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	adm := admin.New(e.db, v, cat, nil)
	adm.SetAuditor(e.db)
	g := admin.NewGuardrails(e.db, cat, nil, nil)
	g.SetAuditor(e.db)
	f := &fullEnv{env: e, cat: cat, guard: g, jobs: &fakeJobs{}, webhooks: &fakeWebhooks{}}
	srv := httptest.NewServer(New(Config{
		Catalog: cat, Keys: e.db, Orgs: e.db, Admin: adm, Guardrails: g,
		Jobs: f.jobs, Webhooks: f.webhooks,
	}))
	t.Cleanup(srv.Close)
	e.url, e.admin = srv.URL, adm
	return f
}

// key makes a key through the admin service, as the CLI would, and returns
// its Authorization header value.
func (f *fullEnv) key(t *testing.T, org string, role aiproxy.Role, opts admin.KeyOptions) string {
	t.Helper()
	full, _, err := f.admin.CreateKeyWith(context.Background(), org, "k", role, opts)
	if err != nil {
		t.Fatal(err)
	}
	return "Api-Key " + full
}

// snapshot is everything an admin call can change, to compare before and
// after a call that must change nothing.
func (f *fullEnv) snapshot(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	add := func(v any, err error) {
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(strings.ReplaceAll(strings.TrimSpace(fmt.Sprint(v)), "\n", " "))
		b.WriteString("\n")
	}
	add(f.db.Orgs(ctx))
	for _, org := range []string{"", "acme", "other"} {
		keys, err := f.db.Keys(ctx, org)
		for i := range keys {
			keys[i].LastUsedAt = time.Time{}
		}
		add(keys, err)
		src := aiproxy.SourceTenant
		if org == "" {
			src = aiproxy.SourcePlatform
		}
		add(f.db.Credentials(ctx, src, org))
		if org != "" {
			add(f.db.Quotas(ctx, org, time.Now()))
			add(f.db.AccessRules(ctx, org))
		}
	}
	add(f.db.AuditEvents(ctx, aiproxy.AuditFilter{Limit: 1000}))
	add(f.webhooks.endpoints(), nil)
	return b.String()
}

// TestAdminInputValidation sends the admin API every kind of bad input:
// each is a 400 (413 when too large) in the contract's shape, and nothing
// is stored.
func TestAdminInputValidation(t *testing.T) {
	f := newFullEnv(t)
	p := "Api-Key " + f.platform
	acme := "Api-Key " + f.acmeAdmin
	long := strings.Repeat("n", 201)
	for _, tc := range []struct {
		name, method, path, auth, body string
		status                         int
	}{
		// One JSON object, nothing more.
		{"trailing data", "POST", "/admin/orgs/", p, `{"key":"t1"} {"key":"t2"}`, 400},
		{"trailing garbage", "POST", "/orgs/acme/keys/", acme, `{"name":"x"}x`, 400},
		{"trailing brace", "PUT", "/orgs/acme/quotas/", p, `{"service":"","metric":"requests","period":"day","limit":5}}`, 400},
		{"an array", "POST", "/orgs/acme/keys/", acme, `[{"name":"x"}]`, 400},
		{"null", "POST", "/orgs/acme/keys/", acme, `null`, 400},
		{"empty body", "POST", "/orgs/acme/keys/", acme, ``, 400},
		{"too large", "POST", "/orgs/acme/keys/", acme, `{"name":"` + strings.Repeat("x", 1<<20) + `"}`, 413},

		// Required fields.
		{"org without key", "POST", "/admin/orgs/", p, `{"name":"No Key"}`, 400},
		{"quota without limit", "PUT", "/orgs/acme/quotas/", p, `{"service":"heygen","metric":"requests","period":"day"}`, 400},
		{"quota without service", "PUT", "/orgs/acme/quotas/", p, `{"metric":"requests","period":"day","limit":5}`, 400},
		{"quota without metric", "PUT", "/orgs/acme/quotas/", p, `{"service":"heygen","period":"day","limit":5}`, 400},
		{"quota without period", "PUT", "/orgs/acme/quotas/", p, `{"service":"heygen","metric":"requests","limit":5}`, 400},
		{"access without enabled", "PUT", "/orgs/acme/access/", p, `{"service":"heygen"}`, 400},
		{"access without service", "PUT", "/orgs/acme/access/", p, `{"enabled":false}`, 400},
		{"credential without value", "PUT", "/orgs/acme/credentials/heygen/", acme, `{}`, 400},
		{"webhook without url", "POST", "/orgs/acme/webhooks/", acme, `{"events":["job.completed"]}`, 400},

		// Control characters, NUL and escapes.
		{"NUL in an org name", "POST", "/admin/orgs/", p, `{"key":"t3","name":"a\u0000b"}`, 400},
		{"ANSI escape in an org name", "POST", "/admin/orgs/", p, `{"key":"t4","name":"\u001b[31mred"}`, 400},
		{"newline in an org name", "POST", "/admin/orgs/", p, `{"key":"t5","name":"a\nb"}`, 400},
		{"bidi override in an org name", "POST", "/admin/orgs/", p, `{"key":"t6","name":"a\u202eb"}`, 400},
		{"NUL in a key name", "POST", "/orgs/acme/keys/", acme, `{"name":"\u0000"}`, 400},
		{"escape in a key name", "POST", "/orgs/acme/keys/", acme, `{"name":"\u001b]0;title\u0007"}`, 400},
		{"NUL in a platform key name", "POST", "/admin/keys/", p, `{"name":"a\u0000"}`, 400},
		{"NUL in a credential", "PUT", "/orgs/acme/credentials/heygen/", acme, `{"value":{"key":"hg-\u0000-key"}}`, 400},
		{"CR LF in a credential", "PUT", "/orgs/acme/credentials/heygen/", acme, `{"value":{"key":"hg-key\r\nX-Evil: 1"}}`, 400},
		{"NUL in a quota service", "PUT", "/orgs/acme/quotas/", p, `{"service":"heygen\u0000","metric":"requests","period":"day","limit":5}`, 404},
		{"NUL in an access endpoint", "PUT", "/orgs/acme/access/", p, `{"service":"heygen","endpoint":"x\u0000","enabled":false}`, 404},
		{"NUL in a key's services", "POST", "/orgs/acme/keys/", acme, `{"name":"x","services":["heygen\u0000"]}`, 404},
		{"NUL in a webhook url", "POST", "/orgs/acme/webhooks/", acme, `{"url":"https://example.com/\u0000"}`, 400},
		{"NUL in a path", "DELETE", "/orgs/acme/keys/ab%00cd/", acme, ``, 400},
		{"escape in a path", "PUT", "/orgs/acme/credentials/%1B%5B31m/", acme, `{"value":{"key":"x"}}`, 400},
		{"NUL in a query", "DELETE", "/orgs/acme/quotas/?service=heygen%00&metric=requests&period=day", p, ``, 400},
		{"NUL in a usage filter", "GET", "/orgs/acme/usage/?service=%00", acme, ``, 400},
		{"NUL in a job filter", "GET", "/orgs/acme/jobs/?action=%00", acme, ``, 400},
		{"unknown job state", "GET", "/orgs/acme/jobs/?state=sleeping", acme, ``, 400},

		// Lengths.
		{"long org name", "POST", "/admin/orgs/", p, `{"key":"t7","name":"` + long + `"}`, 400},
		{"long key name", "POST", "/orgs/acme/keys/", acme, `{"name":"` + long + `"}`, 400},
		{"long credential", "PUT", "/orgs/acme/credentials/heygen/", acme, `{"value":{"key":"` + strings.Repeat("k", 4097) + `"}}`, 400},
		{"long webhook url", "POST", "/orgs/acme/webhooks/", acme, `{"url":"https://example.com/` + strings.Repeat("p", 2048) + `"}`, 400},
		{"many webhook events", "POST", "/orgs/acme/webhooks/", acme, `{"url":"https://example.com/","events":[` + strings.Repeat(`"job.completed",`, 16) + `"job.failed"]}`, 400},
		{"long query", "GET", "/orgs/acme/usage/?service=" + strings.Repeat("s", 257), acme, ``, 400},

		// Value ranges.
		{"negative quota", "PUT", "/orgs/acme/quotas/", p, `{"service":"heygen","metric":"requests","period":"day","limit":-1}`, 400},
		{"huge quota", "PUT", "/orgs/acme/quotas/", p, `{"service":"heygen","metric":"requests","period":"day","limit":9007199254740992}`, 400},
		{"fractional quota", "PUT", "/orgs/acme/quotas/", p, `{"service":"heygen","metric":"requests","period":"day","limit":1.5}`, 400},
		{"quota as a string", "PUT", "/orgs/acme/quotas/", p, `{"service":"heygen","metric":"requests","period":"day","limit":"5"}`, 400},
		{"unknown period", "PUT", "/orgs/acme/quotas/", p, `{"service":"heygen","metric":"requests","period":"week","limit":5}`, 400},
		{"expiry in the past", "POST", "/orgs/acme/keys/", acme, `{"name":"x","expires_at":"2001-01-01T00:00:00Z"}`, 400},
		{"expiry centuries ahead", "POST", "/orgs/acme/keys/", acme, `{"name":"x","expires_in":"2000000h"}`, 400},
		{"negative lifetime", "POST", "/orgs/acme/keys/", acme, `{"name":"x","expires_in":"-1h"}`, 400},
		{"a service named twice", "POST", "/orgs/acme/keys/", acme, `{"name":"x","services":["heygen","heygen"]}`, 400},
		{"enabled as a string", "PUT", "/orgs/acme/access/", p, `{"service":"heygen","enabled":"false"}`, 400},
		{"bad quota to delete", "DELETE", "/orgs/acme/quotas/?service=heygen&metric=bytes&period=day", p, ``, 400},

		// Units that make sense for the service.
		{"characters on heygen", "PUT", "/orgs/acme/quotas/", p, `{"service":"heygen","metric":"characters","period":"day","limit":1000}`, 400},
		{"renders on elevenlabs", "PUT", "/orgs/acme/quotas/", p, `{"service":"elevenlabs","metric":"renders","period":"month","limit":10}`, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.snapshot(t)
			status, _, body := f.do(tc.method, base+tc.path, tc.auth, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			wantCode := map[int]string{400: "invalid", 404: "not_found", 413: "too_large"}[tc.status]
			expectShape(t, body, wantCode)
			if after := f.snapshot(t); after != before {
				t.Fatalf("a refused call changed the stores:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	// The same fields, well formed, are accepted: the table above is
	// refused for what it tests, not for something else.
	for _, tc := range []struct{ method, path, auth, body string }{
		{"POST", "/admin/orgs/", p, `{"key":"t8","name":"Acme Ünïcode Ltd."}`},
		{"POST", "/orgs/acme/keys/", acme, "{\"name\":\"x\"}\n"},
		{"PUT", "/orgs/acme/quotas/", p, `{"service":"elevenlabs","metric":"characters","period":"day","limit":0}`},
		{"PUT", "/orgs/acme/quotas/", p, `{"service":"heygen","metric":"renders","period":"month","limit":9007199254740991}`},
		{"PUT", "/orgs/acme/quotas/", p, `{"service":"","metric":"requests","period":"day","limit":5}`},
		{"PUT", "/orgs/acme/access/", p, `{"service":"heygen","enabled":false}`},
		{"POST", "/orgs/acme/webhooks/", acme, `{"url":"https://example.com/hook"}`},
	} {
		if status, _, body := f.do(tc.method, base+tc.path, tc.auth, tc.body); status >= 300 {
			t.Errorf("%s %s %s = %d %s", tc.method, tc.path, tc.body, status, body)
		}
	}
}

// expectShape checks that body is an error in the contract's shape: a
// message under "detail" and the code.
func expectShape(t *testing.T, body []byte, code string) {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(body, &m); err != nil || m["detail"] == "" || m["code"] != code || len(m) != 2 {
		t.Fatalf("body %s, want {detail, code: %q}", body, code)
	}
}

// fakeJobs is a JobReader over a fixed list of jobs and events.
type fakeJobs struct {
	list   []aiproxy.Job
	events []aiproxy.JobEvent
}

func (f *fakeJobs) Jobs(_ context.Context, flt aiproxy.JobFilter) ([]aiproxy.Job, error) {
	var out []aiproxy.Job
	for _, j := range f.list { // newest first
		if j.OrgKey != flt.OrgKey || (flt.Service != "" && j.Service != flt.Service) {
			continue
		}
		if flt.Before != nil && !(j.CreatedAt.Before(flt.Before.CreatedAt) ||
			(j.CreatedAt.Equal(flt.Before.CreatedAt) && j.ID < flt.Before.ID)) {
			continue
		}
		out = append(out, j)
		if len(out) == flt.Limit {
			break
		}
	}
	return out, nil
}

func (f *fakeJobs) Job(_ context.Context, org, id string) (aiproxy.Job, error) {
	for _, j := range f.list {
		if j.OrgKey == org && j.ID == id {
			return j, nil
		}
	}
	return aiproxy.Job{}, aiproxy.Errorf(aiproxy.CodeNotFound, "Job %q not found.", id)
}

func (f *fakeJobs) WaitJob(ctx context.Context, org, id string, _ aiproxy.JobState, _ time.Duration) (aiproxy.Job, error) {
	return f.Job(ctx, org, id)
}

func (f *fakeJobs) Events(_ context.Context, org string, after int64, limit int) ([]aiproxy.JobEvent, error) {
	var out []aiproxy.JobEvent
	for _, ev := range f.events {
		if ev.OrgKey == org && ev.Seq > after && len(out) < limit {
			out = append(out, ev)
		}
	}
	return out, nil
}

func (f *fakeJobs) Subscribe(string) (<-chan struct{}, func()) { return nil, func() {} }

// fakeWebhooks keeps webhook endpoints in memory.
type fakeWebhooks struct {
	mu   sync.Mutex
	list []aiproxy.WebhookEndpoint
}

func (f *fakeWebhooks) CreateWebhook(_ context.Context, org, url string, events []string) (aiproxy.WebhookEndpoint, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := aiproxy.WebhookEndpoint{ID: "whe_" + string(rune('a'+len(f.list))), OrgKey: org, URL: url, Events: events}
	f.list = append(f.list, e)
	return e, "whsec_x", nil
}

func (f *fakeWebhooks) Webhooks(_ context.Context, org string) ([]aiproxy.WebhookEndpoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []aiproxy.WebhookEndpoint
	for _, e := range f.list {
		if e.OrgKey == org {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeWebhooks) DeleteWebhook(_ context.Context, org, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.list)
	f.list = slices.DeleteFunc(f.list, func(e aiproxy.WebhookEndpoint) bool { return e.OrgKey == org && e.ID == id })
	if len(f.list) == n {
		return aiproxy.Errorf(aiproxy.CodeNotFound, "Webhook endpoint %q not found.", id)
	}
	return nil
}

func (f *fakeWebhooks) Deliveries(context.Context, aiproxy.DeliveryFilter) ([]aiproxy.WebhookDelivery, error) {
	return nil, nil
}

func (f *fakeWebhooks) endpoints() []aiproxy.WebhookEndpoint {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.list)
}

package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/client"
)

// startVideo starts a HeyGen render through the client and returns its
// video id.
func startVideo(t *testing.T, c *client.Client, text string) string {
	t.Helper()
	id, err := c.HeyGen().GenerateVideo(context.Background(),
		client.AvatarVideo("Abigail_expressive_2024112501", "f38a635bee7a4d1f9b0a654a31d050d2", text))
	if err != nil {
		t.Fatalf("generate %q: %v", text, err)
	}
	return id
}

// TestJobs lists, reads and waits for jobs against a real server with job
// tracking: the filters, the cursor, the long poll until the render ends,
// and a member who sees only its own user's jobs.
func TestJobs(t *testing.T) {
	s := startServerWith(t, true)
	org := s.client(t)
	ctx := context.Background()

	empty, err := org.Jobs(ctx, client.JobFilter{})
	if err != nil || empty.Jobs == nil || len(empty.Jobs) != 0 || empty.NextCursor != "" {
		t.Fatalf("no jobs yet = %+v, %v; want an empty page", empty, err)
	}
	forAlice := startVideo(t, org.WithUser("alice"), "Alice's video.")
	startVideo(t, org, "The org's first.")
	startVideo(t, org, "The org's second.")

	first, err := org.Jobs(ctx, client.JobFilter{Limit: 2})
	if err != nil || len(first.Jobs) != 2 || first.NextCursor == "" {
		t.Fatalf("a page of 2 of 3 jobs = %+v, %v", first, err)
	}
	rest, err := org.Jobs(ctx, client.JobFilter{Limit: 2, Cursor: first.NextCursor})
	if err != nil || len(rest.Jobs) != 1 || rest.NextCursor != "" {
		t.Fatalf("the page after the cursor = %+v, %v", rest, err)
	}
	all := append(first.Jobs, rest.Jobs...)
	if all[0].CreatedAt.Before(all[2].CreatedAt) {
		t.Errorf("not newest first: %v, %v", all[0].CreatedAt, all[2].CreatedAt)
	}
	var alicesJob client.Job
	for _, j := range all {
		if j.Service != "heygen" || j.Action != "generate-video" || j.Org != "demo" || j.Credential.Source != "tenant" ||
			j.Credential.Name != "heygen" || j.ID == "" || j.ProviderJobID == "" || j.Done() {
			t.Errorf("listed %+v", j)
		}
		if j.ProviderJobID == forAlice {
			alicesJob = j
		}
	}
	if alicesJob.User != "alice" {
		t.Fatalf("alice's video's job = %+v, want user alice", alicesJob)
	}
	if page, err := org.Jobs(ctx, client.JobFilter{User: "alice"}); err != nil || len(page.Jobs) != 1 || page.Jobs[0].ID != alicesJob.ID {
		t.Errorf("User alice = %+v, %v", page, err)
	}
	if page, err := org.Jobs(ctx, client.JobFilter{Service: "elevenlabs"}); err != nil || len(page.Jobs) != 0 {
		t.Errorf("Service elevenlabs = %+v, %v", page, err)
	}
	if _, err := org.Jobs(ctx, client.JobFilter{State: "sleeping"}); !errors.Is(err, client.ErrInvalid) {
		t.Errorf("an unknown state = %v, want invalid", err)
	}
	if _, err := org.Jobs(ctx, client.JobFilter{Limit: 201}); !errors.Is(err, client.ErrInvalid) {
		t.Errorf("limit 201 = %v, want invalid", err)
	}

	got, err := org.Job(ctx, alicesJob.ID)
	if err != nil || got.ID != alicesJob.ID || got.User != "alice" || got.ProviderJobID != forAlice {
		t.Fatalf("Job = %+v, %v", got, err)
	}
	if _, err := org.Job(ctx, "job_nope"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("an unknown job = %v, want not found", err)
	}
	for i := 0; i < 20 && !got.Done(); i++ {
		if got, err = org.WaitJob(ctx, got.ID, client.JobWait{Wait: 10 * time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	if got.State != client.JobCompleted || got.ResultURLs["video_url"] == "" || got.CompletedAt == nil {
		t.Fatalf("the waited job = %+v", got)
	}
	// A job that has ended answers a wait at once, whatever it waits for;
	// the wait is asked in whole seconds, rounded up.
	rec := &queryRecorder{}
	recorded, err := client.New(client.Config{URL: s.url, Org: s.org, APIKey: s.key, HTTPClient: &http.Client{Transport: rec}})
	if err != nil {
		t.Fatal(err)
	}
	if again, err := recorded.WaitJob(ctx, got.ID, client.JobWait{Wait: 1500 * time.Millisecond, Since: client.JobPending}); err != nil || again.State != client.JobCompleted {
		t.Errorf("wait on an ended job = %+v, %v", again, err)
	}
	if q := rec.last(); q.Get("wait") != "2" || q.Get("state") != client.JobPending {
		t.Errorf("WaitJob asked %v, want wait=2 and state=pending", q)
	}
	if _, err := org.WaitJob(ctx, got.ID, client.JobWait{Wait: -time.Second}); err == nil {
		t.Error("a negative wait was sent")
	}
	if done, err := org.Jobs(ctx, client.JobFilter{State: client.JobCompleted}); err != nil || !slices.ContainsFunc(done.Jobs, func(j client.Job) bool { return j.ID == got.ID }) {
		t.Errorf("State completed = %+v, %v; want alice's job among them", done, err)
	}

	// A member sees its own user's jobs only, whatever it asks for.
	tok, err := org.MintUserToken(ctx, client.MintUserTokenRequest{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	alice := s.asUser(t, tok.Token)
	for _, f := range []client.JobFilter{{}, {User: "bob"}} {
		page, err := alice.Jobs(ctx, f)
		if err != nil || len(page.Jobs) != 1 || page.Jobs[0].ID != alicesJob.ID {
			t.Errorf("alice's Jobs(%+v) = %+v, %v; want her one job", f, page, err)
		}
	}
	for _, j := range all {
		if _, err := alice.Job(ctx, j.ID); j.User != "alice" && !errors.Is(err, client.ErrNotFound) {
			t.Errorf("alice reads the org's job %s: %v, want not found", j.ID, err)
		}
	}
	// Another org's jobs are refused.
	other, err := client.New(client.Config{URL: s.url, Org: "other", APIKey: s.key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Jobs(ctx, client.JobFilter{}); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("another org's jobs = %v, want forbidden", err)
	}
}

// queryRecorder notes the query of every request it sends.
type queryRecorder struct {
	mu      sync.Mutex
	queries []url.Values
}

func (q *queryRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	q.mu.Lock()
	q.queries = append(q.queries, r.URL.Query())
	q.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (q *queryRecorder) last() url.Values {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.queries) == 0 {
		return nil
	}
	return q.queries[len(q.queries)-1]
}

// hookReceiver is a webhook endpoint on loopback that counts deliveries.
type hookReceiver struct {
	mu sync.Mutex
	n  int
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	h.mu.Lock()
	h.n++
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// TestWebhooks adds, lists and deletes an org's webhook endpoints and reads
// the delivery log of a finished job, and checks that only an org admin
// key may.
func TestWebhooks(t *testing.T) {
	s := startServerWith(t, true)
	org := s.client(t)
	ctx := context.Background()
	hooks := httptest.NewServer(&hookReceiver{})
	t.Cleanup(hooks.Close)

	ep, err := org.AddWebhook(ctx, hooks.URL+"/done", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ep.ID, "whe_") || !strings.HasPrefix(ep.Secret, "whsec_") || ep.Org != "demo" || ep.URL != hooks.URL+"/done" ||
		!slices.Equal(ep.Events, []string{client.EventJobCompleted, client.EventJobFailed}) || ep.CreatedAt.IsZero() {
		t.Fatalf("added %+v", ep)
	}
	all, err := org.AddWebhook(ctx, hooks.URL+"/all", []string{client.EventJobCreated, client.EventJobCompleted})
	if err != nil || !slices.Equal(slices.Sorted(slices.Values(all.Events)), []string{client.EventJobCompleted, client.EventJobCreated}) {
		t.Fatalf("added %+v, %v", all, err)
	}
	if _, err := org.AddWebhook(ctx, hooks.URL, []string{"job.exploded"}); !errors.Is(err, client.ErrInvalid) {
		t.Errorf("an unknown event = %v, want invalid", err)
	}
	list, err := org.Webhooks(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("Webhooks = %+v, %v", list, err)
	}
	for _, e := range list {
		if e.Secret != "" || (e.ID != ep.ID && e.ID != all.ID) {
			t.Errorf("listed %+v: want the two endpoints, without secrets", e)
		}
	}

	id := startVideo(t, org, "Announce me.")
	page, err := org.Jobs(ctx, client.JobFilter{})
	if err != nil || len(page.Jobs) != 1 || page.Jobs[0].ProviderJobID != id {
		t.Fatalf("jobs = %+v, %v", page, err)
	}
	job := page.Jobs[0]
	for i := 0; i < 20 && !job.Done(); i++ {
		if job, err = org.WaitJob(ctx, job.ID, client.JobWait{Wait: 10 * time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	// Three deliveries: job.created to /all, job.completed to both.
	log := waitDelivered(t, org, 3)
	byEndpoint := map[string][]string{}
	for _, d := range log {
		byEndpoint[d.EndpointID] = append(byEndpoint[d.EndpointID], d.EventType)
		if !strings.HasPrefix(d.EventID, "evt_") || d.Attempts != 1 || d.LastStatus != http.StatusNoContent || d.DeliveredAt == nil {
			t.Errorf("delivery %+v", d)
		}
	}
	if !slices.Equal(byEndpoint[ep.ID], []string{client.EventJobCompleted}) || len(byEndpoint[all.ID]) != 2 {
		t.Errorf("deliveries by endpoint = %v", byEndpoint)
	}
	one, err := org.WebhookDeliveries(ctx, client.DeliveryFilter{EndpointID: ep.ID})
	if err != nil || len(one.Deliveries) != 1 || one.Deliveries[0].EndpointID != ep.ID {
		t.Errorf("deliveries to %s = %+v, %v", ep.ID, one, err)
	}
	first, err := org.WebhookDeliveries(ctx, client.DeliveryFilter{Limit: 2})
	if err != nil || len(first.Deliveries) != 2 || first.NextCursor == "" {
		t.Fatalf("a page of 2 of 3 deliveries = %+v, %v", first, err)
	}
	rest, err := org.WebhookDeliveries(ctx, client.DeliveryFilter{Limit: 2, Cursor: first.NextCursor})
	if err != nil || len(rest.Deliveries) != 1 || rest.NextCursor != "" || rest.Deliveries[0].ID == first.Deliveries[1].ID {
		t.Errorf("the page after the cursor = %+v, %v", rest, err)
	}

	// An invoke key reads jobs but may not manage webhooks.
	invoke := s.invokeKey(t)
	if _, err := invoke.Jobs(ctx, client.JobFilter{}); err != nil {
		t.Errorf("an invoke key's Jobs = %v", err)
	}
	refusals := map[string]error{}
	_, refusals["AddWebhook"] = invoke.AddWebhook(ctx, hooks.URL, nil)
	_, refusals["Webhooks"] = invoke.Webhooks(ctx)
	refusals["DeleteWebhook"] = invoke.DeleteWebhook(ctx, ep.ID)
	_, refusals["WebhookDeliveries"] = invoke.WebhookDeliveries(ctx, client.DeliveryFilter{})
	for name, err := range refusals {
		var e *client.Error
		if !errors.As(err, &e) || e.Status != http.StatusForbidden {
			t.Errorf("an invoke key's %s = %v, want 403", name, err)
		}
	}

	if err := org.DeleteWebhook(ctx, ep.ID); err != nil {
		t.Fatal(err)
	}
	if err := org.DeleteWebhook(ctx, ep.ID); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("deleting it again = %v, want not found", err)
	}
	if list, err := org.Webhooks(ctx); err != nil || len(list) != 1 || list[0].ID != all.ID {
		t.Errorf("after the delete, Webhooks = %+v, %v", list, err)
	}
}

// waitDelivered reads the delivery log until n deliveries are delivered.
func waitDelivered(t *testing.T, c *client.Client, n int) []client.WebhookDelivery {
	t.Helper()
	var page client.DeliveryPage
	var err error
	for range 400 {
		page, err = c.WebhookDeliveries(context.Background(), client.DeliveryFilter{})
		if err != nil {
			t.Fatal(err)
		}
		delivered := 0
		for _, d := range page.Deliveries {
			if d.State == "delivered" {
				delivered++
			}
		}
		if delivered == n && len(page.Deliveries) == n {
			return page.Deliveries
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the delivery log never held %d delivered deliveries: %+v", n, page.Deliveries)
	return nil
}

// invokeKey creates an invoke key of the org over the API and returns a
// client with it.
func (s *server) invokeKey(t *testing.T) *client.Client {
	t.Helper()
	var key struct {
		Key string `json:"key"`
	}
	s.rawJSON(t, "POST", "/api/ai-proxy/orgs/demo/keys/", `{"name":"invoke only","role":"invoke"}`, http.StatusCreated, &key)
	c, err := client.New(client.Config{URL: s.url, Org: s.org, APIKey: key.Key})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rawJSON sends a request with the org's key and decodes its JSON answer.
func (s *server) rawJSON(t *testing.T, method, path, body string, want int, out any) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Api-Key "+s.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != want {
		t.Fatalf("%s %s = %d %s, %v", method, path, resp.StatusCode, data, err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("%s %s: %v: %s", method, path, err, data)
	}
}

// TestJobTypesHoldEveryMember checks that the client's job, endpoint and
// delivery types have a field for every member the server sends, so that
// nothing the API says is lost on the way.
func TestJobTypesHoldEveryMember(t *testing.T) {
	s := startServerWith(t, true)
	org := s.client(t)
	hooks := httptest.NewServer(&hookReceiver{})
	t.Cleanup(hooks.Close)
	if _, err := org.AddWebhook(context.Background(), hooks.URL, []string{client.EventJobCreated}); err != nil {
		t.Fatal(err)
	}
	startVideo(t, org, "Members.")
	waitDelivered(t, org, 1)

	var jobs struct {
		Jobs []map[string]any `json:"jobs"`
	}
	s.rawJSON(t, "GET", "/api/ai-proxy/orgs/demo/jobs/", "", 200, &jobs)
	var endpoints []map[string]any
	s.rawJSON(t, "GET", "/api/ai-proxy/orgs/demo/webhooks/", "", 200, &endpoints)
	var log struct {
		Deliveries []map[string]any `json:"deliveries"`
	}
	s.rawJSON(t, "GET", "/api/ai-proxy/orgs/demo/webhook-deliveries/", "", 200, &log)
	for _, c := range []struct {
		name string
		sent []map[string]any
		typ  reflect.Type
	}{
		{"job", jobs.Jobs, reflect.TypeFor[client.Job]()},
		{"webhook endpoint", endpoints, reflect.TypeFor[client.WebhookEndpoint]()},
		{"delivery", log.Deliveries, reflect.TypeFor[client.WebhookDelivery]()},
	} {
		if len(c.sent) != 1 {
			t.Fatalf("the server sent %d of %s", len(c.sent), c.name)
		}
		fields := map[string]bool{}
		for i := range c.typ.NumField() {
			name, _, _ := strings.Cut(c.typ.Field(i).Tag.Get("json"), ",")
			fields[name] = true
		}
		for member := range c.sent[0] {
			if !fields[member] {
				t.Errorf("client.%s has no field for the %s's %q", c.typ.Name(), c.name, member)
			}
		}
	}
}

package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// JobStores is what an engine provides for async jobs. Like GuardrailStores
// it is asserted rather than required by Stores, so that an engine in
// progress compiles and fails these subtests by name.
type JobStores interface {
	Stores
	aiproxy.JobStore
	aiproxy.WebhookStore
	aiproxy.IdempotencyStore
}

func jobStores(t *testing.T, open func(t *testing.T) Stores) JobStores {
	t.Helper()
	s, ok := open(t).(JobStores)
	if !ok {
		t.Fatal("the store does not implement aiproxy.JobStore, WebhookStore and IdempotencyStore")
	}
	return s
}

func runJobs(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("CreateThenGet", func(t *testing.T) { testJobRoundTrip(t, jobStores(t, open)) })
	t.Run("ProviderIDIsUnique", func(t *testing.T) { testJobProviderIDUnique(t, jobStores(t, open)) })
	t.Run("UpdateChecksVersion", func(t *testing.T) { testJobVersion(t, jobStores(t, open)) })
	t.Run("DueJobs", func(t *testing.T) { testDueJobs(t, jobStores(t, open)) })
	t.Run("ListFilterAndPages", func(t *testing.T) { testJobList(t, jobStores(t, open)) })
	t.Run("ListOneUser", func(t *testing.T) { testJobListUser(t, jobStores(t, open)) })
	t.Run("EventsQueueDeliveries", func(t *testing.T) { testEventsAndOutbox(t, jobStores(t, open)) })
	t.Run("WebhookEndpointsBelongToOrg", func(t *testing.T) { testWebhookEndpoints(t, jobStores(t, open)) })
	t.Run("Idempotency", func(t *testing.T) { testIdempotency(t, jobStores(t, open)) })
	t.Run("ProviderWebhooksSeenOnce", func(t *testing.T) { testProviderWebhooks(t, jobStores(t, open)) })
	t.Run("DetailsRoundTrip", func(t *testing.T) { testJobDetails(t, jobStores(t, open)) })
	t.Run("ListSearch", func(t *testing.T) { testJobSearch(t, jobStores(t, open)) })
	t.Run("EventsOfJob", func(t *testing.T) { testEventsOfJob(t, jobStores(t, open)) })
	t.Run("Totals", func(t *testing.T) { testJobTotals(t, jobStores(t, open)) })
}

func newJob(org, id, providerID string, created time.Time) aiproxy.Job {
	return aiproxy.Job{
		ID: id, OrgKey: org, Service: "heygen", Action: "generate-video", StatusAction: "video-status",
		ProviderJobID: providerID, Source: aiproxy.SourcePlatform, CredentialName: "heygen",
		State: aiproxy.JobPending, ResultURLs: map[string]string{}, CreatedAt: created, UpdatedAt: created,
		NextCheckAt: created, DeadlineAt: created.Add(time.Hour),
	}
}

func newEvent(j aiproxy.Job, typ string) aiproxy.JobEvent {
	return aiproxy.JobEvent{ID: fmt.Sprintf("evt_%s_%s_%d", j.ID, typ, j.Version), OrgKey: j.OrgKey, JobID: j.ID,
		Type: typ, Data: []byte(`{"type":"` + typ + `"}`), CreatedAt: j.UpdatedAt}
}

func mustCreateJob(ctx context.Context, t *testing.T, s JobStores, j aiproxy.Job) aiproxy.Job {
	t.Helper()
	if err := s.CreateJob(ctx, j, newEvent(j, aiproxy.EventJobCreated), nil); err != nil {
		t.Fatalf("CreateJob(%s): %v", j.ID, err)
	}
	got, err := s.Job(ctx, j.ID)
	if err != nil {
		t.Fatalf("Job(%s): %v", j.ID, err)
	}
	return got
}

func testJobRoundTrip(t *testing.T, s JobStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	j := newJob("acme", "job_1", "vid1", at(0))
	j.Source, j.CredentialOrg = aiproxy.SourceTenant, "acme"
	j.StatusBody, j.CallbackID, j.IdempotencyKey = []byte(`{"code":100}`), "cb-1", "idem-1"
	j.ResultURLs = map[string]string{"video_url": "https://x/v.mp4"}
	j.User, j.KeyID, j.CredentialKeyID = "alice@example.com", "key_1", "k2"
	got := mustCreateJob(ctx, t, s, j)
	if got.Version != 1 || got.Source != aiproxy.SourceTenant || got.CredentialOrg != "acme" ||
		got.User != "alice@example.com" || got.KeyID != "key_1" || got.CredentialKeyID != "k2" ||
		string(got.StatusBody) != `{"code":100}` || got.ResultURLs["video_url"] != "https://x/v.mp4" ||
		got.CallbackID != "cb-1" || got.IdempotencyKey != "idem-1" || !sameTime(got.CreatedAt, at(0)) ||
		!sameTime(got.DeadlineAt, at(60)) || !got.CompletedAt.IsZero() {
		t.Fatalf("Job = %+v", got)
	}
	byProvider, err := s.JobByProviderID(ctx, "heygen", "vid1")
	if err != nil || byProvider.ID != "job_1" || byProvider.User != "alice@example.com" || byProvider.KeyID != "key_1" ||
		byProvider.CredentialKeyID != "k2" {
		t.Fatalf("JobByProviderID = %+v, %v", byProvider, err)
	}
	if _, err := s.JobByProviderID(ctx, "elevenlabs", "vid1"); !errors.Is(err, aiproxy.ErrNotFound) {
		t.Fatalf("JobByProviderID(other service) error = %v, want ErrNotFound", err)
	}
	if _, err := s.Job(ctx, "job_2"); !errors.Is(err, aiproxy.ErrNotFound) {
		t.Fatalf("Job(unknown) error = %v, want ErrNotFound", err)
	}
	err = s.CreateJob(ctx, newJob("ghost", "job_3", "vid3", at(0)), newEvent(newJob("ghost", "job_3", "", at(0)), aiproxy.EventJobCreated), nil)
	if !errors.Is(err, aiproxy.ErrNotFound) {
		t.Fatalf("CreateJob(unknown org) error = %v, want ErrNotFound", err)
	}
}

func testJobProviderIDUnique(t *testing.T, s JobStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	mustCreateOrg(ctx, t, s, "beta")
	mustCreateJob(ctx, t, s, newJob("acme", "job_1", "vid1", at(0)))
	j := newJob("beta", "job_2", "vid1", at(1))
	if err := s.CreateJob(ctx, j, newEvent(j, aiproxy.EventJobCreated), nil); !errors.Is(err, aiproxy.ErrConflict) {
		t.Fatalf("CreateJob(same provider id) error = %v, want ErrConflict", err)
	}
	if _, err := s.Job(ctx, "job_2"); !errors.Is(err, aiproxy.ErrNotFound) {
		t.Fatalf("a refused job was stored: %v", err)
	}
}

func testJobVersion(t *testing.T, s JobStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	created := newJob("acme", "job_1", "vid1", at(0))
	created.User, created.KeyID = "bob", "key_2"
	j := mustCreateJob(ctx, t, s, created)
	stale := j
	j.State, j.ProviderStatus, j.UpdatedAt, j.CompletedAt = aiproxy.JobCompleted, "completed", at(5), at(5)
	j.StatusBody, j.ResultURLs = []byte(`{"done":true}`), map[string]string{"video_url": "u"}
	ev := newEvent(j, aiproxy.EventJobCompleted)
	if err := s.UpdateJob(ctx, j, &ev); err != nil {
		t.Fatalf("UpdateJob: %v", err)
	}
	stale.Error = "late writer"
	if err := s.UpdateJob(ctx, stale, nil); !errors.Is(err, aiproxy.ErrConflict) {
		t.Fatalf("UpdateJob(stale) error = %v, want ErrConflict", err)
	}
	got, _ := s.Job(ctx, "job_1")
	if got.Version != 2 || got.State != aiproxy.JobCompleted || got.Error != "" || got.ResultURLs["video_url"] != "u" ||
		!sameTime(got.CompletedAt, at(5)) || got.User != "bob" || got.KeyID != "key_2" {
		t.Fatalf("Job after update = %+v", got)
	}
	evs, _ := s.JobEvents(ctx, "acme", 0, 10)
	if len(evs) != 2 || evs[1].Type != aiproxy.EventJobCompleted || evs[0].Seq >= evs[1].Seq {
		t.Fatalf("events = %+v", evs)
	}
}

func testDueJobs(t *testing.T, s JobStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	for i, st := range []aiproxy.JobState{aiproxy.JobPending, aiproxy.JobProcessing, aiproxy.JobCompleted, aiproxy.JobFailed} {
		j := newJob("acme", fmt.Sprintf("job_%d", i), fmt.Sprintf("vid%d", i), at(0))
		j.State, j.NextCheckAt = st, at(i)
		mustCreateJob(ctx, t, s, j)
	}
	late := newJob("acme", "job_late", "vidlate", at(0))
	late.NextCheckAt = at(30)
	mustCreateJob(ctx, t, s, late)
	due, err := s.DueJobs(ctx, at(10), 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range due {
		ids = append(ids, j.ID)
	}
	checkStrings(t, "due jobs", ids, []string{"job_0", "job_1"})
}

func testJobList(t *testing.T, s JobStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	mustCreateOrg(ctx, t, s, "beta")
	for i := range 5 {
		j := newJob("acme", fmt.Sprintf("job_a%d", i), fmt.Sprintf("a%d", i), at(i/2)) // ties in time
		if i == 4 {
			j.State = aiproxy.JobCompleted
		}
		mustCreateJob(ctx, t, s, j)
	}
	mustCreateJob(ctx, t, s, newJob("beta", "job_b0", "b0", at(9)))

	var seen []string
	var before *aiproxy.JobCursor
	for range 4 {
		page, err := s.Jobs(ctx, aiproxy.JobFilter{OrgKey: "acme", Limit: 2, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, j := range page {
			seen = append(seen, j.ID)
		}
		last := page[len(page)-1]
		before = &aiproxy.JobCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	checkStrings(t, "pages", seen, []string{"job_a4", "job_a3", "job_a2", "job_a1", "job_a0"})
	done, _ := s.Jobs(ctx, aiproxy.JobFilter{OrgKey: "acme", State: aiproxy.JobCompleted})
	if len(done) != 1 || done[0].ID != "job_a4" {
		t.Fatalf("state filter = %v", done)
	}
	other, _ := s.Jobs(ctx, aiproxy.JobFilter{OrgKey: "beta", Service: "heygen", Action: "generate-video"})
	if len(other) != 1 || other[0].ID != "job_b0" {
		t.Fatalf("beta's jobs = %v", other)
	}
}

// testJobListUser lists an org's jobs of one user: only that user's of
// that org, newest first, in pages, with the other filters.
func testJobListUser(t *testing.T, s JobStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	mustCreateOrg(ctx, t, s, "beta")
	for i, c := range []struct {
		org, user string
		minute    int
	}{
		{"acme", "alice", 0}, {"acme", "bob", 1}, {"acme", "alice", 2}, {"acme", "", 3},
		{"acme", "alice", 2}, {"beta", "alice", 4}, {"acme", "alice2", 5},
	} {
		j := newJob(c.org, fmt.Sprintf("job_u%d", i), fmt.Sprintf("u%d", i), at(c.minute))
		j.User = c.user
		if i == 2 {
			j.State = aiproxy.JobCompleted
		}
		mustCreateJob(ctx, t, s, j)
	}
	list := func(f aiproxy.JobFilter) []string {
		t.Helper()
		jobs, err := s.Jobs(ctx, f)
		if err != nil {
			t.Fatalf("Jobs(%+v): %v", f, err)
		}
		var ids []string
		for _, j := range jobs {
			if j.OrgKey != f.OrgKey || (f.User != "" && j.User != f.User) {
				t.Fatalf("Jobs(%+v) returned %s of %s/%s", f, j.ID, j.OrgKey, j.User)
			}
			ids = append(ids, j.ID)
		}
		return ids
	}
	checkStrings(t, "acme's jobs of alice", list(aiproxy.JobFilter{OrgKey: "acme", User: "alice"}),
		[]string{"job_u4", "job_u2", "job_u0"})
	checkStrings(t, "acme's jobs", list(aiproxy.JobFilter{OrgKey: "acme"}),
		[]string{"job_u6", "job_u3", "job_u4", "job_u2", "job_u1", "job_u0"})
	checkStrings(t, "acme's completed jobs of alice",
		list(aiproxy.JobFilter{OrgKey: "acme", User: "alice", State: aiproxy.JobCompleted}), []string{"job_u2"})
	checkStrings(t, "beta's jobs of alice", list(aiproxy.JobFilter{OrgKey: "beta", User: "alice"}), []string{"job_u5"})
	checkStrings(t, "beta's jobs of bob", list(aiproxy.JobFilter{OrgKey: "beta", User: "bob"}), nil)
	checkStrings(t, "acme's jobs of ALICE", list(aiproxy.JobFilter{OrgKey: "acme", User: "ALICE"}), nil)

	var pages []string
	var before *aiproxy.JobCursor
	for range 5 {
		page, err := s.Jobs(ctx, aiproxy.JobFilter{OrgKey: "acme", User: "alice", Limit: 1, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		pages = append(pages, page[0].ID)
		before = &aiproxy.JobCursor{CreatedAt: page[0].CreatedAt, ID: page[0].ID}
	}
	checkStrings(t, "pages of alice's jobs", pages, []string{"job_u4", "job_u2", "job_u0"})
}

func mustEndpoint(ctx context.Context, t *testing.T, s JobStores, org, id string, events ...string) {
	t.Helper()
	e := aiproxy.WebhookEndpoint{ID: id, OrgKey: org, URL: "https://hooks.example/" + id, Sealed: []byte{1},
		Events: events, CreatedAt: at(0)}
	if err := s.CreateWebhookEndpoint(ctx, e); err != nil {
		t.Fatalf("CreateWebhookEndpoint: %v", err)
	}
}

func testEventsAndOutbox(t *testing.T, s JobStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	mustCreateOrg(ctx, t, s, "beta")
	mustEndpoint(ctx, t, s, "acme", "whe_all", aiproxy.EventJobCreated, aiproxy.EventJobCompleted)
	mustEndpoint(ctx, t, s, "acme", "whe_done", aiproxy.EventJobCompleted)
	mustEndpoint(ctx, t, s, "beta", "whe_beta", aiproxy.EventJobCreated, aiproxy.EventJobCompleted)
	j := mustCreateJob(ctx, t, s, newJob("acme", "job_1", "vid1", at(0)))
	j.State, j.UpdatedAt = aiproxy.JobCompleted, at(2)
	ev := newEvent(j, aiproxy.EventJobCompleted)
	if err := s.UpdateJob(ctx, j, &ev); err != nil {
		t.Fatal(err)
	}
	due, err := s.DueDeliveries(ctx, at(5), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 3 {
		t.Fatalf("due deliveries = %+v, want created→whe_all, completed→whe_all and whe_done", due)
	}
	for _, d := range due {
		if d.OrgKey != "acme" || d.EndpointID == "whe_beta" || d.State != aiproxy.DeliveryPending {
			t.Fatalf("delivery %+v leaked or is wrong", d)
		}
	}
	d := due[0]
	d.State, d.Attempts, d.LastStatus, d.DeliveredAt, d.UpdatedAt = aiproxy.DeliveryDelivered, 1, 200, at(6), at(6)
	if err := s.UpdateDelivery(ctx, d); err != nil {
		t.Fatal(err)
	}
	if left, _ := s.DueDeliveries(ctx, at(10), 10); len(left) != 2 {
		t.Fatalf("due after one delivery = %d, want 2", len(left))
	}
	log, _ := s.Deliveries(ctx, aiproxy.DeliveryFilter{OrgKey: "acme"})
	if len(log) != 3 {
		t.Fatalf("acme's log = %+v", log)
	}
	first, _ := s.Deliveries(ctx, aiproxy.DeliveryFilter{OrgKey: "acme", Limit: 1})
	rest, _ := s.Deliveries(ctx, aiproxy.DeliveryFilter{OrgKey: "acme", BeforeID: first[0].ID})
	if len(first) != 1 || len(rest) != 2 {
		t.Fatalf("log pages = %d + %d, want 1 + 2", len(first), len(rest))
	}
	if b, _ := s.Deliveries(ctx, aiproxy.DeliveryFilter{OrgKey: "beta"}); len(b) != 0 {
		t.Fatalf("beta sees %+v", b)
	}
	if evs, _ := s.JobEvents(ctx, "beta", 0, 10); len(evs) != 0 {
		t.Fatalf("beta sees events %+v", evs)
	}
	got, err := s.JobEvent(ctx, ev.ID)
	if err != nil || got.JobID != "job_1" || string(got.Data) != string(ev.Data) {
		t.Fatalf("JobEvent = %+v, %v", got, err)
	}
}

func testWebhookEndpoints(t *testing.T, s JobStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	mustCreateOrg(ctx, t, s, "beta")
	mustEndpoint(ctx, t, s, "acme", "whe_1", aiproxy.EventJobCompleted)
	got, err := s.WebhookEndpoint(ctx, "acme", "whe_1")
	if err != nil || got.URL != "https://hooks.example/whe_1" || len(got.Events) != 1 || string(got.Sealed) != "\x01" {
		t.Fatalf("WebhookEndpoint = %+v, %v", got, err)
	}
	if _, err := s.WebhookEndpoint(ctx, "beta", "whe_1"); !errors.Is(err, aiproxy.ErrNotFound) {
		t.Fatalf("beta reads acme's endpoint: %v", err)
	}
	if err := s.DeleteWebhookEndpoint(ctx, "beta", "whe_1"); !errors.Is(err, aiproxy.ErrNotFound) {
		t.Fatalf("beta deletes acme's endpoint: %v", err)
	}
	if list, _ := s.WebhookEndpoints(ctx, "beta"); len(list) != 0 {
		t.Fatalf("beta lists %v", list)
	}
	if err := s.DeleteWebhookEndpoint(ctx, "acme", "whe_1"); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.WebhookEndpoints(ctx, "acme"); len(list) != 0 {
		t.Fatalf("after delete: %v", list)
	}
	err = s.CreateWebhookEndpoint(ctx, aiproxy.WebhookEndpoint{ID: "whe_x", OrgKey: "ghost", URL: "u", Sealed: []byte{1}})
	if !errors.Is(err, aiproxy.ErrNotFound) {
		t.Fatalf("endpoint of unknown org: %v", err)
	}
}

func testIdempotency(t *testing.T, s JobStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	rec := aiproxy.IdempotencyRecord{OrgKey: "acme", Key: "k1", Fingerprint: "f1", CreatedAt: at(0),
		LockedUntil: at(1), ExpiresAt: at(60)}
	held, claimed, err := s.ClaimIdempotency(ctx, rec, at(0))
	if err != nil || !claimed || held.State != aiproxy.IdempotencyStarted {
		t.Fatalf("first claim = %+v, %v, %v", held, claimed, err)
	}
	other := rec
	other.Fingerprint = "f2"
	held, claimed, err = s.ClaimIdempotency(ctx, other, at(0))
	if err != nil || claimed || held.Fingerprint != "f1" || !sameTime(held.LockedUntil, at(1)) {
		t.Fatalf("second claim = %+v, %v, %v", held, claimed, err)
	}
	if err := s.ReleaseIdempotency(ctx, "acme", "k1"); err != nil {
		t.Fatal(err)
	}
	if _, claimed, _ := s.ClaimIdempotency(ctx, rec, at(0)); !claimed {
		t.Fatal("a released key could not be claimed again")
	}
	done := rec
	done.Status, done.ContentType, done.Body, done.JobID = 200, "application/json", []byte(`{"ok":1}`), "job_1"
	if err := s.CompleteIdempotency(ctx, done); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseIdempotency(ctx, "acme", "k1"); err != nil {
		t.Fatal(err)
	}
	held, claimed, _ = s.ClaimIdempotency(ctx, rec, at(30))
	if claimed || held.State != aiproxy.IdempotencyDone || string(held.Body) != `{"ok":1}` || held.JobID != "job_1" ||
		held.Status != 200 || held.ContentType != "application/json" {
		t.Fatalf("done record = %+v, claimed %v", held, claimed)
	}
	if _, claimed, _ := s.ClaimIdempotency(ctx, other, at(61)); !claimed {
		t.Fatal("an expired record was not replaced")
	}
	beta := rec
	beta.OrgKey = "beta"
	if _, claimed, _ := s.ClaimIdempotency(ctx, beta, at(0)); !claimed {
		t.Fatal("keys are per org, but beta could not claim acme's key")
	}
}

func testProviderWebhooks(t *testing.T, s JobStores) {
	ctx := t.Context()
	for i, want := range []bool{true, false} {
		first, err := s.RecordProviderWebhook(ctx, "heygen", "evt-1", at(i))
		if err != nil || first != want {
			t.Fatalf("RecordProviderWebhook #%d = %v, %v; want %v", i+1, first, err, want)
		}
	}
	if first, _ := s.RecordProviderWebhook(ctx, "other", "evt-1", at(0)); !first {
		t.Fatal("event ids are per service")
	}
}

func testJobDetails(t *testing.T, s JobStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	j := newJob("acme", "job_1", "vid1", at(0))
	j.Details = aiproxy.JobDetails{Title: "Ünïcode launch", Script: "Hello there", AvatarID: "av_1", VoiceID: "vo_1"}
	got := mustCreateJob(ctx, t, s, j)
	if got.Details != j.Details {
		t.Fatalf("details after create = %+v, want %+v", got.Details, j.Details)
	}
	listed, err := s.Jobs(ctx, aiproxy.JobFilter{OrgKey: "acme"})
	if err != nil || len(listed) != 1 || listed[0].Details != j.Details {
		t.Fatalf("Jobs = %+v, %v; want the job with its details", listed, err)
	}
	got.Details.DurationSeconds, got.Details.ThumbnailURL = 12.5, "https://x/thumb.png"
	got.State, got.UpdatedAt = aiproxy.JobCompleted, at(1)
	if err := s.UpdateJob(ctx, got, nil); err != nil {
		t.Fatal(err)
	}
	after, err := s.Job(ctx, "job_1")
	if err != nil {
		t.Fatal(err)
	}
	if after.Details != got.Details {
		t.Fatalf("details after update = %+v, want %+v", after.Details, got.Details)
	}
	plain := mustCreateJob(ctx, t, s, newJob("acme", "job_2", "vid2", at(2)))
	if plain.Details != (aiproxy.JobDetails{}) {
		t.Fatalf("a job without details reads back %+v", plain.Details)
	}
}

func testJobSearch(t *testing.T, s JobStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	mustCreateOrg(ctx, t, s, "beta")
	mk := func(org, id string, minute int, d aiproxy.JobDetails) {
		j := newJob(org, id, "p_"+id, at(minute))
		j.Details = d
		mustCreateJob(ctx, t, s, j)
	}
	mk("acme", "job_a", 0, aiproxy.JobDetails{Title: "Spring LAUNCH", AvatarID: "av_1"})
	mk("acme", "job_b", 10, aiproxy.JobDetails{Title: "Onboarding", Script: "Welcome to the launch party", AvatarID: "av_2"})
	mk("acme", "job_c", 20, aiproxy.JobDetails{Title: "Weekly news", Script: "Nothing new", AvatarID: "av_1"})
	mk("acme", "job_d", 30, aiproxy.JobDetails{Title: "100% done_ok"})
	mk("beta", "job_e", 15, aiproxy.JobDetails{Title: "launch", AvatarID: "av_1"})
	ids := func(f aiproxy.JobFilter) string {
		t.Helper()
		f.OrgKey = "acme"
		list, err := s.Jobs(ctx, f)
		if err != nil {
			t.Fatalf("Jobs(%+v): %v", f, err)
		}
		var out []string
		for _, j := range list {
			out = append(out, j.ID)
		}
		return fmt.Sprint(out)
	}
	cases := []struct {
		name string
		f    aiproxy.JobFilter
		want string
	}{
		{"query matches title or script, any case", aiproxy.JobFilter{Query: "launch"}, "[job_b job_a]"},
		{"query is a substring, not a pattern", aiproxy.JobFilter{Query: "%"}, "[job_d]"},
		{"underscore is literal", aiproxy.JobFilter{Query: "e_o"}, "[job_d]"},
		{"query without match", aiproxy.JobFilter{Query: "zebra"}, "[]"},
		{"avatar", aiproxy.JobFilter{AvatarID: "av_1"}, "[job_c job_a]"},
		{"from inclusive", aiproxy.JobFilter{From: at(10)}, "[job_d job_c job_b]"},
		{"to exclusive", aiproxy.JobFilter{To: at(20)}, "[job_b job_a]"},
		{"from and to and avatar", aiproxy.JobFilter{From: at(5), To: at(25), AvatarID: "av_1"}, "[job_c]"},
		{"query and paging", aiproxy.JobFilter{Query: "launch", Limit: 1, Before: &aiproxy.JobCursor{CreatedAt: at(10), ID: "job_b"}}, "[job_a]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ids(c.f); got != c.want {
				t.Fatalf("jobs = %s, want %s", got, c.want)
			}
		})
	}
}

func testEventsOfJob(t *testing.T, s JobStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	j := mustCreateJob(ctx, t, s, newJob("acme", "job_1", "vid1", at(0)))
	mustCreateJob(ctx, t, s, newJob("acme", "job_2", "vid2", at(1)))
	for i, st := range []aiproxy.JobState{aiproxy.JobProcessing, aiproxy.JobCompleted} {
		j.State, j.UpdatedAt = st, at(2+i)
		ev := newEvent(j, "job."+string(st))
		if err := s.UpdateJob(ctx, j, &ev); err != nil {
			t.Fatal(err)
		}
		j.Version++
	}
	evs, err := s.EventsOfJob(ctx, "job_1", 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range evs {
		if ev.JobID != "job_1" || ev.OrgKey != "acme" {
			t.Fatalf("event %+v is not job_1's", ev)
		}
		types = append(types, ev.Type)
	}
	if got := fmt.Sprint(types); got != "[job.created job.processing job.completed]" {
		t.Fatalf("events = %s, want created, processing, completed in order", got)
	}
	if !evs[0].CreatedAt.Equal(at(0)) || string(evs[0].Data) != `{"type":"job.created"}` {
		t.Fatalf("first event = %+v", evs[0])
	}
	if two, err := s.EventsOfJob(ctx, "job_1", 2); err != nil || len(two) != 2 || two[1].Type != "job.processing" {
		t.Fatalf("EventsOfJob(limit 2) = %+v, %v", two, err)
	}
	if none, err := s.EventsOfJob(ctx, "job_none", 0); err != nil || len(none) != 0 {
		t.Fatalf("EventsOfJob(unknown) = %+v, %v; want none", none, err)
	}
}

package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/diskfile"
)

// sampleStart is a job start with every field set.
func sampleStart(provider string) spoolEntry {
	at := time.Date(2026, 5, 1, 9, 0, 0, 123e6, time.UTC)
	j := aiproxy.Job{ID: "job_" + provider, OrgKey: "acme", Service: "heygen", Action: "generate-video",
		StatusAction: "video-status", ProviderJobID: provider, Source: aiproxy.SourceTenant, CredentialOrg: "acme",
		CredentialName: "heygen", State: aiproxy.JobPending, ProviderStatus: "waiting",
		ResultURLs: map[string]string{"video_url": "https://x"}, Error: "e", StatusBody: []byte(`{"a":1}`),
		CallbackID: "cb", IdempotencyKey: "k", CreatedAt: at, UpdatedAt: at.Add(time.Second),
		CompletedAt: at.Add(2 * time.Second), CheckedAt: at.Add(3 * time.Second), NextCheckAt: at.Add(4 * time.Second),
		DeadlineAt: at.Add(time.Hour), URLsExpireAt: at.Add(2 * time.Hour), Attempts: 2,
		Details: aiproxy.JobDetails{Title: "t", Script: "s", AvatarID: "a", VoiceID: "v", DurationSeconds: 1.5, ThumbnailURL: "https://x/t"}}
	return spoolEntry{job: j, event: newEvent(j, aiproxy.EventJobCreated, at),
		idem: &aiproxy.IdempotencyRecord{OrgKey: "acme", Key: "k", Fingerprint: "fp", State: aiproxy.IdempotencyDone,
			Status: 200, ContentType: "application/json", Body: []byte(`{"data":{}}`), JobID: j.ID, CreatedAt: at,
			LockedUntil: at.Add(time.Minute), ExpiresAt: at.Add(24 * time.Hour)}}
}

// TestSpoolKeepsEveryField writes starts and reads them back: every field
// of the job, its event and its key survives, oldest first; a temporary
// file of an interrupted write is removed; a broken file is reported and
// left for an operator.
func TestSpoolKeepsEveryField(t *testing.T) {
	dir := t.TempDir()
	s := spool{dir: dir}
	newer, older := sampleStart("v2"), sampleStart("v1")
	newer.job.CreatedAt = newer.job.CreatedAt.Add(time.Minute)
	older.idem = nil
	for _, e := range []spoolEntry{newer, older} {
		if err := s.put(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, diskfile.TempPrefix+"half"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken"+spoolExt), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, errs := s.load()
	if len(errs) != 1 || len(got) != 2 {
		t.Fatalf("load = %d entries, errors %v; want 2 and the broken file", len(got), errs)
	}
	snap := (&SpooledStore{held: map[string]heldStart{got[0].key(): {entry: got[0]}, got[1].key(): {entry: got[1]}}}).snapshot()
	if snap[0].entry.job.ProviderJobID != "v1" {
		t.Fatalf("oldest start is %s, want v1", snap[0].entry.job.ProviderJobID)
	}
	for _, want := range []spoolEntry{older, newer} {
		var e spoolEntry
		for _, g := range got {
			if g.job.ProviderJobID == want.job.ProviderJobID {
				e = g
			}
		}
		if !reflect.DeepEqual(e.job, want.job) || !reflect.DeepEqual(e.event, want.event) || !reflect.DeepEqual(e.idem, want.idem) {
			t.Fatalf("read back\n%+v\n%+v\n%+v\nwant\n%+v\n%+v\n%+v", e.job, e.event, e.idem, want.job, want.event, want.idem)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, diskfile.TempPrefix+"half")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the temporary file is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "broken"+spoolExt)); err != nil {
		t.Fatalf("the broken file was not left in place: %v", err)
	}
	if err := s.remove(older); err != nil {
		t.Fatal(err)
	}
	if err := s.remove(older); err != nil {
		t.Fatalf("removing a start twice: %v", err)
	}
}

// flakyStore is a Store whose CreateJob answers from a script, then
// records.
type flakyStore struct {
	Store
	mu      sync.Mutex
	answers []error
	created []string
	release []string
}

func (f *flakyStore) CreateJob(_ context.Context, j aiproxy.Job, _ aiproxy.JobEvent, _ *aiproxy.IdempotencyRecord) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.answers) > 0 {
		err := f.answers[0]
		f.answers = f.answers[1:]
		if err != nil {
			return err
		}
	}
	f.created = append(f.created, j.ProviderJobID)
	return nil
}

func (f *flakyStore) ReleaseIdempotency(_ context.Context, org, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.answers) > 0 {
		err := f.answers[0]
		f.answers = f.answers[1:]
		if err != nil {
			return err
		}
	}
	f.release = append(f.release, key)
	return nil
}

var errDown = fmt.Errorf("%w: connection refused", aiproxy.ErrUnavailable)

func TestSpooledCreateJob(t *testing.T) {
	n := 0
	create := func(s *SpooledStore, provider string) error {
		e := sampleStart(provider)
		n++ // each start a minute after the one before
		e.job.CreatedAt = e.job.CreatedAt.Add(time.Duration(n) * time.Minute)
		return s.CreateJob(context.Background(), e.job, e.event, e.idem)
	}
	t.Run("retried while the client waits", func(t *testing.T) {
		st := &flakyStore{answers: []error{errDown, errors.New("conn closed")}}
		s := NewSpooledStore(st, SpoolConfig{Dir: t.TempDir(), Retry: time.Second})
		if err := create(s, "v1"); err != nil || len(st.created) != 1 {
			t.Fatalf("CreateJob = %v, created %v", err, st.created)
		}
		if onDisk, inMemory := s.Held(); onDisk+inMemory != 0 {
			t.Fatalf("a start the database took on a retry is held: %d/%d", onDisk, inMemory)
		}
	})
	t.Run("a conflict after a failed attempt is the start recorded", func(t *testing.T) {
		st := &flakyStore{answers: []error{errDown, fmt.Errorf("create job: %w", aiproxy.ErrConflict)}}
		s := NewSpooledStore(st, SpoolConfig{Dir: t.TempDir(), Retry: time.Second})
		if err := create(s, "v1"); err != nil {
			t.Fatalf("CreateJob = %v, want nil", err)
		}
		st = &flakyStore{answers: []error{fmt.Errorf("create job: %w", aiproxy.ErrConflict)}}
		s = NewSpooledStore(st, SpoolConfig{Dir: t.TempDir(), Retry: time.Second})
		if err := create(s, "v1"); !errors.Is(err, aiproxy.ErrConflict) {
			t.Fatalf("a first-attempt conflict = %v, want ErrConflict (another job has the id)", err)
		}
	})
	t.Run("spooled, replayed in order, forgotten when recorded", func(t *testing.T) {
		dir := t.TempDir()
		st := &flakyStore{answers: []error{errDown, errDown}}
		s := NewSpooledStore(st, SpoolConfig{Dir: dir, Retry: time.Millisecond})
		for _, p := range []string{"v1", "v2"} {
			if err := create(s, p); err != nil {
				t.Fatalf("CreateJob %s = %v, want nil once spooled", p, err)
			}
		}
		if onDisk, _ := s.Held(); onDisk != 2 {
			t.Fatalf("%d spooled, want 2", onDisk)
		}
		st.answers = []error{errDown}
		if left := s.Replay(context.Background()); left != 2 {
			t.Fatalf("a pass while the database is away left %d, want 2", left)
		}
		// The next pass waits out its backoff; a read does not replay before.
		s.catchUp(context.Background())
		if len(st.created) != 0 {
			t.Fatalf("replayed during the backoff: %v", st.created)
		}
		st.answers = []error{fmt.Errorf("x: %w", aiproxy.ErrConflict), nil}
		if left := NewSpooledStore(st, SpoolConfig{Dir: dir}).Replay(context.Background()); left != 0 {
			t.Fatalf("a new process's pass left %d", left)
		}
		if len(st.created) != 1 || st.created[0] != "v2" {
			t.Fatalf("recorded %v, want v2 (v1 was already in the database)", st.created)
		}
		if files, _ := filepath.Glob(filepath.Join(dir, "*"+spoolExt)); len(files) != 0 {
			t.Fatalf("%d files left", len(files))
		}
	})
	t.Run("held in memory when the spool cannot be written", func(t *testing.T) {
		blocked := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(blocked, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		st := &flakyStore{answers: []error{errDown}}
		s := NewSpooledStore(st, SpoolConfig{Dir: filepath.Join(blocked, "spool"), Retry: time.Millisecond})
		err := create(s, "v1")
		if !errors.Is(err, aiproxy.ErrUnavailable) {
			t.Fatalf("CreateJob = %v, want unavailable", err)
		}
		if onDisk, inMemory := s.Held(); onDisk != 0 || inMemory != 1 {
			t.Fatalf("held %d/%d, want 0/1", onDisk, inMemory)
		}
		if s.Replay(context.Background()) != 0 || len(st.created) != 1 {
			t.Fatalf("the start held in memory was not recorded: %v", st.created)
		}
	})
	t.Run("a refused start does not hold back the others", func(t *testing.T) {
		st := &flakyStore{answers: []error{errDown}}
		s := NewSpooledStore(st, SpoolConfig{Dir: t.TempDir(), Retry: time.Millisecond})
		_ = create(s, "v1")
		st.answers = []error{errDown}
		_ = create(s, "v2")
		st.answers = []error{errors.New("a bug"), nil}
		if left := s.Replay(context.Background()); left != 1 || len(st.created) != 1 || st.created[0] != "v2" {
			t.Fatalf("left %d, recorded %v; want 1 left and v2 recorded", left, st.created)
		}
	})
	t.Run("a release the database missed is held and replayed", func(t *testing.T) {
		st := &flakyStore{answers: []error{errDown}}
		s := NewSpooledStore(st, SpoolConfig{})
		if err := s.ReleaseIdempotency(context.Background(), "acme", "k1"); err == nil {
			t.Fatal("the release's failure was hidden")
		}
		s.Replay(context.Background())
		if len(st.release) != 1 || st.release[0] != "k1" {
			t.Fatalf("released %v, want k1", st.release)
		}
	})
}

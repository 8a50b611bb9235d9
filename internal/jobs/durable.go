package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// SpoolConfig configures a SpooledStore. Zero values mean the stated
// defaults.
type SpoolConfig struct {
	// Dir is the directory where job starts wait on the local disk while
	// the database cannot take them. "" keeps them in memory only, so that
	// such a start is not durable and its client is told so (503).
	Dir string
	// Retry is how long CreateJob tries the database again, with backoff,
	// while the client waits for its answer, before it spools the start;
	// 0 means 3s.
	Retry time.Duration
	// ReplayEvery is the first wait before another replay after a pass
	// that left starts behind; it doubles while passes fail, up to a
	// minute. 0 means 1s.
	ReplayEvery time.Duration
	// OnReplay, when set, is called after a replay recorded starts, so
	// that the webhook outbox delivers their events at once
	// (webhooks.Outbox.Wake).
	OnReplay func()
	// Logger receives what the database did not take; nil discards.
	Logger *slog.Logger
}

// SpooledStore is a Store that never loses a job start the provider has
// accepted. Its CreateJob returns nil once the start is durable: in the
// database, which it retries with backoff for SpoolConfig.Retry, or else
// in the spool on the local disk. When even the spool cannot be written
// it keeps the start in memory and returns an error marked
// aiproxy.ErrUnavailable, so that the client learns that the start is not
// durable.
//
// The starts it holds are replayed as soon as the database takes them:
// before the tracker claims due jobs (every tick of Service.Run, the
// first one at start, which replays what an earlier process spooled), and
// before a read of jobs or idempotency keys, so that a client never sees
// a start the database has not recorded yet while the database is back.
// A replay completes the start's Idempotency-Key in the same transaction
// as the job, as the first attempt would have. The settlements of keys
// whose calls started no job (a release, a stored 4xx) that the database
// misses are held in memory and replayed the same way.
type SpooledStore struct {
	Store
	cfg  SpoolConfig
	log  *slog.Logger
	disk spool
	// pass lets one replay pass run at a time; a reader waits for the
	// pass under way, so that it sees what the pass recorded.
	pass chan struct{}

	mu   sync.Mutex
	held map[string]heldStart
	// keys are Idempotency-Key settlements the database did not take.
	keys map[string]heldKey
	// retryAt is when the next replay may run; backoff is the wait after
	// the next pass that leaves starts behind.
	retryAt time.Time
	backoff time.Duration
}

// heldStart is a job start the database has not taken yet, and whether
// the spool holds it on disk.
type heldStart struct {
	entry  spoolEntry
	onDisk bool
}

// heldKey is the settlement of an Idempotency-Key that the database did
// not take: a release (the call started nothing) or an answer to store
// (done). Without it the key would stay claimed, and the client's retry
// would wait out the claim's lease and then be refused. Settlements are
// kept in memory only: a lost one costs that wait, never a second job.
type heldKey struct {
	release bool
	done    aiproxy.IdempotencyRecord
	org     string
	key     string
	since   time.Time
}

// maxKeyHold bounds how long a settlement waits: past it the key may have
// expired and been claimed again by another request, which a late release
// must not undo.
const maxKeyHold = time.Hour

var _ Store = (*SpooledStore)(nil)

// The bounds of replays and of the retries while a client waits. A replay
// is tried at least every maxReplayBackoff while the database is away, so
// that a start is recorded within that long of its return.
const (
	maxReplayBackoff = 5 * time.Second
	replayTimeout    = 10 * time.Second
	firstRetry       = 50 * time.Millisecond
	maxRetryDelay    = time.Second
)

// NewSpooledStore returns a SpooledStore over a store, holding the starts
// an earlier process left in the spool directory. A spooled file that
// cannot be read is logged and left for an operator.
func NewSpooledStore(st Store, cfg SpoolConfig) *SpooledStore {
	cfg.Retry = durationOr(cfg.Retry, 3*time.Second)
	cfg.ReplayEvery = durationOr(cfg.ReplayEvery, time.Second)
	if cfg.OnReplay == nil {
		cfg.OnReplay = func() {}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &SpooledStore{Store: st, cfg: cfg, log: log, disk: spool{dir: cfg.Dir}, pass: make(chan struct{}, 1),
		held: map[string]heldStart{}, keys: map[string]heldKey{}, backoff: cfg.ReplayEvery}
	entries, errs := s.disk.load()
	for _, err := range errs {
		log.Error("read spooled job start", "err", err)
	}
	for _, e := range entries {
		s.held[e.key()] = heldStart{entry: e, onDisk: true}
	}
	if len(entries) > 0 {
		log.Warn("job starts wait in the spool for the database", "count", len(entries), "dir", cfg.Dir)
	}
	return s
}

// CreateJob stores a job start durably: in the database, tried again
// with backoff for SpoolConfig.Retry while it is unavailable, or else in
// the spool, to be replayed. It returns nil once the start is durable;
// ErrConflict and ErrNotFound as the store does; and an error marked
// aiproxy.ErrUnavailable when the start is held in memory only.
func (s *SpooledStore) CreateJob(ctx context.Context, j aiproxy.Job, ev aiproxy.JobEvent, done *aiproxy.IdempotencyRecord) error {
	e := spoolEntry{job: j, event: ev, idem: done}
	err := s.retry(ctx, e)
	if err == nil || errors.Is(err, aiproxy.ErrConflict) || errors.Is(err, aiproxy.ErrNotFound) {
		return err
	}
	if serr := s.disk.put(e); serr != nil {
		s.hold(e, false)
		s.log.Error("job start held in memory only: the database and the spool both failed",
			"service", j.Service, "provider_job_id", j.ProviderJobID, "err", err, "spool_err", serr)
		return fmt.Errorf("%w: job start %s/%s not recorded (%w), and not spooled: %w",
			aiproxy.ErrUnavailable, j.Service, j.ProviderJobID, err, serr)
	}
	s.hold(e, true)
	s.log.Warn("job start spooled: the database did not take it",
		"service", j.Service, "provider_job_id", j.ProviderJobID, "job", j.ID, "err", err)
	return nil
}

// retry creates a start in the database, trying again for at most
// SpoolConfig.Retry while it fails (unavailable, too slow, or a pooled
// connection found dead), since the start must be kept whatever the
// cause. A conflict after a failed attempt means that the failed attempt
// committed (its answer was lost), so it is the start recorded.
func (s *SpooledStore) retry(ctx context.Context, e spoolEntry) error {
	deadline := time.Now().Add(s.cfg.Retry)
	delay := firstRetry
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithDeadline(ctx, deadline)
		err := s.create(actx, e)
		cancel()
		switch {
		case attempt > 0 && errors.Is(err, aiproxy.ErrConflict):
			return nil
		case err == nil || errors.Is(err, aiproxy.ErrConflict) || errors.Is(err, aiproxy.ErrNotFound):
			return err
		case time.Until(deadline) < delay:
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, maxRetryDelay)
	}
}

// create stores a start with its event and its idempotency record. When
// the key's record is gone (it expired and was claimed again while the
// start waited), the job is stored without it: the job still runs at the
// provider and must be tracked.
func (s *SpooledStore) create(ctx context.Context, e spoolEntry) error {
	err := s.Store.CreateJob(ctx, e.job, e.event, e.idem)
	if e.idem != nil && errors.Is(err, aiproxy.ErrNotFound) {
		err = s.Store.CreateJob(ctx, e.job, e.event, nil)
	}
	return err
}

// transient reports whether an error may pass if the same write is tried
// again: the database was unavailable, or did not answer in time.
func transient(err error) bool {
	return errors.Is(err, aiproxy.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}

func (s *SpooledStore) hold(e spoolEntry, onDisk bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held[e.key()] = heldStart{entry: e, onDisk: onDisk}
}

// Held returns how many job starts wait for the database: on disk in the
// spool, and in memory only.
func (s *SpooledStore) Held() (onDisk, inMemory int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.held {
		if h.onDisk {
			onDisk++
		} else {
			inMemory++
		}
	}
	return onDisk, inMemory
}

// Replay records the held job starts the database takes now, oldest
// first, then the held key settlements, and returns how many starts are
// still held. A start the database already has (a replay repeated after
// a crash) is forgotten as recorded; one whose org is gone is dropped and
// logged. A pass stops at the first write the database is unavailable
// for.
func (s *SpooledStore) Replay(ctx context.Context) int {
	select {
	case s.pass <- struct{}{}:
	case <-ctx.Done():
		return s.count()
	}
	defer func() { <-s.pass }()
	// A pass cut short by its caller is harmless: a write cancelled while
	// it committed is found recorded by the next pass.
	ctx, cancel := context.WithTimeout(ctx, replayTimeout)
	defer cancel()
	if s.replayStarts(ctx) {
		s.replayKeys(ctx)
	}
	return s.settle()
}

// replayStarts records what it can of the held starts and reports
// whether the database took every write it was offered.
func (s *SpooledStore) replayStarts(ctx context.Context) bool {
	recorded, up := 0, true
	for _, h := range s.snapshot() {
		err := s.create(ctx, h.entry)
		if err != nil && !errors.Is(err, aiproxy.ErrConflict) && !errors.Is(err, aiproxy.ErrNotFound) {
			if ctx.Err() != nil {
				up = false
				break
			}
			s.log.Warn("spooled job start not recorded yet", "service", h.entry.job.Service,
				"provider_job_id", h.entry.job.ProviderJobID, "err", err)
			if transient(err) {
				up = false
				break
			}
			continue // This one is refused; the others may not be.
		}
		if errors.Is(err, aiproxy.ErrNotFound) {
			s.log.Error("spooled job start dropped: its org no longer exists", "org", h.entry.job.OrgKey,
				"service", h.entry.job.Service, "provider_job_id", h.entry.job.ProviderJobID)
		}
		s.forget(h)
		recorded++
	}
	if recorded > 0 {
		s.log.Info("spooled job starts recorded", "count", recorded)
		s.cfg.OnReplay()
	}
	return up
}

// replayKeys stores the held Idempotency-Key settlements, after the
// starts, whose replays complete keys of their own.
func (s *SpooledStore) replayKeys(ctx context.Context) {
	s.mu.Lock()
	keys := make([]heldKey, 0, len(s.keys))
	for _, k := range s.keys {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	for _, k := range keys {
		var err error
		switch {
		case time.Since(k.since) > maxKeyHold:
			s.log.Error("idempotency key settlement given up", "org", k.org, "held", time.Since(k.since).Round(time.Second))
		case k.release:
			err = s.Store.ReleaseIdempotency(ctx, k.org, k.key)
		default:
			err = s.Store.CompleteIdempotency(ctx, k.done)
		}
		switch {
		case err != nil && transient(err):
			return
		case err != nil && !errors.Is(err, aiproxy.ErrNotFound):
			continue
		}
		s.mu.Lock()
		delete(s.keys, k.org+"\x00"+k.key)
		s.mu.Unlock()
	}
}

// ReleaseIdempotency frees a key whose call started nothing, or holds the
// release until the database takes it.
func (s *SpooledStore) ReleaseIdempotency(ctx context.Context, org, key string) error {
	err := s.Store.ReleaseIdempotency(ctx, org, key)
	if err != nil {
		s.holdKey(heldKey{release: true, org: org, key: key})
	}
	return err
}

// CompleteIdempotency stores the answer of a key whose call started no
// job, or holds it until the database takes it.
func (s *SpooledStore) CompleteIdempotency(ctx context.Context, rec aiproxy.IdempotencyRecord) error {
	err := s.Store.CompleteIdempotency(ctx, rec)
	if err != nil && !errors.Is(err, aiproxy.ErrNotFound) {
		s.holdKey(heldKey{done: rec, org: rec.OrgKey, key: rec.Key})
	}
	return err
}

func (s *SpooledStore) holdKey(k heldKey) {
	k.since = time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[k.org+"\x00"+k.key] = k
}

// snapshot returns the held starts, oldest first.
func (s *SpooledStore) snapshot() []heldStart {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := make([]heldStart, 0, len(s.held))
	for _, h := range s.held {
		list = append(list, h)
	}
	slices.SortFunc(list, func(a, b heldStart) int {
		return a.entry.job.CreatedAt.Compare(b.entry.job.CreatedAt)
	})
	return list
}

// forget drops a start the database has recorded (or refused for good).
// A spool file that cannot be removed is replayed again at the next
// start, and found recorded.
func (s *SpooledStore) forget(h heldStart) {
	if h.onDisk {
		if err := s.disk.remove(h.entry); err != nil {
			s.log.Warn("remove spooled job start", "err", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.held, h.entry.key())
}

// settle schedules the next replay after a pass: at once when nothing is
// left, else after a backoff that doubles while passes leave starts
// behind. It returns how many are left.
func (s *SpooledStore) settle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.held) == 0 && len(s.keys) == 0 {
		s.retryAt, s.backoff = time.Time{}, s.cfg.ReplayEvery
		return 0
	}
	s.retryAt = time.Now().Add(s.backoff)
	s.backoff = min(2*s.backoff, maxReplayBackoff)
	return len(s.held)
}

func (s *SpooledStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

// catchUp replays the held starts and key settlements when there are
// some and no backoff holds replays back.
func (s *SpooledStore) catchUp(ctx context.Context) {
	s.mu.Lock()
	due := len(s.held)+len(s.keys) > 0 && !time.Now().Before(s.retryAt)
	s.mu.Unlock()
	if due {
		s.Replay(ctx)
	}
}

// ClaimDueJobs records the held starts first, since they are due jobs the
// database does not have yet; the tracker's every tick (Service.Run) is
// thus also the spool's replay.
func (s *SpooledStore) ClaimDueJobs(ctx context.Context, owner string, now, until time.Time, limit int) ([]aiproxy.Job, error) {
	s.catchUp(ctx)
	return s.Store.ClaimDueJobs(ctx, owner, now, until, limit)
}

// Job reads a job after recording the held starts.
func (s *SpooledStore) Job(ctx context.Context, id string) (aiproxy.Job, error) {
	s.catchUp(ctx)
	return s.Store.Job(ctx, id)
}

// JobByProviderID reads a job after recording the held starts.
func (s *SpooledStore) JobByProviderID(ctx context.Context, service, providerID string) (aiproxy.Job, error) {
	s.catchUp(ctx)
	return s.Store.JobByProviderID(ctx, service, providerID)
}

// Jobs lists jobs after recording the held starts.
func (s *SpooledStore) Jobs(ctx context.Context, f aiproxy.JobFilter) ([]aiproxy.Job, error) {
	s.catchUp(ctx)
	return s.Store.Jobs(ctx, f)
}

// ClaimIdempotency records the held starts first, so that a retry with
// the key of a start that waited finds that start's answer.
func (s *SpooledStore) ClaimIdempotency(ctx context.Context, rec aiproxy.IdempotencyRecord, now time.Time) (aiproxy.IdempotencyRecord, bool, error) {
	s.catchUp(ctx)
	return s.Store.ClaimIdempotency(ctx, rec, now)
}

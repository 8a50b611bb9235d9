package idempotency

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// Config configures Keys. Zero values mean the stated defaults.
type Config struct {
	Store aiproxy.IdempotencyStore
	// TTL is how long a key is remembered; 0 means 24h.
	TTL time.Duration
	// Logger receives store failures; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Keys honours Idempotency-Key on the endpoints that start jobs. It is safe
// for concurrent use.
type Keys struct {
	cfg Config
	log *slog.Logger
	mu  sync.Mutex
	// waiting wakes requests waiting for a key in progress in this process.
	waiting map[string]chan struct{}
}

// New returns Keys for a configuration.
func New(cfg Config) *Keys {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 24 * time.Hour
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Keys{cfg: cfg, log: log, waiting: map[string]chan struct{}{}}
}

func (k *Keys) now() time.Time { return k.cfg.Now().UTC() }

// maxIdempotencyKey bounds an Idempotency-Key's length.
const maxIdempotencyKey = 255

// idemRecheck is how often a request waiting for a key that another process
// holds looks at the store again.
const idemRecheck = 100 * time.Millisecond

// claim takes an Idempotency-Key for a job start. It returns the claimed
// record, or the first request's answer to replay. The same key with
// another request is a conflict; while the first request with the key is in
// flight, later ones wait for its answer; a first request that died without
// a recorded answer leaves the key unusable, since its provider job may
// exist.
func (k *Keys) claim(ctx context.Context, org, key string, svc *aiproxy.Service, ep *aiproxy.Endpoint, env proxy.Envelope) (aiproxy.IdempotencyRecord, *proxy.Answer, error) {
	if len(key) > maxIdempotencyKey || !printable(key) {
		return aiproxy.IdempotencyRecord{}, nil, aiproxy.Errorf(aiproxy.CodeInvalid,
			"Idempotency-Key must be 1 to %d printable ASCII characters.", maxIdempotencyKey)
	}
	pr, _ := aiproxy.PrincipalFrom(ctx)
	fp := fingerprint(svc.Slug, ep.Slug, env, pr.TestOnly)
	lease := time.Duration(ep.Timeout(svc))*time.Second + 30*time.Second
	for {
		now := k.now()
		rec := aiproxy.IdempotencyRecord{OrgKey: org, Key: storedKey(pr.User, key), Fingerprint: fp, CreatedAt: now,
			LockedUntil: now.Add(lease), ExpiresAt: now.Add(k.cfg.TTL)}
		wait := k.waiter(org, rec.Key)
		held, claimed, err := k.cfg.Store.ClaimIdempotency(ctx, rec, now)
		switch {
		case err != nil:
			return rec, nil, err
		case claimed:
			return held, nil, nil
		case held.Fingerprint != fp:
			return rec, nil, aiproxy.Errorf(aiproxy.CodeConflict,
				"Idempotency-Key %q was already used with a different request.", key)
		case held.State == aiproxy.IdempotencyDone:
			h := http.Header{"Idempotent-Replayed": {"true"}}
			if held.ContentType != "" {
				h.Set("Content-Type", held.ContentType)
			}
			return rec, proxy.NewAnswer(held.Status, h, held.Body), nil
		case !now.Before(held.LockedUntil):
			return rec, nil, aiproxy.Errorf(aiproxy.CodeConflict,
				"The first request with Idempotency-Key %q ended without a recorded answer, so its job may or may not exist; check the jobs list, then retry with a new key.", key)
		}
		select {
		case <-ctx.Done():
			return rec, nil, proxy.ErrClientGone
		case <-wait:
		case <-time.After(idemRecheck):
		}
	}
}

// idemWaiter returns a channel closed when this process finishes a request
// with the key.
func (k *Keys) waiter(org, key string) chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	id := org + "\x00" + key
	ch, ok := k.waiting[id]
	if !ok {
		ch = make(chan struct{})
		k.waiting[id] = ch
	}
	return ch
}

func (k *Keys) done(org, key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	id := org + "\x00" + key
	if ch, ok := k.waiting[id]; ok {
		close(ch)
		delete(k.waiting, id)
	}
}

// completeIdem stores a key's answer outside a job record.
func (k *Keys) complete(ctx context.Context, rec *aiproxy.IdempotencyRecord) {
	if err := k.cfg.Store.CompleteIdempotency(ctx, *rec); err != nil {
		k.log.Error("complete idempotency key", "org", rec.OrgKey, "err", err)
	}
	k.done(rec.OrgKey, rec.Key)
}

// release frees a key whose request started nothing, so it can be retried.
func (k *Keys) release(rec *aiproxy.IdempotencyRecord) {
	if rec == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := k.cfg.Store.ReleaseIdempotency(ctx, rec.OrgKey, rec.Key); err != nil {
		k.log.Error("release idempotency key", "org", rec.OrgKey, "err", err)
	}
	k.done(rec.OrgKey, rec.Key)
}

func printable(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// storedKey is the form an Idempotency-Key is kept in: the client's key
// for the org itself, and for a user a form that no other user's key (nor
// the org's) can take, so that one user cannot replay another's answer.
func storedKey(user, key string) string {
	if user == "" {
		return key
	}
	return fmt.Sprintf("user:%d:%s:%s", len(user), user, key)
}

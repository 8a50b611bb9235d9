// Package breaker is a circuit breaker per key (aiproxy uses one per
// service and credential): after a run of failures it fails fast for a
// cooldown, then lets one probe through, and closes again when the probe
// succeeds. It keeps its state in this process; each replica learns a
// provider is down from its own calls, which is quick enough and needs no
// shared store.
package breaker

import (
	"errors"
	"math"
	"sync"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// ErrOpen is the cause of the error returned while a breaker is open.
var ErrOpen = errors.New("circuit breaker open")

// State is a breaker's state.
type State string

// The states.
const (
	Closed   State = "closed"
	Open     State = "open"
	HalfOpen State = "half-open"
)

// Set holds one breaker per key. The zero value is not usable; use New.
type Set struct {
	failures int
	cooldown time.Duration
	now      func() time.Time

	mu       sync.Mutex
	breakers map[string]*breaker
}

type breaker struct {
	state    State
	fails    int
	openedAt time.Time
	probing  bool
}

// New returns a Set that opens a breaker after failures consecutive
// failures (0 means 5) for cooldown (0 means 30s). now may be nil.
func New(failures int, cooldown time.Duration, now func() time.Time) *Set {
	if failures <= 0 {
		failures = 5
	}
	if cooldown <= 0 {
		cooldown = 30 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	return &Set{failures: failures, cooldown: cooldown, now: now, breakers: map[string]*breaker{}}
}

// Allow asks whether a call may go to the provider behind key. When it may,
// the caller must report the outcome with done (true for success); when it
// may not, the error is the contract's upstream failure with Retry-After.
func (s *Set) Allow(key string) (done func(ok bool), err error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.breakers[key]
	if b == nil {
		b = &breaker{state: Closed}
		s.breakers[key] = b
	}
	if b.state == Open {
		left := b.openedAt.Add(s.cooldown).Sub(now)
		if left > 0 {
			return nil, refused(left)
		}
		b.state, b.probing = HalfOpen, true
	} else if b.state == HalfOpen {
		return nil, refused(time.Second)
	}
	var once sync.Once
	return func(ok bool) { once.Do(func() { s.report(key, ok) }) }, nil
}

func (s *Set) report(key string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.breakers[key]
	if b == nil {
		if ok {
			return
		}
		b = &breaker{state: Closed}
		s.breakers[key] = b
	}
	b.probing = false
	switch {
	case ok:
		delete(s.breakers, key) // closed with no failures is the default
	case b.state == HalfOpen:
		b.state, b.openedAt = Open, s.now()
	default:
		b.fails++
		if b.fails >= s.failures {
			b.state, b.openedAt = Open, s.now()
		}
	}
}

// State returns the state of key's breaker.
func (s *Set) State(key string) State {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.breakers[key]; b != nil {
		return b.state
	}
	return Closed
}

func refused(left time.Duration) error {
	return &aiproxy.Error{Code: aiproxy.CodeUpstreamFailed, Message: aiproxy.MsgUpstreamFailed,
		RetryAfter: max(1, int(math.Ceil(left.Seconds()))), Err: ErrOpen}
}

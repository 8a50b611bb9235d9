package jobs

import "sync"

// hub wakes the long polls and event streams of an org when one of its jobs
// changes in this process. Waiters always re-read the store, so a missed
// wake-up only delays them until their next periodic check.
type hub struct {
	mu   sync.Mutex
	subs map[*subscription]struct{}
	// watches share the re-reads of long polls (watch.go).
	watches watchSet
}

// subscription is one waiter's wake-up channel for one org.
type subscription struct {
	org string
	C   chan struct{}
}

func newHub() *hub { return &hub{subs: map[*subscription]struct{}{}} }

// subscribe returns a subscription to an org's changes and its cancel func.
func (h *hub) subscribe(org string) (*subscription, func()) {
	sub := &subscription{org: org, C: make(chan struct{}, 1)}
	h.mu.Lock()
	h.subs[sub] = struct{}{}
	h.mu.Unlock()
	return sub, func() {
		h.mu.Lock()
		delete(h.subs, sub)
		h.mu.Unlock()
	}
}

// publish wakes every subscription to org without blocking.
func (h *hub) publish(org string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		if sub.org == org {
			select {
			case sub.C <- struct{}{}:
			default:
			}
		}
	}
}

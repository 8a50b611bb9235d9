// Package quota enforces per-org quotas on the invoke path: a call reserves
// what it will spend before it reaches the provider, and the reservation is
// settled when the call succeeds or released when it fails. The counters
// live in an aiproxy.QuotaStore (the database, or Memory), whose
// reservation is atomic, so racing calls never overspend.
package quota

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Manager reserves and releases quota. It remembers briefly which orgs have
// quotas at all, so that calls of orgs without any never write to the
// store.
type Manager struct {
	store aiproxy.QuotaStore
	now   func() time.Time
	ttl   time.Duration

	onError func(error)

	mu    sync.Mutex
	known map[string]knownQuotas
}

type knownQuotas struct {
	quotas []aiproxy.QuotaUse
	at     time.Time
}

// New returns a Manager. now may be nil for time.Now; ttl is how long the
// list of an org's quotas is trusted (0 means 5 seconds). Invalidate
// forgets it at once after a change made in this process.
func New(store aiproxy.QuotaStore, now func() time.Time, ttl time.Duration) *Manager {
	if now == nil {
		now = time.Now
	}
	if ttl <= 0 {
		ttl = 5 * time.Second
	}
	return &Manager{store: store, now: now, ttl: ttl, known: map[string]knownQuotas{}}
}

// Invalidate forgets what the Manager knows of an org's quotas.
func (m *Manager) Invalidate(org string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.known, org)
}

// Reservation is quota held by one call. Exactly one of Commit and Release
// takes effect; later calls do nothing.
type Reservation struct {
	m       *Manager
	org     string
	service string
	demand  aiproxy.Demand
	at      time.Time
	once    sync.Once
}

// Reserve holds a demand for an org's call to a service and returns the
// function that settles it: spent true keeps it, false gives it back. Only
// the first settlement counts. An exhausted quota gives the client-facing
// quota_exceeded error naming it.
func (m *Manager) Reserve(ctx context.Context, org, service string, d aiproxy.Demand) (settle func(ctx context.Context, spent bool), err error) {
	r, err := m.reserve(ctx, org, service, d)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, spent bool) {
		if spent {
			r.Commit()
		} else if err := r.Release(ctx); err != nil && m.onError != nil {
			m.onError(err)
		}
	}, nil
}

// OnError sets a function that receives failures to release quota, which
// happen off the caller's path; by default they are dropped.
func (m *Manager) OnError(f func(error)) { m.onError = f }

func (m *Manager) reserve(ctx context.Context, org, service string, d aiproxy.Demand) (*Reservation, error) {
	applies, err := m.applies(ctx, org, service, d)
	if err != nil || !applies {
		return nil, err
	}
	now := m.now()
	err = m.store.ReserveQuota(ctx, org, service, d, now)
	var qe *aiproxy.QuotaExceededError
	if errors.As(err, &qe) {
		return nil, aiproxy.ErrQuotaExceeded(qe, now)
	}
	if err != nil {
		return nil, fmt.Errorf("reserve quota: %w", err)
	}
	return &Reservation{m: m, org: org, service: service, demand: d, at: now}, nil
}

func (m *Manager) applies(ctx context.Context, org, service string, d aiproxy.Demand) (bool, error) {
	now := m.now()
	m.mu.Lock()
	k, ok := m.known[org]
	m.mu.Unlock()
	if !ok || now.Sub(k.at) >= m.ttl {
		list, err := m.store.Quotas(ctx, org, now)
		if err != nil {
			return false, fmt.Errorf("read quotas: %w", err)
		}
		k = knownQuotas{quotas: list, at: now}
		m.mu.Lock()
		m.known[org] = k
		m.mu.Unlock()
	}
	for _, q := range k.quotas {
		if (q.Service == "" || q.Service == service) && d[q.Metric] > 0 {
			return true, nil
		}
	}
	return false, nil
}

// Commit keeps the reservation: the call spent what it reserved.
func (r *Reservation) Commit() {
	if r != nil {
		r.once.Do(func() {})
	}
}

// Release gives the reservation back: the call failed and spent nothing.
func (r *Reservation) Release(ctx context.Context) error {
	if r == nil {
		return nil
	}
	var err error
	r.once.Do(func() {
		err = r.m.store.ReleaseQuota(context.WithoutCancel(ctx), r.org, r.service, r.demand, r.at)
	})
	return err
}

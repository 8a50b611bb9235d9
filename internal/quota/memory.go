package quota

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Memory is an in-process aiproxy.QuotaStore, for tests, benchmarks and
// single-process deployments that need no persistence. It does not check
// that orgs exist.
type Memory struct {
	mu       sync.Mutex
	quotas   map[quotaID]aiproxy.Quota
	counters map[counterID]int64
}

type quotaID struct {
	org, service string
	metric       aiproxy.Metric
	period       aiproxy.Period
}

type counterID struct {
	quotaID
	start int64
}

var _ aiproxy.QuotaStore = (*Memory)(nil)

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{quotas: map[quotaID]aiproxy.Quota{}, counters: map[counterID]int64{}}
}

func idOf(q aiproxy.Quota) quotaID { return quotaID{q.OrgKey, q.Service, q.Metric, q.Period} }

// PutQuota creates or replaces a quota.
func (m *Memory) PutQuota(_ context.Context, q aiproxy.Quota) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.quotas[idOf(q)] = q
	return nil
}

// DeleteQuota removes a quota.
func (m *Memory) DeleteQuota(_ context.Context, org, service string, metric aiproxy.Metric, p aiproxy.Period) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := quotaID{org, service, metric, p}
	if _, ok := m.quotas[id]; !ok {
		return fmt.Errorf("delete quota: %w", aiproxy.ErrNotFound)
	}
	delete(m.quotas, id)
	return nil
}

// Quotas lists an org's quotas with their use.
func (m *Memory) Quotas(_ context.Context, org string, at time.Time) ([]aiproxy.QuotaUse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []aiproxy.QuotaUse
	for id, q := range m.quotas {
		if id.org != org {
			continue
		}
		start, _ := q.Period.Window(at)
		out = append(out, aiproxy.QuotaUse{Quota: q, WindowStart: start, Used: m.counters[counterID{id, start.UnixMilli()}]})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		if a.Metric != b.Metric {
			return a.Metric < b.Metric
		}
		return a.Period < b.Period
	})
	return out, nil
}

// ReserveQuota adds a demand to every applicable counter, all or nothing.
func (m *Memory) ReserveQuota(_ context.Context, org, service string, d aiproxy.Demand, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	apply := m.applicable(org, service, d, at)
	for _, a := range apply {
		if used := m.counters[a.counter]; used+d[a.quota.Metric] > a.quota.Limit {
			_, end := a.quota.Period.Window(at)
			return &aiproxy.QuotaExceededError{Quota: a.quota, Used: used, WindowEnd: end}
		}
	}
	for _, a := range apply {
		m.counters[a.counter] += d[a.quota.Metric]
	}
	return nil
}

// ReleaseQuota subtracts a demand, never below zero.
func (m *Memory) ReleaseQuota(_ context.Context, org, service string, d aiproxy.Demand, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range m.applicable(org, service, d, at) {
		m.counters[a.counter] = max(0, m.counters[a.counter]-d[a.quota.Metric])
	}
	return nil
}

// applied is a quota that applies to a demand, with its counter.
type applied struct {
	counter counterID
	quota   aiproxy.Quota
}

// applicable returns the org's quotas that apply to a service's demand, in
// the SQL engines' order (the service's own first, then by metric and
// period), so that every engine visits them alike.
func (m *Memory) applicable(org, service string, d aiproxy.Demand, at time.Time) []applied {
	var out []applied
	for id, q := range m.quotas {
		if id.org == org && (id.service == "" || id.service == service) && d[q.Metric] > 0 {
			start, _ := q.Period.Window(at)
			out = append(out, applied{counterID{id, start.UnixMilli()}, q})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].quota, out[j].quota
		if a.Service != b.Service {
			return a.Service > b.Service
		}
		if a.Metric != b.Metric {
			return a.Metric < b.Metric
		}
		return a.Period < b.Period
	})
	return out
}

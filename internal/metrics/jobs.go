package metrics

import (
	"context"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// JobStore is the storage of the jobs service, which Jobs observes: its
// jobs, webhooks, idempotency records and running-job slots. The wrapper
// Jobs returns implements all of it at compile time, so that nothing the
// jobs service needs is lost by observing it.
type JobStore interface {
	aiproxy.JobStore
	aiproxy.WebhookStore
	aiproxy.IdempotencyStore
	aiproxy.JobSlotStore
}

var _ JobStore = (*jobStore)(nil)

// Jobs wraps the jobs service's store to count jobs entering each state
// and webhook delivery attempts by result, without the jobs service
// knowing about metrics.
func (m *Metrics) Jobs(s JobStore) JobStore {
	if m == nil {
		return s
	}
	return &jobStore{JobStore: s, m: m}
}

type jobStore struct {
	JobStore
	m *Metrics
}

func (s *jobStore) CreateJob(ctx context.Context, j aiproxy.Job, ev aiproxy.JobEvent, done *aiproxy.IdempotencyRecord) error {
	err := s.JobStore.CreateJob(ctx, j, ev, done)
	if err == nil {
		s.m.jobs.WithLabelValues(j.Service, string(j.State)).Inc()
	}
	return err
}

func (s *jobStore) UpdateJob(ctx context.Context, j aiproxy.Job, ev *aiproxy.JobEvent) error {
	err := s.JobStore.UpdateJob(ctx, j, ev)
	if err == nil && ev != nil {
		s.m.jobs.WithLabelValues(j.Service, string(j.State)).Inc()
	}
	return err
}

func (s *jobStore) UpdateDelivery(ctx context.Context, d aiproxy.WebhookDelivery) error {
	err := s.JobStore.UpdateDelivery(ctx, d)
	if err == nil {
		result := "retry"
		switch d.State {
		case aiproxy.DeliveryDelivered:
			result = "delivered"
		case aiproxy.DeliveryFailed:
			result = "failed"
		}
		s.m.deliveries.WithLabelValues(result).Inc()
	}
	return err
}

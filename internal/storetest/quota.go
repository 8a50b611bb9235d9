package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

func runQuotas(t *testing.T, open func(t *testing.T) Stores) {
	day := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	t.Run("PutListDelete", func(t *testing.T) {
		s, ctx := guardrails(t, open), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		for _, q := range []aiproxy.Quota{
			{OrgKey: "acme", Service: "heygen", Metric: aiproxy.MetricRenders, Period: aiproxy.PeriodMonth, Limit: 10, UpdatedAt: at(1)},
			{OrgKey: "acme", Metric: aiproxy.MetricRequests, Period: aiproxy.PeriodDay, Limit: 5, UpdatedAt: at(1)},
			{OrgKey: "acme", Metric: aiproxy.MetricRequests, Period: aiproxy.PeriodDay, Limit: 7, UpdatedAt: at(2)},
		} {
			if err := s.PutQuota(ctx, q); err != nil {
				t.Fatalf("PutQuota: %v", err)
			}
		}
		list, err := s.Quotas(ctx, "acme", day)
		if err != nil || len(list) != 2 {
			t.Fatalf("Quotas = %+v, %v; want 2", list, err)
		}
		if list[0].Service != "" || list[0].Limit != 7 || !sameTime(list[0].UpdatedAt, at(2)) || list[1].Service != "heygen" {
			t.Fatalf("Quotas = %+v; want the replaced all-services quota first", list)
		}
		if err := s.DeleteQuota(ctx, "acme", "heygen", aiproxy.MetricRenders, aiproxy.PeriodMonth); err != nil {
			t.Fatalf("DeleteQuota: %v", err)
		}
		err = s.DeleteQuota(ctx, "acme", "heygen", aiproxy.MetricRenders, aiproxy.PeriodMonth)
		if !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("second DeleteQuota = %v, want ErrNotFound", err)
		}
		err = s.PutQuota(ctx, aiproxy.Quota{OrgKey: "ghost", Metric: aiproxy.MetricRequests, Period: aiproxy.PeriodDay, Limit: 1})
		if !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("PutQuota(unknown org) = %v, want ErrNotFound", err)
		}
	})
	t.Run("EveryMetric", func(t *testing.T) {
		s, ctx := guardrails(t, open), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		for _, m := range aiproxy.Metrics {
			mustPutQuota(t, s, aiproxy.Quota{OrgKey: "acme", Metric: m, Period: aiproxy.PeriodMonth, Limit: 60, UpdatedAt: at(1)})
		}
		list, err := s.Quotas(ctx, "acme", day)
		if err != nil || len(list) != len(aiproxy.Metrics) {
			t.Fatalf("Quotas = %+v, %v; want one per metric (%d)", list, err, len(aiproxy.Metrics))
		}
	})
	RunQuotaReservations(t, func(t *testing.T) aiproxy.QuotaStore {
		s := guardrails(t, open)
		mustCreateOrg(t.Context(), t, s, "acme")
		return s
	})
}

// RunQuotaReservations runs the reservation part of the quota contract,
// which a store of quotas alone (quota.Memory) runs too: reservations are
// all or nothing, windowed and atomic. open must return a new, empty store
// in which the org "acme" may hold quotas.
func RunQuotaReservations(t *testing.T, open func(t *testing.T) aiproxy.QuotaStore) {
	day := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	t.Run("ReserveAllOrNothing", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		mustPutQuota(t, s, aiproxy.Quota{OrgKey: "acme", Metric: aiproxy.MetricRequests, Period: aiproxy.PeriodDay, Limit: 100})
		mustPutQuota(t, s, aiproxy.Quota{OrgKey: "acme", Service: "elevenlabs", Metric: aiproxy.MetricCharacters, Period: aiproxy.PeriodMonth, Limit: 10})
		d := aiproxy.Demand{aiproxy.MetricRequests: 1, aiproxy.MetricCharacters: 8}
		if err := s.ReserveQuota(ctx, "acme", "elevenlabs", d, day); err != nil {
			t.Fatalf("first ReserveQuota: %v", err)
		}
		err := s.ReserveQuota(ctx, "acme", "elevenlabs", d, day)
		var qe *aiproxy.QuotaExceededError
		if !errors.As(err, &qe) || qe.Quota.Metric != aiproxy.MetricCharacters || qe.Used != 8 {
			t.Fatalf("second ReserveQuota = %v, want characters exceeded at 8", err)
		}
		if !qe.WindowEnd.Equal(time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("WindowEnd = %v, want the next month", qe.WindowEnd)
		}
		// The refused reservation changed nothing, the requests counter included.
		checkUsed(t, s, day, map[aiproxy.Metric]int64{aiproxy.MetricRequests: 1, aiproxy.MetricCharacters: 8})
		// Another service is not limited by the elevenlabs quota.
		if err := s.ReserveQuota(ctx, "acme", "heygen", d, day); err != nil {
			t.Fatalf("ReserveQuota(heygen): %v", err)
		}
		if err := s.ReleaseQuota(ctx, "acme", "elevenlabs", d, day); err != nil {
			t.Fatalf("ReleaseQuota: %v", err)
		}
		checkUsed(t, s, day, map[aiproxy.Metric]int64{aiproxy.MetricRequests: 1, aiproxy.MetricCharacters: 0})
		// A new day starts a new window for the daily quota only.
		next := day.Add(24 * time.Hour)
		checkUsed(t, s, next, map[aiproxy.Metric]int64{aiproxy.MetricRequests: 0, aiproxy.MetricCharacters: 0})
	})
	t.Run("LaterQuotaRefusesFirstKeepsNothing", func(t *testing.T) {
		// The service's own quota is visited before the all-services one, so
		// here the first quota accepts and the second refuses.
		s, ctx := open(t), t.Context()
		mustPutQuota(t, s, aiproxy.Quota{OrgKey: "acme", Service: "elevenlabs", Metric: aiproxy.MetricCharacters, Period: aiproxy.PeriodMonth, Limit: 100})
		mustPutQuota(t, s, aiproxy.Quota{OrgKey: "acme", Metric: aiproxy.MetricRequests, Period: aiproxy.PeriodDay, Limit: 1})
		d := aiproxy.Demand{aiproxy.MetricRequests: 1, aiproxy.MetricCharacters: 8}
		if err := s.ReserveQuota(ctx, "acme", "elevenlabs", d, day); err != nil {
			t.Fatalf("first ReserveQuota: %v", err)
		}
		err := s.ReserveQuota(ctx, "acme", "elevenlabs", d, day)
		var qe *aiproxy.QuotaExceededError
		if !errors.As(err, &qe) || qe.Quota.Metric != aiproxy.MetricRequests || qe.Used != 1 {
			t.Fatalf("second ReserveQuota = %v, want requests exceeded at 1", err)
		}
		// The characters quota accepted the refused call's 8 characters
		// before the requests quota refused it; it must keep none of them.
		checkUsed(t, s, day, map[aiproxy.Metric]int64{aiproxy.MetricRequests: 1, aiproxy.MetricCharacters: 8})
	})
	t.Run("NoQuotaNoLimit", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		for range 3 {
			if err := s.ReserveQuota(ctx, "acme", "heygen", aiproxy.Demand{aiproxy.MetricRequests: 1}, day); err != nil {
				t.Fatalf("ReserveQuota without quotas: %v", err)
			}
		}
	})
	t.Run("RacingReservationsNeverOverspend", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		const limit, racers = 17, 50
		mustPutQuota(t, s, aiproxy.Quota{OrgKey: "acme", Service: "heygen", Metric: aiproxy.MetricRenders, Period: aiproxy.PeriodDay, Limit: limit})
		errs := parallel(racers, func(int) error {
			return s.ReserveQuota(ctx, "acme", "heygen", aiproxy.Demand{aiproxy.MetricRenders: 1}, day)
		})
		ok := 0
		for _, err := range errs {
			var qe *aiproxy.QuotaExceededError
			switch {
			case err == nil:
				ok++
			case !errors.As(err, &qe):
				t.Errorf("ReserveQuota: %v", err)
			}
		}
		if ok != limit {
			t.Fatalf("%d of %d racing reservations succeeded, want exactly %d", ok, racers, limit)
		}
		list, _ := s.Quotas(ctx, "acme", day)
		if len(list) != 1 || list[0].Used != limit {
			t.Fatalf("Quotas = %+v, want used %d", list, limit)
		}
	})
}

func mustPutQuota(t *testing.T, s aiproxy.QuotaStore, q aiproxy.Quota) {
	t.Helper()
	if err := s.PutQuota(t.Context(), q); err != nil {
		t.Fatalf("PutQuota: %v", err)
	}
}

func checkUsed(t *testing.T, s aiproxy.QuotaStore, at time.Time, want map[aiproxy.Metric]int64) {
	t.Helper()
	list, err := s.Quotas(t.Context(), "acme", at)
	if err != nil {
		t.Fatalf("Quotas: %v", err)
	}
	for _, q := range list {
		if w, ok := want[q.Metric]; ok && q.Used != w {
			t.Errorf("%s used = %d, want %d", q.Name(), q.Used, w)
		}
	}
}

package aiproxy

import (
	"context"
	"fmt"
	"time"
)

// Metric is what a quota counts.
type Metric string

// The metrics a quota can limit. Requests counts invoke calls that reach the
// provider; Characters counts the text sent to text-to-speech endpoints;
// Renders counts calls that start a provider render job; AudioSeconds counts
// the seconds of audio sent to a live transcription socket; LiveMinutes
// counts the started minutes of live avatar sessions.
const (
	MetricRequests     Metric = "requests"
	MetricCharacters   Metric = "characters"
	MetricRenders      Metric = "renders"
	MetricAudioSeconds Metric = "audio_seconds"
	MetricLiveMinutes  Metric = "live_minutes"
)

// Metrics lists every metric, for validation and documentation.
var Metrics = []Metric{MetricRequests, MetricCharacters, MetricRenders, MetricAudioSeconds, MetricLiveMinutes}

// ValidMetric reports whether m is a known metric.
func ValidMetric(m Metric) bool {
	for _, k := range Metrics {
		if k == m {
			return true
		}
	}
	return false
}

// Period is the window a quota resets on, in UTC.
type Period string

// The quota periods.
const (
	PeriodDay   Period = "day"
	PeriodMonth Period = "month"
)

// ValidPeriod reports whether p is a known period.
func ValidPeriod(p Period) bool { return p == PeriodDay || p == PeriodMonth }

// Window returns the UTC start of the period that holds t, and the start of
// the next one.
func (p Period) Window(t time.Time) (start, end time.Time) {
	t = t.UTC()
	if p == PeriodMonth {
		start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0)
	}
	start = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 0, 1)
}

// Quota caps one metric of one org per period. Service "" applies the cap to
// the org's calls to every service together.
type Quota struct {
	OrgKey    string
	Service   string
	Metric    Metric
	Period    Period
	Limit     int64
	UpdatedAt time.Time
}

// Name describes the quota for error messages, for example
// "characters per day for elevenlabs".
func (q Quota) Name() string {
	svc := "all services"
	if q.Service != "" {
		svc = q.Service
	}
	return fmt.Sprintf("%s per %s for %s", q.Metric, q.Period, svc)
}

// Demand is how much of each metric one call needs.
type Demand map[Metric]int64

// QuotaUse is one quota with what its current window has used.
type QuotaUse struct {
	Quota
	WindowStart time.Time
	Used        int64
}

// QuotaStore keeps quotas and their counters. Reserve is the only way to
// raise a counter, and it is atomic: with many callers racing, the counters
// never pass their limits.
type QuotaStore interface {
	// PutQuota creates or replaces the quota of (org, service, metric,
	// period); the org must exist.
	PutQuota(ctx context.Context, q Quota) error
	// DeleteQuota removes a quota, or returns ErrNotFound.
	DeleteQuota(ctx context.Context, org, service string, m Metric, p Period) error
	// Quotas lists an org's quotas with their use in the windows that hold
	// at, ordered by service, metric and period.
	Quotas(ctx context.Context, org string, at time.Time) ([]QuotaUse, error)
	// ReserveQuota adds the demand to every counter of the org's quotas that
	// apply to the service (its own and the all-services ones), in the
	// windows that hold at, provided none passes its limit. If one would,
	// nothing changes and the error is a *QuotaExceededError.
	ReserveQuota(ctx context.Context, org, service string, d Demand, at time.Time) error
	// ReleaseQuota subtracts a demand reserved at the time at, never going
	// below zero.
	ReleaseQuota(ctx context.Context, org, service string, d Demand, at time.Time) error
}

// QuotaExceededError names the quota a reservation would have passed.
type QuotaExceededError struct {
	Quota Quota
	Used  int64
	// WindowEnd is when the quota's window resets.
	WindowEnd time.Time
}

// Error describes the exhausted quota.
func (e *QuotaExceededError) Error() string {
	return fmt.Sprintf("quota exceeded: %s (%d of %d used)", e.Quota.Name(), e.Used, e.Quota.Limit)
}

// ErrQuotaExceeded is the client-facing error for an exhausted quota: 429
// with the quota's name, and Retry-After until its window resets.
func ErrQuotaExceeded(q *QuotaExceededError, now time.Time) *Error {
	e := Errorf(CodeQuotaExceeded, "Quota exceeded: %s (limit %d).", q.Quota.Name(), q.Quota.Limit)
	e.RetryAfter = max(1, int(q.WindowEnd.Sub(now).Seconds()+0.999))
	e.Err = q
	return e
}

package metrics

import "github.com/prometheus/client_golang/prometheus"

// UsageBacklog is what the usage recorder (usage.Recorder) says of the
// records it has not written to the database.
type UsageBacklog interface {
	// Pending counts the records accepted and not written yet: queued,
	// in memory, or in the spool.
	Pending() int64
	// Spooled counts the pending records in the spool on disk.
	Spooled() int64
	// Dropped counts the records lost since the start.
	Dropped() int64
}

// Usage exports a usage recorder's backlog: records pending and spooled
// (gauges) and dropped (a counter), read at every scrape. Call it once
// per Metrics.
func (m *Metrics) Usage(u UsageBacklog) {
	if m == nil {
		return
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "aiproxy_usage_records_pending",
			Help: "Usage records accepted and not yet written to the database: queued, in memory, or in the spool."},
			func() float64 { return float64(u.Pending()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "aiproxy_usage_records_spooled",
			Help: "Usage records waiting in the spool on disk for the database."},
			func() float64 { return float64(u.Spooled()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "aiproxy_usage_records_dropped_total",
			Help: "Usage records lost: the queue was full, or the database, memory and the spool could not hold them."},
			func() float64 { return float64(u.Dropped()) }),
	)
}

// JobStartBacklog is what the jobs' spooled store (jobs.SpooledStore)
// says of the job starts the database has not recorded yet.
type JobStartBacklog interface {
	Held() (onDisk, inMemory int)
}

// JobStarts exports the job starts that wait for the database, by where
// they wait: "spool" (durable, on disk) or "memory" (their clients were
// answered 503). Call it once per Metrics.
func (m *Metrics) JobStarts(b JobStartBacklog) {
	if m == nil {
		return
	}
	held := func(where string, pick func(onDisk, inMemory int) int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "aiproxy_job_starts_pending",
			Help:        "Job starts the provider accepted that wait for the database, by where they wait.",
			ConstLabels: prometheus.Labels{"held": where}},
			func() float64 { return float64(pick(b.Held())) })
	}
	m.reg.MustRegister(
		held("spool", func(onDisk, _ int) int { return onDisk }),
		held("memory", func(_, inMemory int) int { return inMemory }),
	)
}

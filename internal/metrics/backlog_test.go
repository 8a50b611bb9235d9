package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
)

type backlog struct{ pending, spooled, dropped int64 }

func (b *backlog) Pending() int64               { return b.pending }
func (b *backlog) Spooled() int64               { return b.spooled }
func (b *backlog) Dropped() int64               { return b.dropped }
func (b *backlog) Held() (onDisk, inMemory int) { return int(b.spooled), int(b.pending - b.spooled) }

// TestBacklogs checks that the usage and job-start backlogs are read at
// each scrape.
func TestBacklogs(t *testing.T) {
	m := New()
	b := &backlog{pending: 7, spooled: 5, dropped: 2}
	m.Usage(b)
	m.JobStarts(b)
	scrape := func() string {
		w := httptest.NewRecorder()
		m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		return w.Body.String()
	}
	body := scrape()
	for _, want := range []string{
		"aiproxy_usage_records_pending 7", "aiproxy_usage_records_spooled 5", "aiproxy_usage_records_dropped_total 2",
		`aiproxy_job_starts_pending{held="spool"} 5`, `aiproxy_job_starts_pending{held="memory"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	b.pending, b.spooled = 0, 0
	if body := scrape(); !strings.Contains(body, "aiproxy_usage_records_pending 0") || !strings.Contains(body, `aiproxy_job_starts_pending{held="spool"} 0`) {
		t.Errorf("a scrape does not read the backlog again:\n%s", body)
	}
	var none *Metrics
	none.Usage(b)
	none.JobStarts(b)
}

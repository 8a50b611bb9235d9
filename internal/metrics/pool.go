package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// PoolCounter counts the keys of the credential pools a proxy uses, by
// service, source and state (proxy.Proxy.PoolKeyCounts).
type PoolCounter interface {
	PoolKeyCounts(ctx context.Context) ([]aiproxy.PoolKeyCount, error)
}

// poolScrapeTimeout bounds the read of the keys' health at a scrape.
const poolScrapeTimeout = 2 * time.Second

// poolStates are the states every service and source is reported in, so
// that a state with no key reads 0 rather than disappearing.
var poolStates = []aiproxy.KeyState{aiproxy.KeyHealthy, aiproxy.KeyResting, aiproxy.KeyRemoved}

// Pools exports the keys of the credential pools by service, source and
// state (aiproxy_pool_keys: healthy, resting, removed), read at every
// scrape. Labels are bounded: catalog services, the two sources and the
// three states, never a key id. A scrape that cannot read the health
// (Redis away) reports no pool series. Call it once per Metrics.
func (m *Metrics) Pools(p PoolCounter) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&poolCollector{p: p, desc: prometheus.NewDesc("aiproxy_pool_keys",
		"Keys of the credential pools in use by service, credential source and state (healthy, resting, removed).",
		[]string{"service", "source", "state"}, nil)})
}

type poolCollector struct {
	p    PoolCounter
	desc *prometheus.Desc
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), poolScrapeTimeout)
	defer cancel()
	counts, _ := c.p.PoolKeyCounts(ctx) // the pools that could be read
	type group struct {
		service string
		source  aiproxy.Source
	}
	byGroup := map[group]map[aiproxy.KeyState]int{}
	for _, n := range counts {
		g := group{n.Service, n.Source}
		if byGroup[g] == nil {
			byGroup[g] = map[aiproxy.KeyState]int{}
		}
		byGroup[g][n.State] += n.Keys
	}
	for g, states := range byGroup {
		for _, st := range poolStates {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(states[st]), g.service, string(g.source), string(st))
		}
	}
}

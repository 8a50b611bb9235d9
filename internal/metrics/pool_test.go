package metrics

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

type poolCounts []aiproxy.PoolKeyCount

func (p *poolCounts) PoolKeyCounts(context.Context) ([]aiproxy.PoolKeyCount, error) { return *p, nil }

// TestPoolKeys checks that the pools' keys are counted by state at each
// scrape, with 0 for a state no key is in.
func TestPoolKeys(t *testing.T) {
	m := New()
	counts := &poolCounts{
		{Service: "heygen", Source: aiproxy.SourcePlatform, State: aiproxy.KeyHealthy, Keys: 1},
		{Service: "heygen", Source: aiproxy.SourcePlatform, State: aiproxy.KeyRemoved, Keys: 1},
		{Service: "elevenlabs", Source: aiproxy.SourceTenant, State: aiproxy.KeyResting, Keys: 3},
	}
	m.Pools(counts)
	scrape := func() string {
		w := httptest.NewRecorder()
		m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		return w.Body.String()
	}
	body := scrape()
	for _, want := range []string{
		`aiproxy_pool_keys{service="heygen",source="platform",state="healthy"} 1`,
		`aiproxy_pool_keys{service="heygen",source="platform",state="removed"} 1`,
		`aiproxy_pool_keys{service="heygen",source="platform",state="resting"} 0`,
		`aiproxy_pool_keys{service="elevenlabs",source="tenant",state="resting"} 3`,
		`aiproxy_pool_keys{service="elevenlabs",source="tenant",state="healthy"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	(*counts)[1].State = aiproxy.KeyHealthy
	if body := scrape(); !strings.Contains(body, `aiproxy_pool_keys{service="heygen",source="platform",state="removed"} 0`) ||
		!strings.Contains(body, `aiproxy_pool_keys{service="heygen",source="platform",state="healthy"} 2`) {
		t.Errorf("a scrape does not count the keys again:\n%s", body)
	}
	var none *Metrics
	none.Pools(counts)
}

package proxy_test

import (
	"context"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// pricing is a hook on every endpoint that sets each call's cost, before
// the call and again after it, whatever the call's outcome: the meter, not
// the hook, decides whether the cost is charged.
type pricing struct{ before, after int64 }

func (h pricing) Hook(*aiproxy.Endpoint) proxy.Hook { return h }

func (h pricing) Before(_ context.Context, c *proxy.Call) (*proxy.Answer, error) {
	c.SetCost(h.before)
	return nil, nil
}

func (h pricing) After(_ context.Context, c *proxy.Call, a *proxy.Answer, err error) (*proxy.Answer, error) {
	if h.after != 0 {
		c.SetCost(h.after)
	}
	return a, err
}

// TestCostReachesTheUsageRecord: the cost a hook sets is the usage
// record's when the provider did what was asked, and 0 when the provider
// failed, refused the call, or was never asked.
func TestCostReachesTheUsageRecord(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	tts := func(text string) map[string]any {
		return map[string]any{"path_params": map[string]any{"voice_id": "21m00Tcm4TlvDq8ikWAM"}, "body": map[string]any{"text": text}}
	}
	for _, c := range []struct {
		name  string
		hook  pricing
		fault *sandbox.Fault
		env   map[string]any
		ok    bool
		want  int64
	}{
		{name: "set after the call", hook: pricing{before: 7, after: 1234}, env: tts("hello"), ok: true, want: 1234},
		{name: "set before the call only", hook: pricing{before: 500}, env: tts("hello"), ok: true, want: 500},
		{name: "negative", hook: pricing{before: -5}, env: tts("hello"), ok: true, want: 0},
		{name: "the provider failed", hook: pricing{before: 7, after: 1234}, env: tts("hello"),
			fault: &sandbox.Fault{Provider: sandbox.ElevenLabs, Path: "/v1/text-to-speech", Status: 500, Count: 1}},
		{name: "the provider refused the call", hook: pricing{before: 7, after: 1234}, env: tts("hello"),
			fault: &sandbox.Fault{Provider: sandbox.ElevenLabs, Path: "/v1/text-to-speech", Status: 400, Count: 1}},
		{name: "refused before the provider", hook: pricing{before: 7, after: 1234},
			env: map[string]any{"path_params": map[string]any{"voice_id": "21m00Tcm4TlvDq8ikWAM"}, "body": map[string]any{"text": 12}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := &meter{}
			p := e.proxy(proxy.Config{Meter: m}).WithHooks(c.hook)
			if c.fault != nil {
				e.sb.InjectFault(*c.fault)
			}
			res := invoke(p, "acme", "elevenlabs", "tts", c.env)
			if failed := res.err != nil || res.status >= 400; failed == c.ok {
				t.Fatalf("tts = %d %v %.200s, want success %v", res.status, res.err, res.body, c.ok)
			}
			if len(m.recs) != 1 {
				t.Fatalf("%d records, want 1", len(m.recs))
			}
			if r := m.recs[0]; r.CostMicros != c.want {
				t.Fatalf("record = %+v, want cost %d", r, c.want)
			}
		})
	}
	t.Run("no hook", func(t *testing.T) {
		m := &meter{}
		wantOK(t, "tts", invoke(e.proxy(proxy.Config{Meter: m}), "acme", "elevenlabs", "tts", tts("hello")))
		if len(m.recs) != 1 || m.recs[0].CostMicros != 0 || m.recs[0].Units != 5 {
			t.Fatalf("records = %+v, want one of 5 characters that cost 0", m.recs)
		}
	})
}

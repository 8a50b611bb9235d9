package main

import (
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/aiproxy/aiproxy/internal/budget"
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/speechcache"
)

// speechFlags configure the speech cache: which orgs use it, where its
// audio lives and how much of it is kept.
type speechFlags struct {
	orgs     []string
	dir      string
	maxBytes int64
	envErr   error
}

func (f *speechFlags) register(fs *flag.FlagSet, e env) {
	v := newEnvValues(e)
	if list := e("AIPROXY_SPEECH_CACHE_ORGS"); list != "" {
		f.orgs = splitList(list)
	}
	fs.Func("speech-cache-orgs", "comma-separated orgs whose identical speech requests are answered from the speech cache, "+
		"\"*\" for every org, \"off\" for none (the default of serve; the demo's is its own org) (docs/guardrails.md) [AIPROXY_SPEECH_CACHE_ORGS]", func(s string) error {
		f.orgs = splitList(s)
		if f.orgs == nil {
			f.orgs = []string{} // given, but empty: off, as "off" is
		}
		return nil
	})
	fs.StringVar(&f.dir, "speech-cache-dir", e("AIPROXY_SPEECH_CACHE_DIR"),
		"directory of the speech cache's audio (default: speech/ in the data dir) [AIPROXY_SPEECH_CACHE_DIR]")
	fs.Int64Var(&f.maxBytes, "speech-cache-max-bytes", v.int64("AIPROXY_SPEECH_CACHE_MAX_BYTES", 1<<30),
		"bytes of audio the speech cache keeps, least recently used evicted first [AIPROXY_SPEECH_CACHE_MAX_BYTES]")
	f.envErr = v.err()
}

func (f *speechFlags) validate() error {
	errs := []error{f.envErr}
	if f.maxBytes < 1<<20 {
		errs = append(errs, errors.New("--speech-cache-max-bytes must be at least 1048576 (1 MiB)"))
	}
	return errors.Join(errs...)
}

// splitList reads a comma-separated list, without empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// off reports whether no org uses the speech cache.
func (f *speechFlags) off() bool {
	return len(f.orgs) == 0 || (len(f.orgs) == 1 && f.orgs[0] == "off")
}

// build opens the speech cache, or returns nil when no org uses it. Its
// hits are priced by the budgets' price table, so that usage shows what
// the cache saved.
func (f *speechFlags) build(dataDir string, prices *budget.Pricer, log *slog.Logger) (*speechcache.Cache, error) {
	if f.off() {
		return nil, nil
	}
	dir := f.dir
	if dir == "" {
		dir = filepath.Join(dataDir, "speech")
	}
	store, err := speechcache.OpenFS(speechcache.FSConfig{Dir: dir, MaxBytes: f.maxBytes})
	if err != nil {
		return nil, err
	}
	return speechcache.New(speechcache.Config{Store: store, Orgs: speechcache.NewOrgList(f.orgs), Logger: log,
		Pricer: speechPricer{prices}}), nil
}

// speechPricer prices a speech-cache hit as the budget enforcer prices the
// same call when it reaches the provider: the quote from the request, and
// the provider's own count of credits in the stored answer's headers
// (budget.Quote.Actual), so that a hit saves what the call that filled the
// entry cost, at today's prices.
type speechPricer struct{ p *budget.Pricer }

var _ speechcache.Pricer = speechPricer{}

func (s speechPricer) Price(c *proxy.Call, stored http.Header) (int64, bool) {
	if s.p == nil {
		return 0, false
	}
	q, err := s.p.Quote(budget.Call{Org: c.Org, Service: c.Service.Slug, Endpoint: c.Endpoint, Body: c.Envelope.Body})
	if err != nil {
		return 0, false
	}
	if q.Free {
		return 0, true
	}
	return q.Actual(stored), true
}

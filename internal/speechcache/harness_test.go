package speechcache_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/ownership"
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/sandbox"
	"github.com/aiproxy/aiproxy/internal/speechcache"
	"github.com/aiproxy/aiproxy/internal/sqlite"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// The ElevenLabs keys the sandbox accepts: the platform's, which orgs acme,
// beta and off fall back to, org tee's own, and two that tests give acme.
const (
	elPlatform = "el-platform-key"
	elTee      = "el-tee-key"
	elAcme     = "el-acme-key"
	elAcme2    = "el-acme-key-2"
)

// Voices the sandbox always has.
const (
	rachel = "21m00Tcm4TlvDq8ikWAM"
	domi   = "AZnzlk1XvdvUeBnXmlld"
)

// opted are the orgs with the speech cache on; org off has it off.
var opted = []string{"acme", "beta", "tee"}

// harness is the call pipeline as serve builds it for speech (the ownership
// hooks, then the speech cache), on SQLite, with the sandbox as ElevenLabs.
type harness struct {
	t     *testing.T
	sb    *sandbox.Server
	sbURL string
	db    *sqlite.DB
	adm   *admin.Service
	cat   *catalog.Catalog
	v     *vault.Vault
	dir   string
	// max and maxEntry bound the cache (FSConfig).
	max, maxEntry int64
	credentialTTL time.Duration
	pricer        speechcache.Pricer
	inner         []proxy.Hooks
	fs            *speechcache.FS
	store         *countingStore
	cache         *speechcache.Cache
	meter         *meter
	p             *proxy.Proxy
	// sent counts the requests that reached the provider.
	sent atomic.Int64
	// firstWrite sums, over the calls serve handled, the time from the
	// handler's start to its first body write.
	firstWrite atomic.Int64
}

type harnessOptions struct {
	sandbox            sandbox.Config
	maxBytes, maxEntry int64
	// credentialTTL keeps opened credentials, as serve does; tests that
	// change credentials leave it 0.
	credentialTTL time.Duration
	// pricer prices hits (Config.Pricer); inner are hooks wired inside
	// the cache, as serve wires the budget enforcer.
	pricer speechcache.Pricer
	inner  []proxy.Hooks
}

func newHarness(t *testing.T, opts ...func(*harnessOptions)) *harness {
	t.Helper()
	o := harnessOptions{sandbox: sandbox.Config{StreamChunkDelay: -1}}
	for _, f := range opts {
		f(&o)
	}
	ctx := context.Background()
	h := &harness{t: t, dir: filepath.Join(t.TempDir(), "speech"), meter: &meter{}}
	o.sandbox.ElevenLabsKeys = []string{elPlatform, elTee, elAcme, elAcme2}
	o.sandbox.HeyGenKeys = []string{"hg-unused"}
	h.sb = sandbox.New(o.sandbox)
	sbSrv := httptest.NewServer(h.sb)
	t.Cleanup(sbSrv.Close)
	h.sbURL = sbSrv.URL + "/elevenlabs"
	var err error
	h.cat, err = catalog.Load(catalog.Options{BaseURLs: map[string]string{"heygen": sbSrv.URL + "/heygen", "elevenlabs": h.sbURL}})
	if err != nil {
		t.Fatal(err)
	}
	h.db, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "aiproxy.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.db.Close() })
	h.v, err = vault.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	h.adm = admin.New(h.db, h.v, h.cat, nil)
	for _, org := range []string{"acme", "beta", "tee", "off"} {
		if _, err := h.adm.CreateOrg(ctx, org, "Org "+org); err != nil {
			t.Fatal(err)
		}
	}
	h.setCredential(aiproxy.SourcePlatform, "", elPlatform)
	h.setCredential(aiproxy.SourceTenant, "tee", elTee)
	h.max, h.maxEntry, h.credentialTTL = o.maxBytes, o.maxEntry, o.credentialTTL
	h.pricer, h.inner = o.pricer, o.inner
	h.start()
	return h
}

// start opens the cache directory and builds the pipeline on it, as a
// (re)started process would.
func (h *harness) start() {
	h.t.Helper()
	fs, err := speechcache.OpenFS(speechcache.FSConfig{Dir: h.dir, MaxBytes: h.max, MaxEntryBytes: h.maxEntry})
	if err != nil {
		h.t.Fatal(err)
	}
	h.fs, h.store = fs, &countingStore{Store: fs}
	h.cache = speechcache.New(speechcache.Config{Store: h.store, Orgs: speechcache.NewOrgList(opted), Pricer: h.pricer})
	h.t.Cleanup(h.cache.Wait)
	transport := roundTripper(func(r *http.Request) (*http.Response, error) {
		if strings.Contains(r.URL.Path, "/text-to-speech/") {
			h.sent.Add(1)
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	h.p = proxy.New(proxy.Config{Catalog: h.cat, Credentials: h.db, Vault: h.v, Transport: transport, Meter: h.meter,
		CredentialTTL: h.credentialTTL}).
		WithHooks(append([]proxy.Hooks{ownership.New(h.db, nil), h.cache}, h.inner...)...)
}

func (h *harness) setCredential(src aiproxy.Source, org, key string) {
	h.t.Helper()
	if _, err := h.adm.SetCredential(context.Background(), src, org, "elevenlabs", aiproxy.CredentialValue{"key": key}); err != nil {
		h.t.Fatal(err)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// countingStore counts what reaches the store.
type countingStore struct {
	speechcache.Store
	gets, creates atomic.Int64
}

func (s *countingStore) Open(key string) (*speechcache.Entry, error) {
	s.gets.Add(1)
	return s.Store.Open(key)
}

func (s *countingStore) Create(key string) (speechcache.Writer, error) {
	s.creates.Add(1)
	return s.Store.Create(key)
}

// meter keeps the usage records.
type meter struct {
	mu   sync.Mutex
	recs []aiproxy.UsageRecord
}

func (m *meter) Record(r aiproxy.UsageRecord) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = append(m.recs, r)
}

func (m *meter) records() []aiproxy.UsageRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]aiproxy.UsageRecord(nil), m.recs...)
}

// reply is what a client got.
type reply struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func (r reply) cache() string { return r.header.Get("X-Aiproxy-Cache") }

// Principals.
func orgKey(org string) aiproxy.Principal {
	return aiproxy.Principal{KeyID: "key-" + org, OrgKey: org, Role: aiproxy.RoleInvoke}
}

func member(org, user string) aiproxy.Principal {
	return aiproxy.Principal{Kind: aiproxy.KindUserToken, KeyID: "key-" + org, OrgKey: org, Role: aiproxy.RoleInvoke,
		User: user, TokenID: "tok-" + user}
}

// speak describes one TTS call.
type speak struct {
	action string
	voice  string
	body   map[string]any
	query  map[string]any
}

func (s speak) envelope() map[string]any {
	env := map[string]any{"path_params": map[string]string{"voice_id": s.voice}, "body": s.body}
	if s.query != nil {
		env["query"] = s.query
	}
	return env
}

// reader is the call's envelope as a request body.
func (s speak) reader(t *testing.T) io.Reader {
	body, err := json.Marshal(s.envelope())
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(body)
}

// tts is a plain call of action with a text.
func tts(text string) speak {
	return speak{action: "tts", voice: rachel, body: map[string]any{"text": text}}
}

// invoke makes one invoke call of org as pr.
func (h *harness) invoke(org string, pr aiproxy.Principal, s speak) reply {
	h.t.Helper()
	if s.action == "" {
		s.action = "tts"
	}
	r := httptest.NewRequest(http.MethodPost, "/api/ai-proxy/orgs/"+org+"/services/elevenlabs/"+s.action+"/", s.reader(h.t))
	r.Header.Set("Content-Type", "application/json")
	r = r.WithContext(aiproxy.WithPrincipal(r.Context(), pr))
	w := httptest.NewRecorder()
	if _, err := h.p.Invoke(w, r, org, "elevenlabs", s.action); err != nil {
		return reply{err: err}
	}
	return reply{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// call is invoke for the org's own key, which must be answered 200.
func (h *harness) call(org string, s speak) reply {
	h.t.Helper()
	r := h.invoke(org, orgKey(org), s)
	if r.err != nil || r.status != http.StatusOK {
		h.t.Fatalf("%s %s: %d %v %s", org, s.action, r.status, r.err, r.body)
	}
	return r
}

// settle waits until the fills of ended calls are stored, as a next call
// would (it waits for a fill in flight).
func (h *harness) settle() { h.cache.Wait() }

// wantSent fails unless n requests in all reached the provider.
func (h *harness) wantSent(n int64) {
	h.t.Helper()
	if got := h.sent.Load(); got != n {
		h.t.Fatalf("provider calls = %d, want %d", got, n)
	}
}

// readAll reads a response body, returning what arrived before an error.
func readAll(r io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	_, err := io.Copy(&buf, r)
	return buf.Bytes(), err
}

// serve puts the pipeline behind an HTTP server, the way the API does.
func (h *harness) serve() *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org, action := r.URL.Query().Get("org"), r.URL.Query().Get("action")
		r = r.WithContext(aiproxy.WithPrincipal(r.Context(), orgKey(org)))
		fw := &firstWriter{ResponseWriter: w, start: time.Now(), sum: &h.firstWrite}
		if _, err := h.p.Invoke(fw, r, org, "elevenlabs", action); err != nil {
			var e *aiproxy.Error
			if errors.As(err, &e) {
				http.Error(w, e.Message, http.StatusBadGateway)
				return
			}
			http.Error(w, "internal", http.StatusInternalServerError)
		}
	}))
	h.t.Cleanup(srv.Close)
	return srv
}

// waitFor polls cond for up to 5 seconds; it is a bound on a background
// step, not a timed assertion.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("gave up waiting: %s", what)
}

// firstWriter adds the time to the first body write to sum.
type firstWriter struct {
	http.ResponseWriter
	start   time.Time
	sum     *atomic.Int64
	written bool
}

func (f *firstWriter) Write(p []byte) (int, error) {
	if !f.written {
		f.written = true
		f.sum.Add(int64(time.Since(f.start)))
	}
	return f.ResponseWriter.Write(p)
}

// Flush passes a streaming answer's flushes on.
func (f *firstWriter) Flush() { http.NewResponseController(f.ResponseWriter).Flush() }

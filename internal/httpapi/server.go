package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/metrics"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// Catalog lists the services for discovery.
type Catalog interface {
	Services() []*aiproxy.Service
	Service(slug string) (*aiproxy.Service, bool)
}

// Invoker performs invoke calls.
type Invoker interface {
	Invoke(w http.ResponseWriter, r *http.Request, org, service, action string) (proxy.Outcome, error)
}

// OrgReader reads orgs.
type OrgReader interface {
	Org(ctx context.Context, key string) (aiproxy.Org, error)
}

// Config configures the HTTP API. Every field but Logger, Now and Ready is
// required.
type Config struct {
	Catalog Catalog
	Invoker Invoker
	// Native serves the native passthrough routes; nil means Invoker, when
	// it implements NativeInvoker (native.go).
	Native NativeInvoker
	Keys   KeyReader
	Orgs   OrgReader
	Admin  *admin.Service
	// UserTokens reads user tokens for authentication, and Tokens mints
	// and revokes them; nil Tokens leaves the user-token routes 404, nil
	// UserTokens makes every user token invalid.
	UserTokens TokenReader
	Tokens     *admin.UserTokens
	// SignIns verifies JWTs of the orgs' identity providers; nil makes
	// every JWT an invalid token.
	SignIns SignInVerifier
	// LiveSessions recognises the provider session tokens aiproxy minted,
	// on the native routes of their service; nil recognises none.
	LiveSessions LiveSessionVerifier
	// LiveSessionAdmin serves the live-session routes (livesession.go);
	// nil leaves them unregistered.
	LiveSessionAdmin LiveSessionAdmin
	// Budgets manages spending budgets (budget.go); nil leaves their
	// routes unregistered.
	Budgets BudgetAdmin
	// Logger receives access and error logs; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Ready reports whether the server can serve; nil means always ready.
	Ready func(ctx context.Context) error
	// Readiness, when set, replaces Ready: it names each dependency's state
	// for the /readyz body (short words such as "ok" or "unreachable",
	// never error text, since /readyz needs no key) and says whether the
	// server can serve.
	Readiness func(ctx context.Context) (checks map[string]string, ready bool)
	// Access holds per-org access rules for discovery; nil means every
	// org sees the whole catalog.
	Access AccessRules
	// Guardrails manages quotas, usage and access; nil leaves their routes
	// unregistered.
	Guardrails *admin.Guardrails
	// Jobs, Webhooks and ProviderWebhooks serve the jobs API, the org
	// webhook endpoints and the provider webhook receiver; nil answers
	// their routes 404.
	Jobs             JobReader
	Webhooks         WebhookAdmin
	ProviderWebhooks WebhookReceiver

	// CORSOrigins are the browser origins allowed to call the API ("*"
	// for any); none means no CORS headers at all (cors.go).
	CORSOrigins []string
	// MaxHeaderCount caps a request's header fields; 0 means
	// DefaultMaxHeaderCount. BodyReadTimeout bounds each silence while a
	// request body is read; 0 means DefaultBodyReadTimeout (limits.go).
	MaxHeaderCount  int
	BodyReadTimeout time.Duration
	// Metrics records calls (metrics.go); nil records nothing.
	Metrics *metrics.Metrics
	// Version is the running release, shown by /healthz; empty leaves it
	// out.
	Version string
}

type server struct {
	cfg  Config
	log  *slog.Logger
	auth *authenticator
	mux  *http.ServeMux
}

// New returns the HTTP handler of the API.
func New(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &server{
		cfg:  cfg,
		log:  cfg.Logger,
		auth: &authenticator{keys: cfg.Keys, tokens: cfg.UserTokens, signIns: cfg.SignIns, live: cfg.LiveSessions, now: cfg.Now, touched: map[string]time.Time{}},
		mux:  http.NewServeMux(),
	}
	s.routes()
	return s.countHTTP(s.cors(s.limits(s.middleware(s.mux)))) // metrics.go, cors.go, limits.go
}

const base = "/api/ai-proxy"

func (s *server) routes() {
	s.route("/orgs/{org}/services", s.orgAccess(s.listServices), http.MethodGet)
	s.route("/orgs/{org}/services/{service}", s.orgAccess(s.serviceDetail), http.MethodGet)
	s.route("/orgs/{org}/services/{service}/{action}", s.orgAccess(s.measured(s.invoke)), http.MethodPost)

	s.route("/orgs/{org}/keys", s.orgAdmin(s.orgKeys), http.MethodGet, http.MethodPost)
	s.route("/orgs/{org}/keys/{id}", s.orgAdmin(s.revokeOrgKey), http.MethodDelete)
	s.route("/orgs/{org}/credentials", s.orgAdmin(s.orgCredentials), http.MethodGet)
	s.route("/orgs/{org}/credentials/{name}", s.orgAdmin(s.orgCredential), http.MethodPut, http.MethodDelete)

	s.route("/admin/orgs", s.platformAdmin(s.orgs), http.MethodGet, http.MethodPost)
	s.route("/admin/keys", s.platformAdmin(s.platformKeys), http.MethodGet, http.MethodPost)
	s.route("/admin/keys/{id}", s.platformAdmin(s.revokePlatformKey), http.MethodDelete)
	s.route("/admin/credentials", s.platformAdmin(s.platformCredentials), http.MethodGet)
	s.route("/admin/credentials/{name}", s.platformAdmin(s.platformCredential), http.MethodPut, http.MethodDelete)
	s.poolRoutes() // pool.go

	s.userTokenRoutes() // usertoken.go
	if s.cfg.Budgets != nil {
		s.budgetRoutes(s.cfg.Budgets) // budget.go
	}
	s.openAPIRoutes()
	s.nativeRoutes()
	s.jobRoutes()
	s.requestRoutes() // requests.go
	s.auditRoutes()   // audit.go
	if s.cfg.LiveSessionAdmin != nil {
		s.liveSessionRoutes(s.cfg.LiveSessionAdmin) // livesession.go
	}
	if s.cfg.Guardrails != nil {
		s.route("/orgs/{org}/quotas", s.orgAdmin(s.orgQuotas), http.MethodGet, http.MethodPut, http.MethodDelete)
		s.route("/orgs/{org}/usage", s.orgAdmin(s.orgUsage), http.MethodGet)
		s.route("/orgs/{org}/access", s.orgAdmin(s.orgAccessRules), http.MethodGet, http.MethodPut)
		s.route("/admin/usage", s.platformAdmin(s.platformUsage), http.MethodGet)
	}

	s.mux.Handle(base+"/", s.handle(func(http.ResponseWriter, *http.Request) error {
		return aiproxy.Errorf(aiproxy.CodeNotFound, "Not found.")
	}))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		body := map[string]string{"status": "ok"}
		if s.cfg.Version != "" {
			body["version"] = s.cfg.Version
		}
		writeJSON(w, http.StatusOK, body)
	})
	s.mux.Handle("GET /readyz", s.handle(s.ready))
}

// route registers a handler for a path with and without its trailing slash,
// answering 405 in the contract's shape for other methods.
func (s *server) route(path string, h handlerFunc, methods ...string) {
	allowed := strings.Join(methods, ", ")
	guarded := func(w http.ResponseWriter, r *http.Request) error {
		for _, m := range methods {
			if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
				return h(w, r)
			}
		}
		w.Header().Set("Allow", allowed)
		return aiproxy.Errorf(aiproxy.CodeMethodNotAllowed, "Method %q not allowed.", r.Method)
	}
	s.mux.Handle(base+path, s.handle(guarded))
	s.mux.Handle(base+path+"/{$}", s.handle(guarded))
}

// handle adapts a handlerFunc, rendering its error.
func (s *server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			status := renderError(w, r, s.log, err)
			if rec, ok := w.(*recorder); ok && status == StatusClientClosed {
				rec.status = status
			}
		}
	})
}

// authenticated wraps a handler with authentication and an access check.
func (s *server) authenticated(allow func(aiproxy.Principal, *http.Request) bool, h handlerFunc) handlerFunc {
	return s.authenticate(false, allow, h)
}

// authenticate is authenticated, where fromQuery also lets a GET carry a
// user token in the query string.
func (s *server) authenticate(fromQuery bool, allow func(aiproxy.Principal, *http.Request) bool, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var tok string
		if fromQuery {
			tok, r = queryToken(r)
		}
		p, err := s.auth.authenticate(r, tok)
		if err != nil {
			if aiproxy.ErrorCode(err) == aiproxy.CodeUnauthenticated {
				w.Header().Set("WWW-Authenticate", `Api-Key realm="aiproxy"`)
			}
			return err // a store outage is 503, not a challenge
		}
		if rec, ok := w.(*recorder); ok {
			rec.keyID, rec.user = p.KeyID, p.User
		}
		if svc := r.PathValue("service"); !allow(p, r) || (svc != "" && !p.CanUseService(svc)) {
			return errForbidden()
		}
		r = r.WithContext(aiproxy.WithPrincipal(r.Context(), p))
		if p.PlatformAdmin() && r.PathValue("org") != "" {
			if err := s.orgExists(r.Context(), r.PathValue("org")); err != nil {
				return err
			}
		}
		return h(w, r)
	}
}

func (s *server) orgExists(ctx context.Context, org string) error {
	_, err := s.cfg.Orgs.Org(ctx, org)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return aiproxy.Errorf(aiproxy.CodeNotFound, "Org %q not found.", org)
	}
	return err
}

func (s *server) orgAccess(h handlerFunc) handlerFunc {
	return s.authenticated(func(p aiproxy.Principal, r *http.Request) bool { return p.CanUseOrg(r.PathValue("org")) }, h)
}

// orgMedia is orgAccess for the routes a browser loads without headers
// (media downloads and event streams): a GET may carry a user token in
// the query string.
func (s *server) orgMedia(h handlerFunc) handlerFunc {
	return s.authenticate(true, func(p aiproxy.Principal, r *http.Request) bool { return p.CanUseOrg(r.PathValue("org")) }, h)
}

// orgKey is orgAccess for the routes only a key may use (minting and
// managing user tokens): never a user token or a sign-in.
func (s *server) orgKey(h handlerFunc) handlerFunc {
	return s.authenticated(func(p aiproxy.Principal, r *http.Request) bool {
		return p.CanUseOrg(r.PathValue("org")) && (p.Kind == "" || p.Kind == aiproxy.KindKey)
	}, h)
}

func (s *server) orgAdmin(h handlerFunc) handlerFunc {
	return s.authenticated(func(p aiproxy.Principal, r *http.Request) bool { return p.CanAdminOrg(r.PathValue("org")) }, h)
}

func (s *server) platformAdmin(h handlerFunc) handlerFunc {
	return s.authenticated(func(p aiproxy.Principal, _ *http.Request) bool { return p.PlatformAdmin() }, h)
}

func (s *server) ready(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Readiness != nil {
		checks, ok := s.cfg.Readiness(r.Context())
		status, code := "ready", http.StatusOK
		if !ok {
			s.log.Warn("not ready", "checks", checks)
			status, code = "unavailable", http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]any{"status": status, "checks": checks})
		return nil
	}
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(r.Context()); err != nil {
			s.log.Error("not ready", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return nil
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

// middleware adds a request id, an access log line and panic recovery.
func (s *server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.cfg.Now()
		id := incomingRequestID(r.Header.Get("X-Request-Id"))
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(aiproxy.WithRequestID(context.WithValue(r.Context(), requestIDKey{}, id), id))
		rec := &recorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic", "request_id", id, "panic", v)
				if rec.status == 0 {
					renderError(rec, r, s.log, errors.New("panic"))
				}
			}
			s.logRequest(id, r, rec, s.cfg.Now().Sub(start))
		}()
		next.ServeHTTP(rec, r)
	})
}

// offStackAfter is how long a request must have taken for its access-log
// line to be written from a short-lived goroutine of its own.
const offStackAfter = time.Second

// logRequest writes the access-log line, built as slog.Attr values and
// logged with LogAttrs, which skips converting key-value pairs.
//
// slog's JSON handler needs about 5 KB of stack below this call (more for
// the float64, which it marshals with encoding/json); on top of net/http's
// frames that grows an answering goroutine's stack from 8 to 16 KB, which
// it keeps until a collection shrinks it. That is nothing for a short
// request, but 10,000 long-polls answered within seconds of each other
// would all double their stacks together. So a request that took longer
// than offStackAfter writes its line from a fresh goroutine and waits for
// it: the line is written before the request ends, as always, and a panic
// in the logger is raised again here.
func (s *server) logRequest(id string, r *http.Request, rec *recorder, took time.Duration) {
	if took < offStackAfter {
		s.writeAccessLine(id, r, rec, took)
		return
	}
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		s.writeAccessLine(id, r, rec, took)
	}()
	if v := <-done; v != nil {
		panic(v)
	}
}

func (s *server) writeAccessLine(id string, r *http.Request, rec *recorder, took time.Duration) {
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "request",
		slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", rec.statusOrOK()), slog.Int64("bytes", rec.bytes), slog.String("key_id", rec.keyID),
		slog.String("user", rec.user),
		slog.Float64("duration_ms", float64(took.Microseconds())/1000))
}

type requestIDKey struct{}

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return id
}

// incomingRequestID keeps a client's request id when it is short and plain,
// and otherwise makes a new one.
func incomingRequestID(in string) string {
	if len(in) > 0 && len(in) <= 64 && strings.Trim(in, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == "" {
		return in
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// recorder remembers the status and size of a response for the access log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	keyID  string
	user   string
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer to flush.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) statusOrOK() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/postgres"
	"github.com/aiproxy/aiproxy/internal/sqlite"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// storeFlags are the flags that locate the database, shared by every
// command that opens it.
type storeFlags struct {
	dataDir     string
	databaseURL string
}

func (f *storeFlags) register(fs *flag.FlagSet, e env, defaultDir string) {
	fs.StringVar(&f.dataDir, "data-dir", envOr(e, "AIPROXY_DATA_DIR", defaultDir),
		"directory for the SQLite database (and the demo's master key) [AIPROXY_DATA_DIR]")
	fs.StringVar(&f.databaseURL, "database-url", e("AIPROXY_DATABASE_URL"),
		"database URL, postgres://user:pass@host/db or sqlite:///path/to/file.db; overrides --data-dir [AIPROXY_DATABASE_URL]")
}

// sqlitePath returns the SQLite file the flags name.
func (f *storeFlags) sqlitePath() (string, error) {
	if f.databaseURL == "" {
		if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
			return "", fmt.Errorf("create data dir: %w", err)
		}
		return filepath.Join(f.dataDir, "aiproxy.db"), nil
	}
	if p, ok := strings.CutPrefix(f.databaseURL, "sqlite://"); ok && p != "" {
		return p, nil
	}
	return "", fmt.Errorf("unsupported database URL %q: use postgres://user:pass@host/db or sqlite:///path/to/file.db", redactURL(f.databaseURL))
}

// isPostgres reports whether the flags name a PostgreSQL database.
func (f *storeFlags) isPostgres() bool {
	return strings.HasPrefix(f.databaseURL, "postgres://") || strings.HasPrefix(f.databaseURL, "postgresql://")
}

// redactURL hides a URL's password, which must never reach a log.
func redactURL(s string) string {
	if at := strings.LastIndex(s, "@"); at > 0 {
		if scheme := strings.Index(s, "://"); scheme >= 0 && scheme < at {
			return s[:scheme+3] + "****" + s[at:]
		}
	}
	return s
}

// store is what the wiring needs from a storage engine; *sqlite.DB and
// *postgres.DB both provide it.
type store interface {
	aiproxy.OrgStore
	aiproxy.KeyStore
	aiproxy.CredentialStore
	aiproxy.AuditStore
	Ping(ctx context.Context) error
	SchemaVersion(ctx context.Context) (int64, error)
	Close() error
}

var (
	_ store = (*sqlite.DB)(nil)
	_ store = (*postgres.DB)(nil)
)

// open opens the engine the flags name, migrating its schema: Postgres for
// a postgres:// or postgresql:// URL, otherwise SQLite.
func (f *storeFlags) open(ctx context.Context) (store, error) {
	if f.isPostgres() {
		db, err := postgres.Open(ctx, f.databaseURL)
		if err != nil {
			return nil, fmt.Errorf("open database %s: %w", redactURL(f.databaseURL), err)
		}
		return db, nil
	}
	path, err := f.sqlitePath()
	if err != nil {
		return nil, err
	}
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

// engine names the engine the flags select, for logs and messages.
func (f *storeFlags) engine() string {
	if f.isPostgres() {
		return "postgres"
	}
	return "sqlite"
}

// keyFlags locate the master key: AIPROXY_MASTER_KEY or a key file. There is
// deliberately no flag that takes the key itself, since argv is visible to
// every user of the machine.
type keyFlags struct {
	keyFile string
	// oldKeyFile holds retired master keys, one per line, that still open
	// blobs sealed before a rotation (rotate.go).
	oldKeyFile string
}

func (f *keyFlags) register(fs *flag.FlagSet, e env) {
	fs.StringVar(&f.keyFile, "master-key-file", e("AIPROXY_MASTER_KEY_FILE"),
		"file holding the 32-byte master key (64 hex chars or base64); or set AIPROXY_MASTER_KEY [AIPROXY_MASTER_KEY_FILE]")
	fs.StringVar(&f.oldKeyFile, "master-key-old-file", e("AIPROXY_MASTER_KEY_OLD_FILE"),
		"file of retired master keys, one per line, still accepted for opening; or set AIPROXY_MASTER_KEY_OLD (comma-separated) [AIPROXY_MASTER_KEY_OLD_FILE]")
}

var errNoMasterKey = errors.New("no master key: set AIPROXY_MASTER_KEY or --master-key-file (generate one with: openssl rand -hex 32)")

func (f *keyFlags) vault(e env) (*vault.Vault, error) {
	text := e("AIPROXY_MASTER_KEY")
	if text == "" && f.keyFile != "" {
		b, err := os.ReadFile(f.keyFile)
		if err != nil {
			return nil, fmt.Errorf("read master key file: %w", err)
		}
		text = string(b)
	}
	if strings.TrimSpace(text) == "" {
		return nil, errNoMasterKey
	}
	key, err := vault.ParseMasterKey(text)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	older, err := f.oldKeys(e) // rotate.go
	if err != nil {
		return nil, err
	}
	return vault.New(key, older...)
}

func envOr(e env, name, def string) string {
	if v := e(name); v != "" {
		return v
	}
	return def
}

// newLogger returns a JSON logger at a level name.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", level)
	}
	return slog.New(aiproxy.RequestIDHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))), nil
}

// parse parses a command's flags, turning -h into a clean exit.
func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return errHelp
	}
	if err != nil {
		return errUsage
	}
	return nil
}

// errHelp is returned after --help printed the flags; run treats it as
// success.
var errHelp = errors.New("help shown")

func newFlagSet(name, synopsis string, s stdio) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(s.err)
	fs.Usage = func() {
		fmt.Fprintf(s.err, "Usage: aiproxy %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// loadCatalog loads the embedded catalog, an operator's extra directory, and
// base URL overrides.
func loadCatalog(dir string, baseURLs map[string]string) (*catalog.Catalog, error) {
	c, err := catalog.Load(catalog.Options{Dir: dir, BaseURLs: baseURLs})
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return c, nil
}

// adminService opens what the management commands need. The vault is only
// required by commands that seal.
func adminService(db store, v *vault.Vault, cat *catalog.Catalog) *admin.Service {
	var sealer admin.Sealer
	if v != nil {
		sealer = v
	}
	svc := admin.New(db, sealer, cat, nil)
	svc.SetAuditor(db)
	return svc
}

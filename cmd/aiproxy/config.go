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
	// allowNewerSchema opens a database a newer release has migrated.
	allowNewerSchema bool
	// envErr holds the typed variables above that do not parse; open
	// refuses to start with them, and serve reports them with its other
	// problems.
	envErr error
}

func (f *storeFlags) register(fs *flag.FlagSet, e env, defaultDir string) {
	v := newEnvValues(e)
	fs.StringVar(&f.dataDir, "data-dir", envOr(e, "AIPROXY_DATA_DIR", defaultDir),
		"directory for the SQLite database (and the demo's master key) [AIPROXY_DATA_DIR]")
	fs.StringVar(&f.databaseURL, "database-url", e("AIPROXY_DATABASE_URL"),
		"database URL, postgres://user:pass@host/db or sqlite:///path/to/file.db; overrides --data-dir [AIPROXY_DATABASE_URL]")
	fs.BoolVar(&f.allowNewerSchema, "allow-newer-schema", v.bool("AIPROXY_ALLOW_NEWER_SCHEMA", false),
		"use a database whose schema a newer release migrated past what this binary knows [AIPROXY_ALLOW_NEWER_SCHEMA]")
	f.envErr = v.err()
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

var (
	_ aiproxy.Store = (*sqlite.DB)(nil)
	_ aiproxy.Store = (*postgres.DB)(nil)
)

// open opens the engine the flags name, migrating its schema: Postgres for
// a postgres:// or postgresql:// URL, otherwise SQLite.
func (f *storeFlags) open(ctx context.Context) (aiproxy.Store, error) {
	if f.envErr != nil {
		return nil, f.envErr
	}
	if f.isPostgres() {
		db, err := postgres.OpenWith(ctx, f.databaseURL, postgres.Options{AllowNewerSchema: f.allowNewerSchema})
		if err != nil {
			return nil, fmt.Errorf("open database %s: %w", redactURL(f.databaseURL), err)
		}
		return db, nil
	}
	path, err := f.sqlitePath()
	if err != nil {
		return nil, err
	}
	db, err := sqlite.OpenWith(ctx, path, sqlite.Options{AllowNewerSchema: f.allowNewerSchema})
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
	// blobs sealed before a rotation.
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
	older, err := f.oldKeys(e)
	if err != nil {
		return nil, err
	}
	return vault.New(key, older...)
}

// oldKeys reads the retired master keys: AIPROXY_MASTER_KEY_OLD (comma-
// separated) and the lines of --master-key-old-file.
func (f *keyFlags) oldKeys(e env) ([][]byte, error) {
	var texts []string
	texts = append(texts, strings.Split(e("AIPROXY_MASTER_KEY_OLD"), ",")...)
	if f.oldKeyFile != "" {
		b, err := os.ReadFile(f.oldKeyFile)
		if err != nil {
			return nil, fmt.Errorf("read old master key file: %w", err)
		}
		texts = append(texts, strings.Split(string(b), "\n")...)
	}
	var keys [][]byte
	for _, t := range texts {
		if strings.TrimSpace(t) == "" {
			continue
		}
		k, err := vault.ParseMasterKey(t)
		if err != nil {
			return nil, fmt.Errorf("old master key %d: %w", len(keys)+1, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
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
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(s.err)
		fmt.Fprint(s.err, doubleDash(b.String()))
	}
	return fs
}

// doubleDash spells the flag names of PrintDefaults' output as --name, the
// way the README and the docs do (the flag package accepts both).
func doubleDash(defaults string) string {
	lines := strings.SplitAfter(defaults, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "  -") {
			lines[i] = "  --" + l[len("  -"):]
		}
	}
	return strings.Join(lines, "")
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
func adminService(db aiproxy.Store, v *vault.Vault, cat *catalog.Catalog) *admin.Service {
	var sealer admin.Sealer
	if v != nil {
		sealer = v
	}
	svc := admin.New(db, sealer, cat, nil)
	svc.SetAuditor(db)
	return svc
}

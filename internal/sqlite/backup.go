package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// BackupInfo describes a backup that Backup wrote and verified.
type BackupInfo struct {
	// Path is the backup file.
	Path string
	// Bytes is its size.
	Bytes int64
	// SchemaVersion is the newest migration it holds.
	SchemaVersion int64
	// Took is how long the copy and the check took together.
	Took time.Duration
}

// Backup writes a consistent copy of the database file src to dst while
// other connections and processes keep reading and writing it, then
// checks the copy. It uses VACUUM INTO on a connection of its own: the
// copy is one read transaction's snapshot (in WAL mode a reader blocks no
// writer), compacted as it is written. The copy is written next to dst
// under a temporary name and renamed into place only once it opens and
// passes PRAGMA integrity_check, so a failed backup never leaves a file
// that looks like one. dst must not exist.
func Backup(ctx context.Context, src, dst string) (BackupInfo, error) {
	start := time.Now()
	info := BackupInfo{Path: dst}
	if _, err := os.Stat(src); err != nil {
		return info, fmt.Errorf("backup: %w", err)
	}
	if _, err := os.Stat(dst); err == nil {
		return info, fmt.Errorf("backup: %s already exists", dst)
	} else if !errors.Is(err, os.ErrNotExist) {
		return info, fmt.Errorf("backup: %w", err)
	}
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".partial")
	os.Remove(tmp) // a partial copy a crashed backup left behind
	if err := vacuumInto(ctx, src, tmp); err != nil {
		os.Remove(tmp)
		return info, fmt.Errorf("backup: %w", err)
	}
	version, err := VerifyBackup(ctx, tmp)
	if err != nil {
		os.Remove(tmp)
		return info, fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return info, fmt.Errorf("backup: %w", err)
	}
	st, err := os.Stat(dst)
	if err != nil {
		return info, fmt.Errorf("backup: %w", err)
	}
	info.Bytes, info.SchemaVersion, info.Took = st.Size(), version, time.Since(start)
	return info, nil
}

// vacuumInto copies src to dst with VACUUM INTO.
func vacuumInto(ctx context.Context, src, dst string) error {
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(busyTimeout.Milliseconds()))
	conn, err := sql.Open("sqlite", src+"?"+q.Encode())
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetMaxOpenConns(1)
	if _, err := conn.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return nil
}

// VerifyBackup opens a backup file read-only, runs PRAGMA integrity_check
// on it, and returns the newest migration it holds. It changes nothing in
// the file.
func VerifyBackup(ctx context.Context, path string) (int64, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("verify: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return 0, fmt.Errorf("verify: %w", err)
	}
	conn, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro"}).String())
	if err != nil {
		return 0, fmt.Errorf("verify %s: %w", path, err)
	}
	defer conn.Close()
	var res string
	if err := conn.QueryRowContext(ctx, `PRAGMA integrity_check(1)`).Scan(&res); err != nil {
		return 0, fmt.Errorf("verify %s: %w", path, err)
	}
	if res != "ok" {
		return 0, fmt.Errorf("verify %s: %w: %s", path, ErrIntegrity, res)
	}
	var version int64
	if err := conn.QueryRowContext(ctx, `SELECT max(version_id) FROM goose_db_version WHERE is_applied`).Scan(&version); err != nil {
		return 0, fmt.Errorf("verify %s: not an aiproxy database: %w", path, err)
	}
	return version, nil
}

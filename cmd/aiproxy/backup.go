package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aiproxy/aiproxy/internal/sqlite"
)

// runBackup writes a consistent copy of the SQLite database, online: the
// server keeps serving while it runs. The copy is checked (it opens and
// passes PRAGMA integrity_check) before it takes its name. --check only
// checks an existing backup. PostgreSQL is backed up with its own tools
// (docs/operations.md).
func runBackup(ctx context.Context, args []string, e env, s stdio) error {
	var f storeFlags
	var out, check string
	fs := newFlagSet("backup", "backup --out FILE [flags]  |  backup --check FILE", s)
	f.register(fs, e, "aiproxy-data")
	fs.StringVar(&out, "out", "", "file to write the backup to; it must not exist")
	fs.StringVar(&check, "check", "", "only check an existing backup file: it opens, passes PRAGMA integrity_check and holds aiproxy's schema")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 || (out == "") == (check == "") {
		fs.Usage()
		return errUsage
	}
	if check != "" {
		v, err := sqlite.VerifyBackup(ctx, check)
		if err != nil {
			return err
		}
		fmt.Fprintf(s.out, "%s: integrity ok, schema version %d\n", check, v)
		return nil
	}
	if f.isPostgres() {
		return errors.New("backup copies a SQLite database; back up PostgreSQL with pg_dump (see docs/operations.md)")
	}
	if f.envErr != nil {
		return f.envErr
	}
	src, err := f.sqlitePath()
	if err != nil {
		return err
	}
	info, err := sqlite.Backup(ctx, src, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "%s: %d bytes, schema version %d, integrity ok (%s)\n", info.Path, info.Bytes, info.SchemaVersion,
		info.Took.Round(1e6))
	return nil
}

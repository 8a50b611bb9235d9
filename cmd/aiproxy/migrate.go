package main

import (
	"context"
	"fmt"
)

// runMigrate brings the database schema up to date and prints its version.
// serve migrates on start as well, under the same lock, so running migrate
// first is optional; it lets a deployment apply a new schema once, before
// rolling out replicas, and fail there if it cannot.
func runMigrate(ctx context.Context, args []string, e env, s stdio) error {
	var f storeFlags
	fs := newFlagSet("migrate", "migrate [flags]", s)
	f.register(fs, e, "aiproxy-data")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	db, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "%s schema at version %d\n", f.engine(), v)
	return nil
}

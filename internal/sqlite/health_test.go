package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPingFailsOnACorruptedFile checks that a database file whose pages
// were damaged behind the process's back fails Ping with ErrIntegrity once
// the background check has run, while a sound file passes.
func TestPingFailsOnACorruptedFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "aiproxy.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	// Fill a table over many pages, so that damage can land in its data.
	if _, err := db.write.ExecContext(ctx, `CREATE TABLE filler (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	for i := range 400 {
		if _, err := db.write.ExecContext(ctx, `INSERT INTO filler (id, v) VALUES (?, ?)`, i, strings.Repeat("x", 900)); err != nil {
			t.Fatal(err)
		}
	}
	db.checkIntegrity(ctx)
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("a sound file fails Ping: %v", err)
	}
	if _, err := db.write.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	// Scribble over the middle of the file: B-tree pages of the filler.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	for off := st.Size() / 2; off < st.Size()/2+8*4096; off += 4096 {
		if _, err := f.WriteAt([]byte(strings.Repeat("\xff\x00garbage", 64)), off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	db.checkIntegrity(ctx)
	err = db.Ping(ctx)
	if !errors.Is(err, ErrIntegrity) {
		t.Fatalf("Ping on a corrupted file = %v, want ErrIntegrity", err)
	}
	db.Close()
}

// TestIntegrityCheckRunsInTheBackground checks that the check runs by
// itself, and stops with Close.
func TestIntegrityCheckRunsInTheBackground(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "aiproxy.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.stopHealth()
	db.health.err = errors.New("stale")
	db.startHealth(10 * time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for db.integrity() != nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := db.integrity(); err != nil {
		t.Fatalf("the background check never ran: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrIntegrity reports a database file that fails SQLite's integrity
// check: a corrupted page, an index that disagrees with its table.
var ErrIntegrity = errors.New("sqlite database failed its integrity check")

// integrityEvery is how often the file's integrity is checked. The check
// reads the whole file, so it runs in the background, never on a request.
const integrityEvery = 10 * time.Minute

// health runs PRAGMA quick_check in the background and keeps its last
// result for Ping, so that /readyz turns a replica away from a corrupted
// file instead of answering every call with a 500.
type health struct {
	mu   sync.Mutex
	err  error
	stop chan struct{}
	done chan struct{}
}

// startHealth checks the file now and every integrityEvery until Close.
func (db *DB) startHealth(every time.Duration) {
	db.health.stop, db.health.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(db.health.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			db.checkIntegrity(context.Background())
			select {
			case <-db.health.stop:
				return
			case <-t.C:
			}
		}
	}()
}

// stopHealth stops the background check and waits for it.
func (db *DB) stopHealth() {
	if db.health.stop != nil {
		close(db.health.stop)
		<-db.health.done
		db.health.stop = nil
	}
}

// checkIntegrity runs one quick_check and records its outcome. A check
// that could not run (the file is busy, the process is closing) keeps the
// last outcome.
func (db *DB) checkIntegrity(ctx context.Context) {
	var res string
	err := db.read.QueryRowContext(ctx, `PRAGMA quick_check(1)`).Scan(&res)
	if code := errCode(err) & 0xff; err != nil && code != sqliteCorrupt && code != sqliteNotADB {
		return
	}
	var found error
	switch {
	case err != nil:
		found = fmt.Errorf("%w: %v", ErrIntegrity, err)
	case res != "ok":
		found = fmt.Errorf("%w: %s", ErrIntegrity, res)
	}
	db.health.mu.Lock()
	db.health.err = found
	db.health.mu.Unlock()
}

// integrity returns the last integrity check's failure, if any.
func (db *DB) integrity() error {
	db.health.mu.Lock()
	defer db.health.mu.Unlock()
	return db.health.err
}

// SQLite's primary result codes for a damaged file.
const (
	sqliteCorrupt = 11 // SQLITE_CORRUPT
	sqliteNotADB  = 26 // SQLITE_NOTADB
)

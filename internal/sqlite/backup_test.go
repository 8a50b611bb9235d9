package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// TestBackupUnderLoad takes a backup while a writer commits usage batches
// and a job, and checks that the copy opens, passes its integrity check
// and holds every row committed before the backup began: a prefix of the
// ids with no gap, since SQLite commits one writer at a time.
func TestBackupUnderLoad(t *testing.T) {
	db, path := openTemp(t)
	ctx := t.Context()
	if err := db.CreateOrg(ctx, aiproxy.Org{Key: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	batch := func(i int) []aiproxy.UsageRecord {
		recs := make([]aiproxy.UsageRecord, 200)
		for j := range recs {
			recs[j] = aiproxy.UsageRecord{At: time.Unix(int64(i*1000+j), 0), OrgKey: "acme", KeyID: "k", Service: "heygen",
				Action: "list-avatars", Status: 200, LatencyMS: int64(j)}
		}
		return recs
	}
	for i := range 50 {
		if err := db.AppendUsage(ctx, batch(i)); err != nil {
			t.Fatal(err)
		}
	}
	var committed atomic.Int64
	committed.Store(50 * 200)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 50; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := db.AppendUsage(context.Background(), batch(i)); err != nil {
				t.Errorf("AppendUsage during the backup: %v", err)
				return
			}
			committed.Add(200)
		}
	})
	time.Sleep(20 * time.Millisecond) // the writer is busy
	before := committed.Load()
	out := filepath.Join(t.TempDir(), "backup.db")
	info, err := Backup(ctx, path, out)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if after := committed.Load(); after == before {
		t.Fatal("the writer committed nothing while the backup ran; the test proves nothing")
	}
	want, _ := db.SchemaVersion(ctx)
	if info.Path != out || info.Bytes == 0 || info.SchemaVersion != want {
		t.Fatalf("info = %+v, want schema version %d", info, want)
	}

	copyDB, err := Open(ctx, out)
	if err != nil {
		t.Fatalf("open the backup: %v", err)
	}
	defer copyDB.Close()
	var n, maxID int64
	if err := copyDB.read.QueryRowContext(ctx, `SELECT count(*), max(id) FROM usage_events`).Scan(&n, &maxID); err != nil {
		t.Fatal(err)
	}
	if n < before || n != maxID || n%200 != 0 {
		t.Fatalf("backup holds %d usage rows (max id %d); want a whole number of batches, at least the %d committed before it began", n, maxID, before)
	}
	if _, err := copyDB.Org(ctx, "acme"); err != nil {
		t.Fatalf("org in the backup: %v", err)
	}
	t.Logf("backup of %d rows (%d committed before it began): %d bytes in %v", n, before, info.Bytes, info.Took)
}

func TestBackupRefusesToOverwrite(t *testing.T) {
	_, path := openTemp(t)
	if _, err := Backup(t.Context(), path, path); err == nil {
		t.Fatal("Backup over an existing file succeeded")
	}
}

func TestVerifyBackupRejectsAForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	conn, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(`CREATE TABLE t (x)`); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if _, err := VerifyBackup(t.Context(), path); err == nil {
		t.Fatal("VerifyBackup accepted a database that is not aiproxy's")
	}
}

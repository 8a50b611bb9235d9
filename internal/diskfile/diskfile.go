// Package diskfile writes files that survive a crash whole or not at all,
// for the spools that keep job starts and usage records while the database
// is away.
package diskfile

import (
	"os"
	"path/filepath"
	"strings"
)

// TempPrefix starts the name of a file still being written; a reader of
// the directory skips such files (and may remove them once nothing can be
// writing them: a crash left them).
const TempPrefix = ".tmp-"

// IsTemp reports whether a directory entry is a file still being written.
func IsTemp(name string) bool { return strings.HasPrefix(name, TempPrefix) }

// Write writes data to dir/name so that, once it returns nil, the file
// survives a crash whole, and until then no file of that name is
// half-written: the data goes to a temporary file that is synced, renamed
// into place, and the directory synced.
func Write(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, TempPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return SyncDir(dir)
}

// SyncDir makes a directory's entries (a rename, a removal) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

package speechcache

import (
	"bufio"
	"container/list"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/aiproxy/aiproxy/internal/diskfile"
)

// FSConfig configures an FS. Zero values mean the stated defaults.
type FSConfig struct {
	// Dir holds the entries; it is made if missing. Required. One process
	// uses a directory at a time: opening it removes the files a previous
	// process left half-written.
	Dir string
	// MaxBytes bounds the entries' total size on disk; 0 means 1 GiB.
	// Entries still being written (one per fill in flight, each within
	// MaxEntryBytes) are not counted until they are stored.
	MaxBytes int64
	// MaxEntryBytes bounds one entry, body and bookkeeping; a longer
	// answer is not stored. 0 means a quarter of MaxBytes, at most 64 MiB;
	// never more than MaxBytes.
	MaxEntryBytes int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

const (
	defaultMaxBytes    = 1 << 30
	defaultMaxEntryCap = 64 << 20
	layoutDir          = "v1"
	tmpDir             = "tmp"
	fileMagic          = "aipxspc1"
	footerLen          = 8 + len(fileMagic)
	maxTrailerLen      = 1 << 20
	touchEvery         = time.Minute
	keyLen             = 2 * 32 // hex SHA-256
)

// errTooLarge stops the copy of an answer past MaxEntryBytes.
var errTooLarge = errors.New("answer longer than the speech cache's entry bound")

// FS is the filesystem engine of the speech cache: one file per entry,
// written whole or not at all (a temporary file, synced, renamed into
// place), bounded by total bytes with the least recently used entries
// removed first. The index of entries is kept in memory and rebuilt from
// the directory when it opens, each file's modification time standing for
// its last use, so the cache survives a restart and its index never
// disagrees with its files. It is safe for concurrent use.
//
// A file holds the body as the provider sent it, then the entry's Meta as
// JSON, then the JSON's length and a magic string, so that a hit is one
// read and a cut or foreign file is recognised and removed.
type FS struct {
	root     string
	max      int64
	maxEntry int64
	now      func() time.Time

	mu    sync.Mutex
	index map[string]*list.Element // of *fsEntry
	lru   list.List                // most recently used first
	bytes int64
}

var _ Store = (*FS)(nil)

// fsEntry is what the index knows of one file.
type fsEntry struct {
	key     string
	size    int64
	touched time.Time
}

// trailer is the Meta stored after a body, with what checks the file.
type trailer struct {
	Meta
	Key       string `json:"key"`
	BodyBytes int64  `json:"body_bytes"`
}

// OpenFS opens (or makes) a cache directory and indexes the entries in it,
// removing half-written and unreadable files and, when the directory holds
// more than MaxBytes, the least recently used entries.
func OpenFS(cfg FSConfig) (*FS, error) {
	if cfg.Dir == "" {
		return nil, errors.New("speech cache: no directory")
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = defaultMaxBytes
	}
	if cfg.MaxEntryBytes <= 0 {
		cfg.MaxEntryBytes = min(cfg.MaxBytes/4, defaultMaxEntryCap)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &FS{root: filepath.Join(cfg.Dir, layoutDir), max: cfg.MaxBytes, maxEntry: min(cfg.MaxEntryBytes, cfg.MaxBytes),
		now: cfg.Now, index: map[string]*list.Element{}}
	if err := os.RemoveAll(filepath.Join(s.root, tmpDir)); err != nil {
		return nil, fmt.Errorf("speech cache: clear temporary files: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(s.root, tmpDir), 0o700); err != nil {
		return nil, fmt.Errorf("speech cache: %w", err)
	}
	found, err := s.scan()
	if err != nil {
		return nil, fmt.Errorf("speech cache: read %s: %w", s.root, err)
	}
	slices.SortFunc(found, func(a, b *fsEntry) int { return a.touched.Compare(b.touched) })
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range found {
		s.index[e.key] = s.lru.PushFront(e)
		s.bytes += e.size
	}
	s.evictLocked()
	return s, nil
}

// scan lists the entries on disk, removing files that are not whole
// entries.
func (s *FS) scan() ([]*fsEntry, error) {
	dirs, err := os.ReadDir(s.root)
	if err != nil {
		return nil, err
	}
	var found []*fsEntry
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == tmpDir {
			continue
		}
		files, err := os.ReadDir(filepath.Join(s.root, d.Name()))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			path := filepath.Join(s.root, d.Name(), f.Name())
			info, err := f.Info()
			if err != nil || !info.Mode().IsRegular() || !validKey(f.Name()) || f.Name()[:2] != d.Name() ||
				checkFile(path, f.Name(), info.Size()) != nil {
				_ = os.Remove(path)
				continue
			}
			found = append(found, &fsEntry{key: f.Name(), size: info.Size(), touched: info.ModTime()})
		}
	}
	return found, nil
}

// checkFile reads a file's trailer and checks it against the file.
func checkFile(path, key string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, _, err = readTrailer(f, key, size)
	return err
}

// readTrailer reads and checks the trailer of an entry's file of size
// bytes, and returns it with the body's length.
func readTrailer(f io.ReaderAt, key string, size int64) (trailer, int64, error) {
	if size < int64(footerLen) {
		return trailer{}, 0, errors.New("too short")
	}
	var footer [footerLen]byte
	if _, err := f.ReadAt(footer[:], size-int64(footerLen)); err != nil {
		return trailer{}, 0, err
	}
	n, err := trailerLen(footer[:], size)
	if err != nil {
		return trailer{}, 0, err
	}
	raw := make([]byte, n)
	bodyBytes := size - int64(footerLen) - n
	if _, err := f.ReadAt(raw, bodyBytes); err != nil {
		return trailer{}, 0, err
	}
	t, err := decodeTrailer(raw, key, bodyBytes)
	return t, bodyBytes, err
}

// trailerLen reads the trailer's length from a file's footer.
func trailerLen(footer []byte, size int64) (int64, error) {
	if string(footer[8:]) != fileMagic {
		return 0, errors.New("not a speech cache entry")
	}
	n := int64(binary.BigEndian.Uint64(footer[:8]))
	if n <= 0 || n > maxTrailerLen || n > size-int64(footerLen) {
		return 0, errors.New("bad trailer length")
	}
	return n, nil
}

func decodeTrailer(raw []byte, key string, bodyBytes int64) (trailer, error) {
	var t trailer
	if err := json.Unmarshal(raw, &t); err != nil {
		return trailer{}, err
	}
	if t.Key != key || t.BodyBytes != bodyBytes || t.Status == 0 {
		return trailer{}, errors.New("trailer does not match the file")
	}
	return t, nil
}

func validKey(k string) bool {
	if len(k) != keyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (s *FS) path(key string) string { return filepath.Join(s.root, key[:2], key) }

// Open opens an entry and marks it used. Its body is read from the file
// as the caller reads it; an entry evicted or replaced meanwhile stays
// readable whole through the open file.
func (s *FS) Open(key string) (*Entry, error) {
	if !validKey(key) {
		return nil, fmt.Errorf("speech cache: bad key %q", key)
	}
	now := s.now()
	s.mu.Lock()
	el, ok := s.index[key]
	if !ok {
		s.mu.Unlock()
		return nil, nil
	}
	s.lru.MoveToFront(el)
	e := el.Value.(*fsEntry)
	touch := now.Sub(e.touched) >= touchEvery
	if touch {
		e.touched = now
	}
	s.mu.Unlock()
	f, err := os.Open(s.path(key))
	if errors.Is(err, fs.ErrNotExist) { // removed since the lookup
		s.forget(e)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("speech cache: open entry: %w", err)
	}
	entry, err := openEntry(f, key)
	if err != nil {
		f.Close()
		s.forget(e)
		return nil, fmt.Errorf("speech cache: entry %s: %w", key, err)
	}
	if touch {
		// The time of last use outlives a restart, for the eviction order.
		_ = os.Chtimes(s.path(key), now, now)
	}
	return entry, nil
}

// openEntry reads an open file's trailer and gives its body as a reader.
func openEntry(f *os.File, key string) (*Entry, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	t, n, err := readTrailer(f, key, info.Size())
	if err != nil {
		return nil, err
	}
	return &Entry{Meta: t.Meta, Size: n, Body: fileBody{io.NewSectionReader(f, 0, n), f}}, nil
}

// fileBody reads an entry's body and closes its file.
type fileBody struct {
	*io.SectionReader
	f *os.File
}

func (b fileBody) Close() error { return b.f.Close() }

// forget drops an entry that turned out missing or broken, unless a newer
// one of its key has replaced it meanwhile.
func (s *FS) forget(e *fsEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.index[e.key]; ok && el.Value.(*fsEntry) == e {
		s.removeLocked(el)
	}
}

// Create starts an entry in a temporary file.
func (s *FS) Create(key string) (Writer, error) {
	if !validKey(key) {
		return nil, fmt.Errorf("speech cache: bad key %q", key)
	}
	f, err := os.CreateTemp(filepath.Join(s.root, tmpDir), diskfile.TempPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("speech cache: %w", err)
	}
	return &fsWriter{s: s, key: key, f: f, buf: bufio.NewWriterSize(f, 64<<10)}, nil
}

// Stats returns how many entries the cache holds and their bytes on disk.
func (s *FS) Stats() (entries int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.index), s.bytes
}

// store renames a written file into place as key's entry and evicts the
// least recently used entries past the bound. The rename and the removals
// happen under the lock, so that an eviction never removes a file that a
// newer entry of the same key put in place.
func (s *FS) store(key, tmp string, size int64) error {
	dir := filepath.Dir(s.path(key))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	s.mu.Lock()
	if err := os.Rename(tmp, s.path(key)); err != nil {
		s.mu.Unlock()
		return err
	}
	if el, ok := s.index[key]; ok {
		s.bytes -= el.Value.(*fsEntry).size
		s.lru.Remove(el)
	}
	s.index[key] = s.lru.PushFront(&fsEntry{key: key, size: size, touched: s.now()})
	s.bytes += size
	s.evictLocked()
	s.mu.Unlock()
	return diskfile.SyncDir(dir)
}

// evictLocked removes the least recently used entries until the total is
// within the bound.
func (s *FS) evictLocked() {
	for s.bytes > s.max && s.lru.Len() > 0 {
		el := s.lru.Back()
		_ = os.Remove(s.path(el.Value.(*fsEntry).key))
		s.removeLocked(el)
	}
}

func (s *FS) removeLocked(el *list.Element) {
	e := el.Value.(*fsEntry)
	s.lru.Remove(el)
	delete(s.index, e.key)
	s.bytes -= e.size
}

// fsWriter writes one entry's temporary file.
type fsWriter struct {
	s    *FS
	key  string
	meta Meta
	f    *os.File
	buf  *bufio.Writer
	n    int64
	err  error
	done bool
}

func (w *fsWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.n+int64(len(p)) > w.s.maxEntry {
		w.err = errTooLarge
		return 0, w.err
	}
	n, err := w.buf.Write(p)
	w.n += int64(n)
	if err != nil {
		w.err = err
	}
	return n, err
}

// Commit writes the trailer, syncs the file and puts it in place.
func (w *fsWriter) Commit(m Meta) error {
	if w.done {
		return errors.New("speech cache: entry already ended")
	}
	w.meta = m
	err := w.finish()
	if err != nil {
		w.Abort()
		return fmt.Errorf("speech cache: store entry: %w", err)
	}
	w.done = true
	return nil
}

func (w *fsWriter) finish() error {
	if w.err != nil {
		return w.err
	}
	if w.meta.StoredAt.IsZero() {
		w.meta.StoredAt = w.s.now().UTC().Truncate(time.Second)
	}
	raw, err := json.Marshal(trailer{Meta: w.meta, Key: w.key, BodyBytes: w.n})
	if err != nil {
		return err
	}
	size := w.n + int64(len(raw)) + int64(footerLen)
	if size > w.s.maxEntry || len(raw) > maxTrailerLen {
		return errTooLarge
	}
	var footer [footerLen]byte
	binary.BigEndian.PutUint64(footer[:8], uint64(len(raw)))
	copy(footer[8:], fileMagic)
	_, _ = w.buf.Write(raw)
	_, _ = w.buf.Write(footer[:])
	if err := w.buf.Flush(); err != nil {
		return err
	}
	if err := w.f.Sync(); err != nil {
		return err
	}
	if err := w.f.Close(); err != nil {
		return err
	}
	return w.s.store(w.key, w.f.Name(), size)
}

// Abort removes the temporary file.
func (w *fsWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	_ = w.f.Close()
	_ = os.Remove(w.f.Name())
}

package speechcache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testKey is a valid key for a name.
func testKey(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

func openFS(t *testing.T, cfg FSConfig) *FS {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	s, err := OpenFS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// put stores body under key's name.
func put(t *testing.T, s *FS, name string, body []byte) {
	t.Helper()
	w, err := s.Create(testKey(name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(Meta{Org: "acme", Status: 200, Header: http.Header{"Content-Type": {"audio/mpeg"}}}); err != nil {
		t.Fatal(err)
	}
}

// stored is an entry read whole.
type stored struct {
	Meta
	Body []byte
}

func get(t *testing.T, s *FS, name string) *stored {
	t.Helper()
	e, err := read(s, testKey(name))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// read opens an entry and reads its body whole.
func read(s *FS, key string) (*stored, error) {
	e, err := s.Open(key)
	if err != nil || e == nil {
		return nil, err
	}
	defer e.Body.Close()
	body, err := io.ReadAll(e.Body)
	if err != nil {
		return nil, err
	}
	if int64(len(body)) != e.Size {
		return nil, fmt.Errorf("read %d bytes of %d", len(body), e.Size)
	}
	return &stored{e.Meta, body}, nil
}

// entrySize is what an entry of n body bytes takes on disk here.
func entrySize(t *testing.T, n int) int64 {
	t.Helper()
	s := openFS(t, FSConfig{})
	put(t, s, "probe", bytes.Repeat([]byte{1}, n))
	_, b := s.Stats()
	return b
}

func TestFSStoresAndReads(t *testing.T) {
	s := openFS(t, FSConfig{})
	if e := get(t, s, "a"); e != nil {
		t.Fatalf("empty cache: %+v", e)
	}
	put(t, s, "a", []byte("audio a"))
	e := get(t, s, "a")
	if e == nil || string(e.Body) != "audio a" || e.Org != "acme" || e.Status != 200 ||
		e.Header.Get("Content-Type") != "audio/mpeg" || e.StoredAt.IsZero() {
		t.Fatalf("entry = %+v", e)
	}
	put(t, s, "a", []byte("audio a, again and longer"))
	if e := get(t, s, "a"); string(e.Body) != "audio a, again and longer" {
		t.Fatalf("replaced entry = %q", e.Body)
	}
	if n, _ := s.Stats(); n != 1 {
		t.Errorf("%d entries after replacing one", n)
	}
	if _, err := s.Open("../../etc/passwd"); err == nil {
		t.Error("a key that is not a hex digest was accepted")
	}
}

func TestFSEvictsLeastRecentlyUsed(t *testing.T) {
	size := entrySize(t, 1000)
	s := openFS(t, FSConfig{MaxBytes: 3 * size, MaxEntryBytes: size})
	for _, name := range []string{"a", "b", "c"} {
		put(t, s, name, bytes.Repeat([]byte(name), 1000))
	}
	get(t, s, "a") // a is now used more recently than b
	put(t, s, "d", bytes.Repeat([]byte("d"), 1000))
	for name, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if got := get(t, s, name) != nil; got != want {
			t.Errorf("%s kept = %v, want %v", name, got, want)
		}
	}
	if n, b := s.Stats(); n != 3 || b > 3*size {
		t.Errorf("%d entries, %d bytes; bound %d", n, b, 3*size)
	}
}

func TestFSEntryBound(t *testing.T) {
	s := openFS(t, FSConfig{MaxBytes: 1 << 20, MaxEntryBytes: 2000})
	w, err := s.Create(testKey("big"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 1500)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 1500)); !errors.Is(err, errTooLarge) {
		t.Fatalf("write past the bound: %v", err)
	}
	if err := w.Commit(Meta{Org: "acme", Status: 200}); err == nil {
		t.Fatal("an entry past the bound was committed")
	}
	if n, _ := s.Stats(); n != 0 || get(t, s, "big") != nil {
		t.Error("an entry past the bound was stored")
	}
	if tmp, _ := os.ReadDir(filepath.Join(s.root, tmpDir)); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

func TestFSAbortLeavesNothing(t *testing.T) {
	s := openFS(t, FSConfig{})
	w, err := s.Create(testKey("a"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte("half"))
	w.Abort()
	if get(t, s, "a") != nil {
		t.Fatal("an aborted entry is visible")
	}
	if tmp, _ := os.ReadDir(filepath.Join(s.root, tmpDir)); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

// TestFSReopen: entries survive, in their order of use; files that are not
// whole entries, and the temporary files of a process that died, are
// removed; a directory over a smaller bound is cut down to it.
func TestFSReopen(t *testing.T) {
	dir := t.TempDir()
	s := openFS(t, FSConfig{Dir: dir})
	for _, name := range []string{"old", "mid", "new"} {
		put(t, s, name, bytes.Repeat([]byte(name), 1000))
	}
	base := time.Now().Add(-time.Hour)
	for i, name := range []string{"old", "mid", "new"} {
		at := base.Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(s.path(testKey(name)), at, at); err != nil {
			t.Fatal(err)
		}
	}
	_, size3 := s.Stats()
	// What a crash or a stranger leaves behind.
	cut := s.path(testKey("cut"))
	data, _ := os.ReadFile(s.path(testKey("new")))
	if err := os.MkdirAll(filepath.Dir(cut), 0o700); err != nil {
		t.Fatal(err)
	}
	for path, content := range map[string][]byte{
		cut:                                 data[:len(data)-3],
		s.path(testKey("renamed")):          data, // a whole file under another key's name
		filepath.Join(s.root, "ab", "note"): []byte("hello"),
		filepath.Join(s.root, tmpDir, ".tmp-123"): []byte("half"),
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	r := openFS(t, FSConfig{Dir: dir})
	if n, b := r.Stats(); n != 3 || b != size3 {
		t.Fatalf("reopened: %d entries, %d bytes; want 3 and %d", n, b, size3)
	}
	for _, path := range []string{cut, s.path(testKey("renamed")), filepath.Join(s.root, "ab", "note"), filepath.Join(s.root, tmpDir, ".tmp-123")} {
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was kept", path)
		}
	}
	if e := get(t, r, "mid"); e == nil || !bytes.Equal(e.Body, bytes.Repeat([]byte("mid"), 1000)) {
		t.Fatal("mid lost")
	}

	// A smaller bound keeps the most recently used: new, then old is
	// dropped before mid (read above, so touched).
	small := openFS(t, FSConfig{Dir: dir, MaxBytes: size3 * 2 / 3, MaxEntryBytes: size3 / 3})
	for name, want := range map[string]bool{"old": false, "mid": true, "new": true} {
		if got := get(t, small, name) != nil; got != want {
			t.Errorf("under a smaller bound %s kept = %v, want %v", name, got, want)
		}
	}
}

// TestFSConcurrentUse races writers, readers and evictions of a few keys;
// with -race it checks the locking, and always the bound and the bodies.
func TestFSConcurrentUse(t *testing.T) {
	size := entrySize(t, 500)
	max := 5 * size
	s := openFS(t, FSConfig{MaxBytes: max, MaxEntryBytes: size})
	body := func(name string) []byte { return bytes.Repeat([]byte(name), 500/len(name)+1)[:500] }
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for range 200 {
				name := fmt.Sprintf("k%d", rng.IntN(12))
				if rng.IntN(2) == 0 {
					put(t, s, name, body(name))
					continue
				}
				e, err := read(s, testKey(name))
				if err != nil {
					t.Error(err)
					return
				}
				if e != nil && !bytes.Equal(e.Body, body(name)) {
					t.Errorf("%s: wrong body", name)
					return
				}
			}
		})
	}
	wg.Wait()
	if n, b := s.Stats(); b > max || n > 5 {
		t.Errorf("%d entries, %d bytes; bound %d", n, b, max)
	}
}

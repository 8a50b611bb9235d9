package speechcache

import "io"

// tee copies an answer's body to the store as the client reads it, so the
// client's bytes are not held back. The copy is worth keeping only when
// the body ended cleanly and every byte reached the store: a stream that
// the provider or the client cut, or that the store could not take (disk
// full, past the entry bound), is dropped.
type tee struct {
	r      io.Reader
	w      Writer
	eof    bool
	failed bool
}

func (t *tee) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 && !t.failed {
		if _, werr := t.w.Write(p[:n]); werr != nil {
			t.failed = true
		}
	}
	switch {
	case err == io.EOF:
		t.eof = true
	case err != nil:
		t.failed = true
	}
	return n, err
}

// complete reports whether the whole body reached the store.
func (t *tee) complete() bool { return t.eof && !t.failed }

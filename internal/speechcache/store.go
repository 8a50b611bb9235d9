package speechcache

import (
	"io"
	"net/http"
	"time"
)

// Store keeps the cache's entries: whole provider answers, by key. FS keeps
// them in a directory; an object store can stand behind the same two
// methods. A store is safe for concurrent use.
type Store interface {
	// Open returns the entry of a key, its body still to be read, or nil
	// when there is none. The caller closes the body.
	Open(key string) (*Entry, error)
	// Create starts an entry of a key, to be written as the answer's body
	// arrives; nothing is visible before Commit.
	Create(key string) (Writer, error)
}

// Writer receives an entry's body. Exactly one of Commit and Abort ends it.
type Writer interface {
	io.Writer
	// Commit stores the entry whole with its Meta, replacing one of the
	// same key.
	Commit(m Meta) error
	// Abort drops what was written.
	Abort()
}

// Meta is what an entry keeps beside the body: the provider's status and
// headers as they reached the client, and whose call stored it.
type Meta struct {
	Org      string      `json:"org"`
	Status   int         `json:"status"`
	Header   http.Header `json:"header"`
	StoredAt time.Time   `json:"stored_at"`
}

// Entry is a stored answer, opened.
type Entry struct {
	Meta
	// Size is the body's length.
	Size int64
	// Body reads the body as it was stored; close it.
	Body io.ReadCloser
}

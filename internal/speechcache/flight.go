package speechcache

import "sync"

// flights are the fills in progress, one per key, so that concurrent
// misses of one key make one provider call: the first caller fills, the
// others wait for it and then read the store.
//
// golang.org/x/sync/singleflight runs one function for every caller; a
// fill here is not one function but a stretch of the pipeline (the hook's
// Before, the provider exchange, the hook's After, the client reading the
// answer, the store's commit), so the table is kept by hand.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

// flight is one fill in progress; done is closed when it has ended,
// stored or not.
type flight struct{ done chan struct{} }

// join returns the key's fill in progress, or starts one; leader is true
// for the caller that started it, which must leave it.
func (fs *flights) join(key string) (f *flight, leader bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[key]; ok {
		return f, false
	}
	if fs.m == nil {
		fs.m = map[string]*flight{}
	}
	f = &flight{done: make(chan struct{})}
	fs.m[key] = f
	return f, true
}

// leave ends a fill and wakes its waiters.
func (fs *flights) leave(key string, f *flight) {
	fs.mu.Lock()
	if fs.m[key] == f {
		delete(fs.m, key)
	}
	fs.mu.Unlock()
	close(f.done)
}

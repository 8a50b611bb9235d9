package main

import (
	"bufio"
	"io"
	"os"
	"sync"
	"time"
)

// logBuffer batches log lines into fewer writes: a line waits at most the
// flush interval (100 ms by default) before it reaches the file or pipe,
// instead of costing a system call of its own, as nginx's buffered access
// log does. Lines are never reordered or split; a line larger than the
// buffer is written through. Close writes what is left.
type logBuffer struct {
	mu     sync.Mutex
	out    io.Writer
	w      *bufio.Writer
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

// logBufferSize is how much may wait; a full buffer is written at once.
const logBufferSize = 64 << 10

// bufferLogs wraps the server's log destination when it is a file or a
// pipe (the process's stderr in production) and interval is positive.
// Other writers (the tests' buffers) are returned as they are. The second
// result flushes and stops the buffer; it is never nil.
func bufferLogs(w io.Writer, interval time.Duration) (io.Writer, func()) {
	f, ok := w.(*os.File)
	if !ok || interval <= 0 {
		return w, func() {}
	}
	b := newLogBuffer(f, interval)
	return b, b.Close
}

func newLogBuffer(w io.Writer, interval time.Duration) *logBuffer {
	b := &logBuffer{out: w, w: bufio.NewWriterSize(w, logBufferSize), stop: make(chan struct{}), done: make(chan struct{})}
	go b.flushEvery(interval)
	return b
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.out.Write(p)
	}
	return b.w.Write(p)
}

func (b *logBuffer) flushEvery(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.flush()
		}
	}
}

func (b *logBuffer) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.w.Buffered() > 0 {
		_ = b.w.Flush()
	}
}

// Close stops the flusher and writes what is buffered. Lines written after
// Close still arrive, at once: a late log line is never lost.
func (b *logBuffer) Close() {
	select {
	case <-b.stop:
		return
	default:
	}
	close(b.stop)
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.w.Flush()
	b.closed = true
}

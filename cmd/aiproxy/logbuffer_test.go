package main

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingWriter records each Write call separately.
type countingWriter struct {
	mu     sync.Mutex
	writes []string
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func (c *countingWriter) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.writes...)
}

func TestLogBufferBatchesLinesAndFlushes(t *testing.T) {
	out := &countingWriter{}
	b := newLogBuffer(out, 20*time.Millisecond)
	for i := range 100 {
		b.Write([]byte(strings.Repeat("x", 50) + string(rune('a'+i%26)) + "\n"))
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(strings.Join(out.snapshot(), ""), "\n") < 100 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	writes := out.snapshot()
	all := strings.Join(writes, "")
	if got := strings.Count(all, "\n"); got != 100 {
		t.Fatalf("%d lines arrived after the flush interval, want 100", got)
	}
	if len(writes) >= 100 {
		t.Fatalf("100 lines took %d writes; the buffer should batch them", len(writes))
	}
	for i, line := range strings.Split(strings.TrimSuffix(all, "\n"), "\n") {
		if want := strings.Repeat("x", 50) + string(rune('a'+i%26)); line != want {
			t.Fatalf("line %d = %q, want %q (lines reordered or split)", i, line, want)
		}
	}
	b.Close()
}

func TestLogBufferCloseWritesTheRestAndLaterLinesGoThrough(t *testing.T) {
	out := &countingWriter{}
	b := newLogBuffer(out, time.Hour) // only Close can flush
	b.Write([]byte("one\n"))
	b.Write([]byte("two\n"))
	if got := out.snapshot(); len(got) != 0 {
		t.Fatalf("lines written before the interval: %q", got)
	}
	b.Close()
	if got := strings.Join(out.snapshot(), ""); got != "one\ntwo\n" {
		t.Fatalf("after Close the output is %q, want both lines", got)
	}
	b.Close() // twice is harmless
	b.Write([]byte("late\n"))
	if got := out.snapshot(); got[len(got)-1] != "late\n" {
		t.Fatalf("a line after Close did not go straight through: %q", got)
	}
}

func TestLogBufferLargeLine(t *testing.T) {
	out := &countingWriter{}
	b := newLogBuffer(out, time.Hour)
	big := bytes.Repeat([]byte("y"), logBufferSize*2)
	b.Write([]byte("small\n"))
	b.Write(big)
	b.Close()
	if got := strings.Join(out.snapshot(), ""); got != "small\n"+string(big) {
		t.Fatalf("output of %d bytes, want the small line then the large one (%d bytes)", len(got), len(big)+6)
	}
}

func TestBufferLogsOnlyWrapsFiles(t *testing.T) {
	var buf bytes.Buffer
	if w, stop := bufferLogs(&buf, 100*time.Millisecond); w != &buf {
		t.Fatal("an in-memory writer was wrapped")
	} else {
		stop()
	}
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if w, stop := bufferLogs(f, 0); w != f {
		t.Fatal("interval 0 should write lines at once")
	} else {
		stop()
	}
	w, stop := bufferLogs(f, time.Hour)
	if _, ok := w.(*logBuffer); !ok {
		t.Fatalf("a file was not buffered: %T", w)
	}
	w.Write([]byte("line\n"))
	stop()
	data, err := os.ReadFile(f.Name())
	if err != nil || string(data) != "line\n" {
		t.Fatalf("file holds %q (%v) after stop, want the line", data, err)
	}
}

package speechcache_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// TestIdenticalCallsMakeOneProviderCall sends 100 identical TTS calls at
// once: one reaches the provider, every client gets the same bytes, the
// others are hits that spend no provider units.
func TestIdenticalCallsMakeOneProviderCall(t *testing.T) {
	h := newHarness(t, func(o *harnessOptions) { o.sandbox.TTSLatency = 50 * time.Millisecond })
	const n = 100
	replies := make([]reply, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { replies[i] = h.invoke("acme", orgKey("acme"), tts("Welcome to lesson one.")) })
	}
	wg.Wait()
	h.wantSent(1)
	var miss reply
	hits := 0
	for i, r := range replies {
		if r.err != nil || r.status != http.StatusOK {
			t.Fatalf("call %d: %d %v %s", i, r.status, r.err, r.body)
		}
		if !bytes.Equal(r.body, replies[0].body) || len(r.body) == 0 {
			t.Fatalf("call %d got %d bytes unlike call 0's %d", i, len(r.body), len(replies[0].body))
		}
		switch r.cache() {
		case "MISS":
			miss = r
		case "HIT":
			hits++
		default:
			t.Fatalf("call %d: X-Aiproxy-Cache %q", i, r.cache())
		}
	}
	if hits != n-1 || miss.header == nil {
		t.Fatalf("%d hits and a miss: %v; want %d hits and one miss", hits, miss.header != nil, n-1)
	}
	if !bytes.Equal(miss.body, sandbox.Speech("Welcome to lesson one.", rachel, "eleven_multilingual_v2", "mp3_44100_128")) {
		t.Error("the audio is not the provider's")
	}
	hit := h.call("acme", tts("Welcome to lesson one."))
	h.wantSent(1)

	// The hit's headers: the provider's, its cost zeroed and kept aside,
	// no history item (a hit made none).
	cost := miss.header.Get("Character-Cost")
	if cost == "" || miss.header.Get("History-Item-Id") == "" {
		t.Fatalf("the provider's answer lacks its headers: %v", miss.header)
	}
	if hit.header.Get("Character-Cost") != "0" || hit.header.Get("X-Aiproxy-Cache-Original-Character-Cost") != cost ||
		hit.header.Get("History-Item-Id") != "" || hit.header.Get("Content-Type") != miss.header.Get("Content-Type") ||
		hit.header.Get("Request-Id") != miss.header.Get("Request-Id") || hit.header.Get("Content-Length") != strconv.Itoa(len(miss.body)) {
		t.Errorf("hit headers %v\nmiss headers %v", hit.header, miss.header)
	}

	// Metering: the miss spent the text's characters, no hit spent any.
	var spent, hitRecs int
	for _, rec := range h.meter.records() {
		switch {
		case rec.Cache == "HIT" && rec.Units == 0 && rec.UpstreamStatus == 0 && rec.CostMicros == 0 && rec.Status == 200:
			hitRecs++
		case rec.Cache == "" && rec.Units == int64(len("Welcome to lesson one.")) && rec.UpstreamStatus == 200:
			spent++
		default:
			t.Errorf("unexpected usage record %+v", rec)
		}
	}
	if spent != 1 || hitRecs != n {
		t.Errorf("%d spending records and %d hits, want 1 and %d", spent, hitRecs, n)
	}
}

// TestWhatMisses changes one thing at a time: each change is a provider
// call of its own, then a hit; spelling the same request differently is a
// hit.
func TestWhatMisses(t *testing.T) {
	h := newHarness(t)
	base := func() speak {
		return speak{action: "tts", voice: rachel, body: map[string]any{"text": "Good morning, class.", "model_id": "eleven_multilingual_v2",
			"voice_settings": map[string]any{"stability": 0.5, "similarity_boost": 0.75}}}
	}
	h.call("acme", base())
	h.wantSent(1)
	variants := []struct {
		name string
		org  string
		s    func() speak
	}{
		{"another voice", "acme", func() speak { s := base(); s.voice = domi; return s }},
		{"another model", "acme", func() speak { s := base(); s.body["model_id"] = "eleven_turbo_v2_5"; return s }},
		{"another voice setting", "acme", func() speak {
			s := base()
			s.body["voice_settings"] = map[string]any{"stability": 0.3, "similarity_boost": 0.75}
			return s
		}},
		{"another output format", "acme", func() speak { s := base(); s.query = map[string]any{"output_format": "mp3_22050_32"}; return s }},
		{"another seed", "acme", func() speak { s := base(); s.body["seed"] = 7; return s }},
		{"another previous text", "acme", func() speak { s := base(); s.body["previous_text"] = "Hello."; return s }},
		{"another org on the same credential", "beta", base},
		{"another org with its own credential", "tee", base},
		{"another action", "acme", func() speak { s := base(); s.action = "tts-timestamps"; return s }},
	}
	want := int64(1)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			h.t = t
			if r := h.call(v.org, v.s()); r.cache() != "MISS" {
				t.Errorf("first call: X-Aiproxy-Cache %q, want MISS", r.cache())
			}
			want++
			h.wantSent(want)
			if r := h.call(v.org, v.s()); r.cache() != "HIT" {
				t.Errorf("second call: X-Aiproxy-Cache %q, want HIT", r.cache())
			}
			h.wantSent(want)
		})
	}
	h.t = t

	// The same request spelt otherwise: members in another order, a
	// number written another way, an explicit null.
	same := speak{action: "tts", voice: rachel, body: map[string]any{
		"voice_settings": map[string]any{"similarity_boost": json5("0.750"), "stability": json5("5e-1")},
		"model_id":       "eleven_multilingual_v2", "text": "Good morning, class.", "seed": nil}}
	if r := h.call("acme", same); r.cache() != "HIT" {
		t.Errorf("the same request spelt otherwise: X-Aiproxy-Cache %q, want HIT", r.cache())
	}
	h.wantSent(want)
}

// json5 is a number as the client wrote it.
type json5 string

func (n json5) MarshalJSON() ([]byte, error) { return []byte(n), nil }

// TestAnotherCredentialMisses gives org acme a key of its own, then
// another: each credential has entries of its own.
func TestAnotherCredentialMisses(t *testing.T) {
	h := newHarness(t)
	h.call("acme", tts("Chapter two."))
	h.call("acme", tts("Chapter two."))
	h.wantSent(1)
	h.setCredential(aiproxy.SourceTenant, "acme", elAcme)
	if r := h.call("acme", tts("Chapter two.")); r.cache() != "MISS" {
		t.Errorf("on its own credential: X-Aiproxy-Cache %q, want MISS", r.cache())
	}
	h.wantSent(2)
	h.setCredential(aiproxy.SourceTenant, "acme", elAcme2)
	if r := h.call("acme", tts("Chapter two.")); r.cache() != "MISS" {
		t.Errorf("on a new key: X-Aiproxy-Cache %q, want MISS", r.cache())
	}
	h.call("acme", tts("Chapter two."))
	h.wantSent(3)
}

// TestMemberSharesTheOrgsEntries: a member's user token and the org's key
// reach the same account for the same org, so they share entries.
func TestMemberSharesTheOrgsEntries(t *testing.T) {
	h := newHarness(t)
	h.call("acme", tts("Shared greeting."))
	r := h.invoke("acme", member("acme", "alice"), tts("Shared greeting."))
	if r.err != nil || r.status != 200 || r.cache() != "HIT" {
		t.Fatalf("member: %d %v X-Aiproxy-Cache %q", r.status, r.err, r.cache())
	}
	h.wantSent(1)
}

// TestOrgWithoutTheCache: an org that did not opt in never reaches the
// store, and its answers say nothing of a cache.
func TestOrgWithoutTheCache(t *testing.T) {
	h := newHarness(t)
	for range 2 {
		if r := h.call("off", tts("Not cached.")); r.cache() != "" {
			t.Errorf("X-Aiproxy-Cache %q for an org without the cache", r.cache())
		}
	}
	h.wantSent(2)
	if g, c := h.store.gets.Load(), h.store.creates.Load(); g != 0 || c != 0 {
		t.Errorf("the store saw %d reads and %d writes", g, c)
	}
}

// TestUncacheableCalls: the rule's uncacheable fields and values, and
// fields it does not know, make every call go to the provider.
func TestUncacheableCalls(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name string
		s    speak
	}{
		{"previous_request_ids", speak{voice: rachel, body: map[string]any{"text": "Again.", "previous_request_ids": []string{"r1"}}}},
		{"zero retention", speak{voice: rachel, body: map[string]any{"text": "Again."}, query: map[string]any{"enable_logging": "false"}}},
		{"a field the rule does not know", speak{voice: rachel, body: map[string]any{"text": "Again.", "pitch": 3}}},
	}
	var want int64
	for _, tc := range cases {
		tc.s.action = "tts"
		for range 2 {
			if r := h.call("acme", tc.s); r.cache() != "" {
				t.Errorf("%s: X-Aiproxy-Cache %q", tc.name, r.cache())
			}
			want++
		}
		h.wantSent(want)
	}
	if c := h.store.creates.Load(); c != 0 {
		t.Errorf("%d entries started for uncacheable calls", c)
	}
	// enable_logging=true is in the key: cacheable.
	logged := speak{action: "tts", voice: rachel, body: map[string]any{"text": "Again."}, query: map[string]any{"enable_logging": "true"}}
	h.call("acme", logged)
	if r := h.call("acme", logged); r.cache() != "HIT" {
		t.Errorf("enable_logging=true: X-Aiproxy-Cache %q, want HIT", r.cache())
	}
	h.wantSent(want + 1)
}

// TestFailedFillIsNotShared: an answer that is not a clean 200 is never
// stored, and the callers that waited for it each ask the provider.
func TestFailedFillIsNotShared(t *testing.T) {
	h := newHarness(t, func(o *harnessOptions) { o.sandbox.TTSLatency = 20 * time.Millisecond })
	bad := speak{action: "tts", voice: rachel, body: map[string]any{"text": "x", "model_id": "no_such_model"}}
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if r := h.invoke("acme", orgKey("acme"), bad); r.err != nil || r.status != 400 || r.cache() != "" {
				t.Errorf("bad model: %d %v %q", r.status, r.err, r.cache())
			}
		})
	}
	wg.Wait()
	h.wantSent(5)
	h.settle()
	if n, _ := h.fs.Stats(); n != 0 {
		t.Errorf("%d entries after failed calls", n)
	}
}

// TestStreamsAndTimestamps: the streamed and the timestamped answers are
// stored as the client got them.
func TestStreamsAndTimestamps(t *testing.T) {
	h := newHarness(t)
	for _, action := range []string{"tts-stream", "tts-timestamps", "tts-stream-timestamps"} {
		s := tts("Streamed words for everyone.")
		s.action = action
		first := h.call("acme", s)
		second := h.call("acme", s)
		if first.cache() != "MISS" || second.cache() != "HIT" || !bytes.Equal(first.body, second.body) || len(first.body) == 0 {
			t.Errorf("%s: %q then %q, %d and %d bytes", action, first.cache(), second.cache(), len(first.body), len(second.body))
		}
		if ct := second.header.Get("Content-Type"); ct == "" || ct != first.header.Get("Content-Type") {
			t.Errorf("%s: Content-Type %q, then %q", action, first.header.Get("Content-Type"), ct)
		}
	}
	h.wantSent(3)
}

// TestCutStreamIsNotStored: a stream the provider cuts reaches the client
// cut, and the next call asks the provider again.
func TestCutStreamIsNotStored(t *testing.T) {
	h := newHarness(t)
	h.sb.InjectBodyFault(sandbox.BodyFault{Provider: sandbox.ElevenLabs, Path: "/v1/text-to-speech/", Kind: sandbox.BodyCut,
		CutAfter: 100, Count: 1})
	s := tts("This stream breaks.")
	s.action = "tts-stream"
	r := h.invoke("acme", orgKey("acme"), s)
	if r.err == nil && len(r.body) >= len(sandbox.Speech("This stream breaks.", rachel, "eleven_multilingual_v2", "mp3_44100_128")) {
		t.Fatalf("the cut stream arrived whole: %d bytes", len(r.body))
	}
	h.settle()
	if n, _ := h.fs.Stats(); n != 0 {
		t.Fatalf("%d entries after a cut stream", n)
	}
	if r := h.call("acme", s); r.cache() != "MISS" {
		t.Errorf("after the cut: X-Aiproxy-Cache %q, want MISS", r.cache())
	}
	if r := h.call("acme", s); r.cache() != "HIT" {
		t.Errorf("after a whole stream: X-Aiproxy-Cache %q, want HIT", r.cache())
	}
	h.wantSent(2)
}

// TestClientGoneIsNotStored: a client that leaves mid-stream leaves no
// entry behind.
func TestClientGoneIsNotStored(t *testing.T) {
	h := newHarness(t, func(o *harnessOptions) { o.sandbox.StreamChunkDelay = 30 * time.Millisecond })
	srv := h.serve()
	s := tts("A long stream that the listener abandons after the first chunk arrives.")
	s.action = "tts-stream"
	post := func() *http.Response {
		resp, err := http.Post(srv.URL+"/?org=acme&action=tts-stream", "application/json", s.reader(t))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := post()
	if _, err := io.ReadFull(resp.Body, make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitFor(t, "the abandoned call to end", func() bool { return len(h.meter.records()) == 1 })
	h.settle()
	if n, _ := h.fs.Stats(); n != 0 {
		t.Fatalf("%d entries after the client left", n)
	}
	resp = post()
	all, err := readAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.Header.Get("X-Aiproxy-Cache") != "MISS" || len(all) == 0 {
		t.Fatalf("whole stream: %v, X-Aiproxy-Cache %q, %d bytes", err, resp.Header.Get("X-Aiproxy-Cache"), len(all))
	}
	h.wantSent(2)
}

// TestBoundedUnderEviction fills a small cache with more lines than fit:
// it never holds more than its bound, on disk as in its index, and the
// least recently used lines go first.
func TestBoundedUnderEviction(t *testing.T) {
	entry := probeEntrySize(t)
	max := 3*entry + entry/2
	h := newHarness(t, func(o *harnessOptions) { o.maxBytes, o.maxEntry = max, 2*entry })
	line := func(i int) speak { return tts("Lesson line number " + strconv.Itoa(10+i) + ".") }
	for i := range 8 {
		h.call("acme", line(i))
		if i == 3 {
			h.settle()
			h.call("acme", line(1)) // line 1 used again: kept over line 2
		}
		h.settle()
		n, b := h.fs.Stats()
		if b > max || n > 3 {
			t.Fatalf("after line %d: %d entries, %d bytes; bound %d", i, n, b, max)
		}
		if disk := dirBytes(t, h.dir); disk > max {
			t.Fatalf("after line %d: %d bytes on disk; bound %d", i, disk, max)
		}
	}
	sent := h.sent.Load()
	for i := 5; i < 8; i++ {
		if r := h.call("acme", line(i)); r.cache() != "HIT" {
			t.Errorf("line %d, among the last three: X-Aiproxy-Cache %q", i, r.cache())
		}
	}
	h.wantSent(sent)
	for _, i := range []int{0, 1, 2} {
		if r := h.call("acme", line(i)); r.cache() != "MISS" {
			t.Errorf("line %d, evicted: X-Aiproxy-Cache %q", i, r.cache())
		}
		h.settle()
	}
}

// probeEntrySize measures one stored line's size on disk.
func probeEntrySize(t *testing.T) int64 {
	h := newHarness(t)
	h.call("acme", tts("Lesson line number 99."))
	h.settle()
	_, b := h.fs.Stats()
	if b == 0 {
		t.Fatal("nothing stored")
	}
	return b
}

// dirBytes sums the sizes of the files under dir.
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRestartKeepsEntries: a new process on the same directory answers
// from what the last one stored.
func TestRestartKeepsEntries(t *testing.T) {
	h := newHarness(t)
	first := h.call("acme", tts("Survives a restart."))
	h.settle()
	h.start()
	second := h.call("acme", tts("Survives a restart."))
	if second.cache() != "HIT" || !bytes.Equal(first.body, second.body) {
		t.Fatalf("after a restart: X-Aiproxy-Cache %q, same bytes %v", second.cache(), bytes.Equal(first.body, second.body))
	}
	h.wantSent(1)
}

//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Benchmarks of the WebSocket relay against the sandbox's own text-to-speech
// socket, both in this process (docs/realtime-bench.md): the time to the
// first audio of a new socket, the round trip of one message on an open
// socket, and the memory an open relayed socket costs. They run only with
// -bench:
//
//	go test ./cmd/aiproxy -run '^$' -bench Socket -benchtime 200x -count 5
//
// The sandbox's sockets answer at once (no artificial delay: its
// StreamChunkDelay paces only the REST stream), so the gap between the
// direct and relay sub-benchmarks is the relay's own time. Both speak with
// the same sandbox key, which has credits for any -benchtime.

// benchSentence is 150 characters: one audio frame once flushed.
const benchSentence = "The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog. " +
	"The quick brown fox jumps over the lazy dog. Then it sleeps."

// The messages the benchmarks send, encoded once.
var (
	benchBOS      = []byte(`{"text":" "}`)
	benchEOS      = []byte(`{"text":""}`)
	benchSpeak    = mustJSON(map[string]any{"text": benchSentence, "flush": true})
	benchShortMsg = mustJSON(map[string]any{"text": "Hello there. ", "flush": true})
)

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// benchDemo is an `aiproxy demo` running in this process for a benchmark,
// with an org "bench" whose ElevenLabs credential is elKey, a sandbox key
// the direct sockets use too.
type benchDemo struct {
	dir, url, sandbox string
	key               string // the bench org's invoke key
	elKey             string
}

// startBenchDemo runs the demo command until the benchmark ends. Its log
// is discarded so that it takes no memory of the process.
func startBenchDemo(b *testing.B, extraArgs ...string) *benchDemo {
	b.Helper()
	d := &benchDemo{dir: b.TempDir(), elKey: "sk_bench_elevenlabs_0123456789"}
	stdout := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args := append([]string{"demo", "--addr", "127.0.0.1:0", "--data-dir", d.dir}, extraArgs...)
	go func() {
		done <- run(ctx, args, func(string) string { return "" }, strings.NewReader(""), stdout, io.Discard)
	}()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("demo exited with %v", err)
		}
	})
	for deadline := time.Now().Add(30 * time.Second); d.url == "" && time.Now().Before(deadline); {
		if vars := parseVars(stdout.String()); vars["AIPROXY_API_KEY"] != "" {
			d.url = vars["AIPROXY_URL"]
			var detail struct {
				BaseURL string `json:"base_url"`
			}
			benchGet(b, d.url+"/api/ai-proxy/orgs/"+vars["AIPROXY_ORG"]+"/services/heygen/", vars["AIPROXY_API_KEY"], &detail)
			d.sandbox = strings.TrimSuffix(detail.BaseURL, "/heygen")
			break
		}
		select {
		case err := <-done:
			b.Fatalf("demo stopped early: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if d.url == "" {
		b.Fatalf("demo printed no AIPROXY_API_KEY; stdout:\n%s", stdout.String())
	}
	d.cli(b, "", "org", "create", "bench")
	d.key = d.cli(b, "", "key", "create", "--org", "bench", "--role", "invoke")
	d.cli(b, d.elKey, "credential", "set", "--org", "bench", "elevenlabs")
	benchPost(b, d.sandbox+"/_sandbox/keys", fmt.Sprintf(`{"provider":"elevenlabs","key":%q}`, d.elKey))
	benchPost(b, d.sandbox+"/_sandbox/keys/limits", fmt.Sprintf(`{"provider":"elevenlabs","key":%q,"credits":1000000000}`, d.elKey))
	return d
}

// cli runs an admin command of the program against the demo's data dir.
func (d *benchDemo) cli(b *testing.B, stdin string, args ...string) string {
	b.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--data-dir", d.dir)
	getenv := func(name string) string {
		if name == "AIPROXY_MASTER_KEY_FILE" {
			return filepath.Join(d.dir, "master.key")
		}
		return ""
	}
	if err := run(context.Background(), args, getenv, strings.NewReader(stdin), &out, &errOut); err != nil {
		b.Fatalf("aiproxy %v: %v\n%s", args, err, errOut.String())
	}
	return strings.TrimSpace(out.String())
}

func benchGet(b *testing.B, url, key string, v any) {
	b.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Api-Key "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s = %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		b.Fatalf("GET %s: %v: %s", url, err, body)
	}
}

// benchPost sends a sandbox control request that answers 204.
func benchPost(b *testing.B, url, body string) {
	b.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(resp.Body)
		b.Fatalf("POST %s = %d %s", url, resp.StatusCode, msg)
	}
}

// sandboxSocketCounts reads how many sockets the sandbox holds open and how
// many client messages its socket log holds.
func (d *benchDemo) sandboxSocketCounts(b *testing.B) (open, messages int) {
	b.Helper()
	var out struct {
		Open     int               `json:"open"`
		Messages []json.RawMessage `json:"messages"`
	}
	benchGet(b, d.sandbox+"/_sandbox/sockets", "", &out)
	return out.Open, len(out.Messages)
}

// clearSocketLog empties the sandbox's socket log, which holds every
// client message.
func (d *benchDemo) clearSocketLog(b *testing.B) {
	b.Helper()
	req, _ := http.NewRequest(http.MethodDelete, d.sandbox+"/_sandbox/sockets", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
}

// socketPath is the text-to-speech input stream of the bench voice; a long
// inactivity timeout keeps idle sockets open while a thousand are opened.
const benchSocketPath = "/v1/text-to-speech/" + socketVoice + "/stream-input?output_format=mp3_44100_128&inactivity_timeout=180"

// open dials the sandbox's socket directly, with the sandbox key, or
// through aiproxy, with the org's key.
func (d *benchDemo) open(ctx context.Context, relay bool) (*websocket.Conn, error) {
	h := http.Header{}
	var u string
	if relay {
		u = strings.Replace(d.url, "http://", "ws://", 1) + "/api/ai-proxy/orgs/bench/native/elevenlabs" + benchSocketPath
		h.Set("Authorization", "Api-Key "+d.key)
	} else {
		u = strings.Replace(d.sandbox, "http://", "ws://", 1) + "/elevenlabs" + benchSocketPath
		h.Set("Xi-Api-Key", d.elKey)
	}
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h, CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %w (HTTP %d)", u, err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dial %s: %w", u, err)
	}
	c.SetReadLimit(16 << 20)
	return c, nil
}

// benchFrame is what the benchmarks read of a provider message.
type benchFrame struct {
	Audio   *string `json:"audio"`
	IsFinal bool    `json:"isFinal"`
	Error   string  `json:"error"`
	Message string  `json:"message"`
}

// audioPrefix opens the sandbox's audio frames (and so the relay's, which
// passes them unchanged) when they carry audio.
var audioPrefix = []byte(`{"audio":"`)

// readAudio reads until an audio message arrives and returns when it was
// received, before it is decoded: a first frame of 150 characters is
// 340 kB of JSON, and decoding it in full would charge the client's own
// work to both paths. An error frame or a close is an error.
func readAudio(ctx context.Context, c *websocket.Conn) (time.Time, error) {
	for {
		_, data, err := c.Read(ctx)
		at := time.Now()
		if err != nil {
			return at, err
		}
		if bytes.HasPrefix(data, audioPrefix) && len(data) > len(audioPrefix) && data[len(audioPrefix)] != '"' {
			return at, nil
		}
		var f benchFrame
		if err := json.Unmarshal(data, &f); err != nil {
			return at, fmt.Errorf("not JSON: %.200s", data)
		}
		switch {
		case f.Error != "":
			return at, fmt.Errorf("error frame %s: %s", f.Error, f.Message)
		case f.Audio != nil && *f.Audio != "":
			return at, nil
		}
	}
}

// endStream sends the end of the text and reads until the provider's
// isFinal and its normal close.
func endStream(ctx context.Context, c *websocket.Conn) error {
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, benchEOS); err != nil {
		return err
	}
	final := false
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				return fmt.Errorf("stream ended with %w; want close 1000", err)
			}
			if !final {
				return fmt.Errorf("closed without isFinal")
			}
			return nil
		}
		var f benchFrame
		if json.Unmarshal(data, &f) == nil && f.IsFinal {
			final = true
		}
	}
}

// reportLatencies reports the mean and the median of ds in milliseconds,
// as ms/<name> and p50-ms/<name>.
func reportLatencies(b *testing.B, ds []time.Duration, name string) {
	if len(ds) == 0 {
		return
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(sum)/float64(len(ds)), "ms/"+name)
	b.ReportMetric(ms(ds[len(ds)/2]), "p50-ms/"+name)
}

// The sub-benchmarks of the latency benchmarks. direct and relay each
// time one path alone; testing repeats each leaf -count times in a row,
// so on a busy machine their rounds do not share the same moments. paired
// alternates one direct and one relay measurement in every iteration
// (which goes first alternates too), so both see the same load, and
// reports the median of the per-pair differences as the relay's overhead.
var benchPaths = []string{"direct", "relay", "paired"}

// reportPaired reports a paired run: each path's median and the median of
// relay − direct over the pairs, in milliseconds.
func reportPaired(b *testing.B, direct, relay []time.Duration, name string) {
	if len(direct) == 0 || len(direct) != len(relay) {
		return
	}
	diffs := make([]time.Duration, len(direct))
	for i := range direct {
		diffs[i] = relay[i] - direct[i]
	}
	median := func(ds []time.Duration) float64 {
		ds = slices.Clone(ds)
		slices.Sort(ds)
		return float64(ds[len(ds)/2]) / float64(time.Millisecond)
	}
	b.ReportMetric(median(direct), "direct-p50-ms/"+name)
	b.ReportMetric(median(relay), "relay-p50-ms/"+name)
	b.ReportMetric(median(diffs), "overhead-p50-ms/"+name)
}

// firstAudio opens a socket, sends the opening space and the flushed
// sentence, and returns the time from the dial to the first audio; then
// it ends the stream and waits for the provider's close.
func (d *benchDemo) firstAudio(relay bool) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	c, err := d.open(ctx, relay)
	if err != nil {
		return 0, err
	}
	defer c.CloseNow()
	err = c.Write(ctx, websocket.MessageText, benchBOS)
	if err == nil {
		err = c.Write(ctx, websocket.MessageText, benchSpeak)
	}
	var at time.Time
	if err == nil {
		at, err = readAudio(ctx, c)
	}
	took := at.Sub(start)
	if err == nil {
		err = endStream(ctx, c)
	}
	return took, err
}

// BenchmarkSocketFirstAudio opens a socket per iteration, sends the
// opening space and a flushed 150-character sentence, and times from the
// dial to the first audio (ms/first-audio, the mean, and its median); the
// iteration, ns/op, also ends the stream and waits for the close.
func BenchmarkSocketFirstAudio(b *testing.B) {
	d := startBenchDemo(b)
	for _, path := range benchPaths {
		b.Run(path, func(b *testing.B) {
			var direct, relay []time.Duration
			i := 0
			for b.Loop() {
				order := []bool{path == "relay"}
				if path == "paired" {
					order = []bool{i%2 == 1, i%2 == 0}
				}
				i++
				for _, r := range order {
					took, err := d.firstAudio(r)
					if err != nil {
						b.Fatalf("%s (relay %v): %v", path, r, err)
					}
					if r {
						relay = append(relay, took)
					} else {
						direct = append(direct, took)
					}
				}
			}
			switch path {
			case "direct":
				reportLatencies(b, direct, "first-audio")
			case "relay":
				reportLatencies(b, relay, "first-audio")
			default:
				reportPaired(b, direct, relay, "first-audio")
			}
		})
	}
}

// speaker is one open socket that has sent its opening space.
type speaker struct{ c *websocket.Conn }

func (d *benchDemo) speaker(ctx context.Context, b *testing.B, relay bool) speaker {
	b.Helper()
	c, err := d.open(ctx, relay)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.CloseNow() })
	if err := c.Write(ctx, websocket.MessageText, benchBOS); err != nil {
		b.Fatal(err)
	}
	return speaker{c}
}

// roundTrip sends a short flushed text and reads until its audio.
func (s speaker) roundTrip(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	if err := s.c.Write(ctx, websocket.MessageText, benchShortMsg); err != nil {
		return 0, err
	}
	at, err := readAudio(ctx, s.c)
	return at.Sub(start), err
}

// BenchmarkSocketRoundTrip sends, on an open socket, a short flushed text
// per iteration and reads until its audio arrives: the relay's cost per
// message is the relay's time minus the direct one (paired: one socket of
// each, messages alternating).
func BenchmarkSocketRoundTrip(b *testing.B) {
	d := startBenchDemo(b)
	for _, path := range benchPaths {
		b.Run(path, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			var sockets []speaker // direct, relay
			var order [][]int
			switch path {
			case "direct":
				sockets, order = []speaker{d.speaker(ctx, b, false)}, [][]int{{0}}
			case "relay":
				sockets, order = []speaker{{}, d.speaker(ctx, b, true)}, [][]int{{1}}
			default:
				sockets, order = []speaker{d.speaker(ctx, b, false), d.speaker(ctx, b, true)}, [][]int{{0, 1}, {1, 0}}
			}
			times := make([][]time.Duration, 2)
			i := 0
			for b.Loop() {
				for _, k := range order[i%len(order)] {
					took, err := sockets[k].roundTrip(ctx)
					if err != nil {
						b.Fatalf("%s: %v", path, err)
					}
					times[k] = append(times[k], took)
				}
				i++
			}
			switch path {
			case "direct":
				reportLatencies(b, times[0], "round-trip")
			case "relay":
				reportLatencies(b, times[1], "round-trip")
			default:
				reportPaired(b, times[0], times[1], "round-trip")
			}
			for _, s := range sockets {
				if s.c != nil {
					if err := endStream(ctx, s.c); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// memorySockets is how many sockets BenchmarkSocketMemory holds open.
const memorySockets = 1000

// BenchmarkSocketMemory holds 1,000 idle sockets open (each after its
// opening space) first directly to the sandbox, then through aiproxy, and
// measures the process's heap and stacks in use with each. A direct socket
// costs the client's and the sandbox's ends; a relayed one costs those and
// aiproxy's two ends, its relay and its pipeline, so the difference per
// socket is aiproxy's: bytes/socket counts heap spans and stacks in use
// (HeapInuse+StackInuse), split as heap-live-bytes/socket (HeapAlloc, the
// live objects, less sensitive to how full the heap's spans are) and
// stack-bytes/socket. It fails if, once the sockets are
// closed, the sandbox still holds one open or goroutines are left over.
// The caps are set to 1,000, so a slot not given back refuses a socket of
// the next round. It measures once per -count round, whatever -benchtime
// says.
func BenchmarkSocketMemory(b *testing.B) {
	// Each relayed socket is four descriptors in this process: the
	// client's, aiproxy's two and the sandbox's.
	raiseFileLimit(b, 4*memorySockets+512)
	// The caps are exactly the sockets held, so that a relayed round can
	// open all of them only if every slot of the rounds before was freed.
	caps := strconv.Itoa(memorySockets)
	d := startBenchDemo(b, "--socket-cap", "org="+caps, "--socket-cap", "credential="+caps)
	// One small round of each first, so that what is made once (pools,
	// caches, the first connection's tables) is not charged to either.
	d.holdSockets(b, 20, false)
	d.holdSockets(b, 20, true)
	direct := d.holdSockets(b, memorySockets, false)
	relayed := d.holdSockets(b, memorySockets, true)
	// Once more, as a check only: a slot the last round kept would refuse
	// a socket now.
	d.holdSockets(b, memorySockets, true)
	for b.Loop() { // nothing is timed; the loop only makes this run once per round
	}
	// After the loop: its first call resets the metrics reported so far.
	n := float64(memorySockets)
	b.ReportMetric(float64(relayed.bytes-direct.bytes)/n, "bytes/socket")
	b.ReportMetric(float64(direct.bytes)/n, "direct-bytes/socket")
	b.ReportMetric(float64(relayed.bytes)/n, "relayed-bytes/socket")
	b.ReportMetric(float64(relayed.live-direct.live)/n, "heap-live-bytes/socket")
	b.ReportMetric(float64(relayed.stacks-direct.stacks)/n, "stack-bytes/socket")
	b.ReportMetric(float64(relayed.goroutines-direct.goroutines)/n, "goroutines/socket")
	b.ReportMetric(0, "ns/op")
}

// held is what n open sockets cost the process.
type held struct {
	bytes      int64 // heap spans and stacks in use: HeapInuse+StackInuse
	live       int64 // live heap objects: HeapAlloc
	stacks     int64 // StackInuse
	goroutines int
}

// minus is h less base.
func (h held) minus(base held) held {
	return held{h.bytes - base.bytes, h.live - base.live, h.stacks - base.stacks, h.goroutines - base.goroutines}
}

// inUse is the memory in use after a full collection, and the goroutines.
func inUse() held {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return held{bytes: int64(m.HeapInuse + m.StackInuse), live: int64(m.HeapAlloc), stacks: int64(m.StackInuse),
		goroutines: runtime.NumGoroutine()}
}

// holdSockets opens n idle sockets, measures what they hold, closes them
// (half with a close handshake, half by dropping the connection) and checks
// that the sandbox and the relay let go of every one.
func (d *benchDemo) holdSockets(b *testing.B, n int, relay bool) held {
	b.Helper()
	d.clearSocketLog(b)
	base := inUse()
	g0 := base.goroutines

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conns := make([]*websocket.Conn, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				c, err := d.open(ctx, relay)
				if err == nil {
					err = c.Write(ctx, websocket.MessageText, benchBOS)
				}
				if err != nil {
					errs <- err
					continue
				}
				conns[i] = c
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.CloseNow()
			}
		}
	}()
	if len(errs) > 0 {
		b.Fatalf("opening %d sockets (relay %v): %d failed, first: %v", n, relay, len(errs), <-errs)
	}
	// Every socket is open at the sandbox and its opening space arrived.
	waitUntil(b, 60*time.Second, func() bool {
		open, msgs := d.sandboxSocketCounts(b)
		return open == n && msgs == n
	}, func() string {
		open, msgs := d.sandboxSocketCounts(b)
		return fmt.Sprintf("the sandbox holds %d sockets and %d messages; want %d of each", open, msgs, n)
	})
	h := inUse().minus(base)

	// Half the clients close as they should, half just drop the connection.
	for i, c := range conns {
		if i%2 == 1 {
			c.CloseNow()
			continue
		}
		wg.Go(func() { c.Close(websocket.StatusNormalClosure, "") })
	}
	wg.Wait()
	// Every socket ends at the sandbox: aiproxy closed its side of each.
	waitUntil(b, 30*time.Second, func() bool {
		open, _ := d.sandboxSocketCounts(b)
		return open == 0
	}, func() string {
		open, _ := d.sandboxSocketCounts(b)
		return fmt.Sprintf("%d of %d sockets still open at the sandbox after their clients closed them (relay %v)", open, n, relay)
	})
	// And every goroutine of theirs ends; a few of the process's own
	// come and go.
	const slack = 20
	waitUntil(b, 30*time.Second, func() bool { return runtime.NumGoroutine() <= g0+slack }, func() string {
		var buf bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
		dump := buf.String()
		if len(dump) > 8000 {
			dump = dump[:8000]
		}
		return fmt.Sprintf("%d goroutines after closing %d sockets (relay %v), %d before:\n%s", runtime.NumGoroutine(), n, relay, g0, dump)
	})
	return h
}

// waitUntil polls cond until it holds, or fails with what says.
func waitUntil(b *testing.B, limit time.Duration, cond func() bool, what func() string) {
	b.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	b.Fatal(what())
}

// raiseFileLimit raises the soft limit on open files to want, or skips
// the benchmark when the hard limit is lower.
func raiseFileLimit(b *testing.B, want uint64) {
	b.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Skipf("cannot read the open-file limit: %v", err)
	}
	if lim.Cur >= want {
		return
	}
	if lim.Max < want {
		b.Skipf("%d sockets need %d open files; the hard limit is %d (raise it with ulimit -Hn)", memorySockets, want, lim.Max)
	}
	lim.Cur = want
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Skipf("cannot raise the open-file limit to %d: %v", want, err)
	}
}

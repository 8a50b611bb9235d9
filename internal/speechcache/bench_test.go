package speechcache_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// benchFormat is raw PCM, so that about twelve seconds of speech make the
// megabyte the benchmark asks for.
const benchFormat = "pcm_44100"

// megabyteText returns a text whose speech in benchFormat is at least 1 MiB.
func megabyteText(b *testing.B) (string, int) {
	words := []string{"Welcome", "to", "the", "course", "on", "speaking", "clearly."}
	var text []string
	for i := 0; ; i++ {
		text = append(text, words[i%len(words)])
		if n := len(sandbox.Speech(strings.Join(text, " "), rachel, "eleven_multilingual_v2", benchFormat)); n >= 1<<20 {
			return strings.Join(text, " "), n
		}
		if i > 10000 {
			b.Fatal("the sandbox's speech does not grow with its text")
		}
	}
}

// BenchmarkSpeechCache measures a 1 MiB TTS answer four ways, each
// through HTTP on 127.0.0.1: the sandbox called directly (the floor),
// through the pipeline to the sandbox (path=provider: an org without the
// cache), the same for an org with the cache where every call misses and
// is copied to the store (path=miss: a new seed each time, within a 64 MiB
// cache that evicts), and from the speech cache (path=cache: every call a
// hit). It reports the time to the first body byte (median and
// 90th percentile over the calls) as the client sees it, the mean time
// from aiproxy's handler starting to its first body write (what aiproxy
// itself puts before the first byte, without the scheduling of three
// parties on one machine), and the CPU time of the whole process (client,
// aiproxy and sandbox together) per call. The sandbox keeps the
// speech it synthesized, so it answers at once: the provider path's time
// is aiproxy's and the sandbox's own cost of sending, not a provider's
// generation time, which in production is hundreds of milliseconds. The
// pipeline is serve's for speech: the ownership hooks on SQLite, the
// speech cache, opened credentials kept for proxy.DefaultCredentialTTL.
func BenchmarkSpeechCache(b *testing.B) {
	text, size := megabyteText(b)
	t := &testing.T{}
	h := newHarness(t, func(o *harnessOptions) {
		o.sandbox.MemoizeSpeech = true
		o.sandbox.CharacterLimit = 1 << 40
		o.credentialTTL = proxy.DefaultCredentialTTL
		o.maxBytes = 64 << 20
	})
	h.t = t
	srv := h.serve()
	s := speak{action: "tts", voice: rachel, body: map[string]any{"text": text}, query: map[string]any{"output_format": benchFormat}}
	env, _ := json.Marshal(s.envelope())
	body, _ := json.Marshal(s.body)
	seed := 0
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}}
	request := map[string]func() *http.Request{
		"direct": func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, h.sbURL+"/v1/text-to-speech/"+rachel+"?output_format="+benchFormat, strings.NewReader(string(body)))
			r.Header.Set("xi-api-key", elPlatform)
			r.Header.Set("Content-Type", "application/json")
			return r
		},
		"provider": func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, srv.URL+"/?org=off&action=tts", strings.NewReader(string(env)))
			r.Header.Set("Content-Type", "application/json")
			return r
		},
		"miss": func() *http.Request {
			seed++ // in the key, so every call misses; the sandbox's speech is the same
			s := s
			s.body = map[string]any{"text": text, "seed": seed}
			env, _ := json.Marshal(s.envelope())
			r, _ := http.NewRequest(http.MethodPost, srv.URL+"/?org=acme&action=tts", strings.NewReader(string(env)))
			r.Header.Set("Content-Type", "application/json")
			return r
		},
		"cache": func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, srv.URL+"/?org=acme&action=tts", strings.NewReader(string(env)))
			r.Header.Set("Content-Type", "application/json")
			return r
		},
	}
	// Fill the cache, and check that each path answers the same megabyte.
	for _, path := range []string{"cache", "direct", "provider", "cache"} {
		if n, _, err := fetch(client, request[path]()); err != nil || n != int64(size) {
			b.Fatalf("%s: %d bytes, %v; want %d", path, n, err, size)
		}
	}
	h.settle()
	if n, _ := h.fs.Stats(); n != 1 {
		b.Fatalf("%d entries after filling the cache", n)
	}
	for _, path := range []string{"direct", "provider", "miss", "cache"} {
		b.Run("path="+path, func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			ttfb := make([]time.Duration, 0, b.N)
			cpu0 := cpuTime()
			h.firstWrite.Store(0)
			b.ResetTimer()
			for range b.N {
				n, first, err := fetch(client, request[path]())
				if err != nil || n != int64(size) {
					b.Fatalf("%d bytes, %v", n, err)
				}
				ttfb = append(ttfb, first)
				if path == "miss" {
					// The copy is stored after the call, off its path: wait
					// for it, so that the next call's time is its own. Its
					// CPU still counts.
					h.settle()
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			if path != "direct" {
				b.ReportMetric(float64(h.firstWrite.Load())/1e3/float64(b.N), "first-write-µs")
			}
			slices.Sort(ttfb)
			b.ReportMetric(float64(ttfb[len(ttfb)/2].Microseconds()), "ttfb-p50-µs")
			b.ReportMetric(float64(ttfb[len(ttfb)*9/10].Microseconds()), "ttfb-p90-µs")
		})
	}
	if t.Failed() {
		b.Fatal("the harness failed")
	}
}

// fetch makes one request and returns the body's length and the time to
// its first byte.
func fetch(client *http.Client, r *http.Request) (int64, time.Duration, error) {
	start := time.Now()
	resp, err := client.Do(r)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var one [1]byte
	n, err := io.ReadFull(resp.Body, one[:])
	first := time.Since(start)
	if err != nil {
		return int64(n), first, err
	}
	rest, err := io.Copy(io.Discard, resp.Body)
	return 1 + rest, first, err
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

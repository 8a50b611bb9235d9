package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// scenario is one workload, run on every path against a fresh stack.
type scenario struct {
	name  string
	knobs func(smoke bool) sandboxKnobs
	run   func(b *bench, st *stack) error
}

func scenarios() []scenario {
	return []scenario{
		{"small-json", nil, (*bench).smallJSON},
		{"large-json", func(bool) sandboxKnobs { return sandboxKnobs{avatars: largeListAvatars} }, (*bench).largeJSON},
		{"tts-1mb", nil, (*bench).tts1MB},
		{"stream-100mb", nil, (*bench).stream100MB},
		{"poll-storm", nil, (*bench).pollStorm},
		{"waiting-10k", func(smoke bool) sandboxKnobs {
			if smoke {
				return sandboxKnobs{chunkDelay: 300 * time.Millisecond}
			}
			return sandboxKnobs{chunkDelay: waitChunkDelay}
		}, (*bench).waiting},
	}
}

// smallJSONPlan is the small-JSON scenario's load: the offered rates of
// the sweep, the fixed rate held for the targets, and the closed-loop
// capacity phase.
type smallJSONPlan struct {
	rates          []float64
	holdRate       float64
	hold, step     time.Duration
	warmUp, capDur time.Duration
	capConc        int
}

func newSmallJSONPlan(smoke bool) smallJSONPlan {
	if smoke {
		return smallJSONPlan{rates: []float64{50, 100}, holdRate: 100, hold: time.Second, step: 500 * time.Millisecond,
			warmUp: 300 * time.Millisecond, capDur: time.Second, capConc: 8}
	}
	return smallJSONPlan{rates: []float64{250, 500, 1000, 2000, 3000, 4000, 5000, 6000}, holdRate: 1000,
		hold: 15 * time.Second, step: 5 * time.Second, warmUp: time.Second, capDur: 8 * time.Second, capConc: 64}
}

// smallJSON is HeyGen's remaining-quota call: a tiny JSON answer, so the
// figures are the proxy's own cost. It sweeps offered load for the chart,
// holds 1,000 requests/s for the target, then finds capacity closed-loop.
// In one round the fixed rate is the sweep's own point; with several, the
// sweep runs once before the rounds (for the chart) and every round holds
// the fixed rate and finds capacity on each path, in a rotated order.
func (b *bench) smallJSON(st *stack) error {
	c := call{service: "heygen", action: "get-remaining-quota", method: http.MethodGet, path: "/v2/user/remaining_quota"}
	plan := newSmallJSONPlan(b.w.opts.smoke)
	rates := plan.rates
	if b.rounds > 1 {
		b.logf("  sweep, for the chart")
		for _, path := range st.paths() {
			b.smallJSONPath(st, path, st.request(path, c), plan, plan.rates, true)
		}
		rates = []float64{plan.holdRate}
	}
	return b.eachRound(st.paths(), func(path string) error {
		b.smallJSONPath(st, path, st.request(path, c), plan, rates, false)
		return nil
	})
}

// smallJSONPath measures one path after a warm-up: open loop at each of
// rates in turn until one saturates, holding plan.holdRate for plan.hold,
// then capacity. With chartOnly every rate is a sweep point of plan.step
// and capacity is left out: that is the sweep run once before several
// rounds.
func (b *bench) smallJSONPath(st *stack, path string, rq request, plan smallJSONPlan, rates []float64, chartOnly bool) {
	ex := expect{status: http.StatusOK, minBytes: 50}
	next := func(int) request { return rq }
	cs := clients(64)
	defer closeClients(cs)
	openLoop(b.ctx, cs, next, ex, plan.holdRate, plan.warmUp, 5000)
	for _, rate := range rates {
		held := rate == plan.holdRate && !chartOnly
		dur := plan.step
		if held {
			dur = plan.hold
		}
		load := fmt.Sprintf("open-loop %g/s for %s", rate, dur)
		r := b.measure(st, "small-json", path, load, func() loadResult {
			return openLoop(b.ctx, cs, next, ex, rate, dur, 5000)
		})
		r.Sweep = !held
		if r.Errors > 0 || r.AchievedRPS < 0.9*rate || r.P99 > 1000 {
			r.Note = "saturated"
			if len(rates) > 1 {
				r.Note += ": higher rates skipped"
			}
			break
		}
	}
	if chartOnly {
		return
	}
	load := fmt.Sprintf("closed-loop %d conns for %s", plan.capConc, plan.capDur)
	r := b.measure(st, "small-json-capacity", path, load, func() loadResult {
		return closedLoop(b.ctx, cs, next, ex, plan.capConc, plan.capDur)
	})
	r.Note = "throughput: as fast as the path answers"
}

// largeListAvatars makes GET /v2/avatars about 1 MB, like HeyGen's real list.
const largeListAvatars = 2600

// largeJSON lists HeyGen's avatars (about 1 MB of JSON). Cold: every request
// differs (a nonce in the query), so no cache could answer it. Cached: the
// same request repeated, measured only if aiproxy answers repeats without
// calling the provider.
func (b *bench) largeJSON(st *stack) error {
	base := call{service: "heygen", action: "list-avatars", method: http.MethodGet, path: "/v2/avatars"}
	var probe struct {
		Data struct {
			Avatars []json0 `json:"avatars"`
		} `json:"data"`
	}
	if err := st.direct(b.ctx, base, &probe); err != nil {
		return err
	}
	ex := expect{status: http.StatusOK, minBytes: 900 << 10}
	rate, dur := 50.0, 10*time.Second
	if b.w.opts.smoke {
		rate, dur = 5, 2*time.Second
	}
	load := fmt.Sprintf("open-loop %g/s for %s", rate, dur)
	cold := func(path string) func(int) request {
		return func(i int) request {
			c := base
			c.query = url.Values{"bench_nonce": {strconv.Itoa(i)}}
			return st.request(path, c)
		}
	}
	if err := b.eachRound(st.paths(), func(path string) error {
		cs := clients(32)
		openLoop(b.ctx, cs, cold(path), ex, rate, time.Second, 2000)
		b.measure(st, "large-json-cold", path, load, func() loadResult {
			return openLoop(b.ctx, cs, cold(path), ex, rate, dur, 2000)
		})
		closeClients(cs)
		return nil
	}); err != nil {
		return err
	}
	cached, err := b.aiproxyCaches(st, base)
	if err != nil {
		return err
	}
	if !cached {
		b.rows = append(b.rows, &row{Scenario: "large-json-cached", Path: pathAIProxy, Load: load,
			Note: "pending: aiproxy has no response cache yet (three identical calls all reached the sandbox)"})
		b.logf("  large-json-cached: pending, aiproxy does not cache")
		return nil
	}
	return b.eachRound(st.paths(), func(path string) error {
		rq := st.request(path, base)
		cs := clients(32)
		openLoop(b.ctx, cs, func(int) request { return rq }, ex, rate, time.Second, 2000)
		b.measure(st, "large-json-cached", path, load, func() loadResult {
			return openLoop(b.ctx, cs, func(int) request { return rq }, ex, rate, dur, 2000)
		})
		closeClients(cs)
		return nil
	})
}

// json0 decodes anything and keeps nothing.
type json0 struct{}

// aiproxyCaches sends three identical calls through aiproxy and reports
// whether fewer than three reached the sandbox.
func (b *bench) aiproxyCaches(st *stack, c call) (bool, error) {
	_ = st.clearSandboxLog(b.ctx)
	rq := st.request(pathAIProxy, c)
	cs := clients(1)
	defer closeClients(cs)
	for range 3 {
		if s := do(b.ctx, cs[0], rq, expect{status: http.StatusOK}, time.Now()); s.err != "" {
			return false, fmt.Errorf("cache probe: %s", s.err)
		}
	}
	n, err := st.sandboxRequests(b.ctx)
	return n < 3, err
}

// speechText returns a text whose audio in format is at least size bytes,
// made of repeated unit.
func speechText(unit, voice, model, format string, size int) string {
	one := len(sandbox.Speech(strings.Repeat(unit, 100), voice, model, format))
	reps := size/one*100 + 100
	for {
		text := strings.Repeat(unit, reps)
		if len(sandbox.Speech(text, voice, model, format)) >= size {
			return text
		}
		reps += reps / 20
	}
}

const benchVoice = "21m00Tcm4TlvDq8ikWAM"

// tts1MB asks ElevenLabs for about 1 MB of MP3 and copies it back.
func (b *bench) tts1MB(st *stack) error {
	const format, model = "mp3_44100_128", "eleven_multilingual_v2"
	text := speechText("Hello there, this is a test. ", benchVoice, model, format, 1<<20)
	c := call{service: "elevenlabs", action: "tts", method: http.MethodPost,
		path: "/v1/text-to-speech/" + benchVoice, pathParams: map[string]string{"voice_id": benchVoice},
		query: url.Values{"output_format": {format}}, body: map[string]string{"text": text, "model_id": model}}
	ex := expect{status: http.StatusOK, minBytes: 1 << 20}
	rate, dur := 40.0, 10*time.Second
	if b.w.opts.smoke {
		rate, dur = 5, 2*time.Second
	}
	load := fmt.Sprintf("open-loop %g/s for %s", rate, dur)
	return b.eachRound(st.paths(), func(path string) error {
		rq := st.request(path, c)
		cs := clients(32)
		openLoop(b.ctx, cs, func(int) request { return rq }, ex, rate, time.Second, 2000)
		b.measure(st, "tts-1mb", path, load, func() loadResult {
			return openLoop(b.ctx, cs, func(int) request { return rq }, ex, rate, dur, 2000)
		})
		closeClients(cs)
		return nil
	})
}

// stream100MB streams about 100 MB of PCM speech, one request at a time:
// time to first byte, and how much the proxy's memory grows.
func (b *bench) stream100MB(st *stack) error {
	const format, model = "pcm_48000", "eleven_flash_v2_5"
	text := speechText("abc ", benchVoice, model, format, 100<<20)
	c := call{service: "elevenlabs", action: "tts-stream", method: http.MethodPost,
		path: "/v1/text-to-speech/" + benchVoice + "/stream", pathParams: map[string]string{"voice_id": benchVoice},
		query: url.Values{"output_format": {format}}, body: map[string]string{"text": text, "model_id": model}}
	ex := expect{status: http.StatusOK, minBytes: 100 << 20}
	n := 5
	if b.w.opts.smoke {
		n = 1
	}
	load := fmt.Sprintf("%d sequential streams", n)
	return b.eachRound(st.paths(), func(path string) error {
		rq := st.request(path, c)
		cs := clients(1)
		if s := do(b.ctx, cs[0], rq, ex, time.Now()); s.err != "" { // warm up
			b.logf("  %s warm-up stream: %s", path, s.err)
		}
		b.measure(st, "stream-100mb", path, load, func() loadResult {
			col := &collector{}
			start := time.Now()
			for range n {
				col.enter()
				col.add(do(b.ctx, cs[0], rq, ex, time.Now()))
				col.flight.Add(-1)
			}
			return col.result(0, time.Since(start))
		})
		closeClients(cs)
		return nil
	})
}

// pollStorm has many clients poll one rendering video's status.
func (b *bench) pollStorm(st *stack) error {
	var created struct {
		Data struct {
			VideoID string `json:"video_id"`
		} `json:"data"`
	}
	if err := st.direct(b.ctx, renderCall(), &created); err != nil {
		return fmt.Errorf("start render: %w", err)
	}
	c := call{service: "heygen", action: "video-status", method: http.MethodGet, path: "/v1/video_status.get",
		query: url.Values{"video_id": {created.Data.VideoID}}}
	ex := expect{status: http.StatusOK, minBytes: 50}
	nClients, rate, dur := 500, 1000.0, 10*time.Second
	if b.w.opts.smoke {
		nClients, rate, dur = 20, 50, 2*time.Second
	}
	load := fmt.Sprintf("%d clients, %g polls/s for %s", nClients, rate, dur)
	return b.eachRound(st.paths(), func(path string) error {
		rq := st.request(path, c)
		cs := clients(nClients)
		openLoop(b.ctx, cs, func(int) request { return rq }, ex, rate, time.Second, 5000)
		b.measure(st, "poll-storm", path, load, func() loadResult {
			return openLoop(b.ctx, cs, func(int) request { return rq }, ex, rate, dur, 5000)
		})
		closeClients(cs)
		return nil
	})
}

// waitChunkDelay spaces the chunks of each slow stream: eight chunks take
// about ten seconds.
const waitChunkDelay = 1500 * time.Millisecond

// waiting holds thousands of concurrent clients. Through aiproxy they
// long-poll one rendering video's job (GET /jobs/{id}?wait=N), which the
// server holds without any upstream call; that is the target's figure. For
// comparison, every path then holds as many slow streamed responses (TTS
// streams whose chunks the sandbox spaces out), which direct, nginx and the
// Go proxy can also serve, and which keep an upstream connection open per
// client.
func (b *bench) waiting(st *stack) error {
	n, ramp := 10000, 4*time.Second
	if b.w.opts.smoke {
		n, ramp = 200, time.Second
	}
	rate := float64(n) / ramp.Seconds()
	if err := b.eachRound(st.aiproxyPaths(), func(path string) error {
		return b.longPoll(st, path, n, rate, ramp)
	}); err != nil {
		return err
	}
	c := call{service: "elevenlabs", action: "tts-stream", method: http.MethodPost,
		path: "/v1/text-to-speech/" + benchVoice + "/stream", pathParams: map[string]string{"voice_id": benchVoice},
		query: url.Values{"output_format": {"mp3_22050_32"}}, body: map[string]string{"text": "One moment, please.", "model_id": "eleven_flash_v2_5"}}
	ex := expect{status: http.StatusOK, minBytes: 1000}
	// A proxy holds two sockets per stream; stay under the open-file limit
	// that this process could not raise.
	if limit := (fileLimit() - 500) / 2; n > limit {
		b.logf("  open-file limit %d: %d slow streams instead of %d", fileLimit(), limit, n)
		n, rate = limit, float64(limit)/ramp.Seconds()
	}
	load := fmt.Sprintf("%d slow streams over %s", n, ramp)
	return b.eachRound(st.paths(), func(path string) error {
		rq := st.request(path, c)
		cs := clients(1)
		r := b.measure(st, "waiting-streams", path, load, func() loadResult {
			return openLoop(b.ctx, cs, func(int) request { return rq }, ex, rate, ramp, int64(n)+1)
		})
		r.Note = "slow streamed responses: one upstream connection per client"
		closeClients(cs)
		time.Sleep(time.Second) // Let sockets close before the next path.
		return nil
	})
}

// longPoll starts a render that never finishes, through an aiproxy path so
// that that aiproxy tracks it as a job, and has n clients long-poll that
// job.
func (b *bench) longPoll(st *stack, path string, n int, rate float64, ramp time.Duration) error {
	gen := renderCall()
	var created struct {
		Data struct {
			VideoID string `json:"video_id"`
		} `json:"data"`
	}
	if err := fetch(b.ctx, st.request(path, gen), &created); err != nil {
		return fmt.Errorf("start render through %s: %w", path, err)
	}
	base, in := st.aiproxyFor(path)
	job, state, err := b.processingJob(base, in, created.Data.VideoID)
	if err != nil {
		b.rows = append(b.rows, &row{Scenario: "waiting-10k", Path: path, Load: "long-poll", Round: b.round,
			Note: "pending: " + err.Error()})
		b.logf("  waiting-10k %s long-poll: %v", path, err)
		return nil
	}
	wait := 12
	if b.w.opts.smoke {
		wait = 2
	}
	h := http.Header{}
	h.Set("Authorization", "Api-Key "+in.apiKey)
	rq := request{method: http.MethodGet, header: h,
		url: fmt.Sprintf("%s/api/ai-proxy/orgs/%s/jobs/%s?wait=%d&state=%s", base, benchOrg, job, wait, state)}
	load := fmt.Sprintf("%d long-polls (wait=%ds) over %s", n, wait, ramp)
	cs := clients(1)
	defer closeClients(cs)
	r := b.measure(st, "waiting-10k", path, load, func() loadResult {
		return openLoop(b.ctx, cs, func(int) request { return rq }, expect{status: http.StatusOK, minBytes: 50}, rate, ramp, int64(n)+1)
	})
	r.Note = "long-poll of one rendering video's job: held by aiproxy, no upstream call"
	time.Sleep(time.Second)
	return nil
}

// renderCall starts a HeyGen test render that stays processing forever.
func renderCall() call {
	return call{service: "heygen", action: "generate-video", method: http.MethodPost, path: "/v2/video/generate",
		body: map[string]any{"test": true, "dimension": map[string]int{"width": 1280, "height": 720},
			"video_inputs": []any{map[string]any{
				"character": map[string]string{"type": "avatar", "avatar_id": "Abigail_expressive_2024112501", "avatar_style": "normal"},
				"voice":     map[string]string{"type": "text", "input_text": "SANDBOX_STUCK benchmark render", "voice_id": "f38a635bee7a4d1f9b0a654a31d050d2"},
			}}}}
}

// processingJob waits until the job of the aiproxy at base for a provider
// video is processing, and returns its ID and state.
func (b *bench) processingJob(base string, in *install, videoID string) (string, string, error) {
	h := http.Header{}
	h.Set("Authorization", "Api-Key "+in.apiKey)
	list := request{method: http.MethodGet, header: h, url: fmt.Sprintf("%s/api/ai-proxy/orgs/%s/jobs", base, benchOrg)}
	deadline := time.Now().Add(20 * time.Second)
	var id, state string
	for time.Now().Before(deadline) {
		var body any
		if err := fetch(b.ctx, list, &body); err != nil {
			return "", "", fmt.Errorf("aiproxy has no job list: %w", err)
		}
		id, state = findJob(body, videoID)
		if state == "processing" {
			return id, state, nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	if id == "" {
		return "", "", fmt.Errorf("aiproxy recorded no job for video %s", videoID)
	}
	return "", "", fmt.Errorf("job %s still %q after 20s", id, state)
}

// findJob finds the job of a provider job ID anywhere in a decoded list.
func findJob(v any, providerID string) (id, state string) {
	switch x := v.(type) {
	case map[string]any:
		if x["provider_job_id"] == providerID {
			id, _ = x["id"].(string)
			state, _ = x["state"].(string)
			return id, state
		}
		for _, e := range x {
			if id, state = findJob(e, providerID); id != "" {
				return id, state
			}
		}
	case []any:
		for _, e := range x {
			if id, state = findJob(e, providerID); id != "" {
				return id, state
			}
		}
	}
	return "", ""
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// request is one HTTP request of a scenario, ready to be sent many times.
type request struct {
	method string
	url    string
	header http.Header
	body   []byte
}

func (r request) build(ctx context.Context) (*http.Request, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return nil, err
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	return req, nil
}

// expect checks a response: its status and the least body it must have.
type expect struct {
	status   int
	minBytes int64
}

// sample is one request's timings, measured from when it was due.
type sample struct {
	latency time.Duration // due → last body byte
	ttfb    time.Duration // due → first body byte
	bytes   int64
	err     string
}

// loadResult is what one load phase measured.
type loadResult struct {
	Offered   float64
	Sent      int
	Errors    int
	ErrorKind map[string]int
	Latency   []time.Duration // successful requests, sorted
	TTFB      []time.Duration // sorted
	Bytes     int64
	Wall      time.Duration
	MaxLag    time.Duration // how late the scheduler sent its worst request
	MaxFlight int64
}

func (r *loadResult) achieved() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(len(r.Latency)) / r.Wall.Seconds()
}

// pct returns the q-quantile of sorted durations, in milliseconds; 0 when
// there are none.
func pct(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	i = min(max(i, 0), len(sorted)-1)
	return float64(sorted[i]) / float64(time.Millisecond)
}

// newTransport is the load generator's connection pool: keep-alive, no
// compression, no limit on connections.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConns:        20000,
		MaxIdleConnsPerHost: 20000,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		WriteBufferSize:     16 << 10,
		ReadBufferSize:      16 << 10,
	}
}

// clients returns n independent clients, each with its own connections,
// standing for n separate callers.
func clients(n int) []*http.Client {
	out := make([]*http.Client, n)
	for i := range out {
		out[i] = &http.Client{Transport: newTransport(), Timeout: 5 * time.Minute}
	}
	return out
}

func closeClients(cs []*http.Client) {
	for _, c := range cs {
		c.CloseIdleConnections()
	}
}

// collector gathers samples from concurrent requests.
type collector struct {
	mu      sync.Mutex
	samples []sample
	flight  atomic.Int64
	maxFl   atomic.Int64
}

func (c *collector) add(s sample) {
	c.mu.Lock()
	c.samples = append(c.samples, s)
	c.mu.Unlock()
}

func (c *collector) enter() {
	n := c.flight.Add(1)
	for {
		m := c.maxFl.Load()
		if n <= m || c.maxFl.CompareAndSwap(m, n) {
			return
		}
	}
}

func (c *collector) result(offered float64, wall time.Duration) loadResult {
	r := loadResult{Offered: offered, Sent: len(c.samples), Wall: wall, ErrorKind: map[string]int{}, MaxFlight: c.maxFl.Load()}
	for _, s := range c.samples {
		if s.err != "" {
			r.Errors++
			r.ErrorKind[s.err]++
			continue
		}
		r.Latency = append(r.Latency, s.latency)
		r.TTFB = append(r.TTFB, s.ttfb)
		r.Bytes += s.bytes
	}
	slices.Sort(r.Latency)
	slices.Sort(r.TTFB)
	return r
}

// do sends one request that was due at due and reads the whole answer.
func do(ctx context.Context, client *http.Client, rq request, ex expect, due time.Time) sample {
	req, err := rq.build(ctx)
	if err != nil {
		return sample{err: "build: " + err.Error()}
	}
	resp, err := client.Do(req)
	if err != nil {
		return sample{err: classify(err)}
	}
	defer resp.Body.Close()
	var s sample
	buf := make([]byte, 64<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 && s.bytes == 0 {
			s.ttfb = time.Since(due)
		}
		s.bytes += int64(n)
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return sample{err: classify(rerr)}
		}
	}
	s.latency = time.Since(due)
	if s.bytes == 0 {
		s.ttfb = s.latency
	}
	switch {
	case resp.StatusCode != ex.status:
		s.err = fmt.Sprintf("status %d", resp.StatusCode)
	case s.bytes < ex.minBytes:
		s.err = fmt.Sprintf("short body (%d bytes)", s.bytes)
	}
	return s
}

// classify shortens a transport error to its kind, for counting.
func classify(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case asNetErr(err, &ne) && ne.Timeout():
		return "timeout"
	}
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return msg
}

func asNetErr(err error, target *net.Error) bool {
	for e := err; e != nil; {
		if n, ok := e.(net.Error); ok {
			*target = n
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

// openLoop sends requests on a fixed timetable, rate per second for dur,
// whatever the server does: request i is due at start + i/rate, and its
// latency is measured from then, so a stalled server is charged for every
// request it delayed (no coordinated omission). Request i goes through
// clients[i % len(clients)]. More than maxFlight requests in flight count as
// errors rather than being queued.
func openLoop(ctx context.Context, cs []*http.Client, rq func(i int) request, ex expect, rate float64, dur time.Duration, maxFlight int64) loadResult {
	n := int(rate * dur.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	col := &collector{samples: make([]sample, 0, n)}
	var wg sync.WaitGroup
	start := time.Now().Add(5 * time.Millisecond)
	var maxLag time.Duration
	for i := 0; i < n && ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		} else {
			maxLag = max(maxLag, -d)
		}
		if col.flight.Load() >= maxFlight {
			col.add(sample{err: "client in-flight cap reached"})
			continue
		}
		col.enter()
		wg.Add(1)
		go func(i int, due time.Time) {
			defer wg.Done()
			defer col.flight.Add(-1)
			col.add(do(ctx, cs[i%len(cs)], rq(i), ex, due))
		}(i, due)
	}
	wg.Wait()
	r := col.result(rate, time.Since(start))
	r.MaxLag = maxLag
	return r
}

// closedLoop runs conc workers that each send the next request as soon as
// the last one finished, for dur: the server's capacity, not its latency.
func closedLoop(ctx context.Context, cs []*http.Client, rq func(i int) request, ex expect, conc int, dur time.Duration) loadResult {
	col := &collector{}
	var next atomic.Int64
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1))
				s := do(context.WithoutCancel(ctx), cs[w%len(cs)], rq(i), ex, time.Now())
				col.add(s)
			}
		}()
	}
	wg.Wait()
	return col.result(0, time.Since(start))
}

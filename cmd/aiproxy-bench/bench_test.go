package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPct(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 1000; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want float64
	}{{0.5, 500}, {0.99, 990}, {0.999, 999}, {1, 1000}} {
		if got := pct(d, tc.q); got != tc.want {
			t.Errorf("pct(%g) = %g, want %g", tc.q, got, tc.want)
		}
	}
	if got := pct(nil, 0.5); got != 0 {
		t.Errorf("pct of nothing = %g, want 0", got)
	}
}

func TestFindJob(t *testing.T) {
	list := map[string]any{"results": []any{
		map[string]any{"id": "job_1", "provider_job_id": "v1", "state": "completed"},
		map[string]any{"id": "job_2", "provider_job_id": "v2", "state": "processing"},
	}}
	if id, state := findJob(list, "v2"); id != "job_2" || state != "processing" {
		t.Errorf("findJob = %q, %q", id, state)
	}
	if id, _ := findJob(list, "v3"); id != "" {
		t.Errorf("findJob of an unknown video = %q", id)
	}
}

func TestFillAddedAndChart(t *testing.T) {
	rows := []*row{
		{Scenario: "small-json", Path: pathDirect, Load: "l", OfferedRPS: 1000, Requests: 10, P50: 1, P99: 2, TTFB50: 1},
		{Scenario: "small-json", Path: pathAIProxy, Load: "l", OfferedRPS: 1000, Requests: 10, P50: 1.5, P99: 2.75, TTFB50: 1.5},
		{Scenario: "small-json", Path: pathGoProxy, Load: "l", OfferedRPS: 1000, Requests: 10, P50: 1.25, P99: 2.5, TTFB50: 1.25},
	}
	fillAdded(rows)
	if a := rows[1].AddedP99; a == nil || *a != 0.75 {
		t.Fatalf("added p99 = %v, want 0.75", a)
	}
	if a := rows[2].AddedP99; a == nil || *a != 0.5 {
		t.Fatalf("go-proxy added p99 = %v, want 0.5", a)
	}
	svg := chart(rows)
	if !strings.HasPrefix(svg, "<svg") || !strings.Contains(svg, "polyline") {
		t.Errorf("chart is not an SVG with lines:\n%s", svg)
	}
	for _, path := range []string{pathAIProxy, pathGoProxy} {
		if !strings.Contains(svg, ">"+path+"</text>") || !strings.Contains(svg, pathColors[path]) {
			t.Errorf("chart has no %s line:\n%s", path, svg)
		}
	}
}

func TestReportInfo(t *testing.T) {
	capacity := func(path string, rps float64) *row {
		return &row{Scenario: "small-json-capacity", Path: path, Load: "closed-loop", Requests: 100, AchievedRPS: rps}
	}
	r := &report{Rows: []*row{capacity(pathDirect, 1000), capacity(pathAIProxy, 400), capacity(pathGoProxy, 800)}}
	r.Targets, r.Info = r.targets(), r.info()
	want := []figure{
		{"small JSON, bare Go proxy throughput vs direct", "80% (800 vs 1000 req/s)"},
		{"small JSON, aiproxy throughput vs bare Go proxy", "50% (400 vs 800 req/s)"},
	}
	if fmt.Sprint(r.Info) != fmt.Sprint(want) {
		t.Errorf("info = %v, want %v", r.Info, want)
	}
	for _, tg := range r.Targets {
		if strings.Contains(tg.Name, "Go proxy") {
			t.Errorf("info figure %q is among the targets", tg.Name)
		}
	}
	var txt, md strings.Builder
	if err := r.write(&txt); err != nil {
		t.Fatal(err)
	}
	r.markdown(&md)
	for _, f := range want {
		if !strings.Contains(txt.String(), "  info "+f.Name) || !strings.Contains(txt.String(), "measured "+f.Measured) {
			t.Errorf("text report lacks the info line %q:\n%s", f.Name, txt.String())
		}
		if !strings.Contains(md.String(), "| "+f.Name+" | – | "+f.Measured+" | info |") {
			t.Errorf("markdown report lacks the info row %q:\n%s", f.Name, md.String())
		}
	}
	if n := r.errorCount(); n != 0 {
		t.Errorf("errorCount = %d, want 0", n)
	}
	if r := (&report{Rows: []*row{capacity(pathDirect, 1000), capacity(pathAIProxy, 400)}}); r.info() != nil {
		t.Errorf("info without a go-proxy row = %v, want none", r.info())
	}
}

// TestGoProxyInjectsKeys runs the go-proxy child in-process in front of a
// recording upstream and checks what the upstream received and what came
// back.
func TestGoProxyInjectsKeys(t *testing.T) {
	type seen struct {
		uri    string
		header http.Header
		body   string
	}
	got := make(chan seen, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.URL.RequestURI(), r.Header.Clone(), string(b)}
		fmt.Fprintf(w, "answer to %s %s", r.Method, r.URL.RequestURI())
	}))
	defer up.Close()

	base := startGoProxy(t, up.URL)
	ctx := t.Context()

	for _, tc := range []struct {
		name, method, uri, body string
		header, key, other      string
	}{
		{"heygen", http.MethodGet, "/heygen/v2/user/remaining_quota?a=1", "", "X-Api-Key", "hk", "Xi-Api-Key"},
		{"elevenlabs", http.MethodPost, "/elevenlabs/v1/text-to-speech/v1?output_format=mp3", `{"text":"hi"}`, "Xi-Api-Key", "ek", "X-Api-Key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(ctx, tc.method, base+tc.uri, strings.NewReader(tc.body))
			req.Header.Set(tc.header, "sent-by-client") // replaced, as nginx's proxy_set_header does
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			s := <-got
			if v := s.header.Values(tc.header); len(v) != 1 || v[0] != tc.key {
				t.Errorf("upstream %s = %q, want [%q]", tc.header, v, tc.key)
			}
			if v := s.header.Get(tc.other); v != "" {
				t.Errorf("upstream %s = %q, want none", tc.other, v)
			}
			if s.uri != tc.uri || s.body != tc.body {
				t.Errorf("upstream got %s with body %q, want %s with %q", s.uri, s.body, tc.uri, tc.body)
			}
			if want := "answer to " + tc.method + " " + tc.uri; resp.StatusCode != http.StatusOK || string(body) != want {
				t.Errorf("client got %d %q, want 200 %q", resp.StatusCode, body, want)
			}
		})
	}

	resp, err := http.Get(base + "/other/path")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown service: status %d, want 404", resp.StatusCode)
	}
}

func TestNginxConfInjectsKeys(t *testing.T) {
	var b strings.Builder
	err := nginxConf.Execute(&b, map[string]any{"Root": false, "Dir": "/d", "Upstream": "127.0.0.1:1", "Listen": "127.0.0.1:2",
		"HeyGenKey": "hk", "ElevenLabsKey": "ek"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`proxy_set_header X-Api-Key "hk"`, `proxy_set_header xi-api-key "ek"`, "listen 127.0.0.1:2"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("config lacks %q", want)
		}
	}
}

// TestGoProxyStreamsWhileTheBodyIsRead checks the go-proxy child against
// net/http's habit of closing a request body once the answer starts
// (golang/go#40747): the upstream answers and flushes before it has read
// the request body, as a streaming TTS endpoint may. Every exchange must
// come back whole.
func TestGoProxyStreamsWhileTheBodyIsRead(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		_ = rc.EnableFullDuplex()
		for i := range 3 {
			fmt.Fprintf(w, "chunk %d\n", i)
			_ = rc.Flush()
		}
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "read %d\n", n)
	}))
	defer up.Close()
	base := startGoProxy(t, up.URL)
	body := strings.Repeat("x", 64<<10)
	want := fmt.Sprintf("chunk 0\nchunk 1\nchunk 2\nread %d\n", len(body))
	for i := range 100 {
		resp, err := http.Post(base+"/elevenlabs/v1/text-to-speech/v/stream", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("exchange %d: %v", i, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(got) != want {
			t.Fatalf("exchange %d: %q, %v; want %q", i, got, err, want)
		}
	}
}

// startGoProxy runs the go-proxy child in-process in front of upstream until
// the test ends and returns its base URL.
func startGoProxy(t *testing.T, upstream string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, stdout := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := runGoProxyChild(ctx, goProxyArgs(upstream, "hk", "ek")[1:], stdout) // main strips the child command
		stdout.Close()
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("go-proxy child: %v", err)
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("no GOPROXY_URL line: %v", err)
	}
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "GOPROXY_URL=")
	if !ok {
		t.Fatalf("first line %q is not GOPROXY_URL=", line)
	}
	return base
}

func TestSpreadOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		xs   []float64
		want spread
	}{
		{"none", nil, spread{}},
		{"one", []float64{7}, spread{7, 7, 7}},
		{"odd count, unsorted", []float64{470, 430, 455, 440, 520}, spread{455, 430, 520}},
		{"even count: the mean of the middle two", []float64{4, 1, 3, 2}, spread{2.5, 1, 4}},
		{"an outlier moves the range, not the median", []float64{100, 101, 99, 100, 900}, spread{100, 99, 900}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.xs)
			if got := spreadOf(tc.xs); got != tc.want {
				t.Errorf("spreadOf(%v) = %+v, want %+v", tc.xs, got, tc.want)
			}
			if !slices.Equal(in, tc.xs) {
				t.Errorf("spreadOf reordered its input: %v", tc.xs)
			}
		})
	}
	s := spread{455, 430, 470}
	if got := s.format("%.0f"); got != "455 (430–470)" {
		t.Errorf("format = %q", got)
	}
	if got := (spread{455, 455, 455}).format("%.0f"); got != "455" {
		t.Errorf("format of one value = %q", got)
	}
	if !s.overlaps(spread{470, 465, 480}) || s.overlaps(spread{480, 471, 490}) {
		t.Errorf("overlaps is wrong at the edges")
	}
}

func TestRoundOrder(t *testing.T) {
	paths := []string{pathDirect, pathAIProxy, pathBaseline, pathGoProxy, pathNginx}
	want := [][]string{
		{pathDirect, pathAIProxy, pathBaseline, pathGoProxy, pathNginx},
		{pathAIProxy, pathBaseline, pathGoProxy, pathNginx, pathDirect},
		{pathBaseline, pathGoProxy, pathNginx, pathDirect, pathAIProxy},
		{pathGoProxy, pathNginx, pathDirect, pathAIProxy, pathBaseline},
		{pathNginx, pathDirect, pathAIProxy, pathBaseline, pathGoProxy},
		{pathDirect, pathAIProxy, pathBaseline, pathGoProxy, pathNginx},
	}
	for r, w := range want {
		if got := roundOrder(paths, r); !slices.Equal(got, w) {
			t.Errorf("round %d: %v, want %v", r, got, w)
		}
	}
	if !slices.Equal(paths, []string{pathDirect, pathAIProxy, pathBaseline, pathGoProxy, pathNginx}) {
		t.Errorf("roundOrder changed its input: %v", paths)
	}
	if got := roundOrder(nil, 3); got != nil {
		t.Errorf("roundOrder of no paths = %v", got)
	}

	// eachRound visits the rotated orders and stamps each round.
	var b bench
	b.ctx, b.log, b.rounds = context.Background(), io.Discard, 3
	var visits []string
	err := b.eachRound([]string{"a", "b", "c"}, func(path string) error {
		visits = append(visits, fmt.Sprintf("%d%s", b.round, path))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if w := []string{"1a", "1b", "1c", "2b", "2c", "2a", "3c", "3a", "3b"}; !slices.Equal(visits, w) {
		t.Errorf("eachRound visited %v, want %v", visits, w)
	}
	if b.round != 0 {
		t.Errorf("round after eachRound = %d, want 0", b.round)
	}
	b.rounds, visits = 1, nil
	_ = b.eachRound([]string{"a", "b"}, func(path string) error {
		visits = append(visits, fmt.Sprintf("%d%s", b.round, path))
		return nil
	})
	if w := []string{"0a", "0b"}; !slices.Equal(visits, w) {
		t.Errorf("one round visited %v, want %v (rows of a run of one round carry no round)", visits, w)
	}
}

// TestRoundsReport feeds three rounds of small-json rows through the
// report: added latency against each round's own direct row, medians and
// ranges per path, targets read from the medians, and the A/B info lines.
func TestRoundsReport(t *testing.T) {
	var rows []*row
	add := func(round int, path string, p99, cpuHold, capRPS, cpuCap float64) {
		rows = append(rows,
			&row{Scenario: "small-json", Path: path, Load: "open-loop 1000/s for 15s", Round: round, Requests: 15000,
				AchievedRPS: 1000, P50: p99 / 4, P99: p99, CPUPerReqUs: cpuHold},
			&row{Scenario: "small-json-capacity", Path: path, Load: "closed-loop 64 conns for 8s", Round: round, Requests: 8 * int(capRPS),
				AchievedRPS: capRPS, CPUPerReqUs: cpuCap})
	}
	// The sweep before the rounds: not summarized, but drawn.
	rows = append(rows, &row{Scenario: "small-json", Path: pathAIProxy, Load: "open-loop 250/s for 5s", Requests: 1250, AchievedRPS: 250, P99: 1, Sweep: true})
	//           round  path          p99  cpu/req  capacity  cpu/req
	add(1, pathDirect, 2, 200, 10000, 70)
	add(1, pathAIProxy, 3, 460, 3000, 300)
	add(1, pathBaseline, 3.5, 450, 3100, 290)
	add(1, pathGoProxy, 2.5, 350, 5000, 160)
	add(2, pathAIProxy, 6, 480, 2500, 320) // a neighbour's burst in round 2
	add(2, pathDirect, 5, 210, 9000, 72)
	add(2, pathBaseline, 5.5, 470, 2600, 310)
	add(2, pathGoProxy, 6, 360, 4600, 165)
	add(3, pathBaseline, 2.8, 440, 3300, 285)
	add(3, pathGoProxy, 2.4, 340, 5200, 155)
	add(3, pathDirect, 1.9, 190, 11000, 69)
	add(3, pathAIProxy, 2.6, 455, 3200, 295)
	fillAdded(rows)

	r := &report{Rows: rows}
	r.summarize()
	r.Targets, r.Info = r.targets(), r.info()
	if r.Rounds != 3 || len(r.Summaries) != 8 {
		t.Fatalf("rounds %d, %d summaries; want 3 and 8", r.Rounds, len(r.Summaries))
	}
	var hold *summary
	for _, s := range r.Summaries {
		if s.Scenario == "small-json" && s.Path == pathAIProxy {
			hold = s
		}
	}
	// Added p99 per round: 3-2, 6-5, 2.6-1.9.
	if hold == nil || hold.Rounds != 3 || hold.AddedP99 == nil ||
		math.Abs(hold.AddedP99.Median-1) > 1e-9 || math.Abs(hold.AddedP99.Min-0.7) > 1e-9 || hold.AddedP99.Max != 1 {
		t.Fatalf("aiproxy small-json summary = %+v (added p99 %+v)", hold, hold.AddedP99)
	}
	if hold.CPUPerReqUs != (spread{460, 455, 480}) {
		t.Errorf("CPU µs/req = %+v, want median 460 in 455–480", hold.CPUPerReqUs)
	}
	if a := r.find("small-json", pathAIProxy, "1000/s"); a == nil || a.AddedP99 == nil || math.Abs(*a.AddedP99-1) > 1e-9 || a.CPUPerReqUs != 460 {
		t.Errorf("find reads %+v, want the medians", a)
	}
	wantTarget := "small JSON, aiproxy throughput vs direct"
	for _, tg := range r.Targets {
		if tg.Name == wantTarget && tg.Measured != "30% (3000 vs 10000 req/s)" {
			t.Errorf("%s = %q, want the medians' ratio", tg.Name, tg.Measured)
		}
	}
	want := map[string]string{
		"small JSON, bare Go proxy throughput vs direct":                                        "50% (5000 vs 10000 req/s)",
		"small JSON, aiproxy throughput vs bare Go proxy":                                       "60% (3000 vs 5000 req/s)",
		"small JSON, aiproxy-base throughput vs bare Go proxy":                                  "62% (3100 vs 5000 req/s)",
		"aiproxy vs aiproxy-base, small-json CPU µs/req (open-loop 1000/s for 15s)":             "1.02×: 460 (455–480) vs 450 (440–470); ranges overlap; per-round ratio 1.02 (1.02–1.03)",
		"aiproxy vs aiproxy-base, small-json-capacity CPU µs/req (closed-loop 64 conns for 8s)": "1.03×: 300 (295–320) vs 290 (285–310); ranges overlap; per-round ratio 1.03 (1.03–1.04)",
		"aiproxy vs aiproxy-base, small-json-capacity req/s (closed-loop 64 conns for 8s)":      "0.97×: 3000 (2500–3200) vs 3100 (2600–3300); ranges overlap; per-round ratio 0.97 (0.96–0.97)",
	}
	got := map[string]string{}
	for _, f := range r.Info {
		got[f.Name] = f.Measured
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("info:\n got %v\nwant %v", got, want)
	}
	for _, tg := range r.Targets {
		if strings.Contains(tg.Name, pathBaseline) {
			t.Errorf("A/B figure %q is among the targets", tg.Name)
		}
	}

	var txt, md strings.Builder
	if err := r.write(&txt); err != nil {
		t.Fatal(err)
	}
	r.markdown(&md)
	for _, want := range []string{"across rounds: median (min–max)", "460 (455–480)", "1.000 (0.700–1.000)"} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, txt.String())
		}
	}
	if !strings.Contains(md.String(), "| small-json | aiproxy | open-loop 1000/s for 15s | 3 | 1000 |") {
		t.Errorf("markdown report lacks the aiproxy summary row:\n%s", md.String())
	}
	for _, line := range strings.Split(md.String(), "\n") {
		if strings.HasPrefix(line, "| small-json-capacity | go-proxy | 2 |") {
			return
		}
	}
	t.Errorf("markdown report lacks a row with its round:\n%s", md.String())
}

func TestApartRanges(t *testing.T) {
	if got := overlapNote(spread{500, 480, 520}, spread{400, 390, 420}); got != "; ranges apart" {
		t.Errorf("overlapNote = %q", got)
	}
	if got := overlapNote(spread{500, 500, 500}, spread{400, 400, 400}); got != "" {
		t.Errorf("overlapNote of one round = %q, want none", got)
	}
}

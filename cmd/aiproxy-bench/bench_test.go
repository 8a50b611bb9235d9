package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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

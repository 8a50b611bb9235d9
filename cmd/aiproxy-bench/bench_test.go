package main

import (
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
	}
	fillAdded(rows)
	if a := rows[1].AddedP99; a == nil || *a != 0.75 {
		t.Fatalf("added p99 = %v, want 0.75", a)
	}
	svg := chart(rows)
	if !strings.HasPrefix(svg, "<svg") || !strings.Contains(svg, "aiproxy") || !strings.Contains(svg, "polyline") {
		t.Errorf("chart is not an SVG with both paths:\n%s", svg)
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

package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// savedTotals adds up a report's rows across days (a test running over
// midnight has two) as "requests/cache hits/cost/saved", the money in
// micro-USD.
func savedTotals(t *testing.T, body []byte) string {
	t.Helper()
	var rows []struct {
		Requests  int64    `json:"requests"`
		CacheHits int64    `json:"cache_hits"`
		CostUSD   *float64 `json:"cost_usd"`
		SavedUSD  *float64 `json:"saved_usd"`
	}
	if err := json.Unmarshal(body, &rows); err != nil {
		t.Fatalf("report %s: %v", body, err)
	}
	var requests, hits, cost, saved int64
	for i, r := range rows {
		if r.CostUSD == nil || r.SavedUSD == nil {
			t.Fatalf("row %d lacks cost_usd or saved_usd: %s", i, body)
		}
		requests, hits = requests+r.Requests, hits+r.CacheHits
		cost += int64(math.Round(*r.CostUSD * 1e6))
		saved += int64(math.Round(*r.SavedUSD * 1e6))
	}
	return fmt.Sprintf("%d/%d/%d/%d", requests, hits, cost, saved)
}

// TestSpeechCacheSavedInUsage runs the demo as shipped (its org uses the
// speech cache) and makes the same text-to-speech call twice through the
// real program: the first reaches the provider and costs what the price
// table says (ElevenLabs' default model: 100 micro-USD a character), the
// second is a hit that costs nothing and saves that much. The org's usage
// report shows both, as JSON, as CSV and in the CLI's table.
func TestSpeechCacheSavedInUsage(t *testing.T) {
	d := startShippedDemo(t)
	first := time.Now().UTC().Format(time.DateOnly)
	const text = "Saved by the cache, said twice."
	price := int64(len(text)) * 100
	before := d.sandboxTTSCalls()
	for i, want := range []string{"MISS", "HIT"} {
		status, h, body := d.invoke(d.org, d.key, "elevenlabs", "tts", ttsEnv(text))
		if status != 200 || h.Get("X-Aiproxy-Cache") != want {
			t.Fatalf("call %d = %d, X-Aiproxy-Cache %q, want 200 %s: %.200s", i, status, h.Get("X-Aiproxy-Cache"), want, body)
		}
	}
	if n := d.sandboxTTSCalls() - before; n != 1 {
		t.Fatalf("two identical calls made %d provider calls, want 1", n)
	}
	last := time.Now().UTC().Format(time.DateOnly)

	report := "/api/ai-proxy/orgs/" + d.org + "/usage/?service=elevenlabs&from=" + first + "&to=" + last
	want := fmt.Sprintf("2/1/%d/%d", price, price)
	// Usage is written in batches, off the request path: wait until the
	// report holds both calls.
	var got string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		status, _, body := d.do("GET", report, d.key, nil, nil)
		if status != 200 {
			t.Fatalf("usage report = %d %s", status, body)
		}
		if got = savedTotals(t, body); got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("report = %s (requests/cache hits/cost/saved), want %s:\n%s", got, want, body)
		}
	}

	usd := strconv.FormatFloat(float64(price)/1e6, 'f', -1, 64)
	status, _, body := d.do("GET", report+"&format=csv", d.key, nil, nil)
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if status != 200 || len(lines) < 2 || !strings.HasSuffix(lines[0], ",cost_usd,saved_usd") {
		t.Fatalf("CSV = %d:\n%s", status, body)
	}
	if first == last && (len(lines) != 2 || !strings.HasSuffix(lines[1], ","+usd+","+usd)) {
		t.Errorf("CSV:\n%s\nwant one row costing and saving %s", body, usd)
	}

	out := d.cli("", "usage", "report", "--org", d.org, "--service", "elevenlabs", "--from", first, "--to", last)
	head, rest, _ := strings.Cut(out, "\n")
	if !strings.HasSuffix(strings.Join(strings.Fields(head), " "), "COST SAVED") {
		t.Errorf("CLI usage report table:\n%s\nwant COST and SAVED columns", out)
	}
	if first == last && !strings.HasSuffix(strings.Join(strings.Fields(rest), " "), "$"+usd+" $"+usd) {
		t.Errorf("CLI usage report table:\n%s\nwant the row to cost and save $%s", out, usd)
	}
}

// TestConsoleUsageShowsSaved checks, in headless Chromium against the
// shipped demo, that the console's usage page says what the speech cache
// saved once it saved something, and has a chart and a CSV column of it.
func TestConsoleUsageShowsSaved(t *testing.T) {
	b := startBrowser(t)
	d := startShippedDemo(t)
	const text = "The console shows what this saved."
	for i := range 2 {
		if status, _, body := d.invoke(d.org, d.key, "elevenlabs", "tts", ttsEnv(text)); status != 200 {
			t.Fatalf("call %d = %d %.200s", i, status, body)
		}
	}
	day := time.Now().UTC().Format(time.DateOnly)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, _, body := d.do("GET", "/api/ai-proxy/orgs/"+d.org+"/usage/?from="+day+"&to="+day, d.key, nil, nil)
		if strings.HasSuffix(savedTotals(t, body), fmt.Sprintf("/%d", len(text)*100)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the report never showed the saving: %s", body)
		}
	}
	b.do("sign in",
		chromedp.Navigate(d.url+"/console/"),
		typeInto(`input[name=org]`, d.org),
		typeInto(`input[name=apiKey]`, d.key),
		click(`form button[type=submit]`),
		waitJS(`location.hash === '#/home'`),
		goTo("#/usage"),
		waitJS(`document.querySelector('[data-chart=requests] svg')`))
	usd := "$" + strconv.FormatFloat(float64(len(text)*100)/1e6, 'f', -1, 64)
	if saved := textOf(b, `[data-testid=usage-saved]`); !strings.Contains(saved, "Saved by the speech cache: "+usd) {
		t.Errorf("usage page says %q, want it to say the speech cache saved %s", saved, usd)
	}
	if !get(b, "saved chart", chromedp.Evaluate[bool](`!!document.querySelector('[data-chart=saved_usd] svg')`)) {
		t.Error("no chart of what the speech cache saved")
	}
	head := get(b, "table head", chromedp.Evaluate[string](`document.querySelector('main thead').textContent`))
	if !strings.Contains(head, "Saved by the speech cache") {
		t.Errorf("table head %q has no saved column", head)
	}
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
	b.shot("usage-saved")
}

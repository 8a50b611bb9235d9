package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
)

// TestConsoleStudio drives the console's studio pages (home, video
// library, usage, request log) in headless Chromium against a real demo
// with 25 videos and a few speeches made through the API. Like
// TestConsoleInBrowser, it runs only when AIPROXY_TEST_CHROMIUM is set.
func TestConsoleStudio(t *testing.T) {
	b := startBrowser(t)
	d := startDemo(t, "--render-time", "1s")
	base := d.url + "/console/"
	failed := false
	run := func(name string, f func(t *testing.T)) {
		if failed {
			return
		}
		failed = !t.Run(name, func(t *testing.T) {
			b.t = t
			f(t)
		})
		b.t = t
	}
	noError := func(t *testing.T, what string) {
		t.Helper()
		if msg := get(b, what+" error", chromedp.Evaluate[string](`document.querySelector('main .notice-error')?.innerText || ''`)); msg != "" {
			t.Errorf("%s shows an error: %s", what, msg)
		}
	}

	run("sign in lands on home", func(t *testing.T) {
		b.do("sign in",
			chromedp.Navigate(base),
			typeInto(`input[name=org]`, d.org),
			typeInto(`input[name=apiKey]`, d.key),
			click(`form button[type=submit]`),
			waitJS(`location.hash === '#/home' && document.querySelector('main h1')?.textContent.startsWith('Home')`),
			waitJS(`document.querySelectorAll('main [data-panel]').length === 4 && !document.querySelector('main .state-loading')`))
		noError(t, "home")
		if empty := textOf(b, `[data-panel=home-videos]`); !strings.Contains(empty, "No videos yet.") {
			t.Errorf("recent videos before any = %q", empty)
		}
		for _, svc := range []string{"heygen", "elevenlabs"} {
			if state := textOf(b, fmt.Sprintf(`[data-credential-state=%s] .badge`, svc)); state == "" || strings.Contains(state, "No key") {
				t.Errorf("%s credential state = %q, want a key in use", svc, state)
			}
		}
	})

	// Traffic, counted by a monthly quota of 1,000 requests: 25 videos,
	// three speeches and one speech the provider refuses.
	platformKey := d.cli("", "key", "create", "--platform", "--name", "studio e2e")
	quota := strings.NewReader(`{"service":"","metric":"requests","period":"month","limit":1000}`)
	if status, _, body := d.do("PUT", "/api/ai-proxy/orgs/"+d.org+"/quotas/", platformKey, quota, http.Header{"Content-Type": {"application/json"}}); status != 200 {
		t.Fatalf("set a quota = %d %s", status, body)
	}
	var latest string
	for i := range 25 {
		id, body := d.generateVideo(fmt.Sprintf("Studio video number %d, about topic%d.", i, i), nil)
		if id == "" {
			t.Fatalf("generate-video %d answered %s", i, body)
		}
		latest = fmt.Sprintf("topic%d", i)
	}
	for _, text := range []string{"Hello there.", "Good morning.", "See you soon."} {
		if status, _, body := d.invoke(d.org, d.key, "elevenlabs", "tts", ttsEnv(text)); status != 200 {
			t.Fatalf("tts = %d %s", status, body)
		}
	}
	d.injectFault(t, map[string]any{"provider": "elevenlabs", "method": "POST", "path": "/v1/text-to-speech/",
		"status": 429, "header": map[string]string{"Retry-After": "3"}, "count": 1})
	if status, _, _ := d.invoke(d.org, d.key, "elevenlabs", "tts", ttsEnv("Refused.")); status != 429 {
		t.Fatalf("the refused speech = %d, want 429", status)
	}
	var all struct {
		Jobs []map[string]any `json:"jobs"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		d.getJSON("/api/ai-proxy/orgs/"+d.org+"/jobs/?service=heygen&state=completed&limit=200", d.key, 200, &all)
		if len(all.Jobs) == 25 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 25 videos completed", len(all.Jobs))
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Usage records are written in batches: wait until the server has them
	// all, so that the pages below read the whole traffic.
	for deadline := time.Now().Add(20 * time.Second); ; {
		var rows []struct {
			Requests int64 `json:"requests"`
		}
		day := time.Now().UTC().Format(time.DateOnly)
		d.getJSON("/api/ai-proxy/orgs/"+d.org+"/usage/?from="+day+"&to="+day, d.key, 200, &rows)
		var n int64
		for _, r := range rows {
			n += r.Requests
		}
		if n >= 29 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the usage of the traffic: %d requests of 29", n)
		}
		time.Sleep(200 * time.Millisecond)
	}

	run("home shows the month, the latest videos and no failures", func(t *testing.T) {
		b.do("home", goTo("#/services"), goTo("#/home"),
			waitJS(`document.querySelectorAll('[data-panel=home-videos] li[data-video]').length === 6`),
			waitJS(`!document.querySelector('main .state-loading')`))
		noError(t, "home")
		requests := textOf(b, `[data-panel=home-period] [data-stat=requests] dd`)
		if n, err := strconv.Atoi(strings.ReplaceAll(requests, ",", "")); err != nil || n < 29 {
			t.Errorf("requests this month = %q, want at least 29 (25 videos, 4 speeches)", requests)
		}
		period := textOf(b, `[data-panel=home-period]`)
		if !strings.Contains(period, "Characters") || strings.Contains(period, "{") {
			t.Errorf("this month = %q, want characters as a labelled number", period)
		}
		if q := textOf(b, `[data-quota="*/requests/month"]`); !strings.Contains(q, "of 1,000") || !strings.Contains(q, "%") {
			t.Errorf("the requests quota on home = %q", q)
		}
		if v := get(b, "quota meter", chromedp.Evaluate[float64](`document.querySelector('[data-quota="*/requests/month"] meter').value`)); v < 2 {
			t.Errorf("the quota meter = %v%%, want at least 29 of 1,000", v)
		}
		// Minutes of video made this month: the 25 videos' lengths, from
		// their job records.
		var seconds float64
		for _, j := range all.Jobs {
			det, _ := j["details"].(map[string]any)
			secs, _ := det["duration_seconds"].(float64)
			if secs <= 0 {
				t.Fatalf("completed job %v has no duration", j["id"])
			}
			seconds += secs
		}
		wantMinutes := fmt.Sprintf("%.1f min", seconds/60)
		if seconds >= 600 {
			wantMinutes = fmt.Sprintf("%d min", int(seconds/60+0.5))
		}
		if got := textOf(b, `[data-panel=home-period] [data-stat=video_minutes] dd`); got != wantMinutes {
			t.Errorf("video minutes this month = %q, want %q (%.1f s of video)", got, wantMinutes, seconds)
		}
		if failures := textOf(b, `[data-panel=home-failures]`); !strings.Contains(failures, "No failed videos.") {
			t.Errorf("recent failures = %q", failures)
		}
		b.shot("studio-home")
		b.docShot("home")
	})

	run("the video library pages through every video, filters and searches", func(t *testing.T) {
		tiles := `document.querySelectorAll('.video-tile').length`
		b.do("first page", goTo("#/library"), waitJS(tiles+` === 24`), visible(`[data-testid=more-videos]`))
		if get(b, "thumbnails or placeholders", chromedp.Evaluate[bool](`[...document.querySelectorAll('.video-tile')].every(t => t.querySelector('.thumb img, .thumb .thumb-empty'))`)) == false {
			t.Error("a video card has neither a thumbnail nor a placeholder")
		}
		// Who made each video: the name of the key, not its id.
		var keys []struct{ ID, Name string }
		d.getJSON("/api/ai-proxy/orgs/"+d.org+"/keys/", d.key, 200, &keys)
		keyNames := map[string]string{}
		for _, k := range keys {
			keyNames[k.ID] = k.Name
		}
		by := get(b, "made by", chromedp.Evaluate[[]string](`[...document.querySelectorAll('.video-tile [data-by]')].map(dd => dd.dataset.by + '|' + dd.textContent)`))
		for _, x := range by {
			id, text, _ := strings.Cut(x, "|")
			if name := keyNames[id]; name == "" || text != "key "+name {
				t.Errorf("a video made by key %q says %q, want the key's name %q", id, text, name)
			}
		}
		if len(by) != 24 {
			t.Errorf("%d of 24 cards say who made them", len(by))
		}
		b.do("avatar names", waitJS(`[...document.querySelectorAll('.video-tile [data-avatar-id]')].every(dd => dd.textContent !== dd.dataset.avatarId && dd.textContent.length > 0)`))
		b.do("second page", click(`[data-testid=more-videos]`), waitJS(tiles+` === 25`), waitJS(`!document.querySelector('[data-testid=more-videos]')`))
		ids := get(b, "ids", chromedp.Evaluate[[]string](`[...document.querySelectorAll('.video-tile')].map(t => t.dataset.video)`))
		seen := map[string]bool{}
		for _, id := range ids {
			seen[id] = true
		}
		if len(seen) != 25 {
			t.Errorf("the library shows %d distinct videos of 25", len(seen))
		}
		b.shot("studio-library")
		b.docShot("library")
		b.do("only failed", eval(`(() => { const s = document.querySelector('select[name=state]'); s.value = 'failed'; s.dispatchEvent(new Event('change')); })()`),
			waitJS(`document.querySelector('main .more .state')?.textContent.includes('No videos match these filters.')`))
		if n := get(b, "failed tiles", chromedp.Evaluate[int](tiles)); n != 0 {
			t.Errorf("%d videos shown under the failed filter", n)
		}
		b.do("clear", click(`main .more .state button`), waitJS(tiles+` === 24`))
		b.do("search", typeInto(`input[name=q]`, latest),
			waitJS(tiles+` >= 1 && [...document.querySelectorAll('.video-tile')].every(t => t.textContent.includes('`+latest+`'))`))
		b.do("open it", click(`.video-tile h3 a`),
			waitJS(`location.hash.startsWith('#/library/') && document.querySelector('main video')`),
			waitJS(`document.querySelector('main video').readyState >= 1 && document.querySelector('main video').duration > 0`),
			waitJS(`document.querySelector('[data-testid=job-history], [data-testid=history-pending]')`))
		if href := get(b, "download", chromedp.Evaluate[string](`document.querySelector('main a[download]').href`)); href != get(b, "src", chromedp.Evaluate[string](`document.querySelector('main video').currentSrc`)) {
			t.Errorf("the download link %q is not the video played", href)
		}
		if call := textOf(b, `#video-request + dl`); !strings.Contains(call, "heygen/generate-video") {
			t.Errorf("the request that made it = %q", call)
		}
		id := get(b, "job id", chromedp.Evaluate[string](`decodeURIComponent(location.hash.split('/')[2])`))
		status, _, _ := d.do("GET", "/api/ai-proxy/orgs/"+d.org+"/jobs/"+id+"/events/", d.key, nil, nil)
		hasHistory := get(b, "history", chromedp.Evaluate[bool](`!!document.querySelector('[data-testid=job-history] li')`))
		switch {
		case status == http.StatusOK && !hasHistory:
			t.Error("the events route answers but the page shows no history")
		case status == http.StatusNotFound && hasHistory:
			t.Error("the page shows a history the server does not have")
		}
		b.shot("studio-video")
		b.docShot("video")
		b.do("back to the same list", click(`main a[href^="#/library?"]`),
			waitJS(`document.querySelector('input[name=q]')?.value === '`+latest+`' && document.querySelectorAll('.video-tile').length >= 1`))
		if !get(b, "still filtered", chromedp.Evaluate[bool](`[...document.querySelectorAll('.video-tile')].every(t => t.textContent.includes('`+latest+`'))`)) {
			t.Error("back from a video, the list lost its search")
		}
	})

	run("usage reads at a glance and downloads what it shows", func(t *testing.T) {
		b.do("usage", goTo("#/usage"), waitJS(`document.querySelector('[data-chart=requests] svg')`))
		noError(t, "usage")
		legend := textOf(b, `[data-chart=requests] .legend`)
		if !strings.Contains(legend, "heygen") || !strings.Contains(legend, "elevenlabs") {
			t.Errorf("requests legend = %q, want both services", legend)
		}
		if !get(b, "colours", chromedp.Evaluate[bool](`(() => { const f = (s) => getComputedStyle(document.querySelector('[data-chart=requests] .bar.' + s)).fill; return f('series-0') !== f('series-1'); })()`)) {
			t.Error("the two services' bars have the same colour")
		}
		if get(b, "raw units", chromedp.Evaluate[bool](`document.querySelector('main').innerText.includes('{"')`)) {
			t.Error("usage shows raw JSON")
		}
		if get(b, "a unit chart", chromedp.Evaluate[int](`document.querySelectorAll('[data-chart^="units."]').length`)) == 0 {
			t.Error("no chart of a metered unit")
		}
		b.shot("studio-usage")
		b.docShot("usage")

		b.do("split by action", eval(`(performance.setResourceTimingBufferSize(10000), performance.clearResourceTimings())`),
			eval(`(() => { const s = document.querySelector('select[name=split]'); s.value = 'action'; s.dispatchEvent(new Event('change')); })()`),
			waitJS(`document.querySelector('[data-chart=requests] .legend') && [...document.querySelectorAll('main tbody tr')].some(r => r.dataset.series.includes('/'))`))
		if legend := strings.Join(strings.Fields(textOf(b, `[data-chart=requests] .legend`)), " "); !strings.Contains(legend, "heygen/generate-video: 25") || !strings.Contains(legend, "elevenlabs/tts: 4") {
			t.Errorf("requests by action = %q, want 25 video starts and 4 speeches", legend)
		}
		// The split by action reads the usage report (group_by=action),
		// which covers every call of the days, not the request log.
		fetched := get(b, "fetched", chromedp.Evaluate[[]string](`performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('/api/ai-proxy/'))`))
		if !slices.ContainsFunc(fetched, func(u string) bool { return strings.Contains(u, "/usage/") && strings.Contains(u, "group_by=action") }) ||
			slices.ContainsFunc(fetched, func(u string) bool { return strings.Contains(u, "/requests/") }) {
			t.Errorf("the split by action fetched %q, want the usage report by action and not the request log", fetched)
		}
		if get(b, "bytes by action", chromedp.Evaluate[int](`document.querySelectorAll('[data-chart=bytes_out] svg').length`)) == 0 {
			t.Error("the split by action has no chart of the data sent, which the report gives")
		}
		shown := map[string]int64{}
		for _, r := range get(b, "rows by action", chromedp.Evaluate[[][]string](`[...document.querySelectorAll('main tbody tr')].map(r => [r.dataset.series, r.cells[2].textContent])`)) {
			n, err := strconv.ParseInt(strings.Map(func(c rune) rune {
				if c >= '0' && c <= '9' {
					return c
				}
				return -1
			}, r[1]), 10, 64)
			if err != nil {
				t.Fatalf("table row %q: requests %q", r[0], r[1])
			}
			shown[r[0]] += n
		}
		var byAction []struct {
			Service  string `json:"service"`
			Action   string `json:"action"`
			Requests int64  `json:"requests"`
		}
		d.getJSON("/api/ai-proxy/orgs/"+d.org+"/usage/?group_by=action&from="+get(b, "from", chromedp.Value(chromedp.CSS(`input[name=from]`)))+
			"&to="+get(b, "to", chromedp.Value(chromedp.CSS(`input[name=to]`))), d.key, 200, &byAction)
		reported := map[string]int64{}
		for _, r := range byAction {
			reported[r.Service+"/"+r.Action] += r.Requests
		}
		if !maps.Equal(shown, reported) || reported["heygen/generate-video"] != 25 {
			t.Errorf("requests per action in the table = %v, the report by action says %v", shown, reported)
		}
		b.shot("studio-usage-by-action")

		dir := t.TempDir()
		b.do("allow downloads", allowDownloads(dir))
		b.do("split by key", eval(`(() => { const s = document.querySelector('select[name=split]'); s.value = 'key'; s.dispatchEvent(new Event('change')); })()`),
			waitJS(`document.querySelector('[data-chart=requests] svg') && [...document.querySelectorAll('main tbody tr')].every(r => !['heygen', 'elevenlabs'].includes(r.dataset.series))`),
			click(`[data-testid=usage-csv]`))
		name := get(b, "csv name", chromedp.Evaluate[string](`document.querySelector('[data-testid=usage-csv]').getAttribute('download')`))
		var data []byte
		for deadline := time.Now().Add(20 * time.Second); ; {
			var err error
			if data, err = os.ReadFile(filepath.Join(dir, name)); err == nil && len(data) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s downloaded", name)
			}
			time.Sleep(100 * time.Millisecond)
		}
		records, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
		if err != nil {
			t.Fatalf("the CSV does not parse: %v\n%s", err, data)
		}
		rows := get(b, "table rows", chromedp.Evaluate[int](`document.querySelectorAll('main tbody tr').length`))
		if len(records) != rows+1 || records[0][0] != "day" || records[0][1] != "key" || records[0][2] != "requests" {
			t.Fatalf("CSV has %d records for %d table rows; header %v", len(records), rows, records[0])
		}
		from := get(b, "from", chromedp.Value(chromedp.CSS(`input[name=from]`)))
		to := get(b, "to", chromedp.Value(chromedp.CSS(`input[name=to]`)))
		var api []struct {
			Requests int64 `json:"requests"`
		}
		d.getJSON("/api/ai-proxy/orgs/"+d.org+"/usage/?group_by=key&from="+from+"&to="+to, d.key, 200, &api)
		var want, got int64
		for _, r := range api {
			want += r.Requests
		}
		for _, r := range records[1:] {
			n, err := strconv.ParseInt(r[2], 10, 64)
			if err != nil {
				t.Fatalf("CSV requests %q", r[2])
			}
			got += n
		}
		if got != want || got < 29 {
			t.Errorf("CSV requests = %d, the API says %d", got, want)
		}
	})

	run("the request log shows calls and what a refused client saw", func(t *testing.T) {
		status, _, _ := d.do("GET", "/api/ai-proxy/orgs/"+d.org+"/requests/", d.key, nil, nil)
		b.do("requests", goTo("#/requests"), waitJS(`!document.querySelector('main .state-loading')`))
		if status == http.StatusNotFound {
			b.do("pending", visible(`[data-testid=requests-pending]`))
			noError(t, "request log")
			b.shot("studio-requests")
			return
		}
		if status != http.StatusOK {
			t.Fatalf("GET requests = %d", status)
		}
		noError(t, "request log")
		b.do("first page of ten", goTo("#/requests?limit=10"), waitJS(`document.querySelectorAll('main tr[data-status]').length === 10`),
			click(`[data-testid=more-requests]`), waitJS(`document.querySelectorAll('main tr[data-status]').length === 20`))
		ids := get(b, "request ids", chromedp.Evaluate[[]string](`[...document.querySelectorAll('main tr[data-status]')].map(r => r.dataset.request)`))
		distinct := map[string]bool{}
		for _, id := range ids {
			distinct[id] = id != ""
		}
		if len(distinct) != 20 {
			t.Errorf("two pages of ten show %d distinct request ids", len(distinct))
		}
		b.do("only 429", eval(`(() => { const s = document.querySelector('select[name=status]'); s.value = '429'; s.dispatchEvent(new Event('change')); })()`),
			waitJS(`document.querySelectorAll('main tr[data-status]').length === 1 && document.querySelector('main tr[data-status]').dataset.status === '429'`),
			click(`main tr[data-status] button`),
			visible(`main .request-detail .notice-error`))
		if detail := textOf(b, `main .request-detail`); !strings.Contains(detail, "429") || !strings.Contains(detail, "What the client saw") {
			t.Errorf("the refused call's detail = %q", detail)
		}
		b.shot("studio-requests")
		b.docShot("requests")
	})

	run("pickers show avatars and play voices, and the pair is remembered", func(t *testing.T) {
		dialog := `dialog.picker[open]`
		b.do("avatar picker", goTo("#/generate"), visible(`[data-picker=avatar]`), click(`[data-picker=avatar]`),
			visible(dialog),
			waitJS(`[...document.querySelectorAll('dialog.picker img')].slice(0, 4).every(i => i.complete && i.naturalWidth > 0) && document.querySelectorAll('dialog.picker img').length >= 4`),
			typeInto(`input[name=picker-q]`, "Abigail"),
			waitJS(`document.querySelectorAll('dialog.picker [data-pick]').length > 0 && [...document.querySelectorAll('dialog.picker [data-pick]')].every(t => t.textContent.includes('Abigail'))`))
		b.shot("studio-avatar-picker")
		b.docShot("generate-avatar-picker")
		avatar := get(b, "picked avatar", chromedp.Evaluate[string](`document.querySelector('dialog.picker [data-pick]').dataset.pick`))
		b.do("choose avatar", click(`dialog.picker [data-pick] button[aria-label^="Choose"]`),
			waitJS(`!document.querySelector('dialog.picker')`),
			waitJS(`document.querySelector('.chooser .chosen img')`))
		if got := get(b, "avatar field", chromedp.Value(chromedp.CSS(`input[name=avatar_id]`))); got != avatar {
			t.Errorf("avatar field = %q, want the chosen %q", got, avatar)
		}
		b.do("voice picker", click(`[data-picker=voice]`), visible(dialog),
			eval(`(() => { const s = document.querySelector('select[name=picker-language]'); s.value = s.options[1].value; s.dispatchEvent(new Event('change')); })()`))
		lang := get(b, "language", chromedp.Evaluate[string](`document.querySelector('select[name=picker-language]').value`))
		if !get(b, "language filter", chromedp.Evaluate[bool](`[...document.querySelectorAll('dialog.picker [data-pick]')].every(t => [...t.querySelectorAll('.badge')].some(x => x.textContent === `+fmt.Sprintf("%q", lang)+`))`)) {
			t.Errorf("the voice picker shows voices not in %s", lang)
		}
		voice := get(b, "picked voice", chromedp.Evaluate[string](`document.querySelector('dialog.picker [data-pick]').dataset.pick`))
		b.do("choose voice", click(`dialog.picker [data-pick] button[aria-label^="Choose"]`), waitJS(`!document.querySelector('dialog.picker')`))
		if got := get(b, "voice field", chromedp.Value(chromedp.CSS(`input[name=voice_id]`))); got != voice {
			t.Errorf("voice field = %q, want the chosen %q", got, voice)
		}
		b.do("remembered", goTo("#/home"), goTo("#/generate"), visible(`input[name=avatar_id]`))
		if a, v := get(b, "avatar again", chromedp.Value(chromedp.CSS(`input[name=avatar_id]`))), get(b, "voice again", chromedp.Value(chromedp.CSS(`input[name=voice_id]`))); a != avatar || v != voice {
			t.Errorf("the next video starts with %q and %q, want the chosen %q and %q", a, v, avatar, voice)
		}

		b.do("speech voice picker", goTo("#/tts"), waitJS(`!document.querySelector('[data-picker=voice]').disabled`),
			click(`[data-picker=voice]`), visible(dialog),
			click(`dialog.picker button.play`),
			waitJS(`document.querySelector('dialog.picker button.play').getAttribute('aria-pressed') === 'true'`),
			waitJS(`!document.querySelector('.preview-player').paused && document.querySelector('.preview-player').currentTime > 0`))
		b.shot("studio-voice-picker")
		speech := get(b, "second voice", chromedp.Evaluate[string](`document.querySelectorAll('dialog.picker [data-pick]')[1].dataset.pick`))
		b.do("choose speech voice", click(`dialog.picker [data-pick]:nth-child(2) button[aria-label^="Choose"]`),
			waitJS(`!document.querySelector('dialog.picker') && document.querySelector('.preview-player').paused`))
		b.do("remembered speech voice", goTo("#/home"), goTo("#/tts"), waitJS(`!document.querySelector('select[name=voice_id]').disabled`))
		if got := get(b, "speech voice", chromedp.Value(chromedp.CSS(`select[name=voice_id]`))); got != speech {
			t.Errorf("speech voice = %q, want the remembered %q", got, speech)
		}
		status, _, _ := d.do("GET", "/api/ai-proxy/orgs/"+d.org+"/requests/", d.key, nil, nil)
		b.do("speak", click(`form button[type=submit]`), waitJS(`document.querySelector('.player audio')?.duration > 0`))
		if status == http.StatusOK {
			// Three speeches and the refused one before, this one now.
			b.do("recent speech", waitJS(`document.querySelectorAll('[data-panel=tts-recent] li').length === 5`))
		} else {
			b.do("recent speech pending", waitJS(`document.querySelector('[data-panel=tts-recent] .state')`))
		}
		b.shot("studio-tts")
		b.docShot("tts")
	})

	run("pick an avatar and a voice by sight and sound and render", func(t *testing.T) {
		dialog := `dialog.picker[open]`
		// The remembered pair is replaced: the avatar is the first whose
		// preview image has loaded and is not the one chosen before.
		b.do("avatar gallery", goTo("#/generate"), visible(`[data-picker=avatar]`), click(`[data-picker=avatar]`), visible(dialog),
			waitJS(`[...document.querySelectorAll('dialog.picker [data-pick]')].some(t => !t.classList.contains('selected') && t.querySelector('img')?.complete && t.querySelector('img').naturalWidth > 0)`))
		type pick struct {
			ID    string `json:"id"`
			Image string `json:"image"`
		}
		avatar := get(b, "avatar by its image", chromedp.Evaluate[pick](`(() => { const t = [...document.querySelectorAll('dialog.picker [data-pick]')].find(t => !t.classList.contains('selected') && t.querySelector('img')?.complete && t.querySelector('img').naturalWidth > 0); return {id: t.dataset.pick, image: t.querySelector('img').currentSrc}; })()`))
		b.do("choose it", click(fmt.Sprintf(`dialog.picker [data-pick=%q] button[aria-label^="Choose"]`, avatar.ID)),
			waitJS(`!document.querySelector('dialog.picker')`), waitJS(`document.querySelector('.chooser .chosen img')?.complete`))
		if got := get(b, "avatar field", chromedp.Value(chromedp.CSS(`input[name=avatar_id]`))); got != avatar.ID {
			t.Errorf("avatar field = %q, want the picked %q", got, avatar.ID)
		}
		if img := get(b, "chosen image", chromedp.Evaluate[string](`document.querySelector('.chooser .chosen img').currentSrc`)); img != avatar.Image {
			t.Errorf("beside the field is %q, want the picked avatar's image %q", img, avatar.Image)
		}

		// The voice: the first with a sample that is not the one chosen
		// before, heard before it is chosen.
		b.do("voice picker", click(`[data-picker=voice]`), visible(dialog),
			waitJS(`[...document.querySelectorAll('dialog.picker [data-pick]')].some(t => !t.classList.contains('selected') && t.querySelector('button.play'))`))
		voice := get(b, "voice with a sample", chromedp.Evaluate[string](`[...document.querySelectorAll('dialog.picker [data-pick]')].find(t => !t.classList.contains('selected') && t.querySelector('button.play')).dataset.pick`))
		tile := fmt.Sprintf(`dialog.picker [data-pick=%q]`, voice)
		b.do("play its sample", click(tile+` button.play`),
			waitJS(`document.querySelector('`+strings.ReplaceAll(tile, `'`, `\'`)+` button.play').getAttribute('aria-pressed') === 'true'`),
			waitJS(`!document.querySelector('.preview-player').paused && document.querySelector('.preview-player').currentTime > 0`))
		if src := get(b, "sample played", chromedp.Evaluate[string](`document.querySelector('.preview-player').currentSrc`)); src == "" {
			t.Error("the voice's sample has no source")
		}
		b.shot("studio-render-voice")
		b.docShot("generate-voice-picker")
		b.do("choose the voice", click(tile+` button[aria-label^="Choose"]`),
			waitJS(`!document.querySelector('dialog.picker') && document.querySelector('.preview-player').paused`))
		if got := get(b, "voice field", chromedp.Value(chromedp.CSS(`input[name=voice_id]`))); got != voice {
			t.Errorf("voice field = %q, want the picked %q", got, voice)
		}

		// Render: the new job carries the pair, on the Jobs page, on the
		// video's page and in the job record.
		script := "Picked by sight and sound."
		job := `[...document.querySelectorAll('.job')].find(j => j.querySelector('h2')?.textContent.includes(` + fmt.Sprintf("%q", script) + `))`
		b.do("render", typeInto(`textarea[name=input_text]`, script), click(`form button[type=submit]`),
			waitJS(`location.hash === '#/jobs' && !!`+job),
			waitJS(job+`?.dataset.status === 'completed' && !!`+job+`.querySelector('video')`),
			waitJS(`!!`+job+`.querySelector('a[href^="#/library/"]')`))
		b.shot("studio-render-done")
		b.do("its page", eval(job+`.querySelector('a[href^="#/library/"]').click()`),
			waitJS(`location.hash.startsWith('#/library/') && document.querySelector('#video-request + dl')`))
		made := textOf(b, `#video-request + dl`)
		if !strings.Contains(made, avatar.ID) || !strings.Contains(made, voice) {
			t.Errorf("the request that made it = %q, want avatar %q and voice %q", made, avatar.ID, voice)
		}
		id := get(b, "job id", chromedp.Evaluate[string](`decodeURIComponent(location.hash.split('/')[2])`))
		var rec struct {
			State   string         `json:"state"`
			Details map[string]any `json:"details"`
		}
		d.getJSON("/api/ai-proxy/orgs/"+d.org+"/jobs/"+id+"/", d.key, 200, &rec)
		if rec.State != "completed" || rec.Details["avatar_id"] != avatar.ID || rec.Details["voice_id"] != voice {
			t.Errorf("job %s = %s with details %v, want completed with avatar %q and voice %q", id, rec.State, rec.Details, avatar.ID, voice)
		}
	})

	run("pick a v3 look by its picture and render with it", func(t *testing.T) {
		dialog := `dialog.picker[open]`
		loaded := `[...document.querySelectorAll('dialog.picker [data-pick]')].filter(t => t.querySelector('img')?.complete && t.querySelector('img').naturalWidth > 0)`
		b.do("look gallery", goTo("#/generate?mode=v3"), visible(`[data-picker=look]`), click(`[data-picker=look]`), visible(dialog),
			waitJS(loaded+`.length >= 4`))
		// The looks come from HeyGen v3's list of looks, every page of it.
		var looks struct {
			Data []struct {
				ID      string `json:"id"`
				GroupID string `json:"group_id"`
			} `json:"data"`
			HasMore bool `json:"has_more"`
		}
		d.invokeJSON("heygen", "v3-list-avatar-looks", map[string]any{"query": map[string]any{"limit": 50}}, &looks)
		if len(looks.Data) == 0 {
			t.Fatal("the sandbox lists no v3 looks")
		}
		total := get(b, "looks in the picker", chromedp.Evaluate[string](`document.querySelector('dialog.picker .result-count').textContent`))
		if !looks.HasMore && !strings.HasSuffix(total, fmt.Sprintf(" of %d", len(looks.Data))) {
			t.Errorf("the picker counts %q, want all %d looks", total, len(looks.Data))
		}
		// Narrowed to one person's looks: each tile names that person.
		b.do("one avatar's looks", eval(`(() => { const s = document.querySelector('select[name=picker-group]'); s.value = s.options[1].value; s.dispatchEvent(new Event('change')); })()`))
		group := get(b, "group", chromedp.Evaluate[string](`document.querySelector('select[name=picker-group]').value`))
		if !get(b, "group filter", chromedp.Evaluate[bool](`[...document.querySelectorAll('dialog.picker [data-pick]')].every(t => [...t.querySelectorAll('.badge')].some(x => x.textContent === `+fmt.Sprintf("%q", group)+`))`)) {
			t.Errorf("the look picker shows looks not of %s", group)
		}
		b.do("a loaded look", waitJS(loaded+`.length > 0`))
		type pick struct {
			ID    string `json:"id"`
			Image string `json:"image"`
		}
		look := get(b, "look by its image", chromedp.Evaluate[pick](`(() => { const t = `+loaded+`[0]; return {id: t.dataset.pick, image: t.querySelector('img').currentSrc}; })()`))
		inGroup := false
		for _, l := range looks.Data {
			inGroup = inGroup || l.ID == look.ID
		}
		if !inGroup && !looks.HasMore {
			t.Errorf("the picked look %q is not one of HeyGen's v3 looks", look.ID)
		}
		b.shot("studio-look-picker")
		b.docShot("generate-look-picker")
		b.do("choose the look", click(fmt.Sprintf(`dialog.picker [data-pick=%q] button[aria-label^="Choose"]`, look.ID)),
			waitJS(`!document.querySelector('dialog.picker')`), waitJS(`document.querySelector('.chooser .chosen img')?.complete`))
		if got := get(b, "look field", chromedp.Value(chromedp.CSS(`input[name=look_id]`))); got != look.ID {
			t.Errorf("look field = %q, want the picked %q", got, look.ID)
		}
		if img := get(b, "chosen look image", chromedp.Evaluate[string](`document.querySelector('.chooser .chosen img').currentSrc`)); img != look.Image {
			t.Errorf("beside the field is %q, want the look's image %q", img, look.Image)
		}
		b.do("a voice", click(`[data-picker=voice]`), visible(dialog), click(`dialog.picker [data-pick] button[aria-label^="Choose"]`),
			waitJS(`!document.querySelector('dialog.picker')`))
		voice := get(b, "voice field", chromedp.Value(chromedp.CSS(`input[name=voice_id]`)))
		const title = "A look of my own"
		b.do("render", typeInto(`input[name=title]`, title), typeInto(`textarea[name=script]`, "Rendered through the v3 API with a chosen look."),
			click(`form button[type=submit]`), waitJS(`location.hash === '#/jobs'`))
		var rec struct {
			Jobs []struct {
				ID, Action, State string
				Details           map[string]any `json:"details"`
			} `json:"jobs"`
		}
		for deadline := time.Now().Add(30 * time.Second); ; {
			d.getJSON("/api/ai-proxy/orgs/"+d.org+"/jobs/?q="+strings.ReplaceAll(title, " ", "+"), d.key, 200, &rec)
			if len(rec.Jobs) == 1 && rec.Jobs[0].State == "completed" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the v3 render never completed: %+v", rec.Jobs)
			}
			time.Sleep(200 * time.Millisecond)
		}
		j := rec.Jobs[0]
		if j.Action != "v3-create-video" || j.Details["avatar_id"] != look.ID || j.Details["voice_id"] != voice {
			t.Errorf("the render = %s with %v, want v3-create-video with look %q and voice %q", j.Action, j.Details, look.ID, voice)
		}
		card := `[...document.querySelectorAll('.job')].find(j => j.querySelector('h2')?.textContent.includes(` + fmt.Sprintf("%q", title) + `))`
		b.do("on the jobs page", waitJS(card+`?.dataset.status === 'completed' && !!`+card+`.querySelector('video')`))
		b.shot("studio-look-render")
	})

	run("the studio pages fit a phone", func(t *testing.T) {
		b.do("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		for _, page := range []string{"home", "library", "usage", "requests", "generate", "tts"} {
			b.do("phone "+page, goTo("#/"+page),
				waitJS(`!document.querySelector('main .state-loading') && document.querySelector('main h1')`))
			if get(b, "overflow "+page, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)) {
				t.Errorf("the phone layout of %s scrolls sideways", page)
			}
			b.viewShot("phone-studio-" + page)
		}
		b.do("desktop", chromedp.EmulateViewport(1280, 900))
	})

	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}

// allowDownloads has the browser save downloads to dir under their names.
func allowDownloads(dir string) step {
	return func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, target, cdpbrowser.SetDownloadBehavior,
			cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir})
		return chromedp.Void{}, err
	}
}

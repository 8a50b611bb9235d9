package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The console's end-to-end tests drive a real headless Chromium against a
// real `aiproxy demo`. They run only when AIPROXY_TEST_CHROMIUM names the
// browser binary (CI sets it to /usr/bin/chromium). Screenshots of the main
// pages go to AIPROXY_TEST_ARTIFACTS (default: a temp dir, logged), and one
// is taken of the page whenever a step fails.

// browser is one headless Chromium tab with the console's collected errors.
type browser struct {
	t         *testing.T
	ctx       context.Context
	artifacts string
	mu        sync.Mutex
	errors    []string
}

// step is one action of a test scenario.
type step = chromedp.Action[chromedp.Void]

func startBrowser(t *testing.T) *browser {
	t.Helper()
	exec := os.Getenv("AIPROXY_TEST_CHROMIUM")
	if exec == "" {
		t.Skip("console browser tests: set AIPROXY_TEST_CHROMIUM to a Chromium binary (e.g. /usr/bin/chromium) to run them")
	}
	artifacts := os.Getenv("AIPROXY_TEST_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join(os.TempDir(), "aiproxy-console-e2e")
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exec),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, artifacts: artifacts}
	if err := chromedp.Listen(ctx, b.collect); err != nil {
		t.Fatalf("start chromium %s: %v", exec, err)
	}
	t.Logf("console screenshots in %s", artifacts)
	return b
}

// collect records console errors and uncaught exceptions. Failed requests
// (the 401s and 404s the tests provoke on purpose) are network log
// entries, which are not errors of the page's code.
func (b *browser) collect(ev any) {
	var msg string
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			parts := make([]string, 0, len(e.Args))
			for _, a := range e.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			msg = "console." + string(e.Type) + ": " + strings.Join(parts, " ")
		}
	case *runtime.EventExceptionThrown:
		msg = "exception: " + e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil {
			msg += " " + e.ExceptionDetails.Exception.Description
		}
	case *cdplog.EventEntryAdded:
		if e.Entry.Level == cdplog.EntryLevelError && e.Entry.Source != cdplog.EntrySourceNetwork {
			msg = "log: " + string(e.Entry.Source) + ": " + e.Entry.Text + " " + e.Entry.URL
		}
	}
	if msg != "" {
		b.mu.Lock()
		b.errors = append(b.errors, msg)
		b.mu.Unlock()
	}
}

// do runs steps with a time limit, failing the test with a screenshot.
func (b *browser) do(name string, steps ...step) {
	b.t.Helper()
	get(b, name, chromedp.Steps(steps...))
}

// get runs an action that returns a value, failing the test with a screenshot.
func get[T any](b *browser, name string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		path := b.shot("failed-" + slug(name))
		text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('main').innerText`))
		b.t.Fatalf("%s: %v\nscreenshot: %s\npage text:\n%s\nconsole errors: %v", name, err, path, text, b.consoleErrors())
	}
	return v
}

// shot writes a full-page PNG screenshot and returns its path.
func (b *browser) shot(name string) string { return b.capture(name, chromedp.FullScreenshot(100)) }

// viewShot writes a PNG of the viewport only (for the phone layout, whose
// full page is very tall).
func (b *browser) viewShot(name string) string { return b.capture(name, chromedp.CaptureScreenshot()) }

// docShot, only when AIPROXY_UPDATE_SCREENSHOTS=1, writes a PNG of the top of
// the page as it is, at a fixed 1280x800 viewport, to docs/console/<name>.png for
// docs/console.md. Otherwise (as in CI) it does nothing, so the tests never
// change the tree.
func (b *browser) docShot(name string) {
	if os.Getenv("AIPROXY_UPDATE_SCREENSHOTS") != "1" {
		return
	}
	b.t.Helper()
	dir := filepath.Join("..", "..", "docs", "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Steps(chromedp.EmulateViewport(1280, 800), eval(`window.scrollTo(0, 0)`), chromedp.Sleep(300*time.Millisecond)))
	var png []byte
	if err == nil {
		png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
	}
	if err == nil {
		_, err = chromedp.Run(ctx, chromedp.EmulateViewport(1280, 900))
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
	if err != nil {
		b.t.Fatalf("docs screenshot %s: %v", name, err)
	}
}

func (b *browser) capture(name string, a chromedp.Action[[]byte]) string {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	path := filepath.Join(b.artifacts, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Logf("write %s: %v", path, err)
	}
	return path
}

func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

func slug(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(s))
}

// waitJS polls a JavaScript expression until it is truthy.
func waitJS(expr string) step {
	return chromedp.Poll[chromedp.Void]("!!("+expr+")", chromedp.WithPollingTimeout(25*time.Second), chromedp.WithPollingInterval(100*time.Millisecond))
}

// eval runs JavaScript for its effect.
func eval(expr string) step {
	return chromedp.Evaluate[chromedp.Void]("void (" + expr + ")")
}

// goTo navigates the console's hash router.
func goTo(hash string) step { return eval(fmt.Sprintf("location.hash = %q", hash)) }

// typeInto clears a field and types text into it, as a person would.
func typeInto(sel, text string) step {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS(sel)),
		eval(fmt.Sprintf("document.querySelector(%q).value = ''", sel)),
		chromedp.SendKeys(chromedp.CSS(sel), text),
	)
}

func click(sel string) step   { return chromedp.Click(chromedp.CSS(sel)) }
func visible(sel string) step { return chromedp.WaitVisible(chromedp.CSS(sel)) }
func textOf(b *browser, sel string) string {
	b.t.Helper()
	return get(b, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// statusPolls counts the console's video-status requests since the
// resource timings were last cleared.
func statusPolls(b *browser) int {
	b.t.Helper()
	return get(b, "video-status requests", chromedp.Evaluate[int](`performance.getEntriesByType('resource').filter(e => e.name.includes('video-status')).length`))
}

// injectFault asks the demo's sandbox to misbehave once.
func (d *demo) injectFault(t *testing.T, fault map[string]any) {
	t.Helper()
	data, _ := json.Marshal(fault)
	resp, err := http.Post(d.sandbox+"/_sandbox/faults", "application/json", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("inject fault: %s", resp.Status)
	}
}

func TestConsoleInBrowser(t *testing.T) {
	b := startBrowser(t)
	d := startDemo(t, "--render-time", "1s")
	base := d.url + "/console/"
	// run runs the scenario's steps in order, as subtests that share the
	// browser, and stops at the first that fails: each builds on the last.
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

	run("sign-in refuses a bad key with the contract's message", func(t *testing.T) {
		b.do("bad sign-in",
			chromedp.Navigate(base),
			typeInto(`input[name=org]`, d.org),
			typeInto(`input[name=apiKey]`, "aip_wrong_key"),
			click(`form button[type=submit]`),
			visible(`.notice-error`))
		if msg := textOf(b, `.notice-error`); !strings.Contains(msg, "Invalid token.") || !strings.Contains(msg, "401") {
			t.Errorf("sign-in error = %q, want the contract's 401 text", msg)
		}
		b.shot("signin-error")
	})

	run("sign in and see the services", func(t *testing.T) {
		b.do("sign in",
			typeInto(`input[name=apiKey]`, d.key),
			click(`form button[type=submit]`),
			waitJS(`location.hash === '#/home' && document.querySelector('main [data-panel=home-videos]')`),
			goTo("#/services"),
			waitJS(`document.querySelectorAll('.service-card').length === 3`))
		if stored := get(b, "stored key", chromedp.Evaluate[string](`sessionStorage.getItem('aiproxy.console.apiKey')`)); stored != d.key {
			t.Errorf("session storage key = %q", stored)
		}
		b.shot("services")
		b.docShot("services")
		b.do("service detail", goTo("#/services/elevenlabs"), waitJS(`document.querySelectorAll('.endpoint-row').length > 2`))
		b.shot("service-detail")
	})

	run("invoke an endpoint from its descriptor", func(t *testing.T) {
		b.do("invoke list-models",
			goTo("#/services/elevenlabs/list-models"),
			visible(`form button[type=submit]`),
			click(`form button[type=submit]`),
			waitJS(`document.querySelector('pre[aria-label="JSON response"]')?.textContent.includes('model_id')`))
		if out := textOf(b, `pre[aria-label="JSON response"]`); !strings.Contains(out, "eleven_multilingual_v2") {
			t.Errorf("list-models answer lacks the model: %.200s", out)
		}
		b.shot("invoke")
	})

	run("browse avatars and voices", func(t *testing.T) {
		b.do("avatars",
			goTo("#/avatars"),
			waitJS(`document.querySelectorAll('.gallery .tile').length > 10`),
			waitJS(`[...document.querySelectorAll('.gallery img')].slice(0, 4).every(i => i.complete && i.naturalWidth > 0)`))
		b.shot("avatars")
		b.docShot("avatars")
		b.do("search avatars",
			typeInto(`input[type=search]`, "Abigail"),
			waitJS(`document.querySelectorAll('.gallery .tile').length > 0 && [...document.querySelectorAll('.gallery .tile')].every(t => t.textContent.includes('Abigail'))`))
		if count := textOf(b, `.result-count`); !strings.Contains(count, " of ") {
			t.Errorf("result count = %q, want a filtered count", count)
		}
		b.do("voices",
			goTo("#/voices?provider=elevenlabs"),
			waitJS(`document.querySelectorAll('.gallery audio').length > 3`))
		b.shot("voices")
		b.docShot("voices")
	})

	run("generate a video, see it complete and play", func(t *testing.T) {
		b.do("validation",
			goTo("#/generate?avatar=Abigail_expressive_2024112501&voice=f38a635bee7a4d1f9b0a654a31d050d2"),
			visible(`textarea[name=input_text]`),
			click(`form button[type=submit]`),
			visible(`.error-summary`))
		if summary := textOf(b, `.error-summary`); !strings.Contains(summary, "Write the script.") {
			t.Errorf("validation summary = %q", summary)
		}
		b.shot("generate-invalid")
		b.do("generate",
			eval(`(performance.setResourceTimingBufferSize(10000), performance.clearResourceTimings())`),
			typeInto(`textarea[name=input_text]`, "Hello from the console test."),
			click(`form button[type=submit]`),
			waitJS(`location.hash === '#/jobs' && document.querySelector('.job')`),
			waitJS(`document.querySelector('.job[data-status=completed] video')`),
			waitJS(`document.querySelector('.job video').readyState >= 1 && document.querySelector('.job video').duration > 0`),
			eval(`(() => { const v = document.querySelector('.job video'); v.muted = true; v.play(); })()`),
			waitJS(`document.querySelector('.job video').currentTime > 0`))
		type videoState struct {
			ReadyState int     `json:"readyState"`
			Duration   float64 `json:"duration"`
			Error      *int    `json:"error"`
		}
		st := get(b, "video state", chromedp.Evaluate[videoState](`(() => { const v = document.querySelector('.job video'); return {readyState: v.readyState, duration: v.duration, error: v.error && v.error.code}; })()`))
		if st.Duration <= 0 || st.Error != nil || st.ReadyState < 2 {
			t.Errorf("video state = %+v", st)
		}
		if title := textOf(b, `.job h2`); !strings.Contains(title, "Hello from the console test.") {
			t.Errorf("the job's title = %q, want its script", title)
		}
		if mode := textOf(b, `.live-mode`); !strings.Contains(mode, "event stream") {
			t.Errorf("jobs live mode = %q, want the event stream", mode)
		}
		if n := statusPolls(b); n != 0 {
			t.Errorf("the console polled video-status %d times while the event stream was up", n)
		}
		b.shot("jobs")
		b.docShot("jobs")
	})

	run("a job started through the API arrives and completes through the event stream", func(t *testing.T) {
		b.do("stream up", goTo("#/jobs"), visible(`.live-mode[data-mode=stream]`),
			eval(`performance.clearResourceTimings()`))
		id, body := d.generateVideo("Started outside the console.", nil)
		if id == "" {
			t.Fatalf("generate-video answered %s", body)
		}
		card := fmt.Sprintf(`document.getElementById(%q)?.closest('.job')`, "job-"+id)
		b.do("job appears", waitJS(card))
		b.do("job completes", waitJS(card+`?.dataset.status === 'completed' && `+card+`.querySelector('video')`))
		if n := statusPolls(b); n != 0 {
			t.Errorf("the console polled video-status %d times for a job the event stream reported", n)
		}
		b.shot("jobs-from-api")
	})

	run("play text to speech", func(t *testing.T) {
		b.do("tts",
			goTo("#/tts"),
			waitJS(`!document.querySelector('select[name=voice_id]').disabled`),
			click(`form button[type=submit]`),
			waitJS(`document.querySelector('.player audio')?.duration > 0`),
			waitJS(`document.querySelector('.player audio').currentTime > 0`),
			waitJS(`document.querySelector('.player a[download]').href.startsWith('blob:')`))
		b.shot("tts")
	})

	run("a provider 429 reads as a message", func(t *testing.T) {
		d.injectFault(t, map[string]any{"provider": "elevenlabs", "method": "POST", "path": "/v1/text-to-speech/",
			"status": 429, "header": map[string]string{"Retry-After": "3"}, "count": 1})
		b.do("tts 429", click(`form button[type=submit]`), visible(`.player .notice-error`))
		msg := textOf(b, `.player .notice-error`)
		if !strings.Contains(msg, "429") || strings.Contains(msg, "[object Object]") || !strings.Contains(msg, "retry after 3 s") {
			t.Errorf("429 message = %q", msg)
		}
		b.shot("tts-429")
	})

	run("create and revoke a key", func(t *testing.T) {
		b.do("create key",
			goTo("#/keys"),
			waitJS(`document.querySelector('table tbody tr')`),
			typeInto(`input[name=name]`, "e2e key"),
			click(`form button[type=submit]`),
			visible(`[data-testid=new-key]`),
			waitJS(`[...document.querySelectorAll('tbody tr')].some(r => r.textContent.includes('e2e key'))`))
		secret := textOf(b, `[data-testid=new-key]`)
		if !strings.HasPrefix(secret, "aip_") {
			t.Fatalf("new key = %q", secret)
		}
		if status, _, _ := d.invoke(d.org, secret, "elevenlabs", "list-models", map[string]any{}); status != 200 {
			t.Errorf("the new key answers %d", status)
		}
		b.shot("keys-created")
		b.docShot("keys")
		b.do("revoke key",
			click(`tr:not(.revoked) button[aria-label="Revoke key e2e key"]`),
			click(`button[aria-label="Confirm: revoke key e2e key"]`),
			waitJS(`[...document.querySelectorAll('tbody tr.revoked')].some(r => r.textContent.includes('e2e key'))`))
		if status, _, _ := d.invoke(d.org, secret, "elevenlabs", "list-models", map[string]any{}); status != 401 {
			t.Errorf("the revoked key answers %d, want 401", status)
		}
		b.shot("keys-revoked")
	})

	run("set a credential and see it masked", func(t *testing.T) {
		const secret = "sk_console_e2e_secret_9876"
		card := `[data-credential=elevenlabs]`
		b.do("set credential",
			goTo("#/credentials"),
			visible(card+` input[name=key]`),
			typeInto(card+` input[name=key]`, secret),
			click(card+` button[type=submit]`),
			waitJS(`document.querySelector('`+card+` .notice-ok')`))
		if masked := textOf(b, card+` .masked`); !strings.HasSuffix(masked, "9876") || strings.Contains(masked, "secret") {
			t.Errorf("masked value = %q", masked)
		}
		html := get(b, "page html", chromedp.Evaluate[string](`document.documentElement.outerHTML + [...document.querySelectorAll('input')].map(i => i.value).join(' ')`))
		if strings.Contains(html, secret) {
			t.Error("the page still holds the secret after saving")
		}
		// The sandbox does not know this key: the test button shows the 502.
		b.do("test credential", click(card+` button[type=button]:not(.btn-quiet)`), visible(card+` .notice-error`))
		if msg := textOf(b, card+` .notice-error`); !strings.Contains(msg, "The upstream external service request failed.") {
			t.Errorf("test message = %q", msg)
		}
		b.shot("credentials")
		b.docShot("credentials")
	})

	run("admin pages whose APIs are arriving render a state", func(t *testing.T) {
		for _, page := range []string{"limits", "budgets", "webhooks", "usage", "requests", "audit"} {
			b.do(page,
				goTo("#/"+page),
				waitJS(`!document.querySelector('main .state-loading') && document.querySelector('main h1')?.textContent && (document.querySelector('main .state, main table') || document.querySelector('main .notice-error'))`))
			if msg := get(b, page+" error", chromedp.Evaluate[string](`document.querySelector('main .notice-error')?.innerText || ''`)); msg != "" {
				t.Errorf("%s page shows an error: %s", page, msg)
			}
			b.shot("admin-" + page)
		}
		// An org admin sees the quotas and access rules but may not change them.
		b.do("quotas read-only", goTo("#/limits"), visible(`[data-testid=read-only]`))
		if get(b, "quota form", chromedp.Evaluate[bool](`!!document.querySelector('main select[name=metric]')`)) {
			t.Error("an org admin is offered the quota form")
		}
		b.do("access read-only", goTo("#/access"), visible(`[data-testid=read-only]`), waitJS(`document.querySelector('[data-access=heygen]')`))
		if get(b, "access buttons", chromedp.Evaluate[bool](`!!document.querySelector('[data-access] button')`)) {
			t.Error("an org admin is offered access toggles")
		}
		b.shot("admin-access-readonly")
	})

	run("add a webhook and see a delivery in its log", func(t *testing.T) {
		sink := &hookSink{}
		hooks := httptest.NewServer(sink)
		t.Cleanup(hooks.Close)
		b.do("add webhook",
			goTo("#/webhooks"),
			typeInto(`input[name=url]`, hooks.URL+"/console"),
			click(`form button[type=submit]`),
			visible(`[data-testid=webhook-secret]`),
			waitJS(`document.querySelector('[data-webhook] summary')`))
		if secret := textOf(b, `[data-testid=webhook-secret]`); !strings.HasPrefix(secret, "whsec_") {
			t.Errorf("webhook secret = %q", secret)
		}
		b.shot("webhook-added")
		b.do("open log", click(`[data-webhook] summary`), visible(`[data-webhook] .delivery-log .state`))
		if id, body := d.generateVideo("A video for the webhook.", nil); id == "" {
			t.Fatalf("generate-video answered %s", body)
		}
		sink.wait(t, 1)
		b.do("delivery shows", waitJS(`document.querySelector('[data-webhook] tr[data-state=delivered]')`))
		if row := textOf(b, `[data-webhook] tr[data-state=delivered]`); !strings.Contains(row, "job.completed") {
			t.Errorf("delivery row = %q", row)
		}
		b.shot("webhook-deliveries")
		b.docShot("webhooks")
		b.do("delete webhook",
			click(`[data-webhook] button[aria-label^="Delete webhook"]`),
			click(`[data-webhook] button[aria-label^="Confirm: delete webhook"]`),
			waitJS(`!document.querySelector('[data-webhook]') && document.querySelector('main .state')`))
		var list []map[string]any
		d.getJSON("/api/ai-proxy/orgs/"+d.org+"/webhooks/", d.key, 200, &list)
		if len(list) != 0 {
			t.Errorf("webhooks after delete = %v", list)
		}
	})

	run("upload a file through the invoke form", func(t *testing.T) {
		png := filepath.Join(t.TempDir(), "pixel.png")
		// A 1×1 PNG.
		if err := os.WriteFile(png, []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"), 0o644); err != nil {
			t.Fatal(err)
		}
		b.do("upload",
			goTo("#/services/heygen/upload-asset"),
			visible(`input[type=file]`),
			click(`form button[type=submit]`),
			visible(`input[type=file][aria-invalid=true]`),
			chromedp.SetUploadFiles(`input[type=file]`, []string{png}),
			click(`form button[type=submit]`),
			waitJS(`document.querySelector('pre[aria-label="JSON response"]')?.textContent.includes('file_type')`))
		if out := textOf(b, `pre[aria-label="JSON response"]`); !strings.Contains(out, `"image"`) {
			t.Errorf("upload-asset answer: %.300s", out)
		}
		b.shot("invoke-upload")
	})

	run("a platform admin creates and deletes a quota and turns an endpoint off", func(t *testing.T) {
		platformKey := d.cli("", "key", "create", "--platform", "--name", "console e2e")
		b.do("sign in as platform",
			click(`#sign-out`),
			typeInto(`input[name=apiKey]`, platformKey),
			click(`form button[type=submit]`),
			waitJS(`document.querySelector('main [data-panel]') && document.getElementById('session-role').textContent === 'platform admin'`))
		const row = `tr[data-quota="elevenlabs/characters/month"]`
		b.do("create quota",
			goTo("#/limits"),
			waitJS(`document.querySelector('main select[name=service] option[value=elevenlabs]')`),
			eval(`(() => { const f = document.querySelector('main form'); f.service.value = 'elevenlabs'; f.metric.value = 'characters'; f.period.value = 'month'; })()`),
			typeInto(`input[name=limit]`, "5000"),
			click(`main form button[type=submit]`),
			waitJS(`document.querySelector('`+row+`')`))
		if text := textOf(b, row); !strings.Contains(text, "5,000") && !strings.Contains(text, "5000") {
			t.Errorf("quota row = %q", text)
		}
		var quotas []map[string]any
		d.getJSON("/api/ai-proxy/orgs/"+d.org+"/quotas/", d.key, 200, &quotas)
		if len(quotas) != 1 || quotas[0]["limit"] != float64(5000) {
			t.Errorf("quotas after create = %v", quotas)
		}
		b.shot("quota-created")
		b.docShot("quotas")
		b.do("delete quota",
			click(row+` button[aria-label^="Remove quota"]`),
			click(row+` button[aria-label^="Confirm: remove quota"]`),
			waitJS(`!document.querySelector('`+row+`') && document.querySelector('main .state')`))
		d.getJSON("/api/ai-proxy/orgs/"+d.org+"/quotas/", d.key, 200, &quotas)
		if len(quotas) != 0 {
			t.Errorf("quotas after delete = %v", quotas)
		}
		off := `button[aria-label="Turn off elevenlabs/list-models"]`
		b.do("turn an endpoint off",
			goTo("#/access"),
			waitJS(`document.querySelector('`+off+`')`),
			eval(`document.querySelector('[data-access=elevenlabs] details').open = true`),
			click(off),
			waitJS(`document.querySelector('button[aria-label="Turn on elevenlabs/list-models"]')`))
		if status, _, body := d.invoke(d.org, d.key, "elevenlabs", "list-models", map[string]any{}); status != 404 {
			t.Errorf("list-models turned off answers %d %s", status, body)
		}
		b.shot("access-off")
		b.docShot("access")
		b.do("turn it on", eval(`document.querySelector('[data-access=elevenlabs] details').open = true`),
			click(`button[aria-label="Turn on elevenlabs/list-models"]`),
			waitJS(`document.querySelector('`+off+`')`))
		// On again, the call reaches the provider (which refuses the bogus
		// credential set above with a 502): anything but the 404.
		if status, _, _ := d.invoke(d.org, d.key, "elevenlabs", "list-models", map[string]any{}); status == 404 {
			t.Errorf("list-models turned on again answers %d", status)
		}
		b.do("audit", goTo("#/audit"), waitJS(`document.querySelector('main tr[data-audit]')`),
			typeInto(`input[name=q]`, "list-models"),
			waitJS(`[...document.querySelectorAll('main tr[data-audit]')].every(r => r.textContent.includes('list-models'))`))
		b.shot("audit")
		b.docShot("audit")
	})

	run("phone layout and sign-out", func(t *testing.T) {
		b.do("phone",
			chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
			goTo("#/avatars"),
			waitJS(`document.querySelectorAll('.gallery .tile').length > 0`))
		if get(b, "overflow", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)) {
			t.Error("the phone layout scrolls sideways")
		}
		b.viewShot("phone-avatars")
		for _, page := range []string{"home", "library", "jobs", "limits", "budgets", "access", "webhooks", "usage", "requests", "audit"} {
			b.do("phone "+page, goTo("#/"+page),
				waitJS(`!document.querySelector('main .state-loading') && document.querySelector('main h1')`))
			if get(b, "overflow "+page, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1 || document.getElementById('sign-out').getBoundingClientRect().right > window.innerWidth`)) {
				t.Errorf("the phone layout of %s scrolls sideways or cuts the top bar", page)
			}
			b.viewShot("phone-" + page)
		}
		b.do("menu", click(`#menu-toggle`), visible(`#nav.open`),
			waitJS(`getComputedStyle(document.getElementById('nav')).transform === 'none' && document.activeElement.closest('#nav')`))
		b.viewShot("phone-menu")
		b.do("sign out",
			chromedp.EmulateViewport(1280, 900),
			click(`#sign-out`),
			visible(`input[name=apiKey]`))
		if stored := get(b, "stored key", chromedp.Evaluate[*string](`sessionStorage.getItem('aiproxy.console.apiKey')`)); stored != nil {
			t.Error("the key survived sign-out")
		}
		if org := get(b, "org field", chromedp.Value(chromedp.CSS(`input[name=org]`))); org != d.org {
			t.Errorf("org field after sign-out = %q, want %q", org, d.org)
		}
	})

	run("a user signs in with a user token and sees only their own", func(t *testing.T) {
		alice, bob := d.token(d.org, d.key, "alice"), d.token(d.org, d.key, "bob")
		start := func(token, text string) string {
			status, _, body := d.as("POST", invokePath(d.org, "heygen", "generate-video"), "Token "+token, videoBody(text))
			return videoID(t, status, body)
		}
		mine, theirs := start(alice, "Alice's own video."), start(bob, "Bob's own video.")
		b.do("sign in as alice",
			visible(`input[name=apiKey]`),
			typeInto(`input[name=org]`, d.org),
			typeInto(`input[name=apiKey]`, alice),
			waitJS(`document.getElementById('credential-kind').textContent.includes('user token')`),
			click(`form button[type=submit]`),
			waitJS(`!document.getElementById('session').hidden && document.getElementById('session-user-name').textContent === 'alice'`))
		if who := textOf(b, `#session-user`); !strings.Contains(who, "Signed in as alice (org "+d.org+")") {
			t.Errorf("header = %q", who)
		}
		if role := textOf(b, `#session-role`); role != "user" {
			t.Errorf("role badge = %q", role)
		}
		if n := get(b, "toasts", chromedp.Evaluate[int](`document.getElementById('toasts').children.length`)); n != 0 {
			t.Errorf("the previous session's %d messages are still shown", n)
		}
		adminLinks := get(b, "admin links", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#nav a')].filter(a => a.offsetParent !== null).map(a => a.getAttribute('href')).filter(h => ['#/keys', '#/credentials', '#/limits', '#/access', '#/webhooks', '#/usage', '#/requests', '#/audit'].includes(h))`))
		if len(adminLinks) != 0 || !get(b, "admin nav hidden", chromedp.Evaluate[bool](`[...document.querySelectorAll('#nav [data-admin]')].every(el => el.hidden)`)) {
			t.Errorf("a user sees admin navigation: %v", adminLinks)
		}
		b.shot("user-services")

		card := func(id string) string { return fmt.Sprintf(`document.getElementById(%q)?.closest('.job')`, "job-"+id) }
		b.do("alice's job completes",
			goTo("#/jobs"),
			visible(`.live-mode[data-mode=stream]`),
			waitJS(card(mine)+`?.dataset.status === 'completed'`))
		// Bob's video, started with alice's, is done too: had its events
		// reached alice's stream, they would be on the page by now.
		for deadline := time.Now().Add(20 * time.Second); ; {
			var page struct {
				Jobs []struct {
					ProviderJobID string `json:"provider_job_id"`
					State         string `json:"state"`
				} `json:"jobs"`
			}
			d.getJSON("/api/ai-proxy/orgs/"+d.org+"/jobs/?user=bob", d.key, 200, &page)
			if len(page.Jobs) == 1 && page.Jobs[0].ProviderJobID == theirs && page.Jobs[0].State == "completed" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("bob's job did not complete: %+v", page.Jobs)
			}
			time.Sleep(100 * time.Millisecond)
		}
		jobs := get(b, "listed jobs", chromedp.Evaluate[[]string](`[...document.querySelectorAll('.job [id^="job-"]')].map(el => el.id)`))
		if len(jobs) != 1 || jobs[0] != "job-"+mine {
			t.Errorf("alice's Jobs page lists %v, want only job-%s (not bob's job-%s, nor the org key's)", jobs, mine, theirs)
		}
		if head := textOf(b, `main .page-head .lede`); !strings.Contains(head, "Your videos (alice)") {
			t.Errorf("jobs heading = %q", head)
		}
		b.shot("user-jobs")

		b.do("the keys page is refused", goTo("#/keys"), visible(`main .notice-warn`))
		if get(b, "keys table", chromedp.Evaluate[bool](`!!document.querySelector('main table')`)) {
			t.Error("a user is shown the keys table")
		}
		b.do("sign out", click(`#sign-out`), visible(`input[name=apiKey]`))
		if stored := get(b, "stored session", chromedp.Evaluate[string](`String(sessionStorage.getItem('aiproxy.console.apiKey')) + String(sessionStorage.getItem('aiproxy.console.who'))`)); stored != "nullnull" {
			t.Errorf("the user's session survived sign-out: %s", stored)
		}
	})

	run("an org admin sets a user's budget; the user sees a percentage and a clear refusal", func(t *testing.T) {
		speak := func(token string) int {
			status, _, _ := d.as("POST", invokePath(d.org, "elevenlabs", "tts"), "Token "+token, ttsEnv("Hello there."))
			return status
		}
		// The credential set above is the org's ElevenLabs key now: the
		// sandbox learns it, so that speech works again.
		resp, err := http.Post(d.sandbox+"/_sandbox/keys", "application/json",
			strings.NewReader(`{"provider":"elevenlabs","key":"sk_console_e2e_secret_9876"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("add the sandbox key: %s", resp.Status)
		}
		b.do("sign in as the org admin",
			visible(`input[name=apiKey]`),
			typeInto(`input[name=apiKey]`, d.key),
			click(`form button[type=submit]`),
			waitJS(`document.getElementById('session-role').textContent === 'org admin'`))
		// Two 12-character speeches ($0.0012 each) use alice's budget up.
		b.do("add alice's budget",
			goTo("#/budgets"),
			visible(`main form select[name=scope]`),
			waitJS(`!document.querySelector('main .state-loading')`),
			eval(`(() => { const f = document.querySelector('main form'); f.scope.value = 'user'; f.window.value = 'month'; })()`),
			typeInto(`main input[name=subject]`, "alice"),
			typeInto(`main input[name=limit]`, "0.0024"),
			click(`main form button[type=submit]`),
			waitJS(`[...document.querySelectorAll('main tr[data-budget]')].some(r => r.textContent.includes('alice'))`))
		var budgets []budgetJSON
		d.getJSON("/api/ai-proxy/orgs/"+d.org+"/budgets/", d.key, 200, &budgets)
		if len(budgets) != 1 || budgets[0].Scope != "user" || budgets[0].Subject != "alice" || budgets[0].Window != "month" ||
			budgets[0].LimitMicros != 2400 || budgets[0].Enforcement != "block" {
			t.Fatalf("budgets after the form = %+v", budgets)
		}
		row := fmt.Sprintf(`main tr[data-budget=%q]`, budgets[0].ID)
		if text := textOf(b, row); !strings.Contains(text, "$0.0024") || !strings.Contains(text, "monthly") || !strings.Contains(text, "80%, 95%") {
			t.Errorf("the budget's row = %q", text)
		}

		alice := d.token(d.org, d.key, "alice")
		if status := speak(alice); status != 200 {
			t.Fatalf("alice's first speech = %d", status)
		}
		spent := fmt.Sprintf(`main tr[data-status-budget=%q][data-subject=alice]`, budgets[0].ID)
		b.do("see what alice spent", goTo("#/services"), goTo("#/budgets"), waitJS(`document.querySelector('`+spent+`')`))
		if text := textOf(b, spent); !strings.Contains(text, "$0.0012") || !strings.Contains(text, "50%") || !strings.Contains(text, "OK") {
			t.Errorf("alice's spending as the admin sees it = %q", text)
		}
		b.shot("budgets")
		b.docShot("budgets")

		// An org budget added and deleted again.
		orgRow := `main tr[data-budget]:not([data-budget="` + budgets[0].ID + `"])`
		b.do("add an org budget",
			eval(`(() => { const f = document.querySelector('main form'); f.scope.value = 'org'; f.scope.dispatchEvent(new Event('change')); f.window.value = 'lifetime'; })()`),
			typeInto(`main input[name=limit]`, "100"),
			click(`main form button[type=submit]`),
			waitJS(`document.querySelector('`+orgRow+`')?.textContent.includes('$100.00')`))
		b.do("delete it",
			click(orgRow+` button[aria-label="Delete lifetime budget of the org"]`),
			click(orgRow+` button[aria-label="Confirm: delete lifetime budget of the org"]`),
			waitJS(`!document.querySelector('`+orgRow+`')`))
		d.getJSON("/api/ai-proxy/orgs/"+d.org+"/budgets/", d.key, 200, &budgets)
		if len(budgets) != 1 || budgets[0].Subject != "alice" {
			t.Errorf("budgets after deleting the org's = %+v", budgets)
		}
		b.do("a limit that is no amount",
			typeInto(`main input[name=limit]`, "ten"),
			click(`main form button[type=submit]`),
			visible(`main input[name=limit][aria-invalid=true]`))

		b.do("sign in as alice",
			click(`#sign-out`),
			typeInto(`input[name=apiKey]`, alice),
			click(`form button[type=submit]`),
			waitJS(`document.getElementById('session-user-name').textContent === 'alice'`),
			waitJS(`document.querySelector('main [data-budget-panel] li[data-scope=user][data-window=month]')`))
		panel := `main [data-budget-panel]`
		if text := textOf(b, panel); !strings.Contains(text, "Your monthly budget") || !strings.Contains(text, "50%") ||
			!strings.Contains(text, "Resets") || strings.Contains(text, "$") {
			t.Errorf("alice's budget on her home page = %q", text)
		}
		if get(b, "amounts in the page", chromedp.Evaluate[bool](`document.querySelector('main').innerText.includes('$0.00')`)) {
			t.Error("alice's page shows amounts")
		}
		b.do("alice's recent videos", waitJS(`document.querySelector('[data-panel=home-videos] li[data-video]')`))
		if videos := textOf(b, `[data-panel=home-videos]`); !strings.Contains(videos, "Alice's own video.") || strings.Contains(videos, "Bob") {
			t.Errorf("alice's recent videos = %q, want only hers", videos)
		}
		if get(b, "admin panels", chromedp.Evaluate[bool](`!!document.querySelector('[data-panel=home-period], [data-panel=home-credentials]')`)) {
			t.Error("a user's home shows the org's usage or credentials")
		}
		b.shot("user-budget")

		if status := speak(alice); status != 200 {
			t.Fatalf("alice's second speech = %d", status)
		}
		b.do("a refused speech",
			goTo("#/tts"),
			waitJS(`!document.querySelector('select[name=voice_id]').disabled`),
			click(`form button[type=submit]`),
			visible(`.player .notice-error [data-budget-refusal]`))
		msg := textOf(b, `.player .notice-error`)
		if !strings.Contains(msg, "Budget exceeded") || !strings.Contains(msg, "402") {
			t.Errorf("the refusal = %q", msg)
		}
		if line := textOf(b, `.player [data-budget-refusal]`); !strings.Contains(line, "Refused by your user budget") || !strings.Contains(line, "It resets") {
			t.Errorf("the refusal's budget line = %q", line)
		}
		b.shot("user-budget-refused")
		b.do("the jobs page shows the budget used up",
			goTo("#/jobs"),
			waitJS(`document.querySelector('main [data-budget-panel] [data-zone=exhausted]')`))
		if text := textOf(b, panel); !strings.Contains(text, "100%") || !strings.Contains(text, "Used up") {
			t.Errorf("alice's budget on the jobs page = %q", text)
		}
		b.do("sign out", click(`#sign-out`), visible(`input[name=apiKey]`))
	})

	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}

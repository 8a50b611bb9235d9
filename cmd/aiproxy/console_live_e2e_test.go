package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestConsoleLive drives the console's Live page in a real Chromium against
// the demo: signed in with the org's API key, the page mints a user token
// for the socket (the key never goes in a URL), words typed into the text
// area go over aiproxy's relayed ElevenLabs socket, and the audio chunks
// that come back are counted and played as they arrive; the characters are
// metered. The live sessions panel lists the org's LiveAvatar sessions
// with their user, mode, state and minutes.
func TestConsoleLive(t *testing.T) {
	b := startBrowser(t)
	d := startDemo(t)
	tokensBefore := d.liveTokenCount()

	b.do("sign in with the org key",
		chromedp.Navigate(d.url+"/console/"),
		typeInto(`input[name=org]`, d.org),
		typeInto(`input[name=apiKey]`, d.key),
		click(`form button[type=submit]`),
		waitJS(`document.getElementById('session-role')?.textContent`),
		goTo("#/live"),
		visible(`[data-panel=live-speak] [data-live=start]`),
		waitJS(`document.querySelector('[data-live-sessions]')`))
	if got := textOf(b, `nav a[href="#/live"]`); got != "Live" {
		t.Errorf("nav link = %q", got)
	}

	sentence := "Hello there. This is the console speaking as I type, word after word. "
	b.do("open the socket and type",
		click(`[data-live=start]`),
		waitJS(`document.querySelector('[data-live-state]').dataset.liveState === 'open'`),
		chromedp.SendKeys(chromedp.CSS(`textarea[name=live_text]`), sentence),
		// Audio arrives while the socket is still open: the first sentence's end flushed it.
		waitJS(`Number(document.querySelector('[data-live-chunks]').dataset.liveChunks) > 0`))
	if state := get(b, "state", chromedp.Evaluate[string](`document.querySelector('[data-live-state]').dataset.liveState`)); state != "open" {
		t.Errorf("the socket is %q after the first audio; want still open", state)
	}
	if auth := get(b, "auth", chromedp.Evaluate[string](`document.querySelector('[data-live-auth]').dataset.liveAuth`)); auth != "minted" {
		t.Errorf("auth = %q; want a minted user token", auth)
	}
	words := get(b, "words", chromedp.Evaluate[string](`document.querySelector('[data-live-words]').dataset.liveWords`))
	if n, _ := strconv.Atoi(words); n != len(strings.Fields(sentence)) {
		t.Errorf("words sent = %s; want %d", words, len(strings.Fields(sentence)))
	}
	b.do("finish",
		click(`[data-live=end]`),
		waitJS(`document.querySelector('[data-live-state]').dataset.liveState === 'ended'`))
	if secs := get(b, "seconds", chromedp.Evaluate[string](`document.querySelector('[data-live-seconds]').dataset.liveSeconds`)); secs == "0.00" {
		t.Error("no seconds of audio decoded")
	}
	b.shot("live-spoken")
	if tokens := d.liveTokenCount(); tokens != tokensBefore+1 {
		t.Errorf("user tokens = %d, want one minted for the socket (before: %d)", tokens, tokensBefore)
	}
	waitFor(t, func() bool { return d.usageUnits("elevenlabs", "characters") == int64(len(sentence)) })

	// The sessions panel: a LiveAvatar session minted for alice, then
	// started with its own token, is listed with its user, mode and state.
	status, _, out := d.do("POST", "/api/ai-proxy/orgs/"+d.org+"/services/liveavatar/create-session-token/", d.key,
		strings.NewReader(`{"body":{"avatar_id":"dd73ea75-1218-4ef3-92ce-606d5f7fbc0a","mode":"LITE","is_sandbox":true}}`),
		http.Header{"Content-Type": {"application/json"}, "X-AIProxy-User": {"alice"}})
	var minted struct {
		Data struct {
			SessionID    string `json:"session_id"`
			SessionToken string `json:"session_token"`
		} `json:"data"`
	}
	if err := json.Unmarshal(out, &minted); status != 200 || err != nil || minted.Data.SessionID == "" {
		t.Fatalf("create-session-token = %d %s", status, out)
	}
	if status, _, out := d.do("POST", "/api/ai-proxy/orgs/"+d.org+"/native/liveavatar/v1/sessions/start", "", nil,
		http.Header{"Authorization": {"Bearer " + minted.Data.SessionToken}}); status != 201 && status != 200 {
		t.Fatalf("start = %d %s", status, out)
	}
	row := `[data-live-sessions=list] tr[data-session="` + minted.Data.SessionID + `"]`
	b.do("the session is listed",
		click(`[data-panel=live-sessions] button`),
		waitJS(`document.querySelector('`+row+`')`))
	cells := get(b, "row", chromedp.Evaluate[[]string](`[...document.querySelectorAll('`+row+` td')].map((td) => td.textContent)`))
	if len(cells) != 7 || cells[1] != "alice" || cells[2] != "LITE (sandbox)" || !strings.HasPrefix(cells[3], "started") || !strings.HasPrefix(cells[5], "≈") {
		t.Errorf("row = %q; want alice, LITE (sandbox), started, minutes so far", cells)
	}
	b.shot("live-sessions")
	// A user signed in with a token speaks with that token; nothing is minted.
	tok := d.token(d.org, d.key, "ana")
	tokens := d.liveTokenCount()
	b.do("sign in as ana with her token and speak",
		click(`#sign-out`),
		typeInto(`input[name=org]`, d.org),
		typeInto(`input[name=apiKey]`, tok),
		click(`form button[type=submit]`),
		waitJS(`document.getElementById('session-role')?.textContent === 'user'`),
		goTo("#/live"),
		visible(`[data-panel=live-speak] [data-live=start]`),
		waitJS(`document.querySelector('[data-live-sessions]')`),
		click(`[data-live=start]`),
		waitJS(`document.querySelector('[data-live-state]').dataset.liveState === 'open'`),
		chromedp.SendKeys(chromedp.CSS(`textarea[name=live_text]`), "Hi, it is Ana. "),
		waitJS(`Number(document.querySelector('[data-live-chunks]').dataset.liveChunks) > 0`))
	if auth := get(b, "auth", chromedp.Evaluate[string](`document.querySelector('[data-live-auth]').dataset.liveAuth`)); auth != "own" {
		t.Errorf("ana's socket auth = %q; want her own token", auth)
	}
	if n := d.liveTokenCount(); n != tokens {
		t.Errorf("user tokens = %d after ana spoke, want %d: nothing minted", n, tokens)
	}
	// Ana sees her own sessions only: alice's is not hers.
	if panel := get(b, "ana's sessions", chromedp.Evaluate[string](`document.querySelector('[data-live-sessions]').dataset.liveSessions`)); panel != "empty" {
		t.Errorf("ana's sessions panel = %q; want empty (alice's session is not hers)", panel)
	}
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}

// liveTokenCount counts the org's unexpired user tokens.
func (d *demo) liveTokenCount() int {
	var toks []map[string]any
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/user-tokens/", d.key, 200, &toks)
	return len(toks)
}

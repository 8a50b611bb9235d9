package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/aiproxy/aiproxy/internal/apidocs"
)

// The API reference page's browser test: headless Chromium (run only when
// AIPROXY_TEST_CHROMIUM names it, as for the console) opens the page over
// a real `aiproxy demo` and checks that Swagger UI renders the live
// OpenAPI document, that "Try it out" calls the API from the page, and
// that nothing on the page breaks the content security policy.

// watchCSP is run in every document before its own scripts; it keeps each
// securitypolicyviolation event, which the page's code could not hide.
const watchCSP = `window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e =>
  window.__cspViolations.push(e.effectiveDirective + ' ' + (e.blockedURI || 'inline') + ' from ' + e.sourceFile + ':' + e.lineNumber));`

func TestAPIDocsInBrowser(t *testing.T) {
	b := startBrowser(t)
	d := startDemo(t)
	base := d.url + apidocs.Prefix

	// What the page must show comes from the document the demo serves.
	var doc struct {
		OpenAPI string                                  `json:"openapi"`
		Info    struct{ Title string }                  `json:"info"`
		Paths   map[string]struct{ Post *docOperation } `json:"paths"`
	}
	d.getJSON("/api/ai-proxy/openapi.json", "", 200, &doc)
	const genPath = "/api/ai-proxy/orgs/{org}/services/heygen/generate-video/"
	gen := doc.Paths[genPath].Post
	if gen == nil || gen.OperationID == "" || gen.Summary == "" {
		t.Fatalf("the live document has no POST %s with an operationId and summary: %+v", genPath, doc.Paths[genPath])
	}

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

	run("the page renders the live document", func(t *testing.T) {
		b.do("open the page at heygen generate-video",
			addScript(watchCSP),
			chromedp.Navigate(base+"#/heygen/"+gen.OperationID),
			waitJS(`document.querySelector('.swagger-ui .info .title')`))
		title := textOf(b, `.swagger-ui .info .title`)
		if !strings.HasPrefix(doc.OpenAPI, "3.1.") || !strings.HasPrefix(title, doc.Info.Title) || !strings.Contains(title, "OAS 3.1") {
			t.Errorf("title = %q for an OpenAPI %s document, want %q with the OAS 3.1 stamp", title, doc.OpenAPI, doc.Info.Title)
		}
		op := "#operations-heygen-" + gen.OperationID
		b.do("the deep link opens the operation", waitJS(fmt.Sprintf(`document.querySelector(%q)?.classList.contains('is-open')`, op)))
		if got := get(b, "its path", chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector('%s .opblock-summary-path').dataset.path`, op))); got != genPath {
			t.Errorf("operation path = %q, want %q", got, genPath)
		}
		if got := textOf(b, op+" .opblock-summary-method"); got != "POST" {
			t.Errorf("method = %q, want POST", got)
		}
		if got := textOf(b, op+" .opblock-summary-description"); got != gen.Summary {
			t.Errorf("summary = %q, want the document's %q", got, gen.Summary)
		}
		// The request body's example comes from the envelope schema and
		// the HeyGen body component it refers to.
		b.do("the request body", waitJS(fmt.Sprintf(`document.querySelector('%s .opblock-section-request-body')?.innerText.includes('video_inputs')`, op)))
		b.viewShot("apidocs-generate-video")
	})

	run("the filter finds each service's tags", func(t *testing.T) {
		for _, tag := range []string{"heygen", "elevenlabs"} {
			b.do("filter "+tag,
				typeInto(`.operation-filter-input`, tag),
				waitJS(fmt.Sprintf(`document.querySelector('.opblock-tag[data-tag=%q]')`, tag)),
				waitJS(fmt.Sprintf(`[...document.querySelectorAll('.opblock-tag')].every(e => e.dataset.tag.includes(%q))`, tag)))
			b.viewShot("apidocs-filter-" + tag)
		}
	})

	run("try it out: an authorized call from the page", func(t *testing.T) {
		b.do("authorize with the demo's key",
			chromedp.Navigate(base),
			waitJS(`document.querySelector('.opblock-tag[data-tag=discovery]')`),
			click(`.auth-wrapper .authorize`),
			visible(`.modal-ux`),
			// Each scheme has its own form, and every apiKey scheme's
			// input has the id api_key_value: mark the apiKey scheme's.
			eval(`document.querySelector('.modal-ux').querySelectorAll('.auth-container').forEach(c => {
				if (c.querySelector('h4')?.textContent.trim().startsWith('apiKey')) c.dataset.e2e = 'api-key';
			})`),
			typeInto(`.auth-container[data-e2e=api-key] input`, "Api-Key "+d.key),
			click(`.auth-container[data-e2e=api-key] button.authorize`),
			waitJS(`[...document.querySelectorAll('.auth-container[data-e2e=api-key] button')].some(b => b.textContent.trim() === 'Logout')`),
			click(`.modal-ux .btn-done`),
			waitJS(`!document.querySelector('.modal-ux')`))
		op := "#operations-discovery-listServices"
		b.do("call listServices",
			click(op+" .opblock-summary-control"),
			click(op+" .try-out__btn"),
			typeInto(op+` tr[data-param-name="org"] input`, d.org),
			click(op+" .btn.execute"),
			waitJS(fmt.Sprintf(`document.querySelector('%s .live-responses-table tr.response .response-col_status')`, op)))
		if status := textOf(b, op+" .live-responses-table tr.response .response-col_status"); status != "200" {
			t.Errorf("listServices from the page = %q, want 200", status)
		}
		body := textOf(b, op+" .live-responses-table tr.response .response-col_description")
		for _, service := range []string{"heygen", "elevenlabs"} {
			if !strings.Contains(body, `"`+service+`"`) {
				t.Errorf("the response lacks %s: %s", service, body)
			}
		}
		b.viewShot("apidocs-try-it-out")
	})

	run("no console errors and no CSP violations", func(t *testing.T) {
		if v := get(b, "CSP violations", chromedp.Evaluate[[]string](`window.__cspViolations`)); len(v) > 0 {
			t.Errorf("CSP violations: %q", v)
		}
		if errs := b.consoleErrors(); len(errs) > 0 {
			t.Errorf("console errors: %q", errs)
		}
	})
}

// docOperation is the part of an OpenAPI operation the test reads.
type docOperation struct {
	OperationID string `json:"operationId"`
	Summary     string `json:"summary"`
}

// addScript has the browser run source in every new document before the
// document's own scripts.
func addScript(source string) step {
	return func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, target, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: source})
		return chromedp.Void{}, err
	}
}

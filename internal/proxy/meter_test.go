package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// nativeAs sends a native request as an org's invoke key.
func nativeAs(p *proxy.Proxy, org, service, method, path, body string) result {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	pr := aiproxy.Principal{KeyID: "key-" + org, OrgKey: org, Role: aiproxy.RoleInvoke}
	r = r.WithContext(aiproxy.WithPrincipal(r.Context(), pr))
	w := httptest.NewRecorder()
	_, err := p.InvokeNative(w, r, org, service, path)
	return result{status: w.Code, header: w.Header(), body: w.Body.String(), err: err}
}

// TestNativeCallsAreMeteredLikeInvoke pins that the native surface and
// invoke write the same usage record for the same call.
func TestNativeCallsAreMeteredLikeInvoke(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	m := &meter{}
	p := e.proxy(proxy.Config{Meter: m})
	tts := map[string]any{"path_params": map[string]any{"voice_id": "21m00Tcm4TlvDq8ikWAM"}, "body": map[string]any{"text": "hello"}}
	wantOK(t, "invoke tts", invoke(p, "acme", "elevenlabs", "tts", tts))
	res := nativeAs(p, "acme", "elevenlabs", http.MethodPost, "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM", `{"text":"hello"}`)
	wantOK(t, "native tts", res)
	if len(m.recs) != 2 {
		t.Fatalf("%d records, want 2", len(m.recs))
	}
	inv, nat := m.recs[0], m.recs[1]
	if nat.Status != 200 || nat.UpstreamStatus != 200 || nat.BytesOut != int64(len(res.body)) || nat.BytesOut == 0 ||
		nat.Unit != aiproxy.MetricCharacters || nat.Units != 5 || nat.Action != "tts" || nat.KeyID != "key-acme" ||
		nat.Source != aiproxy.SourceTenant || nat.ErrorCode != "" {
		t.Fatalf("native record = %+v", nat)
	}
	inv.At, inv.LatencyMS, nat.LatencyMS = nat.At, 0, 0
	if inv != nat {
		t.Fatalf("records differ:\ninvoke %+v\nnative %+v", inv, nat)
	}
}

func TestRefusedNativeCallsAreMetered(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	m := &meter{}
	p := e.proxy(proxy.Config{Meter: m, Access: offFor{"acme": {Service: "elevenlabs", Endpoint: "tts"}}})
	res := nativeAs(p, "acme", "elevenlabs", http.MethodPost, "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM", `{"text":"hello"}`)
	wantCode(t, "disabled endpoint", res, aiproxy.CodeNotFound)
	res = nativeAs(p, "acme", "elevenlabs", http.MethodGet, "/v1/no-such-path", "")
	wantCode(t, "unknown path", res, aiproxy.CodeNotFound)
	if len(m.recs) != 2 {
		t.Fatalf("%d records, want 2: %+v", len(m.recs), m.recs)
	}
	for i, want := range []string{"tts", ""} {
		r := m.recs[i]
		if r.ErrorCode != aiproxy.CodeNotFound || r.Action != want || r.Service != "elevenlabs" || r.KeyID != "key-acme" || r.UpstreamStatus != 0 {
			t.Fatalf("record %d = %+v", i, r)
		}
	}
	if e.requests("POST", "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM") != 0 {
		t.Fatal("a refused call reached the provider")
	}
}

// TestRecordsKeepRequestIDAndErrorDetail pins what the request log shows:
// the call's X-Request-Id, and the message of an error aiproxy answered
// with, but nothing of a provider's own error answer.
func TestRecordsKeepRequestIDAndErrorDetail(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	m := &meter{}
	p := e.proxy(proxy.Config{Meter: m, Access: offFor{"acme": {Service: "elevenlabs", Endpoint: "tts"}}})
	send := func(org, method, path, body, requestID string) result {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		pr := aiproxy.Principal{KeyID: "key-" + org, OrgKey: org, Role: aiproxy.RoleInvoke}
		r = r.WithContext(aiproxy.WithRequestID(aiproxy.WithPrincipal(r.Context(), pr), requestID))
		w := httptest.NewRecorder()
		_, err := p.InvokeNative(w, r, org, "elevenlabs", path)
		return result{status: w.Code, header: w.Header(), body: w.Body.String(), err: err}
	}
	refused := send("acme", http.MethodPost, "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM", `{"text":"hello"}`, "req-refused")
	ae := wantCode(t, "disabled endpoint", refused, aiproxy.CodeNotFound)
	passed := send("beta", http.MethodGet, "/v1/voices/no-such-voice", "", "req-passed")
	if passed.err != nil || passed.status < 400 || passed.status > 499 {
		t.Fatalf("unknown voice = %d %v, want the provider's 4xx passed through", passed.status, passed.err)
	}
	if len(m.recs) != 2 {
		t.Fatalf("%d records, want 2", len(m.recs))
	}
	if r := m.recs[0]; r.RequestID != "req-refused" || r.ErrorDetail != ae.Message || r.ErrorDetail == "" {
		t.Fatalf("refused call's record = %+v, want its request id and the message %q", r, ae.Message)
	}
	if r := m.recs[1]; r.RequestID != "req-passed" || r.ErrorDetail != "" || r.UpstreamStatus != passed.status {
		t.Fatalf("passed-through call's record = %+v, want its request id and no detail", r)
	}
}

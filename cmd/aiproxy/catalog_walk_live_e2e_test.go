package main

import (
	"net/http"
	"strings"
)

// walkLiveAvatar walks LiveAvatar: its catalogs and contexts with the org's
// key, a session minted with the key and started, kept alive, read and
// stopped, and a second one closed with its session token on the native
// route, as the web SDK does.
func (w *walker) walkLiveAvatar() {
	for _, slug := range []string{"list-public-avatars", "list-avatars", "list-voices", "list-contexts", "list-sessions"} {
		w.call("liveavatar", slug, map[string]any{})
	}
	_, body := w.call("liveavatar", "create-context", map[string]any{"body": map[string]any{"name": "Walk", "prompt": "Be brief."}})
	ctx := map[string]any{"path_params": map[string]any{"context_id": w.field(body, "data.id")}}
	w.call("liveavatar", "get-context", ctx)
	w.call("liveavatar", "update-context", map[string]any{"path_params": ctx["path_params"], "body": map[string]any{"name": "Walked"}})
	w.call("liveavatar", "delete-context", ctx)

	_, body = w.call("liveavatar", "create-session-token", map[string]any{"body": mintBody})
	id, token := w.field(body, "data.session_id"), w.field(body, "data.session_token")
	w.nativeLive("start-session", "POST", "/v1/sessions/start", token, 201)
	byID := map[string]any{"body": map[string]any{"session_id": id}}
	w.call("liveavatar", "keep-alive", byID)
	w.call("liveavatar", "get-session", map[string]any{"path_params": map[string]any{"session_id": id}})
	w.call("liveavatar", "get-session-transcript", map[string]any{"path_params": map[string]any{"session_id": id}})
	w.call("liveavatar", "stop-session", byID)

	_, body = w.call("liveavatar", "create-session-token", map[string]any{"body": mintBody})
	w.nativeLive("close-session", "DELETE", "/v1/sessions", w.field(body, "data.session_token"), 200)
	w.walkHeyGenLegacyStreaming()
}

// walkHeyGenLegacyStreaming walks HeyGen's legacy streaming: a token
// minted with the org's key, its one session created with the token on the
// native route as the legacy SDK does, then driven alternately by the
// token and by the key with the body's session_id, and stopped.
func (w *walker) walkHeyGenLegacyStreaming() {
	_, body := w.call("heygen", "streaming-create-token", map[string]any{"body": map[string]any{}})
	token := w.field(body, "data.token")
	body = w.nativeHeyGen("streaming-new", "/v1/streaming.new", token, `{"avatar_name":"Wayne_20240711"}`)
	byID := map[string]any{"body": map[string]any{"session_id": w.field(body, "data.session_id")}}
	w.call("heygen", "streaming-list", map[string]any{})
	w.nativeHeyGen("streaming-start", "/v1/streaming.start", token, `{}`)
	w.call("heygen", "streaming-task", map[string]any{"body": map[string]any{"session_id": byID["body"].(map[string]any)["session_id"],
		"text": "Hello from the walk.", "task_type": "repeat"}})
	w.nativeHeyGen("streaming-interrupt", "/v1/streaming.interrupt", token, `{}`)
	w.call("heygen", "streaming-keep-alive", byID)
	w.nativeHeyGen("streaming-start-listening", "/v1/streaming.start_listening", token, `{}`)
	w.call("heygen", "streaming-stop-listening", byID)
	w.nativeHeyGen("streaming-stop", "/v1/streaming.stop", token, `{}`)
}

// nativeHeyGen calls a legacy streaming endpoint on HeyGen's native route
// with a streaming token, as the legacy SDK does, records it and returns
// the answer.
func (w *walker) nativeHeyGen(slug, path, token, body string) []byte {
	w.t.Helper()
	ep, ok := w.eps["heygen"][slug]
	if !ok {
		w.t.Fatalf("heygen/%s: not in the discovered catalog", slug)
	}
	status, header, out := w.d.do("POST", "/api/ai-proxy/orgs/"+w.d.org+"/native/heygen"+path, "", strings.NewReader(body),
		http.Header{"Authorization": {"Bearer " + token}, "Content-Type": {"application/json"}})
	w.record("heygen", ep, map[string]any{}, status)
	if marked(header, out) || status != 200 {
		w.t.Errorf("heygen/%s: %d %.300s", slug, status, out)
	}
	return out
}

// nativeLive calls a LiveAvatar endpoint on the native route with a session
// token, as the web SDK does, and records it.
func (w *walker) nativeLive(slug, method, path, token string, want int) {
	w.t.Helper()
	ep, ok := w.eps["liveavatar"][slug]
	if !ok {
		w.t.Fatalf("liveavatar/%s: not in the discovered catalog", slug)
	}
	status, header, body := w.d.do(method, "/api/ai-proxy/orgs/"+w.d.org+"/native/liveavatar"+path, "", strings.NewReader(""),
		http.Header{"Authorization": {"Bearer " + token}})
	w.record("liveavatar", ep, map[string]any{}, status)
	if marked(header, body) || status != want {
		w.t.Errorf("liveavatar/%s: %d %.300s", slug, status, body)
	}
}

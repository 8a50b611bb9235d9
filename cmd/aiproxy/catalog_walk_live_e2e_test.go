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

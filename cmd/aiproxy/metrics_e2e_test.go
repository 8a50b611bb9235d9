package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestMetricsAreNotPublic checks who may read /metrics, which names orgs
// and services: on the API's address only with the metrics token, nobody
// when no token is set, and on a separate metrics address anyone who can
// reach it.
func TestMetricsAreNotPublic(t *testing.T) {
	t.Run("demo, behind its token", func(t *testing.T) {
		d := startDemo(t)
		if d.metricsToken == "" {
			t.Fatal("the demo printed no AIPROXY_METRICS_TOKEN")
		}
		for _, auth := range []string{"", "Bearer wrong", "Api-Key " + d.key} {
			status, _, body := d.do("GET", "/metrics", "", nil, http.Header{"Authorization": {auth}})
			if status != http.StatusUnauthorized || strings.Contains(string(body), "aiproxy_") {
				t.Errorf("/metrics with %q = %d %.80s, want 401 and no metrics", auth, status, body)
			}
		}
		if status, _, body := d.do("GET", "/metrics", "", nil, http.Header{"Authorization": {"Bearer " + d.metricsToken}}); status != 200 ||
			!strings.Contains(string(body), "aiproxy_http_requests_total") {
			t.Errorf("/metrics with the token = %d", status)
		}
	})
	t.Run("serve without a token, and a metrics address", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		out, errOut := &syncBuffer{}, &syncBuffer{}
		done := make(chan error, 1)
		env := map[string]string{"AIPROXY_MASTER_KEY": strings.Repeat("ab", 32)}
		args := []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--metrics-addr", "127.0.0.1:0"}
		go func() {
			done <- run(ctx, args, func(n string) string { return env[n] }, strings.NewReader(""), out, errOut)
		}()
		t.Cleanup(func() { cancel(); <-done })
		api, metricsURL := "", ""
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && (api == "" || metricsURL == ""); time.Sleep(20 * time.Millisecond) {
			api = parseVars(out.String())["AIPROXY_URL"]
			for _, line := range strings.Split(errOut.String(), "\n") {
				var rec struct{ Msg, URL string }
				if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "metrics" {
					metricsURL = rec.URL
				}
			}
		}
		if api == "" || metricsURL == "" {
			t.Fatalf("serve printed no URL or metrics address; stderr:\n%s", errOut.String())
		}
		if code, body := httpGet(t, api+"/metrics", ""); code != http.StatusNotFound || strings.Contains(body, "aiproxy_") {
			t.Errorf("/metrics on the API's address without a token = %d %.80s, want 404", code, body)
		}
		if code, body := httpGet(t, metricsURL, ""); code != 200 || !strings.Contains(body, "aiproxy_http_requests_total") {
			t.Errorf("the metrics address = %d %.80s", code, body)
		}
		if code, _ := httpGet(t, strings.TrimSuffix(metricsURL, "/metrics")+"/api/ai-proxy/orgs/x/services/", ""); code != http.StatusNotFound {
			t.Errorf("the metrics address serves the API: %d", code)
		}
	})
}

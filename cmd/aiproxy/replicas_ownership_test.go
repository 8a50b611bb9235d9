package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// testOwnership: an object created through one replica is the creating
// org's on every replica. Acme uploads an asset on the shared platform
// credential through the first replica; beta is refused it on the others,
// with no provider call, and does not see it in its list, while acme reads
// it anywhere.
func (c *cluster) testOwnership(t *testing.T) {
	at := func(i int, org, method, path, contentType, body string) (int, string) {
		req, _ := http.NewRequestWithContext(c.ctx, method, c.replicas[i].url+"/api/ai-proxy/orgs/"+org+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Api-Key "+c.keys[org])
		req.Header.Set("Content-Type", contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := at(0, "acme", "POST", "/native/heygen/v1/asset", "image/png", "\x89PNG\r\n\x1a\nacme's logo")
	var id string
	if _, rest, ok := strings.Cut(body, `"id":"`); ok {
		id, _, _ = strings.Cut(rest, `"`)
	}
	if status != 200 || id == "" {
		t.Fatalf("acme upload on replica 0 = %d %s", status, body)
	}
	get := fmt.Sprintf(`{"path_params":{"asset_id":%q}}`, id)
	for i := 1; i < len(c.replicas); i++ {
		if status, body := at(i, "beta", "POST", "/services/heygen/get-asset/", "application/json", get); status != 404 ||
			!strings.Contains(body, "Asset '"+id+"'") {
			t.Errorf("beta get-asset of acme's asset on replica %d = %d %s, want 404", i, status, body)
		}
		if status, body := at(i, "beta", "POST", "/services/heygen/list-assets/", "application/json", `{}`); status != 200 ||
			strings.Contains(body, id) {
			t.Errorf("beta list-assets on replica %d = %d %s, want 200 without acme's asset", i, status, body)
		}
	}
	if n, _ := c.sandboxCalls(t, "/v1/asset/"+id); n != 0 {
		t.Errorf("beta's refused reads reached the provider %d times", n)
	}
	if status, body := at(len(c.replicas)-1, "acme", "POST", "/services/heygen/get-asset/", "application/json", get); status != 200 {
		t.Errorf("acme get-asset on the last replica = %d %s", status, body)
	}
}

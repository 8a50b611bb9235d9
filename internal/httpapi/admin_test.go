package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAdminKeys(t *testing.T) {
	e := newEnv(t)
	admin := "Api-Key " + e.acmeAdmin

	status, h, body := e.do("POST", base+"/orgs/acme/keys/", admin, `{"name":"ci","role":"invoke"}`)
	if status != 201 || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d %q %s", status, h.Get("Cache-Control"), body)
	}
	var created KeyJSON
	if err := json.Unmarshal(body, &created); err != nil {
		t.Fatal(err)
	}
	if created.Key == "" || created.Org != "acme" || created.Role != "invoke" || created.Name != "ci" || created.RevokedAt != nil ||
		!strings.HasPrefix(created.Key, "aip_"+created.ID+"_") {
		t.Fatalf("created = %+v", created)
	}
	if status, _, _ := e.do("GET", base+"/orgs/acme/services/", "Bearer "+created.Key, ""); status != 200 {
		t.Fatalf("the new key does not work: %d", status)
	}

	status, _, body = e.do("GET", base+"/orgs/acme/keys", admin, "")
	if status != 200 {
		t.Fatalf("list: %d", status)
	}
	if strings.Contains(string(body), created.Key) || strings.Contains(string(body), `"key"`) || strings.Contains(string(body), "hash") {
		t.Fatalf("the list shows secrets: %s", body)
	}
	var list []KeyJSON
	json.Unmarshal(body, &list)
	found := false
	for _, k := range list {
		if k.Org != "acme" {
			t.Errorf("list holds a key of %q", k.Org)
		}
		found = found || k.ID == created.ID
	}
	if !found {
		t.Fatalf("the new key is not listed: %s", body)
	}

	// A key of another org is not found, and stays usable.
	otherID := strings.SplitN(e.otherInvoke, "_", 3)[1]
	status, _, body = e.do("DELETE", base+"/orgs/acme/keys/"+otherID, admin, "")
	if status != 404 {
		t.Fatalf("revoking another org's key: %d %s", status, body)
	}
	if status, _, _ := e.do("GET", base+"/orgs/other/services/", "Api-Key "+e.otherInvoke, ""); status != 200 {
		t.Fatal("another org's key stopped working")
	}

	status, _, body = e.do("DELETE", base+"/orgs/acme/keys/"+created.ID+"/", admin, "")
	var revoked KeyJSON
	json.Unmarshal(body, &revoked)
	if status != 200 || revoked.RevokedAt == nil || revoked.Key != "" {
		t.Fatalf("revoke: %d %s", status, body)
	}
	status, _, body = e.do("GET", base+"/orgs/acme/services/", "Bearer "+created.Key, "")
	if status != 401 {
		t.Fatalf("a revoked key still works: %d", status)
	}
	expectBody(t, body, map[string]string{"detail": "Invalid token.", "code": "unauthenticated"})

	for _, tc := range []struct{ name, body string }{
		{"bad role", `{"name":"x","role":"owner"}`},
		{"unknown field", `{"name":"x","scope":"all"}`},
		{"not JSON", `nope`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, _, body := e.do("POST", base+"/orgs/acme/keys", admin, tc.body); status != 400 {
				t.Fatalf("%d %s", status, body)
			}
		})
	}
	t.Run("platform key must be admin", func(t *testing.T) {
		if status, _, body := e.do("POST", base+"/admin/keys", "Api-Key "+e.platform, `{"role":"invoke"}`); status != 400 {
			t.Fatalf("%d %s", status, body)
		}
	})
}

func TestAdminCredentials(t *testing.T) {
	e := newEnv(t)
	const secret = "hg-live-abcdefghijklmnop-WXYZ"
	admin := "Api-Key " + e.acmeAdmin
	var all []byte

	status, _, body := e.do("PUT", base+"/orgs/acme/credentials/heygen/", admin, `{"value":{"key":"`+secret+`"}}`)
	all = append(all, body...)
	var c CredentialJSON
	json.Unmarshal(body, &c)
	if status != 200 || c.Name != "heygen" || c.Source != "tenant" || c.Org != "acme" || c.Masked["key"] != "****WXYZ" {
		t.Fatalf("set: %d %s", status, body)
	}

	status, _, body = e.do("GET", base+"/orgs/acme/credentials/", admin, "")
	all = append(all, body...)
	var list []CredentialJSON
	json.Unmarshal(body, &list)
	if status != 200 || len(list) != 1 || list[0].Masked["key"] != "****WXYZ" {
		t.Fatalf("list: %d %s", status, body)
	}
	status, _, body = e.do("GET", base+"/orgs/other/credentials/", "Api-Key "+e.platform, "")
	if status != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Fatalf("another org's list: %d %s", status, body)
	}

	refusals := []struct {
		name, path, body string
		status           int
	}{
		{"extra field", "/orgs/acme/credentials/heygen", `{"value":{"key":"x","other":"y"}}`, 400},
		{"empty key", "/orgs/acme/credentials/heygen", `{"value":{"key":""}}`, 400},
		{"no value", "/orgs/acme/credentials/heygen", `{}`, 400},
		{"unknown name", "/orgs/acme/credentials/openai", `{"value":{"key":"x"}}`, 404},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := e.do("PUT", base+tc.path, admin, tc.body)
			all = append(all, body...)
			if status != tc.status {
				t.Fatalf("%d %s", status, body)
			}
		})
	}

	status, _, body = e.do("PUT", base+"/admin/credentials/elevenlabs", "Api-Key "+e.platform, `{"value":{"key":"`+secret+`"}}`)
	all = append(all, body...)
	json.Unmarshal(body, &c)
	if status != 200 || c.Source != "platform" || c.Org != "" {
		t.Fatalf("set platform: %d %s", status, body)
	}

	if status, _, _ := e.do("DELETE", base+"/orgs/acme/credentials/heygen", admin, ""); status != 204 {
		t.Fatalf("delete: %d", status)
	}
	status, _, body = e.do("DELETE", base+"/orgs/acme/credentials/heygen", admin, "")
	if status != 404 {
		t.Fatalf("delete again: %d", status)
	}
	expectBody(t, body, map[string]string{"detail": `Credential "heygen" not found.`, "code": "not_found"})
	if strings.Contains(string(all), secret) || strings.Contains(string(all), "abcdefghijklmnop") {
		t.Fatalf("a response showed the credential: %s", all)
	}
}

func TestAdminOrgs(t *testing.T) {
	e := newEnv(t)
	p := "Api-Key " + e.platform
	status, _, body := e.do("POST", base+"/admin/orgs", p, `{"key":"newco","name":"New Co"}`)
	var o OrgJSON
	json.Unmarshal(body, &o)
	if status != 201 || o.Key != "newco" || o.Name != "New Co" {
		t.Fatalf("create: %d %s", status, body)
	}
	if status, _, body := e.do("POST", base+"/admin/orgs", p, `{"key":"newco"}`); status != 409 {
		t.Fatalf("duplicate: %d %s", status, body)
	}
	if status, _, body := e.do("POST", base+"/admin/orgs", p, `{"key":"Bad Key"}`); status != 400 {
		t.Fatalf("bad key: %d %s", status, body)
	}
	status, _, body = e.do("GET", base+"/admin/orgs/", p, "")
	var orgs []OrgJSON
	json.Unmarshal(body, &orgs)
	if status != 200 || len(orgs) != 3 {
		t.Fatalf("list: %d %s", status, body)
	}
}

package proxy

import (
	"bytes"
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/vault"
)

func TestCredentialResolution(t *testing.T) {
	T, P := aiproxy.SourceTenant, aiproxy.SourcePlatform
	tests := []struct {
		name     string
		policy   aiproxy.CredentialPolicy
		stored   []aiproxy.Source
		wantKey  string
		wantSrc  aiproxy.Source
		wantCode aiproxy.Code
		wantMsg  string
	}{
		{"tenant first", bothPolicy, []aiproxy.Source{T, P}, tenantKey, T, "", ""},
		{"fallback to platform", bothPolicy, []aiproxy.Source{P}, platformKey, P, "", ""},
		{"none stored", bothPolicy, nil, "", "", aiproxy.CodeNotFound, "No allowed credentials found for external proxy service 'svc'."},
		{"tenant only, tenant missing", aiproxy.CredentialPolicy{AllowTenantKey: true, DefaultSource: T}, []aiproxy.Source{P},
			"", "", aiproxy.CodeNotFound, "No allowed credentials found for external proxy service 'svc'."},
		{"no fallback", aiproxy.CredentialPolicy{AllowTenantKey: true, AllowPlatformKey: true, DefaultSource: T}, []aiproxy.Source{P},
			"", "", aiproxy.CodeNotFound, "No allowed credentials found for external proxy service 'svc'."},
		{"platform default", aiproxy.CredentialPolicy{AllowTenantKey: true, AllowPlatformKey: true, DefaultSource: P, FallbackToPlatformKey: true},
			[]aiproxy.Source{T, P}, platformKey, P, "", ""},
		{"platform default falls back to tenant", aiproxy.CredentialPolicy{AllowTenantKey: true, AllowPlatformKey: true, DefaultSource: P, FallbackToPlatformKey: true},
			[]aiproxy.Source{T}, tenantKey, T, "", ""},
		{"platform only ignores tenant", aiproxy.CredentialPolicy{AllowPlatformKey: true, DefaultSource: T}, []aiproxy.Source{T, P},
			platformKey, P, "", ""},
		{"nothing allowed", aiproxy.CredentialPolicy{DefaultSource: T, FallbackToPlatformKey: true}, []aiproxy.Source{T, P},
			"", "", aiproxy.CodeInvalid, "Credential policy does not allow any credential source."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, nil)
			svc := testService(up.URL, tc.policy, aiproxy.Endpoint{Slug: "go", RequestMode: aiproxy.RequestJSON, ResponseMode: aiproxy.ResponseJSON})
			f := newFixture(t, services{"svc": svc}, Config{})
			for _, src := range tc.stored {
				key := tenantKey
				if src == P {
					key = platformKey
				}
				f.setCredential(t, src, "svc", key)
			}
			out, err := f.proxy.Invoke(httptest.NewRecorder(), invokeRequest(`{}`), testOrg, "svc", "go")
			if tc.wantCode != "" {
				errorOf(t, err, tc.wantCode, tc.wantMsg)
				if n := len(up.requests()); n != 0 {
					t.Fatalf("upstream received %d requests", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := up.only(t).Header.Get("X-Test-Key"); got != tc.wantKey {
				t.Fatalf("upstream key = %q, want %q", got, tc.wantKey)
			}
			if out.Source != tc.wantSrc {
				t.Fatalf("source = %q, want %q", out.Source, tc.wantSrc)
			}
		})
	}
}

func TestCredentialOtherOrgInvisible(t *testing.T) {
	up := newUpstream(t, nil)
	svc := testService(up.URL, aiproxy.CredentialPolicy{AllowTenantKey: true, DefaultSource: aiproxy.SourceTenant},
		aiproxy.Endpoint{Slug: "go", RequestMode: aiproxy.RequestJSON, ResponseMode: aiproxy.ResponseJSON})
	f := newFixture(t, services{"svc": svc}, Config{})
	f.setCredential(t, aiproxy.SourceTenant, "svc", tenantKey)
	if _, err := f.admin.CreateOrg(t.Context(), "other", ""); err != nil {
		t.Fatal(err)
	}
	_, err := f.proxy.Invoke(httptest.NewRecorder(), invokeRequest(`{}`), "other", "svc", "go")
	errorOf(t, err, aiproxy.CodeNotFound, "No allowed credentials found for external proxy service 'svc'.")
}

// TestPinnedSource checks Fetch's pinned source: it overrides the policy
// order and never falls back.
func TestPinnedSource(t *testing.T) {
	tests := []struct {
		name    string
		pin     aiproxy.Source
		stored  []aiproxy.Source
		wantKey string
	}{
		{"unpinned follows policy", "", []aiproxy.Source{aiproxy.SourceTenant, aiproxy.SourcePlatform}, tenantKey},
		{"pinned platform", aiproxy.SourcePlatform, []aiproxy.Source{aiproxy.SourceTenant, aiproxy.SourcePlatform}, platformKey},
		{"pinned tenant", aiproxy.SourceTenant, []aiproxy.Source{aiproxy.SourceTenant, aiproxy.SourcePlatform}, tenantKey},
		{"pinned tenant missing does not fall back", aiproxy.SourceTenant, []aiproxy.Source{aiproxy.SourcePlatform}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, nil)
			svc := testService(up.URL, bothPolicy, aiproxy.Endpoint{Slug: "status", PathTemplate: "/v1/status/{id}",
				HTTPMethod: "GET", RequestMode: aiproxy.RequestRaw, ResponseMode: aiproxy.ResponseJSON})
			f := newFixture(t, services{"svc": svc}, Config{})
			for _, src := range tc.stored {
				key := map[aiproxy.Source]string{aiproxy.SourceTenant: tenantKey, aiproxy.SourcePlatform: platformKey}[src]
				f.setCredential(t, src, "svc", key)
			}
			env := Envelope{PathParams: map[string]string{"id": "v 1"}, Query: map[string][]string{"a": {"b"}}}
			svc2, _ := f.cat.Service("svc")
			ep, _ := svc2.Endpoint("status")
			a, err := f.proxy.Fetch(context.Background(), testOrg, svc2, ep, env, tc.pin)
			if tc.wantKey == "" {
				errorOf(t, err, aiproxy.CodeNotFound, "")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a.Close()
			got := up.only(t)
			if got.Header.Get("X-Test-Key") != tc.wantKey || got.RawPath != "/v1/status/v%201" || got.RawQuery != "a=b" {
				t.Fatalf("upstream got key %q path %q query %q", got.Header.Get("X-Test-Key"), got.RawPath, got.RawQuery)
			}
		})
	}
}

// TestCredentialUnreadable checks that a credential the vault cannot open
// is an internal error that names neither the secret nor a 404.
func TestCredentialUnreadable(t *testing.T) {
	up := newUpstream(t, nil)
	svc := testService(up.URL, bothPolicy, aiproxy.Endpoint{Slug: "go", RequestMode: aiproxy.RequestJSON, ResponseMode: aiproxy.ResponseJSON})
	f := newFixture(t, services{"svc": svc}, Config{})
	f.setCredential(t, aiproxy.SourceTenant, "svc", tenantKey)
	f.setCredential(t, aiproxy.SourcePlatform, "svc", platformKey)
	other, err := vault.New(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	p := New(Config{Catalog: f.cat, Credentials: f.db, Vault: other})
	_, err = p.Invoke(httptest.NewRecorder(), invokeRequest(`{}`), testOrg, "svc", "go")
	if err == nil || aiproxy.ErrorCode(err) != aiproxy.CodeInternal {
		t.Fatalf("err = %v, want an internal error", err)
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("upstream received %d requests; a broken tenant credential must not fall back", n)
	}
}

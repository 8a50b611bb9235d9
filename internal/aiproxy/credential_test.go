package aiproxy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestCredentialPolicySources(t *testing.T) {
	T, P := SourceTenant, SourcePlatform
	tests := []struct {
		name  string
		p     CredentialPolicy
		want  []Source
		no400 bool
	}{
		{"contract example", CredentialPolicy{true, true, T, true}, []Source{T, P}, true},
		{"tenant only seeded default", CredentialPolicy{true, false, T, false}, []Source{T}, true},
		{"both allowed, no fallback", CredentialPolicy{true, true, T, false}, []Source{T}, true},
		{"platform first with fallback", CredentialPolicy{true, true, P, true}, []Source{P, T}, true},
		{"platform first no fallback", CredentialPolicy{true, true, P, false}, []Source{P}, true},
		{"default tenant not allowed", CredentialPolicy{false, true, T, false}, []Source{P}, true},
		{"default platform not allowed", CredentialPolicy{true, false, P, false}, []Source{T}, true},
		{"empty default means tenant", CredentialPolicy{true, true, "", true}, []Source{T, P}, true},
		{"unknown default means tenant", CredentialPolicy{true, true, "bogus", false}, []Source{T}, true},
		{"fallback without platform allowed", CredentialPolicy{true, false, T, true}, []Source{T}, true},
		{"nothing allowed", CredentialPolicy{false, false, T, true}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.p.Sources()
			if !tc.no400 {
				var e *Error
				if !errors.As(err, &e) || e.Message != MsgPolicyNoSource || e.Field != FieldError || e.Code != CodeInvalid {
					t.Fatalf("err = %v, want the contract's 400", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Sources = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCredentialValueValidate(t *testing.T) {
	schema := map[string]string{"key": "string"}
	tests := []struct {
		name    string
		v       CredentialValue
		schema  map[string]string
		wantErr []string
	}{
		{"ok", CredentialValue{"key": "sk-1"}, schema, nil},
		{"missing", CredentialValue{}, schema, []string{`field "key" is required`}},
		{"nil value", nil, schema, []string{`field "key" is required`}},
		{"blank", CredentialValue{"key": "  \t"}, schema, []string{`field "key" is required`}},
		{"extra", CredentialValue{"key": "x", "org": "y"}, schema, []string{`field "org" is not in the credential schema`}},
		{"both", CredentialValue{"kee": "x"}, schema, []string{`field "key" is required`, `field "kee" is not in the credential schema`}},
		{"two fields", CredentialValue{"key": "a", "secret": "b"}, map[string]string{"key": "string", "secret": "string"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.v.Validate(tc.schema)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if ErrorCode(err) != CodeInvalid {
				t.Fatalf("Validate = %v, want an invalid error", err)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			for _, secret := range tc.v {
				if strings.TrimSpace(secret) != "" && strings.Contains(err.Error(), secret) && len(secret) > 1 {
					t.Errorf("error %q echoes a secret value", err)
				}
			}
		})
	}
}

func TestMaskSecret(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "****"},
		{"short", "****"},
		{"elevenchars", "****"},
		{"twelve-chars", "****hars"},
		{"sk_live_0123456789abcdef", "****cdef"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got := MaskSecret(tc.in)
			if got != tc.want {
				t.Fatalf("MaskSecret(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if len(tc.in) >= 8 && strings.Contains(got, tc.in[:len(tc.in)-4]) {
				t.Fatalf("mask shows more than the last four characters")
			}
		})
	}
	m := CredentialValue{"key": "sk_live_0123456789abcdef", "pin": "123"}.Masked()
	if !reflect.DeepEqual(m, map[string]string{"key": "****cdef", "pin": "****"}) {
		t.Fatalf("Masked = %v", m)
	}
}

func TestCredentialAAD(t *testing.T) {
	a := Credential{Source: SourceTenant, OrgKey: "acme", Name: "heygen"}.AAD()
	if string(a) != "tenant/acme/heygen" {
		t.Fatalf("AAD = %q", a)
	}
	b := Credential{Source: SourcePlatform, Name: "heygen"}.AAD()
	c := Credential{Source: SourceTenant, OrgKey: "other", Name: "heygen"}.AAD()
	if string(a) == string(b) || string(a) == string(c) {
		t.Fatal("AAD does not tell rows apart")
	}
}

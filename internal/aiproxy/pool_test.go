package aiproxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	poolSecretA = "sk-pool-secret-aaaa-0001"
	poolSecretB = "sk-pool-secret-bbbb-0002"
)

func poolValue(t *testing.T, text string) CredentialValue {
	t.Helper()
	var v CredentialValue
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("Unmarshal(%s): %v", text, err)
	}
	return v
}

func TestCredentialValueJSONKeepsPools(t *testing.T) {
	text := `{"keys":[{"id":"k1","key":"` + poolSecretA + `","weight":2,"max_concurrency":4},{"id":"k2","key":"` + poolSecretB + `"}]}`
	v := poolValue(t, text)
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var back, want any
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("Marshal wrote %s: %v", out, err)
	}
	_ = json.Unmarshal([]byte(text), &want)
	if !reflect.DeepEqual(back, want) {
		t.Fatalf("round trip = %s, want %s", out, text)
	}
	single := poolValue(t, `{"key":"`+poolSecretA+`"}`)
	if !reflect.DeepEqual(single, CredentialValue{"key": poolSecretA}) {
		t.Fatalf("single = %v", single)
	}
	for _, bad := range []string{`{"key":1}`, `{"key":["x"]}`, `{"other":[{"id":"k"}]}`, `["x"]`, `"x"`} {
		var v CredentialValue
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("Unmarshal(%s) = %v, want an error", bad, v)
		}
	}
}

func TestPoolKeys(t *testing.T) {
	schema := map[string]string{"key": "string"}
	keys, err := poolValue(t, `{"keys":[{"id":"k1","key":"`+poolSecretA+`","weight":3,"max_concurrency":2},{"id":"k-2","key":"`+poolSecretB+`"}]}`).PoolKeys(schema)
	if err != nil {
		t.Fatal(err)
	}
	want := []PoolKey{
		{ID: "k1", Weight: 3, MaxConcurrency: 2, Value: CredentialValue{"key": poolSecretA}},
		{ID: "k-2", Weight: 1, Value: CredentialValue{"key": poolSecretB}},
	}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("PoolKeys = %+v, want %+v", keys, want)
	}
	one, err := CredentialValue{"key": poolSecretA}.PoolKeys(schema)
	if err != nil || len(one) != 1 || one[0].ID != "" || one[0].Weight != 1 || one[0].Value["key"] != poolSecretA {
		t.Fatalf("PoolKeys(one key) = %+v, %v", one, err)
	}

	key := func(fields string) string { return `{"id":"k1","key":"` + poolSecretA + `"` + fields + `}` }
	tests := []struct {
		name, keys string
		want       []string
	}{
		{"empty", `[]`, []string{`must hold 1 to 32 keys`}},
		{"not a list", `{"id":"k1"}`, []string{`must be a list of key objects`}},
		{"no id", `[{"key":"` + poolSecretA + `"}]`, []string{`keys[0]: id is required`}},
		{"bad id", `[{"id":"k 1","key":"` + poolSecretA + `"}]`, []string{`keys[0]: id is required`}},
		{"duplicate id", `[` + key("") + `,{"id":"k1","key":"` + poolSecretB + `"}]`, []string{`keys[1]: id "k1" is used twice`}},
		{"duplicate key", `[` + key("") + `,{"id":"k2","key":"` + poolSecretA + `"}]`, []string{`keys[1]: the same key as "k1"`}},
		{"weight zero", `[` + key(`,"weight":0`) + `]`, []string{`weight must be an integer from 1 to 1000`}},
		{"weight fraction", `[` + key(`,"weight":1.5`) + `]`, []string{`weight must be an integer`}},
		{"negative cap", `[` + key(`,"max_concurrency":-1`) + `]`, []string{`max_concurrency must be an integer from 0 to 10000`}},
		{"missing field", `[{"id":"k1"}]`, []string{`keys[0]: field "key" is required`}},
		{"unknown field", `[` + key(`,"account":"x"`) + `]`, []string{`keys[0]: field "account" is not in the credential schema`}},
		{"field not a string", `[{"id":"k1","key":7}]`, []string{`keys[0]: field "key" must be a string`}},
		{"two problems", `[{"id":"k1","weight":0}]`, []string{`weight must be`, `field "key" is required`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := CredentialValue{PoolField: tc.keys}
			_, err := v.PoolKeys(schema)
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalid {
				t.Fatalf("PoolKeys = %v, want an invalid error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(e.Message, w) {
					t.Errorf("message %q lacks %q", e.Message, w)
				}
			}
			for _, secret := range []string{poolSecretA, poolSecretB} {
				if strings.Contains(e.Message, secret) {
					t.Fatalf("message %q shows a secret", e.Message)
				}
			}
			if verr := v.Validate(schema); verr == nil || verr.Error() != err.Error() {
				t.Fatalf("Validate = %v, want the PoolKeys error", verr)
			}
		})
	}
	if err := (CredentialValue{PoolField: `[` + key("") + `]`, "key": "x"}).Validate(schema); err == nil ||
		!strings.Contains(err.Error(), `field "key" is not allowed beside "keys"`) {
		t.Fatalf("Validate(pool and key) = %v", err)
	}
	withKeysField := map[string]string{"keys": "string"}
	if err := (CredentialValue{"keys": "plain"}).Validate(withKeysField); err != nil {
		t.Fatalf("a schema that names keys takes it as a plain field: %v", err)
	}
}

func TestNewPoolValue(t *testing.T) {
	v := NewPoolValue(PoolKey{ID: "k1", Weight: 2, MaxConcurrency: 3, Value: CredentialValue{"key": poolSecretA}},
		PoolKey{ID: "k2", Value: CredentialValue{"key": poolSecretB}})
	keys, err := v.PoolKeys(map[string]string{"key": "string"})
	want := []PoolKey{
		{ID: "k1", Weight: 2, MaxConcurrency: 3, Value: CredentialValue{"key": poolSecretA}},
		{ID: "k2", Weight: 1, Value: CredentialValue{"key": poolSecretB}},
	}
	if err != nil || !reflect.DeepEqual(keys, want) {
		t.Fatalf("NewPoolValue read back = %+v, %v", keys, err)
	}
}

func TestPoolMaskedShowsIDsWeightsAndCaps(t *testing.T) {
	v := poolValue(t, `{"keys":[{"id":"k1","key":"`+poolSecretA+`","weight":2,"max_concurrency":4},{"id":"k2","key":"`+poolSecretB+`"}]}`)
	want := map[string]string{
		"keys/k1/key": "****0001", "keys/k1/weight": "2", "keys/k1/max_concurrency": "4",
		"keys/k2/key": "****0002", "keys/k2/weight": "1",
	}
	if got := v.Masked(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Masked = %v, want %v", got, want)
	}
	infos := PoolKeysFromMasked(v.Masked())
	wantInfos := []PoolKeyInfo{
		{ID: "k1", Weight: 2, MaxConcurrency: 4, Masked: map[string]string{"key": "****0001"}},
		{ID: "k2", Weight: 1, Masked: map[string]string{"key": "****0002"}},
	}
	if !reflect.DeepEqual(infos, wantInfos) {
		t.Fatalf("PoolKeysFromMasked = %+v, want %+v", infos, wantInfos)
	}
	if got := PoolKeysFromMasked(CredentialValue{"key": poolSecretA}.Masked()); got != nil {
		t.Fatalf("PoolKeysFromMasked(one key) = %+v, want nil", got)
	}
	keys, _ := v.PoolKeys(map[string]string{"key": "string"})
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "value", v, "key", keys[0])
	for _, out := range []string{logged.String(), v.String(), fmt.Sprint(v)} {
		if strings.Contains(out, poolSecretA) || strings.Contains(out, poolSecretB) {
			t.Fatalf("a pool printed its secret: %s", out)
		}
	}
}

func TestKeyStatusSupersedes(t *testing.T) {
	now := time.Unix(1000, 0)
	healthy := KeyStatus{}
	rest := func(s int) KeyStatus {
		return KeyStatus{State: KeyResting, Until: now.Add(time.Duration(s) * time.Second)}
	}
	removed := KeyStatus{State: KeyRemoved, Since: now}
	tests := []struct {
		name     string
		new, old KeyStatus
		want     bool
	}{
		{"rest over health", rest(10), healthy, true},
		{"removal over health", removed, healthy, true},
		{"removal over rest", removed, rest(10), true},
		{"later rest", rest(20), rest(10), true},
		{"earlier rest", rest(5), rest(10), false},
		{"rest over a rest that ended", rest(5), rest(-1), true},
		{"rest over removal", rest(10), removed, false},
		{"removal over removal", removed, removed, false},
		{"health supersedes nothing", healthy, rest(10), false},
	}
	for _, tc := range tests {
		if got := tc.new.Supersedes(tc.old, now); got != tc.want {
			t.Errorf("%s: Supersedes = %v, want %v", tc.name, got, tc.want)
		}
	}
	if st := rest(-1).At(now); st.State != KeyHealthy {
		t.Fatalf("an ended rest At now = %+v, want healthy", st)
	}
	if st := rest(1).At(now); st.State != KeyResting {
		t.Fatalf("a rest At now = %+v, want resting", st)
	}
}

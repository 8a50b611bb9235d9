package aiproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Key pools. A credential's value holds either one provider key, shaped by
// the service's credential_schema ({"key": "…"}), or a pool of several under
// PoolField:
//
//	{"keys": [{"id": "k1", "key": "…", "weight": 2, "max_concurrency": 4},
//	          {"id": "k2", "key": "…"}]}
//
// Each key of a pool carries the schema's fields, an id that names it in
// the admin API, the audit log and a job's record, a weight (default 1) and
// an optional cap on its calls in flight. A value of one key behaves as a
// pool of one whose health is not tracked.

// PoolField is the credential field that holds a pool's keys. A service
// whose credential_schema names a field "keys" cannot have pools.
const PoolField = "keys"

// Bounds on a pool.
const (
	// MaxPoolKeys bounds the keys of one pool.
	MaxPoolKeys = 32
	// MaxPoolKeyWeight bounds a key's weight; weights start at 1.
	MaxPoolKeyWeight = 1000
	// MaxPoolKeyConcurrency bounds a key's cap on calls in flight.
	MaxPoolKeyConcurrency = 10000
	// maxPoolKeyID bounds a key id, in bytes.
	maxPoolKeyID = 64
)

// The members of a pool key that are not secret fields.
const (
	poolKeyID             = "id"
	poolKeyWeight         = "weight"
	poolKeyMaxConcurrency = "max_concurrency"
)

// PoolKey is one provider key of a pool, with its secret fields in Value.
type PoolKey struct {
	ID string
	// Weight is the key's share of the calls among the healthy keys.
	Weight int
	// MaxConcurrency caps the key's calls in flight; 0 means no cap.
	MaxConcurrency int
	// Value holds the key's fields, as one credential of the schema would.
	Value CredentialValue
}

// LogValue shows a pool key's id, weight and cap with its masked fields,
// never its secret.
func (k PoolKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.Int("weight", k.Weight),
		slog.Int("max_concurrency", k.MaxConcurrency), slog.Any("masked", k.Value.Masked()))
}

// ValidPoolKeyID reports whether id may name a key of a pool: 1 to 64
// ASCII letters, digits, '-' or '_'.
func ValidPoolKeyID(id string) bool {
	if id == "" || len(id) > maxPoolKeyID {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// IsPool reports whether the value holds a pool of keys rather than one
// key of the schema.
func (v CredentialValue) IsPool(schema map[string]string) bool {
	_, pooled := v[PoolField]
	_, named := schema[PoolField]
	return pooled && !named
}

// PoolKeys returns the keys of a pool, checked against the schema each key
// follows: every key has an id of its own, the schema's fields and no
// others, a weight from 1 to MaxPoolKeyWeight and a cap from 0 to
// MaxPoolKeyConcurrency, and no two keys are the same. A value that is not
// a pool is the one key it holds, with no id and weight 1. Every problem
// is reported at once, never a secret.
func (v CredentialValue) PoolKeys(schema map[string]string) ([]PoolKey, error) {
	if !v.IsPool(schema) {
		return []PoolKey{{Weight: 1, Value: v}}, nil
	}
	var problems []string
	for _, f := range sortedKeys(v) {
		if f != PoolField {
			problems = append(problems, fmt.Sprintf("field %q is not allowed beside %q", f, PoolField))
		}
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v[PoolField]), &raw); err != nil {
		problems = append(problems, fmt.Sprintf("%q must be a list of key objects", PoolField))
		return nil, invalidCredential(problems)
	}
	if len(raw) == 0 || len(raw) > MaxPoolKeys {
		problems = append(problems, fmt.Sprintf("%q must hold 1 to %d keys", PoolField, MaxPoolKeys))
	}
	keys := make([]PoolKey, 0, len(raw))
	for i, m := range raw {
		k, kp := parsePoolKey(i, m, schema)
		problems = append(problems, kp...)
		for _, prev := range keys {
			if k.ID != "" && prev.ID == k.ID {
				problems = append(problems, fmt.Sprintf("keys[%d]: id %q is used twice", i, k.ID))
			}
			if len(k.Value) > 0 && maps.Equal(prev.Value, k.Value) {
				problems = append(problems, fmt.Sprintf("keys[%d]: the same key as %q", i, prev.ID))
			}
		}
		keys = append(keys, k)
	}
	if len(problems) > 0 {
		return nil, invalidCredential(problems)
	}
	return keys, nil
}

// NewPoolValue returns the credential value of a pool of keys, for code
// that builds one (the demo, tests). A weight of 0 is left out (1); the
// value is checked when it is set, as any other.
func NewPoolValue(keys ...PoolKey) CredentialValue {
	list := make([]map[string]any, len(keys))
	for i, k := range keys {
		m := map[string]any{poolKeyID: k.ID}
		for f, s := range k.Value {
			m[f] = s
		}
		if k.Weight != 0 {
			m[poolKeyWeight] = k.Weight
		}
		if k.MaxConcurrency != 0 {
			m[poolKeyMaxConcurrency] = k.MaxConcurrency
		}
		list[i] = m
	}
	text, _ := json.Marshal(list) // strings and integers only
	return CredentialValue{PoolField: string(text)}
}

// parsePoolKey reads the i-th key of a pool and the problems it has.
func parsePoolKey(i int, m map[string]json.RawMessage, schema map[string]string) (PoolKey, []string) {
	at := fmt.Sprintf("keys[%d]", i)
	if m == nil {
		return PoolKey{}, []string{at + " must be an object"}
	}
	var problems []string
	k := PoolKey{Weight: 1, Value: CredentialValue{}}
	if err := json.Unmarshal(m[poolKeyID], &k.ID); err != nil || !ValidPoolKeyID(k.ID) {
		problems = append(problems, at+": id is required: 1 to 64 letters, digits, '-' or '_'")
		k.ID = ""
	}
	if r, ok := m[poolKeyWeight]; ok {
		if err := json.Unmarshal(r, &k.Weight); err != nil || k.Weight < 1 || k.Weight > MaxPoolKeyWeight {
			problems = append(problems, fmt.Sprintf("%s: weight must be an integer from 1 to %d", at, MaxPoolKeyWeight))
		}
	}
	if r, ok := m[poolKeyMaxConcurrency]; ok {
		if err := json.Unmarshal(r, &k.MaxConcurrency); err != nil || k.MaxConcurrency < 0 || k.MaxConcurrency > MaxPoolKeyConcurrency {
			problems = append(problems, fmt.Sprintf("%s: max_concurrency must be an integer from 0 to %d", at, MaxPoolKeyConcurrency))
		}
	}
	for _, f := range sortedKeys(m) {
		switch _, inSchema := schema[f]; {
		case f == poolKeyID || f == poolKeyWeight || f == poolKeyMaxConcurrency:
		case !inSchema:
			problems = append(problems, fmt.Sprintf("%s: field %q is not in the credential schema", at, f))
		default:
			var s string
			if err := json.Unmarshal(m[f], &s); err != nil {
				problems = append(problems, fmt.Sprintf("%s: field %q must be a string", at, f))
			}
			k.Value[f] = s
		}
	}
	for _, f := range sortedKeys(schema) {
		if strings.TrimSpace(k.Value[f]) == "" {
			problems = append(problems, fmt.Sprintf("%s: field %q is required", at, f))
		}
	}
	return k, problems
}

func invalidCredential(problems []string) error {
	return Errorf(CodeInvalid, "Invalid credential: %s.", strings.Join(problems, "; "))
}

// maskedPool is the masked preview of a pool: for each key, each secret
// field masked under "keys/ID/FIELD", and its "keys/ID/weight" and
// "keys/ID/max_concurrency" (when capped) in clear, so that an operator
// tells the keys apart and sees how they share the calls.
func maskedPool(v CredentialValue) (map[string]string, bool) {
	var raw []map[string]json.RawMessage
	if json.Unmarshal([]byte(v[PoolField]), &raw) != nil {
		return nil, false
	}
	out := map[string]string{}
	for _, m := range raw {
		var id string
		if json.Unmarshal(m[poolKeyID], &id) != nil || !ValidPoolKeyID(id) {
			return nil, false
		}
		weight, capN := 1, 0
		_ = json.Unmarshal(m[poolKeyWeight], &weight)
		_ = json.Unmarshal(m[poolKeyMaxConcurrency], &capN)
		prefix := PoolField + "/" + id + "/"
		out[prefix+poolKeyWeight] = strconv.Itoa(weight)
		if capN > 0 {
			out[prefix+poolKeyMaxConcurrency] = strconv.Itoa(capN)
		}
		for f, r := range m {
			if f == poolKeyID || f == poolKeyWeight || f == poolKeyMaxConcurrency {
				continue
			}
			var s string
			_ = json.Unmarshal(r, &s)
			out[prefix+f] = MaskSecret(s)
		}
	}
	return out, true
}

// PoolKeyInfo is a key of a pool as its credential's masked preview shows
// it: no secret.
type PoolKeyInfo struct {
	ID             string
	Weight         int
	MaxConcurrency int
	// Masked holds the key's fields masked, by field name.
	Masked map[string]string
}

// PoolKeysFromMasked reads the keys of a pool back from its credential's
// masked preview, in id order; nil when the credential holds one key.
func PoolKeysFromMasked(masked map[string]string) []PoolKeyInfo {
	byID := map[string]*PoolKeyInfo{}
	for name, val := range masked {
		rest, ok := strings.CutPrefix(name, PoolField+"/")
		id, field, ok2 := strings.Cut(rest, "/")
		if !ok || !ok2 || !ValidPoolKeyID(id) {
			continue
		}
		k := byID[id]
		if k == nil {
			k = &PoolKeyInfo{ID: id, Weight: 1, Masked: map[string]string{}}
			byID[id] = k
		}
		switch field {
		case poolKeyWeight:
			k.Weight, _ = strconv.Atoi(val)
		case poolKeyMaxConcurrency:
			k.MaxConcurrency, _ = strconv.Atoi(val)
		default:
			k.Masked[field] = val
		}
	}
	out := make([]PoolKeyInfo, 0, len(byID))
	for _, id := range slices.Sorted(maps.Keys(byID)) {
		out = append(out, *byID[id])
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// UnmarshalJSON reads a credential value: an object of strings, whose
// PoolField may instead be a list of key objects, which is kept as its
// compact JSON text for PoolKeys to read.
func (v *CredentialValue) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("a credential value must be a JSON object: %w", err)
	}
	out := make(CredentialValue, len(raw))
	for f, r := range raw {
		var s string
		if err := json.Unmarshal(r, &s); err == nil {
			out[f] = s
			continue
		}
		var list bytes.Buffer
		if f != PoolField || !isJSONList(r) || json.Compact(&list, r) != nil {
			return fmt.Errorf("credential field %q must be a string (or, for %q, a list of keys)", f, PoolField)
		}
		out[f] = list.String()
	}
	*v = out
	return nil
}

// MarshalJSON writes a credential value as UnmarshalJSON reads it: a pool's
// keys as a list again.
func (v CredentialValue) MarshalJSON() ([]byte, error) {
	if v == nil {
		return []byte("null"), nil
	}
	m := make(map[string]any, len(v))
	for f, s := range v {
		if f == PoolField && isJSONList([]byte(s)) && json.Valid([]byte(s)) {
			m[f] = json.RawMessage(s)
			continue
		}
		m[f] = s
	}
	return json.Marshal(m)
}

func isJSONList(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '['
}

// KeyState is the health of one key of a pool.
type KeyState string

// The states of a pool key: healthy keys take calls; a resting one takes
// none until its rest ends (the provider refused it for a rate limit or a
// quota); a removed one takes none until an admin restores it or the
// credential is replaced (the provider refused it as invalid or revoked).
const (
	KeyHealthy KeyState = "healthy"
	KeyResting KeyState = "resting"
	KeyRemoved KeyState = "removed"
)

// KeyStatus is the health of one pool key and its calls in flight.
type KeyStatus struct {
	State KeyState
	// Reason says why the key rests or was removed, such as
	// "provider answered 401 invalid_api_key"; never a secret.
	Reason string
	// Since is when the key entered its state; Until is when a rest ends.
	Since, Until time.Time
	// InFlight counts the key's calls at the provider now.
	InFlight int
}

// At returns the status as of now: a rest that has ended is healthy again.
func (s KeyStatus) At(now time.Time) KeyStatus {
	if s.State == "" || s.State == KeyHealthy || (s.State == KeyResting && !now.Before(s.Until)) {
		return KeyStatus{State: KeyHealthy, InFlight: s.InFlight}
	}
	return s
}

// Supersedes reports whether a new rest or removal s replaces the status
// old as of now: anything replaces health; a removal replaces a rest; a
// rest replaces an earlier-ending one; nothing but a restore undoes a
// removal. Every engine of key health applies this rule, so that replicas
// racing to report the same key agree and only one of them sees a change.
func (s KeyStatus) Supersedes(old KeyStatus, now time.Time) bool {
	old = old.At(now)
	switch {
	case s.State != KeyResting && s.State != KeyRemoved:
		return false
	case old.State == KeyHealthy:
		return true
	case old.State == KeyRemoved:
		return false
	case s.State == KeyRemoved:
		return true
	}
	return s.Until.After(old.Until)
}

// PoolRef names the pool of one credential: its source, its owner (""
// for the platform) and its name.
type PoolRef struct {
	Source Source
	OrgKey string
	Name   string
}

// String is the pool's name in shared state and logs, such as
// "platform//heygen" or "tenant/acme/elevenlabs".
func (r PoolRef) String() string { return string(r.Source) + "/" + r.OrgKey + "/" + r.Name }

// PoolKeyReport is one key of a pool as an admin sees it: its settings, its
// masked fields and its health.
type PoolKeyReport struct {
	Info   PoolKeyInfo
	Status KeyStatus
}

// PoolKeyCount counts the pool keys of one state for a service and source,
// for metrics.
type PoolKeyCount struct {
	Service string
	Source  Source
	State   KeyState
	Keys    int
}

// The audited changes of pool keys.
const (
	// AuditPoolKeyRemoved is a key taken out of its pool after the provider
	// refused it as invalid or revoked, by ActorAiproxy.
	AuditPoolKeyRemoved AuditAction = "credential.key_removed"
	// AuditPoolKeyRestored is a removed or resting key an admin put back.
	AuditPoolKeyRestored AuditAction = "credential.key_restored"
)

// ActorAiproxy is the actor of changes aiproxy makes on its own, such as a
// key taken out of its pool after a provider refused it.
const ActorAiproxy = "aiproxy"

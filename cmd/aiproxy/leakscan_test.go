package main

import (
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
)

// partialRun is how many characters of a secret in a row count as a leak.
// A masked preview shows four ("****abcd"); eight never appear by design.
const partialRun = 8

// secretText is a secret that TestNoSecretsLeak looks for: whole, and as
// any partialRun characters in a row of its random part. The rest of the
// secret (an "aip_<id>_" prefix, say) is public and may show.
type secretText struct {
	name   string
	whole  string
	random string
}

// leakScanner finds secrets, whole or in part, in text.
type leakScanner struct {
	secrets []secretText
	// runs maps every partialRun-long run of a random part to its secret.
	runs map[string]string
}

func newLeakScanner(secrets ...secretText) *leakScanner {
	s := &leakScanner{secrets: secrets, runs: map[string]string{}}
	for _, sec := range secrets {
		for i := 0; i+partialRun <= len(sec.random); i++ {
			s.runs[sec.random[i:i+partialRun]] = sec.name
		}
	}
	return s
}

// find describes each secret that data shows, by name and offset, never
// by the text found.
func (s *leakScanner) find(data []byte) []string {
	var found []string
	for _, sec := range s.secrets {
		if i := strings.Index(string(data), sec.whole); i >= 0 {
			found = append(found, fmt.Sprintf("all of %s at offset %d", sec.name, i))
		}
	}
	seen := map[string]bool{}
	for i := 0; i+partialRun <= len(data); i++ {
		if name, ok := s.runs[string(data[i:i+partialRun])]; ok && !seen[name] {
			seen[name] = true
			found = append(found, fmt.Sprintf("%d characters of %s in a row at offset %d", partialRun, name, i))
		}
	}
	return found
}

// randomText returns n characters drawn from letters and digits. A run of
// eight carries about 47 bits, so that it shows in a few megabytes of
// output only by leaking; the demo's own hex keys carry 32, and would turn
// up by chance among the hex ids of a run about once in a few thousand.
func randomText(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// TestLeakScanner shows what the partial scan catches: a masked preview
// with four characters passes, one with eight does not, and neither does
// a run from the middle; the public prefix of a secret may show.
func TestLeakScanner(t *testing.T) {
	random := randomText(40)
	s := newLeakScanner(secretText{name: "heygen key", whole: "leak_hg_" + random, random: random})
	tests := []struct {
		text string
		leak bool
	}{
		{`{"masked": {"key": "****` + random[36:] + `"}}`, false},
		{`{"masked": {"key": "****` + random[32:] + `"}}`, true},
		{`detail=source=tenant key=****` + random[36:], false},
		{`error: upstream said ` + random[10:18] + ` is wrong`, true},
		{`X-Api-Key: leak_hg_` + random[:7] + `...`, false},
		{`X-Api-Key: leak_hg_` + random, true},
		{`no secret here, only leak_hg_ and ` + strings.Repeat("a", 40), false},
	}
	for i, tt := range tests {
		if got := s.find([]byte(tt.text)); (len(got) > 0) != tt.leak {
			t.Errorf("case %d: find = %v, want a leak: %v", i, got, tt.leak)
		}
	}
}

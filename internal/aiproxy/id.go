package aiproxy

import (
	"crypto/rand"
	"encoding/hex"
)

// NewID returns a new record id: a prefix that names the kind of record
// ("job_", "evt_", "whe_") and 24 random hex digits.
func NewID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

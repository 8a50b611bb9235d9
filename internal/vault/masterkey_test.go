package vault

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
)

func sha256Prefix(key []byte) []byte {
	sum := sha256.Sum256(key)
	return sum[:keyIDSize]
}

func TestParseMasterKey(t *testing.T) {
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(i*7 + 0xf0) // exercises base64's '+' '/' vs '-' '_'
	}
	hexKey := hex.EncodeToString(key)
	tests := []struct {
		name  string
		in    string
		want  []byte
		isErr bool
	}{
		{"hex lower", hexKey, key, false},
		{"hex upper", strings.ToUpper(hexKey), key, false},
		{"hex with whitespace", "  " + hexKey + "\n", key, false},
		{"base64 std", base64.StdEncoding.EncodeToString(key), key, false},
		{"base64 std raw", base64.RawStdEncoding.EncodeToString(key), key, false},
		{"base64 url", base64.URLEncoding.EncodeToString(key), key, false},
		{"base64 url raw", base64.RawURLEncoding.EncodeToString(key), key, false},
		{"base64 with newline", base64.StdEncoding.EncodeToString(key) + "\r\n", key, false},
		{"empty", "", nil, true},
		{"blank", " \t\n", nil, true},
		{"hex too short", hexKey[:62], nil, true},
		{"hex too long", hexKey + "00", nil, true},
		{"hex with bad digit", "zz" + hexKey[2:], nil, true},
		{"base64 of 16 bytes", base64.StdEncoding.EncodeToString(key[:16]), nil, true},
		{"base64 of 33 bytes", base64.StdEncoding.EncodeToString(append(bytes.Clone(key), 0)), nil, true},
		{"passphrase", "correct horse battery staple", nil, true},
		{"secret-looking garbage", "sk_live_SECRETVALUE!!", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMasterKey(tt.in)
			if tt.isErr {
				if err == nil {
					t.Fatalf("ParseMasterKey succeeded with %x, want error", got)
				}
				checkNoLeak(t, err.Error(), tt.in)
				return
			}
			if err != nil {
				t.Fatalf("ParseMasterKey: %v", err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("ParseMasterKey = %x, want %x", got, tt.want)
			}
		})
	}
}

var digits = regexp.MustCompile(`[0-9]+`)

// checkNoLeak fails unless an error message is one of ParseMasterKey's fixed
// messages, which carry at most numbers and so cannot quote the input.
func checkNoLeak(t *testing.T, msg, in string) {
	t.Helper()
	shape := digits.ReplaceAllString(msg, "#")
	switch shape {
	case "master key is empty",
		"master key decodes to # bytes, want #",
		"master key (# characters) is neither # hex characters nor base# of # bytes":
	default:
		t.Fatalf("ParseMasterKey(%q) error %q is not one of the fixed messages", in, msg)
	}
}

func TestGenerateMasterKey(t *testing.T) {
	s, err := GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 64 {
		t.Fatalf("GenerateMasterKey returned %d characters, want 64", len(s))
	}
	key, err := ParseMasterKey(s)
	if err != nil {
		t.Fatalf("ParseMasterKey(GenerateMasterKey()): %v", err)
	}
	if _, err := New(key); err != nil {
		t.Fatalf("New with generated key: %v", err)
	}
	if other, _ := GenerateMasterKey(); other == s {
		t.Fatal("two generated keys are equal")
	}
}

// FuzzParseMasterKey checks that parsing never panics, returns 32 bytes when
// it succeeds, and never echoes its input in an error.
func FuzzParseMasterKey(f *testing.F) {
	key := testKey(0xab)
	for _, s := range []string{
		hex.EncodeToString(key), base64.StdEncoding.EncodeToString(key),
		base64.RawURLEncoding.EncodeToString(key), "", "  ", "correct horse battery staple",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, err := ParseMasterKey(s)
		if err != nil {
			checkNoLeak(t, err.Error(), s)
			return
		}
		if len(key) != KeySize {
			t.Fatalf("ParseMasterKey returned %d bytes", len(key))
		}
	})
}

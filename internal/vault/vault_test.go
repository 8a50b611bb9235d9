package vault

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustVault(t testing.TB, primary []byte, older ...[]byte) *Vault {
	t.Helper()
	v, err := New(primary, older...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

func mustSeal(t testing.TB, v *Vault, plain, aad string) []byte {
	t.Helper()
	sealed, err := v.Seal([]byte(plain), []byte(aad))
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return sealed
}

func TestNewRejectsBadKeys(t *testing.T) {
	tests := []struct {
		name    string
		primary []byte
		older   [][]byte
	}{
		{"nil primary", nil, nil},
		{"short primary", make([]byte, 31), nil},
		{"long primary", make([]byte, 33), nil},
		{"aes-128 sized", make([]byte, 16), nil},
		{"short older", testKey(1), [][]byte{make([]byte, 8)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.primary, tt.older...); err == nil {
				t.Fatal("New succeeded, want error")
			}
		})
	}
}

func TestNewAcceptsRepeatedKey(t *testing.T) {
	v := mustVault(t, testKey(1), testKey(1), testKey(2))
	if len(v.aeads) != 2 {
		t.Fatalf("vault holds %d keys, want 2", len(v.aeads))
	}
}

func TestRoundTrip(t *testing.T) {
	v := mustVault(t, testKey(1))
	for _, plain := range []string{"", "x", `{"key":"sk-1234567890abcdef"}`, strings.Repeat("long ", 10000)} {
		sealed := mustSeal(t, v, plain, "tenant/acme/heygen")
		if len(sealed) != minSealed+len(plain) {
			t.Errorf("sealed length = %d, want %d", len(sealed), minSealed+len(plain))
		}
		got, err := v.Open(sealed, []byte("tenant/acme/heygen"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if string(got) != plain {
			t.Fatalf("Open = %q, want %q", got, plain)
		}
	}
}

func TestSealUsesFreshNonce(t *testing.T) {
	v := mustVault(t, testKey(1))
	a := mustSeal(t, v, "same", "aad")
	b := mustSeal(t, v, "same", "aad")
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are identical")
	}
}

func TestOpenFailures(t *testing.T) {
	v := mustVault(t, testKey(1))
	sealed := mustSeal(t, v, "secret", "tenant/acme/heygen")
	other := mustVault(t, testKey(2))

	tests := []struct {
		name   string
		vault  *Vault
		sealed []byte
		aad    string
		want   error
	}{
		{"wrong key", other, sealed, "tenant/acme/heygen", ErrUnknownKey},
		{"wrong aad", v, sealed, "tenant/acme/elevenlabs", ErrAuth},
		{"empty aad", v, sealed, "", ErrAuth},
		{"aad prefix", v, sealed, "tenant/acme/heyge", ErrAuth},
		{"nil", v, nil, "tenant/acme/heygen", ErrMalformed},
		{"header only", v, sealed[:headerSize], "tenant/acme/heygen", ErrMalformed},
		{"one short", v, sealed[:minSealed-1], "tenant/acme/heygen", ErrMalformed},
		{"truncated ciphertext", v, sealed[:len(sealed)-1], "tenant/acme/heygen", ErrAuth},
		{"bad version", v, withByte(sealed, 0, 2), "tenant/acme/heygen", ErrMalformed},
		{"garbage", v, bytes.Repeat([]byte{0xff}, 64), "x", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.vault.Open(tt.sealed, []byte(tt.aad))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open error = %v, want %v", err, tt.want)
			}
			if got != nil {
				t.Fatalf("Open returned %q alongside an error", got)
			}
		})
	}
}

func withByte(b []byte, i int, v byte) []byte {
	out := bytes.Clone(b)
	out[i] = v
	return out
}

func TestOpenRejectsEveryTamperedByte(t *testing.T) {
	v := mustVault(t, testKey(1))
	sealed := mustSeal(t, v, "a secret worth protecting", "platform//heygen")
	for i := range sealed {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			tampered := withByte(sealed, i, sealed[i]^mask)
			if _, err := v.Open(tampered, []byte("platform//heygen")); err == nil {
				t.Fatalf("Open accepted a blob with byte %d flipped by %#x", i, mask)
			}
		}
	}
}

func TestOlderKeyStillOpens(t *testing.T) {
	old := mustVault(t, testKey(1))
	sealed := mustSeal(t, old, "secret", "aad")

	rotated := mustVault(t, testKey(2), testKey(1))
	got, err := rotated.Open(sealed, []byte("aad"))
	if err != nil || string(got) != "secret" {
		t.Fatalf("Open after rotation = %q, %v", got, err)
	}
	resealed := mustSeal(t, rotated, string(got), "aad")
	if id, _ := SealedKeyID(resealed); id != rotated.KeyID() {
		t.Fatalf("resealed key id = %s, want the new primary %s", id, rotated.KeyID())
	}
	if _, err := old.Open(resealed, []byte("aad")); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old vault opened a blob sealed by the new key: %v", err)
	}
}

func TestReseal(t *testing.T) {
	old := mustVault(t, testKey(1))
	rotated := mustVault(t, testKey(2), testKey(1))
	sealed := mustSeal(t, old, "secret", "aad")

	resealed, fresh, err := rotated.Reseal(sealed, []byte("aad"))
	if err != nil || !fresh {
		t.Fatalf("Reseal of an old blob = fresh %v, %v; want a fresh blob", fresh, err)
	}
	if id, _ := SealedKeyID(resealed); id != rotated.KeyID() {
		t.Fatalf("resealed key id = %s, want the new primary %s", id, rotated.KeyID())
	}
	if got, err := mustVault(t, testKey(2)).Open(resealed, []byte("aad")); err != nil || string(got) != "secret" {
		t.Fatalf("the new key alone opens %q, %v; want the secret", got, err)
	}

	again, fresh, err := rotated.Reseal(resealed, []byte("aad"))
	if err != nil || fresh || again != nil {
		t.Fatalf("Reseal of a current blob = %x, fresh %v, %v; want nothing to do", again, fresh, err)
	}
	if _, _, err := rotated.Reseal(sealed, []byte("other")); !errors.Is(err, ErrAuth) {
		t.Fatalf("Reseal with the wrong aad: %v, want ErrAuth", err)
	}
	if _, _, err := mustVault(t, testKey(3)).Reseal(sealed, []byte("aad")); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Reseal without the old key: %v, want ErrUnknownKey", err)
	}
	if _, _, err := rotated.Reseal([]byte{1, 2}, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Reseal of garbage: %v, want ErrMalformed", err)
	}
}

func TestKeyIDs(t *testing.T) {
	v := mustVault(t, testKey(1))
	id := v.KeyID()
	if len(id) != 2*keyIDSize {
		t.Fatalf("KeyID = %q, want %d hex characters", id, 2*keyIDSize)
	}
	if _, err := hex.DecodeString(id); err != nil {
		t.Fatalf("KeyID %q is not hex", id)
	}
	if id == mustVault(t, testKey(2)).KeyID() {
		t.Fatal("two keys share an id")
	}
	if id != mustVault(t, testKey(1)).KeyID() {
		t.Fatal("key id is not stable")
	}
	// The id is not a bare hash of the key: the label separates the domains.
	if id == hex.EncodeToString(sha256Prefix(testKey(1))) {
		t.Fatal("key id is an unlabelled hash of the key")
	}

	got, err := SealedKeyID(mustSeal(t, v, "x", ""))
	if err != nil || got != id {
		t.Fatalf("SealedKeyID = %q, %v; want %q", got, err, id)
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, make([]byte, minSealed)} {
		if _, err := SealedKeyID(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("SealedKeyID(%x) error = %v, want ErrMalformed", bad, err)
		}
	}
}

// FuzzOpen feeds arbitrary blobs and aads to Open. It must never panic, and
// whatever it opens must be exactly what was sealed.
func FuzzOpen(f *testing.F) {
	v := mustVault(f, testKey(1), testKey(2))
	older := mustVault(f, testKey(2))
	sealed := mustSeal(f, v, "secret", "tenant/acme/heygen")
	seeds := []struct {
		sealed []byte
		aad    string
	}{
		{sealed, "tenant/acme/heygen"},
		{sealed, "tenant/acme/elevenlabs"},
		{sealed, ""},
		{mustSeal(f, v, "", ""), ""},
		{mustSeal(f, older, "old", "platform//heygen"), "platform//heygen"},
		{sealed[:headerSize], "tenant/acme/heygen"},
		{sealed[:minSealed-1], "tenant/acme/heygen"},
		{sealed[:len(sealed)-1], "tenant/acme/heygen"},
		{withByte(sealed, 0, 2), "tenant/acme/heygen"},
		{withByte(sealed, 1, sealed[1]^1), "tenant/acme/heygen"},
		{withByte(sealed, len(sealed)-1, sealed[len(sealed)-1]^1), "tenant/acme/heygen"},
		{bytes.Repeat([]byte{0xff}, 64), "x"},
		{nil, ""},
	}
	for _, s := range seeds {
		f.Add(s.sealed, []byte(s.aad))
	}
	f.Fuzz(func(t *testing.T, sealed, aad []byte) {
		plain, err := v.Open(sealed, aad)
		if err != nil {
			if plain != nil {
				t.Fatal("Open returned plaintext alongside an error")
			}
			return
		}
		if _, err := SealedKeyID(sealed); err != nil {
			t.Fatalf("Open accepted a blob SealedKeyID rejects: %v", err)
		}
		again, err := v.Open(mustSeal(t, v, string(plain), string(aad)), aad)
		if err != nil || !bytes.Equal(again, plain) {
			t.Fatalf("reseal round trip = %q, %v; want %q", again, err, plain)
		}
	})
}

// Package vault seals provider credentials with AES-256-GCM so that the
// database only ever holds ciphertext. It knows nothing about storage or HTTP:
// callers seal a value before writing it and open it after reading it.
//
// A sealed blob is laid out as
//
//	version (1 byte) | key id (4 bytes) | nonce (12 bytes) | ciphertext+tag
//
// The key id names the master key that sealed the blob, so a vault built with
// a new primary key and the old ones as older keys still opens every blob,
// and a rotation can find and re-seal the blobs of a retired key.
package vault

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// KeySize is the length in bytes of a master key.
const KeySize = 32

const (
	version1   byte = 1
	keyIDSize       = 4
	nonceSize       = 12
	headerSize      = 1 + keyIDSize + nonceSize
	// minSealed is the shortest well-formed blob: a header and a GCM tag
	// around an empty plaintext.
	minSealed = headerSize + 16
)

// keyIDLabel separates key ids from every other use of SHA-256 over a key, so
// that publishing an id reveals nothing usable elsewhere.
const keyIDLabel = "aiproxy/vault/key-id/v1\x00"

// ErrMalformed is returned by Open and SealedKeyID for input that is not a
// sealed blob of a known version.
var ErrMalformed = errors.New("vault: malformed sealed value")

// ErrUnknownKey is returned by Open when the blob was sealed with a key the
// vault does not hold.
var ErrUnknownKey = errors.New("vault: sealed with an unknown key")

// ErrAuth is returned by Open when the blob fails authentication: it was
// tampered with, or is being opened with different associated data.
var ErrAuth = errors.New("vault: message authentication failed")

type keyID [keyIDSize]byte

// Vault seals with its primary key and opens with the primary or any older
// key. It is safe for concurrent use.
type Vault struct {
	primary keyID
	aeads   map[keyID]cipher.AEAD
}

// New returns a vault that seals with primary and can also open blobs sealed
// with any of the older keys. Every key must be exactly 32 bytes.
func New(primary []byte, older ...[]byte) (*Vault, error) {
	v := &Vault{aeads: make(map[keyID]cipher.AEAD, 1+len(older))}
	id, err := v.add(primary)
	if err != nil {
		return nil, fmt.Errorf("primary key: %w", err)
	}
	v.primary = id
	for i, k := range older {
		if _, err := v.add(k); err != nil {
			return nil, fmt.Errorf("older key %d: %w", i+1, err)
		}
	}
	return v, nil
}

// add registers a key and returns its id. Adding the same key twice is
// allowed; two different keys with one id (a 1 in 2^32 chance) are not,
// because Open could not tell them apart.
func (v *Vault) add(key []byte) (keyID, error) {
	if len(key) != KeySize {
		return keyID{}, fmt.Errorf("vault: key is %d bytes, want %d", len(key), KeySize)
	}
	id := idOf(key)
	aead, err := newAEAD(key)
	if err != nil {
		return keyID{}, err
	}
	if prev, ok := v.aeads[id]; ok {
		if !sameKey(prev, aead) {
			return keyID{}, fmt.Errorf("vault: key id %x is shared by two different keys", id)
		}
		return id, nil
	}
	v.aeads[id] = aead
	return id, nil
}

// sameKey reports whether two AEADs use the same key, by sealing a fixed
// message with a fixed nonce under both. It runs only on an id collision.
func sameKey(a, b cipher.AEAD) bool {
	nonce := make([]byte, nonceSize)
	return bytes.Equal(a.Seal(nil, nonce, nil, nil), b.Seal(nil, nonce, nil, nil))
}

func idOf(key []byte) keyID {
	h := sha256.New()
	h.Write([]byte(keyIDLabel))
	h.Write(key)
	var id keyID
	copy(id[:], h.Sum(nil))
	return id
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return aead, nil
}

// KeyID returns the hex id of the primary key, the id that Seal writes.
func (v *Vault) KeyID() string { return hex.EncodeToString(v.primary[:]) }

// Seal encrypts plaintext with the primary key. aad binds the result to its
// context (for example "tenant/acme/heygen"): Open must be given the same aad.
func (v *Vault) Seal(plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, headerSize, headerSize+len(plaintext)+16)
	out[0] = version1
	copy(out[1:], v.primary[:])
	if _, err := rand.Read(out[1+keyIDSize : headerSize]); err != nil {
		return nil, fmt.Errorf("vault: read nonce: %w", err)
	}
	nonce := out[1+keyIDSize : headerSize]
	return v.aeads[v.primary].Seal(out, nonce, plaintext, additional(out[:1+keyIDSize], aad)), nil
}

// Open decrypts a blob made by Seal with any key the vault holds. It returns
// ErrMalformed, ErrUnknownKey or ErrAuth (wrapped) when it cannot.
func (v *Vault) Open(sealed, aad []byte) ([]byte, error) {
	id, err := parseHeader(sealed)
	if err != nil {
		return nil, err
	}
	aead, ok := v.aeads[id]
	if !ok {
		return nil, fmt.Errorf("%w: key id %x", ErrUnknownKey, id)
	}
	nonce := sealed[1+keyIDSize : headerSize]
	plain, err := aead.Open(nil, nonce, sealed[headerSize:], additional(sealed[:1+keyIDSize], aad))
	if err != nil {
		return nil, ErrAuth
	}
	return plain, nil
}

// SealedKeyID returns the hex id of the key that sealed a blob, so a rotation
// can tell which blobs still need re-sealing with the new primary key.
func SealedKeyID(sealed []byte) (string, error) {
	id, err := parseHeader(sealed)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(id[:]), nil
}

// Reseal opens a blob with whichever key sealed it and seals the plaintext
// again with the primary key, for a master-key rotation. fresh is false,
// and nothing is returned, when the primary key sealed the blob already.
func (v *Vault) Reseal(sealed, aad []byte) (resealed []byte, fresh bool, err error) {
	id, err := parseHeader(sealed)
	if err != nil {
		return nil, false, err
	}
	if id == v.primary {
		return nil, false, nil
	}
	plain, err := v.Open(sealed, aad)
	if err != nil {
		return nil, false, err
	}
	defer clear(plain)
	resealed, err = v.Seal(plain, aad)
	return resealed, err == nil, err
}

func parseHeader(sealed []byte) (keyID, error) {
	if len(sealed) < minSealed {
		return keyID{}, fmt.Errorf("%w: %d bytes is too short", ErrMalformed, len(sealed))
	}
	if sealed[0] != version1 {
		return keyID{}, fmt.Errorf("%w: unknown version %d", ErrMalformed, sealed[0])
	}
	var id keyID
	copy(id[:], sealed[1:1+keyIDSize])
	return id, nil
}

// additional authenticates the version and key id along with the caller's
// aad. The prefix has a fixed length, so the concatenation is unambiguous.
func additional(prefix, aad []byte) []byte {
	out := make([]byte, 0, len(prefix)+len(aad))
	return append(append(out, prefix...), aad...)
}

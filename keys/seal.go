package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// sealMagic starts every sealed payload: format version 1.
var sealMagic = []byte("PMS1")

// ErrSealed is returned for sealed data that cannot be opened.
var ErrSealed = errors.New("cannot open sealed data")

// Seal encrypts plaintext with the active sealing key (AES-256-GCM). The
// output names the key id so it can be opened after rotation; aad binds it
// to its context (for example a job id) without being stored.
func (r *Ring) Seal(plaintext, aad []byte) ([]byte, error) {
	k := r.Current()
	gcm, err := newGCM(k.Seal)
	if err != nil {
		return nil, err
	}
	if len(k.ID) > 255 {
		return nil, fmt.Errorf("key id too long")
	}
	out := make([]byte, 0, len(sealMagic)+1+len(k.ID)+gcm.NonceSize()+len(plaintext)+gcm.Overhead())
	out = append(out, sealMagic...)
	out = append(out, byte(len(k.ID)))
	out = append(out, k.ID...)
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal nonce: %w", err)
	}
	out = append(out, nonce...)
	return gcm.Seal(out, nonce, plaintext, aad), nil
}

// Open decrypts what Seal produced with the key it names.
func (r *Ring) Open(sealed, aad []byte) ([]byte, error) {
	if !bytes.HasPrefix(sealed, sealMagic) || len(sealed) < len(sealMagic)+1 {
		return nil, fmt.Errorf("%w: not a sealed payload", ErrSealed)
	}
	rest := sealed[len(sealMagic):]
	n := int(rest[0])
	if len(rest) < 1+n {
		return nil, fmt.Errorf("%w: short header", ErrSealed)
	}
	id := string(rest[1 : 1+n])
	k, ok := r.Get(id)
	if !ok {
		return nil, fmt.Errorf("%w: sealed with key id %q, which this key ring does not hold", ErrSealed, id)
	}
	gcm, err := newGCM(k.Seal)
	if err != nil {
		return nil, err
	}
	body := rest[1+n:]
	if len(body) < gcm.NonceSize() {
		return nil, fmt.Errorf("%w: short payload", ErrSealed)
	}
	plain, err := gcm.Open(nil, body[:gcm.NonceSize()], body[gcm.NonceSize():], aad)
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed", ErrSealed)
	}
	return plain, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	return cipher.NewGCM(block)
}

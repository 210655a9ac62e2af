// Package passwd is the one password hash of smppd: the SMPP front's client binds
// (accounts[].smpp.password_hash) and the operator console's logins
// (console.operators[].password_hash) store their passwords in its form, and `smppd passwd`
// makes it. Passwords are stored as PHC-like strings, never in clear:
//
//	pbkdf2-sha256$<iterations>$<salt, base64 raw std>$<key, base64 raw std>
//
// PBKDF2 (crypto/pbkdf2, standard library) with SHA-256, a 16-octet random salt and a
// 32-octet key; the iteration count makes each guess cost a few tens of milliseconds, so a
// leaked config file does not hand out working credentials at once.
package passwd

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

const (
	// Scheme is the hash's first field.
	Scheme = "pbkdf2-sha256"
	// DefaultIterations is Hash's PBKDF2 iteration count.
	DefaultIterations = 100_000
	// SaltLen and KeyLen are Hash's salt and key sizes in octets.
	SaltLen = 16
	KeyLen  = 32
	// maxIterations bounds what Check will compute for a stored hash, so a mistyped config
	// cannot turn every login into minutes of CPU.
	maxIterations = 10_000_000
)

// ErrBadHash is returned (wrapped) for a password hash that is not in Hash's form.
var ErrBadHash = errors.New("malformed password hash")

// Hash returns the stored form of password with DefaultIterations and a fresh random salt.
func Hash(password string) (string, error) { return HashIter(password, DefaultIterations) }

// HashIter is Hash with a chosen iteration count (tests use few, to stay fast).
func HashIter(password string, iter int) (string, error) {
	salt := make([]byte, SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, iter, KeyLen)
	if err != nil {
		return "", err
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("%s$%d$%s$%s", Scheme, iter, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// Hashed is a stored hash taken apart, ready to check passwords against.
type Hashed struct {
	iter      int
	salt, key []byte
}

// Dummy is a well-formed hash no password matches in practice: checked for unknown user
// names, so that they cost what a real check does and do not reveal which names exist.
func Dummy() Hashed {
	return Hashed{iter: DefaultIterations, salt: make([]byte, SaltLen), key: make([]byte, KeyLen)}
}

// Parse takes a stored hash apart; a malformed one is an ErrBadHash.
func Parse(h string) (Hashed, error) {
	f := strings.Split(h, "$")
	if len(f) != 4 || f[0] != Scheme {
		return Hashed{}, fmt.Errorf("%w: want %s$<iterations>$<salt>$<key>", ErrBadHash, Scheme)
	}
	iter, err := strconv.Atoi(f[1])
	if err != nil || iter < 1 || iter > maxIterations {
		return Hashed{}, fmt.Errorf("%w: iterations %q", ErrBadHash, f[1])
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(strings.TrimRight(f[2], "="))
	if err != nil || len(salt) < 8 {
		return Hashed{}, fmt.Errorf("%w: salt", ErrBadHash)
	}
	key, err := enc.DecodeString(strings.TrimRight(f[3], "="))
	if err != nil || len(key) < 16 {
		return Hashed{}, fmt.Errorf("%w: key", ErrBadHash)
	}
	return Hashed{iter: iter, salt: salt, key: key}, nil
}

// Check reports whether password matches, comparing in constant time.
func (p Hashed) Check(password string) bool {
	key, err := pbkdf2.Key(sha256.New, password, p.salt, p.iter, len(p.key))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(key, p.key) == 1
}

// Check reports whether password matches the stored hash. A malformed hash is an error (and
// never matches).
func Check(hash, password string) (bool, error) {
	p, err := Parse(hash)
	if err != nil {
		return false, err
	}
	return p.Check(password), nil
}

package smppfront

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

// Passwords are stored as PHC-like strings, never in clear:
//
//	pbkdf2-sha256$<iterations>$<salt, base64 raw std>$<key, base64 raw std>
//
// PBKDF2 (crypto/pbkdf2, standard library) with SHA-256, a 16-octet random salt and a
// 32-octet key. SMPP passwords are at most 8 characters, so the hash mostly keeps a leaked
// config file from handing out working credentials at once; the iteration count makes each
// guess cost a few tens of milliseconds.
const (
	hashScheme = "pbkdf2-sha256"
	// DefaultIterations is HashPassword's PBKDF2 iteration count.
	DefaultIterations = 100_000
	saltLen           = 16
	keyLen            = 32
	// maxIterations bounds what CheckPassword will compute for a stored hash, so a
	// mistyped config cannot turn every bind into minutes of CPU.
	maxIterations = 10_000_000
)

// ErrBadHash is returned (wrapped) for a password hash that is not in HashPassword's form.
var ErrBadHash = errors.New("smppfront: malformed password hash")

// HashPassword returns the stored form of password (see the format above), with
// DefaultIterations and a fresh random salt. The `smppd passwd` command prints it for the
// config's accounts[].smpp.password_hash.
func HashPassword(password string) (string, error) {
	return hashPassword(password, DefaultIterations)
}

func hashPassword(password string, iter int) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, iter, keyLen)
	if err != nil {
		return "", err
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("%s$%d$%s$%s", hashScheme, iter, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// parsedHash is a stored hash taken apart.
type parsedHash struct {
	iter      int
	salt, key []byte
}

func parseHash(h string) (parsedHash, error) {
	f := strings.Split(h, "$")
	if len(f) != 4 || f[0] != hashScheme {
		return parsedHash{}, fmt.Errorf("%w: want %s$<iterations>$<salt>$<key>", ErrBadHash, hashScheme)
	}
	iter, err := strconv.Atoi(f[1])
	if err != nil || iter < 1 || iter > maxIterations {
		return parsedHash{}, fmt.Errorf("%w: iterations %q", ErrBadHash, f[1])
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(strings.TrimRight(f[2], "="))
	if err != nil || len(salt) < 8 {
		return parsedHash{}, fmt.Errorf("%w: salt", ErrBadHash)
	}
	key, err := enc.DecodeString(strings.TrimRight(f[3], "="))
	if err != nil || len(key) < 16 {
		return parsedHash{}, fmt.Errorf("%w: key", ErrBadHash)
	}
	return parsedHash{iter: iter, salt: salt, key: key}, nil
}

// CheckPassword reports whether password matches the stored hash, comparing in constant
// time. A malformed hash is an error (and never matches).
func CheckPassword(hash, password string) (bool, error) {
	p, err := parseHash(hash)
	if err != nil {
		return false, err
	}
	return p.check(password), nil
}

func (p parsedHash) check(password string) bool {
	key, err := pbkdf2.Key(sha256.New, password, p.salt, p.iter, len(p.key))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(key, p.key) == 1
}

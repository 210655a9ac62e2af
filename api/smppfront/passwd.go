package smppfront

import (
	"github.com/smppd/smppd/internal/passwd"
)

// Passwords are stored in internal/passwd's form (pbkdf2-sha256, shared with the operator
// console's logins). SMPP passwords are at most 8 characters, so the hash mostly keeps a
// leaked config file from handing out working credentials at once.
const (
	// DefaultIterations is HashPassword's PBKDF2 iteration count.
	DefaultIterations = passwd.DefaultIterations
)

// ErrBadHash is returned (wrapped) for a password hash that is not in HashPassword's form.
var ErrBadHash = passwd.ErrBadHash

// HashPassword returns the stored form of password (internal/passwd.Hash). The `smppd
// passwd` command prints it for the config's accounts[].smpp.password_hash.
func HashPassword(password string) (string, error) { return passwd.Hash(password) }

func hashPassword(password string, iter int) (string, error) { return passwd.HashIter(password, iter) }

// parsedHash is a stored hash taken apart.
type parsedHash = passwd.Hashed

func parseHash(h string) (parsedHash, error) { return passwd.Parse(h) }

// CheckPassword reports whether password matches the stored hash, comparing in constant
// time. A malformed hash is an error (and never matches).
func CheckPassword(hash, password string) (bool, error) { return passwd.Check(hash, password) }

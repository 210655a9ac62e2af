// Package msisdn is the one home for phone-number rules: the forms API clients send
// (Normalise, Indian mobiles only, as 2Factor accepts them), the international form the
// dispatcher routes (International), the ten-digit form 2Factor's callbacks carry
// (National) and how a number is printed in logs (Mask). Errors are
// *Error, so each caller can answer in its own words for the same Problem.
package msisdn

import (
	"fmt"
	"strings"
)

// Problem is what is wrong with a number.
type Problem uint8

const (
	// NotDigits: empty, or something other than digits after the separators and a leading
	// '+' are dropped.
	NotDigits Problem = iota + 1
	// BadLength: digits, but not as many as the rule allows.
	BadLength
	// NotIndianMobile: ten digits that do not start with 6–9, the first digit of every Indian
	// mobile number.
	NotIndianMobile
)

func (p Problem) String() string {
	switch p {
	case NotDigits:
		return "not digits"
	case BadLength:
		return "wrong length"
	case NotIndianMobile:
		return "not an Indian mobile number"
	}
	return fmt.Sprintf("Problem(%d)", uint8(p))
}

// Error says which number was refused and why. Number is masked (see Mask), so the error
// can be logged as it is.
type Error struct {
	Number  string
	Problem Problem
	Want    string // the rule that was broken, e.g. "10 digits after 91 or 0"
}

func (e *Error) Error() string {
	return fmt.Sprintf("msisdn: %s: %s (want %s)", e.Number, e.Problem, e.Want)
}

const (
	wantIndian = "an Indian mobile: 10 digits, optionally after +91, 91 or 0"
	wantIntl   = "an international number of 8 to 15 digits, optionally after +"
)

// Normalise turns the forms real clients send (10 digits, 91…, +91…, 0…, with spaces,
// dashes, dots or brackets) into 91 followed by the 10 digits of an Indian mobile number.
// The error is an *Error: NotDigits, BadLength or NotIndianMobile.
func Normalise(s string) (string, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '(', ')', '.', '\t':
			return -1
		}
		return r
	}, s)
	s = strings.TrimPrefix(s, "+")
	if !digits(s) {
		return "", &Error{Number: Mask(s), Problem: NotDigits, Want: wantIndian}
	}
	switch {
	case len(s) == 12 && strings.HasPrefix(s, "91"):
		s = s[2:]
	case len(s) == 11 && s[0] == '0':
		s = s[1:]
	case len(s) != 10:
		return "", &Error{Number: Mask(s), Problem: BadLength, Want: wantIndian}
	}
	if s[0] < '6' {
		return "", &Error{Number: Mask(s), Problem: NotIndianMobile, Want: wantIndian}
	}
	return "91" + s, nil
}

// International returns s without a leading '+' if what is left is 8 to 15 digits: the
// country code and number of any country, which is what the dispatcher routes by prefix.
// Whatever Normalise returns passes. The error is an *Error: NotDigits or BadLength.
func International(s string) (string, error) {
	d := strings.TrimPrefix(s, "+")
	switch {
	case !digits(d):
		return "", &Error{Number: Mask(d), Problem: NotDigits, Want: wantIntl}
	case len(d) < 8 || len(d) > 15:
		return "", &Error{Number: Mask(d), Problem: BadLength, Want: wantIntl}
	}
	return d, nil
}

// National writes an Indian number the way 2Factor's delivery callbacks do, as its ten
// national digits: 919876543210 and +919876543210 become 9876543210. Other numbers are
// returned without a leading '+'.
func National(n string) string {
	n = strings.TrimPrefix(n, "+")
	if len(n) == 12 && strings.HasPrefix(n, "91") {
		return n[2:]
	}
	return n
}

// Mask hides a number for logs: it keeps the first two characters (the country code, for
// India) and the last two, enough to tell numbers apart in a log, not to call one. Numbers of
// four characters or fewer are all hidden.
func Mask(p string) string {
	if len(p) <= 4 {
		return "****"
	}
	b := []byte(p)
	for i := 2; i < len(b)-2; i++ {
		b[i] = '*'
	}
	return string(b)
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

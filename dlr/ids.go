package dlr

import (
	"fmt"
	"math/big"
	"strings"
)

// Format says how a carrier writes its message ids in submit_sm_resp and in receipts, so that
// the two can be matched although they are spelt differently. Numeric formats compare the
// number, not the spelling: case and leading zeros never matter.
type Format string

const (
	// FormatAsIs: ids are opaque strings, the same in both places. Matched exactly. Default.
	FormatAsIs Format = "as-is"
	// FormatHex: ids are hexadecimal numbers in both places (1A2B = 1a2b = 00001a2b).
	FormatHex Format = "hex"
	// FormatHexUpper and FormatHexLower are FormatHex (they name the case the carrier uses;
	// matching ignores case either way).
	FormatHexUpper Format = "hex-upper"
	FormatHexLower Format = "hex-lower"
	// FormatDecimal: ids are decimal numbers in both places (leading zeros ignored).
	FormatDecimal Format = "decimal"
	// FormatHexToDecimal: submit_sm_resp gives the id in hex, receipts give the same number
	// in decimal (1A2B ↔ 6699; Jasmin's dlr_msgid 1).
	FormatHexToDecimal Format = "hex-decimal"
	// FormatDecimalToHex: submit_sm_resp in decimal, receipts in hex (Jasmin's dlr_msgid 2).
	FormatDecimalToHex Format = "decimal-hex"
)

// Formats lists every valid Format.
func Formats() []Format {
	return []Format{FormatAsIs, FormatHex, FormatHexUpper, FormatHexLower, FormatDecimal, FormatHexToDecimal, FormatDecimalToHex}
}

// bases returns the base of submit_sm_resp ids and of receipt ids (0: opaque).
func (f Format) bases() (submit, receipt int, err error) {
	switch f {
	case "", FormatAsIs:
		return 0, 0, nil
	case FormatHex, FormatHexUpper, FormatHexLower:
		return 16, 16, nil
	case FormatDecimal:
		return 10, 10, nil
	case FormatHexToDecimal:
		return 16, 10, nil
	case FormatDecimalToHex:
		return 10, 16, nil
	}
	return 0, 0, fmt.Errorf("dlr: message id format %q: want one of %v", string(f), Formats())
}

// idSpace is one carrier's id matching rule.
type idSpace struct {
	submit, receipt int
}

// cross reports whether the two sides use different bases: then raw spellings never match.
func (s idSpace) cross() bool { return s.submit != s.receipt }

// trimID drops the white space and NULs some SMSCs pad ids with.
func trimID(id string) string { return strings.Trim(id, " \t\r\n\x00") }

// normalise writes id, a number in base `from`, in base `to` without leading zeros and in
// lower case. ok is false when id is not a number in base from (a prefixed id, say); it is then
// returned trimmed but otherwise unchanged.
func normalise(id string, from, to int) (string, bool) {
	id = trimID(id)
	if from == 0 || id == "" {
		return id, false
	}
	digits := id
	for len(digits) > 1 && digits[0] == '0' {
		digits = digits[1:]
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i] | 0x20 // lower-cases letters; digits are unaffected
		switch {
		case '0' <= digits[i] && digits[i] <= '9':
		case from == 16 && 'a' <= c && c <= 'f':
		default:
			return id, false
		}
	}
	if from == to {
		if from == 16 {
			return strings.ToLower(digits), true
		}
		return digits, true
	}
	var n big.Int
	if _, ok := n.SetString(digits, from); !ok {
		return id, false
	}
	return n.Text(to), true
}

// receiptKey is the key a receipt's id is filed and (in the canonical namespace) looked up
// under: the id normalised in the receipt's base.
func (s idSpace) receiptKey(id string) string {
	k, _ := normalise(id, s.receipt, s.receipt)
	return k
}

// submitKey is the same key computed from a submit_sm_resp id: the number written in the
// receipt's base. ok is false for opaque formats and ids that are not numbers.
func (s idSpace) submitKey(id string) (string, bool) {
	return normalise(id, s.submit, s.receipt)
}

// canonicalNamespace is the carrier name under which normalised ids are indexed (beside the
// raw ids dispatch indexes under the carrier's own name). '#' cannot start a carrier name's
// suffix that dispatch uses, and ':' is not allowed in either.
func canonicalNamespace(carrier string) string { return carrier + "#n" }

// lookupKey is one place to look a receipt's id up: a carrier namespace and a key.
type lookupKey struct{ ns, key string }

// candidates lists where to look a receipt id up, most likely first.
func (s idSpace) candidates(carrier, id string) []lookupKey {
	raw := trimID(id)
	if s.submit == 0 {
		return []lookupKey{{carrier, raw}}
	}
	k, ok := normalise(raw, s.receipt, s.receipt)
	if !ok {
		// Not a number in the receipt's base (a prefixed id): only the raw spelling can match.
		return []lookupKey{{carrier, raw}}
	}
	if s.cross() {
		return []lookupKey{{canonicalNamespace(carrier), k}}
	}
	out := []lookupKey{{carrier, raw}}
	if k != raw {
		out = append(out, lookupKey{carrier, k})
	}
	return append(out, lookupKey{canonicalNamespace(carrier), k})
}

// CanonicalID returns the key under which dlr matches carrier message id `id` (as given by
// submit_sm_resp) for a carrier with format f, and whether it differs from id (then dlr also
// indexes it: Correlator.IndexEntries). It is exported for tools that inspect the store.
func CanonicalID(f Format, id string) (string, error) {
	sb, rb, err := f.bases()
	if err != nil {
		return "", err
	}
	k, _ := idSpace{sb, rb}.submitKey(id)
	return k, nil
}

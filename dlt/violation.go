package dlt

import (
	"errors"
	"fmt"
)

// Violation is a message, template or registry lookup that breaks a DLT rule. Check, Match and
// MatchContent return it (as error from the latter two; use errors.As). Code is what an
// operator's scrubber would answer; Reason says, in words a person can act on, what exactly
// is wrong, e.g. "variable 2 is 41 characters, template allows 30".
type Violation struct {
	Code     Code
	Reason   string
	Template string // the template ID concerned, if any
	Var      int    // 1-based index of the offending variable, 0 if none
}

func (v *Violation) Error() string {
	return fmt.Sprintf("dlt: %d %s: %s", int(v.Code), v.Code, v.Reason)
}

// AsViolation returns the *Violation in err's chain, or nil.
func AsViolation(err error) *Violation {
	var v *Violation
	if errors.As(err, &v) {
		return v
	}
	return nil
}

func violation(c Code, tmpl string, format string, args ...any) *Violation {
	return &Violation{Code: c, Template: tmpl, Reason: fmt.Sprintf(format, args...)}
}

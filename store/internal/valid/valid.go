// Package valid holds the input checks that every store implementation applies, so that they
// accept and refuse exactly the same things.
package valid

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/smppd/smppd/store"
)

// Carrier checks a carrier name: not empty, at most 64 bytes, no ':' (it separates the parts
// of Redis keys), no spaces or control characters.
func Carrier(c string) error {
	if c == "" {
		return errors.New("empty carrier name")
	}
	if len(c) > 64 {
		return fmt.Errorf("carrier name %.16q… is longer than 64 bytes", c)
	}
	if strings.ContainsFunc(c, func(r rune) bool {
		return r == ':' || unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar
	}) {
		return fmt.Errorf("carrier name %q has ':', a space or a control character", c)
	}
	return nil
}

// Priority checks that p is one of store.Priorities.
func Priority(p store.Priority) error {
	if p > store.PriorityPromotional {
		return fmt.Errorf("unknown priority %d", p)
	}
	return nil
}

// Message checks what the queues need of a message.
func Message(m *store.Message) error {
	if m == nil {
		return errors.New("nil message")
	}
	if m.ID == "" {
		return errors.New("message without id")
	}
	if err := Carrier(m.Carrier); err != nil {
		return fmt.Errorf("message %s: %w", m.ID, err)
	}
	if err := Priority(m.Priority); err != nil {
		return fmt.Errorf("message %s: %w", m.ID, err)
	}
	return nil
}

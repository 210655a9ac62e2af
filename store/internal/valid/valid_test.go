package valid

import (
	"strings"
	"testing"

	"github.com/smppd/smppd/store"
)

func TestCarrier(t *testing.T) {
	for _, c := range []string{"jio", "airtel-1", "Vi_2", "bsnl.north", strings.Repeat("x", 64)} {
		if err := Carrier(c); err != nil {
			t.Errorf("Carrier(%q): %v", c, err)
		}
	}
	for _, c := range []string{"", "a:b", "a b", "a\tb", "a\x00", "a\xff", strings.Repeat("x", 65)} {
		if err := Carrier(c); err == nil {
			t.Errorf("Carrier(%q): no error", c)
		}
	}
}

func TestMessage(t *testing.T) {
	ok := &store.Message{ID: "1", Carrier: "jio", Priority: store.PriorityPromotional}
	if err := Message(ok); err != nil {
		t.Fatal(err)
	}
	for i, m := range []*store.Message{nil, {Carrier: "jio"}, {ID: "1"}, {ID: "1", Carrier: "jio", Priority: 3}} {
		if err := Message(m); err == nil {
			t.Errorf("message %d: no error", i)
		}
	}
}

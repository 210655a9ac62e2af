package dlt

import (
	"testing"
	"time"
)

func TestParseCategory(t *testing.T) {
	tests := map[string]Category{
		"transactional": Transactional, "Transactional": Transactional, "TRANSACTIONAL": Transactional, "Trans": Transactional,
		"service_implicit": ServiceImplicit, "Service Implicit": ServiceImplicit, "Service-Implicit": ServiceImplicit,
		"SI": ServiceImplicit, "service.implicit": ServiceImplicit, " S ": ServiceImplicit,
		"service_explicit": ServiceExplicit, "Service Explicit": ServiceExplicit, "SE": ServiceExplicit,
		"promotional": Promotional, "Promotional": Promotional, "PROMO": Promotional, "P": Promotional,
	}
	for in, want := range tests {
		got, err := ParseCategory(in)
		if err != nil || got != want {
			t.Errorf("ParseCategory(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "service", "government", "otp"} {
		if c, err := ParseCategory(in); err == nil {
			t.Errorf("ParseCategory(%q) = %q, want an error", in, c)
		}
	}
	for _, c := range []Category{Transactional, ServiceImplicit, ServiceExplicit, Promotional} {
		if back, err := ParseCategory(string(c)); err != nil || back != c || !c.Valid() {
			t.Errorf("round trip %q: %q %v", c, back, err)
		}
	}
	if Category("otp").Valid() {
		t.Error(`Category("otp").Valid()`)
	}
}

func TestInSendWindow(t *testing.T) {
	ist := func(h, m, s int) time.Time { return time.Date(2025, 11, 3, h, m, s, 0, IST) }
	tests := []struct {
		name string
		at   time.Time
		open bool // for promotional and service explicit
	}{
		{"09:59:59", ist(9, 59, 59), false},
		{"09:59:59.999", ist(9, 59, 59).Add(999 * time.Millisecond), false},
		{"10:00:00", ist(10, 0, 0), true},
		{"15:30:00", ist(15, 30, 0), true},
		{"20:59:59", ist(20, 59, 59), true},
		{"21:00:00", ist(21, 0, 0), false},
		{"23:59:59", ist(23, 59, 59), false},
		{"00:00:00", ist(0, 0, 0), false},
		// 04:30 UTC is 10:00 IST; 15:30 UTC is 21:00 IST.
		{"UTC 04:29:59", time.Date(2025, 11, 3, 4, 29, 59, 0, time.UTC), false},
		{"UTC 04:30:00", time.Date(2025, 11, 3, 4, 30, 0, 0, time.UTC), true},
		{"UTC 15:29:59", time.Date(2025, 11, 3, 15, 29, 59, 0, time.UTC), true},
		{"UTC 15:30:00", time.Date(2025, 11, 3, 15, 30, 0, 0, time.UTC), false},
		// 20:00 UTC on the 2nd is 01:30 IST on the 3rd.
		{"UTC previous day", time.Date(2025, 11, 2, 20, 0, 0, 0, time.UTC), false},
		{"New York 00:00 EST", time.Date(2025, 11, 3, 0, 0, 0, 0, time.FixedZone("EST", -5*3600)), true},
	}
	for _, tt := range tests {
		for _, c := range []Category{Promotional, ServiceExplicit} {
			if got := InSendWindow(c, tt.at); got != tt.open {
				t.Errorf("%s: InSendWindow(%s) = %v, want %v", tt.name, c, got, tt.open)
			}
		}
		for _, c := range []Category{Transactional, ServiceImplicit} {
			if !InSendWindow(c, tt.at) {
				t.Errorf("%s: InSendWindow(%s) = false, want always open", tt.name, c)
			}
		}
	}
}

func TestNextSendTime(t *testing.T) {
	ist := func(d, h, m, s int) time.Time { return time.Date(2025, 11, d, h, m, s, 0, IST) }
	tests := []struct{ at, want time.Time }{
		{ist(3, 9, 59, 59), ist(3, 10, 0, 0)},
		{ist(3, 12, 0, 0), ist(3, 12, 0, 0)},
		{ist(3, 21, 0, 0), ist(4, 10, 0, 0)},
		{ist(3, 0, 0, 0), ist(3, 10, 0, 0)},
		{time.Date(2025, 11, 30, 16, 0, 0, 0, time.UTC), ist(31, 10, 0, 0)}, // 21:30 IST; rolls into December
	}
	for _, tt := range tests {
		if got := NextSendTime(Promotional.Windowed(), tt.at); !got.Equal(tt.want) {
			t.Errorf("NextSendTime(%v) = %v, want %v", tt.at, got, tt.want)
		}
	}
	at := ist(3, 23, 0, 0)
	if got := NextSendTime(Transactional.Windowed(), at); !got.Equal(at) {
		t.Errorf("transactional deferred to %v", got)
	}
}

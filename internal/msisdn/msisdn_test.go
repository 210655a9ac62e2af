package msisdn

import (
	"errors"
	"testing"
)

func TestNormalise(t *testing.T) {
	cases := []struct {
		in, want string
		problem  Problem
	}{
		{"9812345678", "919812345678", 0},
		{"919812345678", "919812345678", 0},
		{"+919812345678", "919812345678", 0},
		{"09812345678", "919812345678", 0},
		{"+91 98123-45678", "919812345678", 0},
		{"(981) 234.5678", "919812345678", 0},
		{"6000000000", "916000000000", 0},
		{"", "", NotDigits},
		{"+", "", NotDigits},
		{"98123x5678", "", NotDigits},
		{"++919812345678", "", NotDigits},
		{"981234567", "", BadLength},
		{"98123456789", "", BadLength},
		{"929812345678", "", BadLength},
		{"5812345678", "", NotIndianMobile},
		{"915812345678", "", NotIndianMobile},
		{"05812345678", "", NotIndianMobile},
	}
	for _, c := range cases {
		got, err := Normalise(c.in)
		if c.problem == 0 {
			if err != nil || got != c.want {
				t.Errorf("Normalise(%q) = %q, %v; want %q", c.in, got, err, c.want)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Problem != c.problem || got != "" {
			t.Errorf("Normalise(%q) = %q, %v; want a %v error", c.in, got, err, c.problem)
		}
	}
}

func TestInternational(t *testing.T) {
	cases := []struct {
		in, want string
		problem  Problem
	}{
		{"919812345678", "919812345678", 0},
		{"+447700900123", "447700900123", 0},
		{"12345678", "12345678", 0},
		{"123456789012345", "123456789012345", 0},
		{"1234567", "", BadLength},
		{"1234567890123456", "", BadLength},
		{"", "", NotDigits},
		{"+91 9812345678", "", NotDigits},
	}
	for _, c := range cases {
		got, err := International(c.in)
		if c.problem == 0 {
			if err != nil || got != c.want {
				t.Errorf("International(%q) = %q, %v; want %q", c.in, got, err, c.want)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Problem != c.problem {
			t.Errorf("International(%q) = %q, %v; want a %v error", c.in, got, err, c.problem)
		}
	}
}

// Every number Normalise returns is one the dispatcher accepts unchanged.
func TestNormalisedIsInternational(t *testing.T) {
	for _, in := range []string{"9812345678", "+91 6000000000", "07000000000"} {
		n, err := Normalise(in)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := International(n); err != nil || got != n {
			t.Errorf("International(%q) = %q, %v", n, got, err)
		}
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{
		"919812345678": "91********78",
		"447700900123": "44********23",
		"12345":        "12*45",
		"1234":         "****",
		"":             "****",
	} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

// The error names the number masked, never in full, so it can go to a log as it is.
func TestErrorIsMasked(t *testing.T) {
	_, err := Normalise("5812345678")
	if err == nil || err.Error() != "msisdn: 58******78: not an Indian mobile number (want an Indian mobile: 10 digits, optionally after +91, 91 or 0)" {
		t.Fatalf("error %q", err)
	}
}

func TestNational(t *testing.T) {
	for in, want := range map[string]string{
		"919876543210":  "9876543210",
		"+919876543210": "9876543210",
		"9876543210":    "9876543210",
		"447700900123":  "447700900123",
		"+447700900123": "447700900123",
		"91987654321":   "91987654321",
	} {
		if got := National(in); got != want {
			t.Errorf("National(%q) = %q, want %q", in, got, want)
		}
	}
}

package dlt

import (
	"fmt"
	"strings"
	"time"
)

// Category is the DLT content category of a template (and of the header it is sent from).
// It decides which scrubs the operator runs and when the message may be delivered.
type Category string

// The four categories of TCCCPR 2018 (dlt-smpp.md §4). Service Explicit was folded into
// Promotional in May 2025, but templates registered under it still exist and still carry the
// promotional time window, so it is kept as its own value.
const (
	Transactional   Category = "transactional"
	ServiceImplicit Category = "service_implicit"
	ServiceExplicit Category = "service_explicit"
	Promotional     Category = "promotional"
)

// categoryAliases maps a normalised spelling (lower case, with spaces, '-', '_' and '.'
// removed) to a category. The spellings are those seen in DLT portal exports and aggregator
// panels: "Transactional", "Service Implicit", "Service-Explicit", "SI", "PROMO", ...
var categoryAliases = map[string]Category{
	"transactional":   Transactional,
	"transaction":     Transactional,
	"trans":           Transactional,
	"txn":             Transactional,
	"t":               Transactional,
	"serviceimplicit": ServiceImplicit,
	"implicit":        ServiceImplicit,
	"si":              ServiceImplicit,
	"s":               ServiceImplicit, // the 2025 "-S" header suffix
	"serviceexplicit": ServiceExplicit,
	"explicit":        ServiceExplicit,
	"se":              ServiceExplicit,
	"promotional":     Promotional,
	"promotion":       Promotional,
	"promo":           Promotional,
	"p":               Promotional,
}

// ParseCategory accepts the category spellings DLT portals and aggregator exports use
// ("Transactional", "Service-Implicit", "service implicit", "SI", "SE", "Promotional",
// "PROMO", the constants' own values, ...). Matching ignores case, spaces, '-', '_' and '.'.
// A bare "Service" is rejected because it is ambiguous between implicit and explicit.
func ParseCategory(s string) (Category, error) {
	key := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '_', '.', '\t':
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(s)))
	if c, ok := categoryAliases[key]; ok {
		return c, nil
	}
	if key == "service" {
		return "", fmt.Errorf("dlt: category %q is ambiguous: say service implicit or service explicit", s)
	}
	return "", fmt.Errorf("dlt: unknown category %q (want transactional, service implicit, service explicit or promotional)", s)
}

// Valid reports whether c is one of the four categories.
func (c Category) Valid() bool {
	switch c {
	case Transactional, ServiceImplicit, ServiceExplicit, Promotional:
		return true
	}
	return false
}

func (c Category) String() string { return string(c) }

// Windowed reports whether messages of this category may only be delivered inside the
// promotional window (10:00–21:00 IST): promotional and service explicit do, transactional
// and service implicit go out at any hour (dlt-smpp.md §4).
func (c Category) Windowed() bool { return c == Promotional || c == ServiceExplicit }

// NumericHeader reports whether headers of this category are numeric (promotional: 6 digits)
// rather than alphabetic (every other category: 6 letters).
func (c Category) NumericHeader() bool { return c == Promotional }

// IST is India Standard Time. India has no daylight saving time, so a fixed +05:30 zone is
// exact and does not depend on the host's tz database.
var IST = time.FixedZone("IST", 5*3600+30*60)

// The promotional send window as offsets from midnight IST: 10:00:00 inclusive to 21:00:00
// exclusive ("only permitted between 10:00 AM and 9:00 PM IST", dlt-smpp.md §4; code 651).
const (
	WindowStart = 10 * time.Hour
	WindowEnd   = 21 * time.Hour
)

// InSendWindow reports whether a message of category cat may be delivered at t. Promotional
// and service explicit messages only go out from 10:00:00 (inclusive) to 21:00:00 (exclusive)
// IST; other categories are allowed at any time. t may be in any zone.
func InSendWindow(cat Category, t time.Time) bool {
	return !cat.Windowed() || inWindow(t)
}

// NextSendTime is the one rule for when a message may go out: t itself if the message is
// not windowed or t is inside the promotional window, otherwise the next opening of the
// window (10:00:00 IST, in IST). windowed is Category.Windowed() of the message's template,
// decided once when the message is accepted and carried with it (store.Message.Windowed), so
// the API (refuse or defer at accept), the dispatcher (at Submit) and the carrier (just
// before sending) all ask the same question without knowing the category.
func NextSendTime(windowed bool, t time.Time) time.Time {
	if !windowed || inWindow(t) {
		return t
	}
	ist := t.In(IST)
	day := time.Date(ist.Year(), ist.Month(), ist.Day(), 0, 0, 0, 0, IST)
	if sinceMidnightIST(t) >= WindowEnd {
		day = day.AddDate(0, 0, 1)
	}
	return day.Add(WindowStart)
}

func inWindow(t time.Time) bool {
	d := sinceMidnightIST(t)
	return d >= WindowStart && d < WindowEnd
}

func sinceMidnightIST(t time.Time) time.Duration {
	ist := t.In(IST)
	return time.Duration(ist.Hour())*time.Hour + time.Duration(ist.Minute())*time.Minute +
		time.Duration(ist.Second())*time.Second + time.Duration(ist.Nanosecond())
}

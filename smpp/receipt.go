package smpp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// Delivery receipts (SMPP 3.4 §2.11, §5.2.12 and Appendix B).
//
// A receipt reaches us as a deliver_sm whose esm_class says so. What it says is spread over
// two places: the Appendix B text in short_message (or message_payload), which the spec calls
// "SMSC vendor specific" and every carrier bends a little, and three optional parameters
// (receipted_message_id, message_state, network_error_code) that are exact when present. The
// parser reads the text by keys rather than by position, keeps everything it does not
// understand, and lets the parameters win. It never fails on a value it cannot read (a bad
// date, a non-numeric err): it keeps the raw string and leaves the parsed field empty, because
// dropping a receipt loses a message's final state while a missing date loses nothing that
// matters. It fails only when the input holds nothing receipt-like at all.

// Receipt dates carry no zone: they are the wall clock of the carrier's SMSC. Every function
// here that reads or writes them takes that zone as loc, and nil means UTC. Indian operators
// stamp IST, and reading their dates as UTC would put every done date 5h30 in the future of
// our own submit timestamps, so a caller talking to them must pass IST: smppd passes dlt.IST,
// the one definition of India's zone (dlr.Options.Location, the simulator's receipts). smpp
// imports no other smppd package, so it keeps no zone of its own to disagree with it.

// receiptESMTypeMask selects the message-type bits (2-5) of esm_class. The type is a value,
// not a set of flags: 0x04 is an SMSC delivery receipt, 0x20 an intermediate notification,
// 0x08 and 0x10 are SME acknowledgements, which are not receipts.
const receiptESMTypeMask uint8 = 0x3C

// Network types of the network_error_code parameter (SMPP 3.4 §5.3.2.31), its first octet.
const (
	NetworkErrorANSI136AccessDenied uint8 = 1
	NetworkErrorIS95AccessDenied    uint8 = 2
	NetworkErrorGSM                 uint8 = 3
	NetworkErrorANSI136Cause        uint8 = 4
	NetworkErrorIS95Cause           uint8 = 5
	NetworkErrorANSI41              uint8 = 6
	NetworkErrorSMPP                uint8 = 7
	NetworkErrorMessageCenter       uint8 = 8
)

// ReceiptTLVs records which receipt fields came from the deliver_sm's optional parameters
// instead of its text, so logs and metrics can tell a carrier's text apart from its TLVs when
// the two disagree.
type ReceiptTLVs uint8

const (
	ReceiptTLVMessageID    ReceiptTLVs = 1 << iota // receipted_message_id set MessageID
	ReceiptTLVMessageState                         // message_state set State
	ReceiptTLVNetworkError                         // network_error_code set the NetworkError fields
)

// Has reports whether every flag in f is set.
func (t ReceiptTLVs) Has(f ReceiptTLVs) bool { return t&f == f }

// Receipt is one parsed delivery receipt. Fields the carrier did not send keep their "absent"
// value, documented per field; nothing is invented. All strings are exactly as received.
type Receipt struct {
	// MessageID is the SMSC message id this receipt is about: receipted_message_id when the
	// deliver_sm carries it, else the text's id:. It is kept verbatim (decimal, hex, UUID);
	// matching it against submit_sm_resp ids is the caller's business.
	MessageID string
	// TextID is the id: of the text, kept even when receipted_message_id overrides
	// MessageID: some carriers write the id in decimal in one place and hex in the other.
	TextID string

	// Submitted and Delivered are sub: and dlvrd:, or -1 when absent or not a number. Most
	// carriers send 001/001 or 001/000 regardless, so they are informational only.
	Submitted, Delivered int

	// SubmitDate and DoneDate are submit date: and done date: in the caller's location, zero
	// when absent or unreadable. The raw strings are kept either way.
	SubmitDate, DoneDate       time.Time
	SubmitDateRaw, DoneDateRaw string

	// Stat is stat: exactly as written (DELIVRD, or a variant such as DELIVERED), empty when
	// absent. State is what it means, or message_state when present; zero when neither says
	// anything recognisable (StateUnknown is a state the carrier reported, not "we don't know").
	Stat  string
	State MessageState

	// Err is err: as written (3 digits per the spec, 4 from many carriers, sometimes a DLT
	// code), and ErrCode its decimal value, or -1 when absent or not decimal.
	Err     string
	ErrCode int

	// NetworkErrorType and NetworkErrorCode are the network_error_code parameter (network type,
	// then the 2-octet code, e.g. type 3 GSM with a MAP/RP cause); HasNetworkError says it was
	// present and well formed. The text has no counterpart, so Err is left alone.
	NetworkErrorType uint8
	NetworkErrorCode uint16
	HasNetworkError  bool

	// Text is everything after text:, verbatim: it may hold spaces, colons, even "stat:...",
	// and is never read for keys. Empty when absent.
	Text string

	// Extra holds keys the parser does not know, lower-cased, with their values as written
	// (first occurrence wins). Nil when there are none.
	Extra map[string]string

	// Intermediate is set when esm_class marks an intermediate notification (0x20) rather
	// than a delivery receipt: more receipts follow, whatever State says.
	Intermediate bool

	// FromTLV says which fields came from optional parameters.
	FromTLV ReceiptTLVs
	// TLVErr is a receipt parameter that was present but malformed and therefore ignored (the
	// text's value, if any, stands). Nil when all were usable.
	TLVErr error
}

// ErrNotReceipt is matched (errors.Is) by every *ReceiptError.
var ErrNotReceipt = errors.New("smpp: not a delivery receipt")

// ReceiptError says the input held nothing a receipt is recognised by: no message id and no
// state, in the text or (for ParseReceipt) the parameters. Without either there is nothing to
// correlate or to act on, so a partial result would only mislead.
type ReceiptError struct {
	Missing []string // what was looked for, e.g. ["id", "stat"]
	Len     int      // length of the text examined, in octets (the text itself is not kept: it may carry user content)
}

func (e *ReceiptError) Error() string {
	return fmt.Sprintf("smpp: not a delivery receipt: no %s in %d-octet text", strings.Join(e.Missing, ", no "), e.Len)
}

// Is makes errors.Is(err, ErrNotReceipt) hold.
func (e *ReceiptError) Is(target error) bool { return target == ErrNotReceipt }

// IsReceipt reports whether esm_class marks p as an SMSC delivery receipt (message type 0x04)
// or an intermediate delivery notification (0x20). Other bits (UDHI, reply path) are ignored.
// This, not the text, is what separates receipts from MO messages: an MO text may well look
// like "id:... stat:...".
func IsReceipt(p *DeliverSM) bool {
	if p == nil {
		return false
	}
	mt := p.ESMClass & receiptESMTypeMask
	return mt == ESMClassDeliveryRcpt || mt == ESMClassIntermediate
}

// ParseReceipt reads the receipt in p: the Appendix B text of its payload (short_message, or
// message_payload when short_message is empty), then receipted_message_id, message_state and
// network_error_code, which override the text where present: they are exact, the text is
// free-form. A receipt made of parameters only, with no text, is fine. Dates are read in loc,
// the carrier's clock zone (UTC when nil; pass IST for Indian operators).
//
// It does not check esm_class, so a carrier that sends receipts without the receipt bit can
// still be handled; route with IsReceipt. Trailing NULs of the payload are dropped, and a
// UCS-2 payload (data_coding 0x08) is decoded first. The error is a *ReceiptError when neither
// text nor parameters give an id or a state.
func ParseReceipt(p *DeliverSM, loc *time.Location) (*Receipt, error) {
	if p == nil {
		return nil, &ReceiptError{Missing: receiptMissingPDU()}
	}
	text := receiptPayloadText(p)
	r := newReceipt()
	r.parseText(text, receiptLoc(loc))
	r.Intermediate = p.ESMClass&receiptESMTypeMask == ESMClassIntermediate
	r.applyTLVs(p.TLVs)
	if r.MessageID == "" && r.Stat == "" && !r.FromTLV.Has(ReceiptTLVMessageState) {
		return nil, &ReceiptError{Missing: receiptMissingPDU(), Len: len(text)}
	}
	return r, nil
}

func receiptMissingPDU() []string {
	return []string{"id", "stat", "receipted_message_id", "message_state"}
}

// ParseReceiptText reads an Appendix B receipt text:
//
//	id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...
//
// Fields are found by key, in any order and any case; missing fields are left absent and
// unknown keys go to Extra. "submit date" and "done date" may also be written submit_date,
// submit-date or submitdate. text: ends the parse: the rest of the input, verbatim, is Text.
// A word with no key (a value with spaces, "err: 000") continues the previous field's value.
// Dates may be YYMMDDhhmm (the spec), YYMMDDhhmmss or YYYYMMDDhhmmss, with or without
// separators (-/:.T and spaces); two-digit years are 20YY. They are read in loc, or in UTC
// when loc is nil (see ParseReceipt). When a key appears twice the first wins.
//
// The error is a *ReceiptError when the text has neither an id nor a stat.
func ParseReceiptText(text string, loc *time.Location) (*Receipt, error) {
	r := newReceipt()
	r.parseText(text, receiptLoc(loc))
	if r.MessageID == "" && r.Stat == "" {
		return nil, &ReceiptError{Missing: []string{"id", "stat"}, Len: len(text)}
	}
	return r, nil
}

// Final reports whether no further receipt is expected for the message: State is one of the
// final states of SMPP 5.0's message_state table (DELIVERED, EXPIRED, DELETED, UNDELIVERABLE, ACCEPTED,
// UNKNOWN, REJECTED) and esm_class did not mark an intermediate notification. ENROUTE and an
// unrecognised state are not final. ACCEPTED is final as the spec says (accepted on the
// subscriber's behalf); carriers that use ACCEPTD for "reached the SMSC" send it as an
// intermediate notification, which Final rejects on the Intermediate flag.
func (r *Receipt) Final() bool {
	if r.Intermediate {
		return false
	}
	switch r.State {
	case StateDelivered, StateExpired, StateDeleted, StateUndeliverable, StateAccepted, StateUnknown, StateRejected:
		return true
	}
	return false
}

// receiptStats maps the stat: values carriers send, upper-cased, to states. The first block
// is Appendix B; the rest are variants seen from carriers and aggregators.
var receiptStats = map[string]MessageState{
	// Appendix B.
	"ENROUTE": StateEnroute, "DELIVRD": StateDelivered, "EXPIRED": StateExpired, "DELETED": StateDeleted,
	"UNDELIV": StateUndeliverable, "ACCEPTD": StateAccepted, "UNKNOWN": StateUnknown, "REJECTD": StateRejected,

	// Carrier variants.
	"EN_ROUTE": StateEnroute, "EN-ROUTE": StateEnroute, "BUFFRED": StateEnroute, "BUFFERED": StateEnroute, "PENDING": StateEnroute,
	"DELIVERED": StateDelivered, "DELIVERD": StateDelivered, "DELIVRED": StateDelivered, "DELIVR": StateDelivered, "DLVRD": StateDelivered, "DELIVER": StateDelivered, "SUCCESS": StateDelivered,
	"EXPIRD": StateExpired, "EXPIRE": StateExpired, "DELETD": StateDeleted,
	"UNDELIVERABLE": StateUndeliverable, "UNDELIVERED": StateUndeliverable, "UNDELIVRD": StateUndeliverable, "UNDELIVD": StateUndeliverable, "UNDELV": StateUndeliverable, "UNDLVRD": StateUndeliverable,
	"FAILED": StateUndeliverable, "FAIL": StateUndeliverable, "FAILD": StateUndeliverable, "FAILURE": StateUndeliverable,
	"ACCEPTED": StateAccepted, "ACCPTD": StateAccepted, "UNKNWN": StateUnknown,
	"REJECTED": StateRejected, "REJECT": StateRejected, "REJCTD": StateRejected,
}

// ParseStat maps a stat: value to its state, ignoring case and surrounding whitespace. It
// knows the eight Appendix B values and common carrier variants (DELIVERED, UNDELIVERABLE,
// FAILED, REJECTED, BUFFERED, …); ok is false for anything else.
func ParseStat(stat string) (s MessageState, ok bool) {
	stat = strings.TrimSpace(stat)
	var buf [16]byte
	if len(stat) > len(buf) {
		return 0, false
	}
	for i := 0; i < len(stat); i++ {
		c := stat[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf[i] = c
	}
	s, ok = receiptStats[string(buf[:len(stat)])]
	return s, ok
}

var receiptStatNames = [...]string{"", "ENROUTE", "DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD"}

// ReceiptStat returns the 7-letter Appendix B stat: value for s (DELIVRD, UNDELIV, …), or ""
// for a value that has none.
func (s MessageState) ReceiptStat() string {
	if int(s) < len(receiptStatNames) {
		return receiptStatNames[s]
	}
	return ""
}

// FormatReceiptText returns the Appendix B text for r, the form the simulator sends and most
// ESMEs expect:
//
//	id:%s sub:%03d dlvrd:%03d submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:%s err:%03d text:%.20s
//
// Dates are written in loc (UTC when nil); a zero date is written as its raw string, usually
// empty. Negative (absent) sub, dlvrd and ErrCode are written as 000. stat is r.Stat when set (to reproduce a carrier
// variant), else State's 7-letter code. err is r.Err when set, else ErrCode as three or more
// digits. text is the first 20 characters of r.Text. Fields are written as given: an id or
// stat with spaces in it will not parse back.
func FormatReceiptText(r *Receipt, loc *time.Location) string {
	return string(AppendReceiptText(make([]byte, 0, 160), r, loc))
}

// AppendReceiptText appends FormatReceiptText's text to dst.
func AppendReceiptText(dst []byte, r *Receipt, loc *time.Location) []byte {
	loc = receiptLoc(loc)
	dst = append(dst, "id:"...)
	dst = append(dst, r.MessageID...)
	dst = append(dst, " sub:"...)
	dst = appendReceiptNum(dst, r.Submitted)
	dst = append(dst, " dlvrd:"...)
	dst = appendReceiptNum(dst, r.Delivered)
	dst = append(dst, " submit date:"...)
	dst = appendReceiptDate(dst, r.SubmitDate, r.SubmitDateRaw, loc)
	dst = append(dst, " done date:"...)
	dst = appendReceiptDate(dst, r.DoneDate, r.DoneDateRaw, loc)
	dst = append(dst, " stat:"...)
	if r.Stat != "" {
		dst = append(dst, r.Stat...)
	} else {
		dst = append(dst, r.State.ReceiptStat()...)
	}
	dst = append(dst, " err:"...)
	if r.Err != "" {
		dst = append(dst, r.Err...)
	} else {
		dst = appendReceiptNum(dst, r.ErrCode)
	}
	dst = append(dst, " text:"...)
	n := 0
	for i := range r.Text {
		if n == 20 {
			return append(dst, r.Text[:i]...)
		}
		n++
	}
	return append(dst, r.Text...)
}

func appendReceiptNum(dst []byte, n int) []byte {
	if n < 0 {
		n = 0
	}
	if n < 100 {
		dst = append(dst, '0')
	}
	if n < 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, int64(n), 10)
}

func appendReceiptDate(dst []byte, t time.Time, raw string, loc *time.Location) []byte {
	if t.IsZero() {
		return append(dst, raw...)
	}
	t = t.In(loc)
	y := t.Year() % 100
	if y < 0 {
		y += 100
	}
	for _, v := range [...]int{y, int(t.Month()), t.Day(), t.Hour(), t.Minute()} {
		dst = append(dst, byte('0'+v/10), byte('0'+v%10))
	}
	return dst
}

func receiptLoc(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

func newReceipt() *Receipt { return &Receipt{Submitted: -1, Delivered: -1, ErrCode: -1} }

// receiptPayloadText is p's payload as text: UCS-2 decoded when data_coding says so, trailing
// NULs (C-string habit of some SMSCs) dropped.
func receiptPayloadText(p *DeliverSM) string {
	b := p.Payload()
	var s string
	if p.DataCoding == 0x08 && len(b)%2 == 0 {
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
		s = string(utf16.Decode(u))
	} else {
		s = string(b)
	}
	return strings.TrimRight(s, "\x00")
}

// Field kinds of the receipt text.
const (
	rkNone = iota
	rkID
	rkSub
	rkDlvrd
	rkSubmitDate
	rkDoneDate
	rkStat
	rkErr
	rkText
	rkExtra
)

// isReceiptSpace reports whether c separates words. NUL counts: some SMSCs pad with it.
func isReceiptSpace(c byte) bool { return receiptSpace[c] }

var receiptSpace = [256]bool{' ': true, '\t': true, '\n': true, '\r': true, '\v': true, '\f': true, 0: true}

// validReceiptKey reports whether k can be a key: a letter, then letters, digits, _ - or .,
// so that "12:30:00" or "http://x" inside a value is not taken for a key.
func validReceiptKey(k string) bool {
	if k == "" || !isASCIILetter(k[0]) {
		return false
	}
	for i := 1; i < len(k); i++ {
		c := k[i]
		if !isASCIILetter(c) && !('0' <= c && c <= '9') && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isASCIILetter(c byte) bool { return 'A' <= c&^0x20 && c&^0x20 <= 'Z' }

// isDateKeyWord reports whether w is the first word of "submit date" or "done date".
func isDateKeyWord(w string) bool {
	return strings.EqualFold(w, "submit") || strings.EqualFold(w, "done")
}

func classifyReceiptKey(k string) int {
	switch len(k) { // by length first: EqualFold is the parser's hot spot
	case 2:
		if strings.EqualFold(k, "id") {
			return rkID
		}
	case 3:
		if strings.EqualFold(k, "sub") {
			return rkSub
		}
		if strings.EqualFold(k, "err") {
			return rkErr
		}
	case 4:
		if strings.EqualFold(k, "stat") {
			return rkStat
		}
		if strings.EqualFold(k, "text") {
			return rkText
		}
	case 5:
		if strings.EqualFold(k, "dlvrd") {
			return rkDlvrd
		}
	default:
		if isReceiptDateKey(k, "submit") {
			return rkSubmitDate
		}
		if isReceiptDateKey(k, "done") {
			return rkDoneDate
		}
	}
	return rkExtra
}

// isReceiptDateKey matches prefix+"date" with any run of spaces, '_' or '-' between them.
func isReceiptDateKey(k, prefix string) bool {
	if len(k) < len(prefix)+4 || !strings.EqualFold(k[:len(prefix)], prefix) {
		return false
	}
	rest := k[len(prefix):]
	for len(rest) > 0 && (isReceiptSpace(rest[0]) || rest[0] == '_' || rest[0] == '-') {
		rest = rest[1:]
	}
	return strings.EqualFold(rest, "date")
}

// parseText fills r from the text s. Every value is a substring of s: nothing is copied.
func (r *Receipt) parseText(s string, loc *time.Location) {
	var (
		field  = rkNone
		key    string
		vs, ve int // value span of field in s
		seen   uint16
		i      int
	)
	for {
		for i < len(s) && isReceiptSpace(s[i]) {
			i++
		}
		if i == len(s) {
			break
		}
		ws := i
		for i < len(s) && !isReceiptSpace(s[i]) {
			i++
		}
		w := s[ws:i]
		kc := -1 // index in s of the colon that ends a key starting at ws
		if c := strings.IndexByte(w, ':'); c > 0 && validReceiptKey(w[:c]) {
			kc = ws + c
		} else if isDateKeyWord(w) {
			// "submit date:" and "done date:" are the only keys with a space in them.
			j := i
			for j < len(s) && isReceiptSpace(s[j]) {
				j++
			}
			if len(s)-j >= 5 && strings.EqualFold(s[j:j+5], "date:") {
				kc = j + 4
				for i = j + 5; i < len(s) && !isReceiptSpace(s[i]); i++ {
				}
			}
		}
		if kc < 0 {
			if field != rkNone { // a word of the previous value
				if vs == ve {
					vs = ws
				}
				ve = i
			}
			continue
		}
		r.setField(field, key, s[vs:ve], loc, &seen)
		key = s[ws:kc]
		field = classifyReceiptKey(key)
		if field == rkText {
			r.Text = s[kc+1:]
			return
		}
		vs, ve = kc+1, i
	}
	r.setField(field, key, s[vs:ve], loc, &seen)
}

func (r *Receipt) setField(field int, key, v string, loc *time.Location, seen *uint16) {
	switch field {
	case rkNone:
		return
	case rkExtra:
		k := strings.ToLower(key)
		if _, dup := r.Extra[k]; dup {
			return
		}
		if r.Extra == nil {
			r.Extra = make(map[string]string, 2)
		}
		r.Extra[k] = v
		return
	}
	if *seen&(1<<field) != 0 {
		return
	}
	*seen |= 1 << field
	switch field {
	case rkID:
		r.MessageID, r.TextID = v, v
	case rkSub:
		r.Submitted = receiptAtoi(v)
	case rkDlvrd:
		r.Delivered = receiptAtoi(v)
	case rkSubmitDate:
		r.SubmitDateRaw, r.SubmitDate = v, parseReceiptDate(v, loc)
	case rkDoneDate:
		r.DoneDateRaw, r.DoneDate = v, parseReceiptDate(v, loc)
	case rkStat:
		r.Stat = v
		r.State, _ = ParseStat(v)
	case rkErr:
		r.Err, r.ErrCode = v, receiptAtoi(v)
	}
}

// receiptAtoi reads 1 to 9 decimal digits; anything else is -1.
func receiptAtoi(v string) int {
	if v == "" || len(v) > 9 {
		return -1
	}
	n := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// parseReceiptDate reads YYMMDDhhmm, YYMMDDhhmmss or YYYYMMDDhhmmss, ignoring the separators
// - / : . T and spaces, in loc. Anything else, or an impossible date, is the zero time.
func parseReceiptDate(v string, loc *time.Location) time.Time {
	var d [14]int
	n := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case '0' <= c && c <= '9':
			if n == len(d) {
				return time.Time{}
			}
			d[n] = int(c - '0')
			n++
		case c == '-' || c == '/' || c == ':' || c == '.' || c == 'T' || isReceiptSpace(c):
		default:
			return time.Time{}
		}
	}
	two := func(i int) int { return d[i]*10 + d[i+1] }
	var year, p int
	switch n {
	case 10, 12:
		year, p = 2000+two(0), 2
	case 14:
		year, p = two(0)*100+two(2), 4
	default:
		return time.Time{}
	}
	mon, day, hour, mi, sec := two(p), two(p+2), two(p+4), two(p+6), 0
	if n > 10 {
		sec = two(p + 8)
	}
	if mon < 1 || mon > 12 || day < 1 || hour > 23 || mi > 59 || sec > 59 {
		return time.Time{}
	}
	t := time.Date(year, time.Month(mon), day, hour, mi, sec, 0, loc)
	if t.Day() != day { // 31 April and the like roll over into the next month
		return time.Time{}
	}
	return t
}

// applyTLVs overlays the receipt parameters of a deliver_sm.
func (r *Receipt) applyTLVs(t TLVs) {
	var errs []error
	if id, ok := t.CStringLenient(TagReceiptedMessageID); ok && id != "" {
		r.MessageID = id
		r.FromTLV |= ReceiptTLVMessageID
	}
	if st, ok, err := t.Uint8(TagMessageState); err != nil {
		errs = append(errs, err)
	} else if ok && st == 0 {
		errs = append(errs, &TLVValueError{TagMessageState, "message_state 0 is not a state"})
	} else if ok {
		r.State = MessageState(st)
		r.FromTLV |= ReceiptTLVMessageState
	}
	if v, ok := t.Get(TagNetworkErrorCode); ok {
		if len(v.Value) != 3 {
			errs = append(errs, &TLVValueError{TagNetworkErrorCode, fmt.Sprintf("value is %d octets, want 3", len(v.Value))})
		} else {
			r.NetworkErrorType = v.Value[0]
			r.NetworkErrorCode = uint16(v.Value[1])<<8 | uint16(v.Value[2])
			r.HasNetworkError = true
			r.FromTLV |= ReceiptTLVNetworkError
		}
	}
	r.TLVErr = errors.Join(errs...)
}

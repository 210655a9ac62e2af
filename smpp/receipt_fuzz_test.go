package smpp

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzParseReceiptText checks two things on every input:
//
//   - text: ParseReceiptText and ParseReceipt never panic on any text, fail only with a
//     *ReceiptError, return substrings of the input, and their result can be formatted and
//     parsed again;
//   - the other arguments: a receipt built from them, formatted by FormatReceiptText, parses
//     back to the same fields.
//
// Crashers found by the fuzzer become rows of testdata/receipts/receipts.txt.
func FuzzParseReceiptText(f *testing.F) {
	const std = "id:0123456789 sub:001 dlvrd:001 submit date:2401151030 done date:2401151031 stat:DELIVRD err:000 text:Hello"
	jan2024 := time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC).Unix()
	f.Add(std, "0A1B2C3D4E", uint16(1), uint16(1), jan2024, jan2024+60, uint8(1), uint16(0), "Hello")
	f.Add("", "3f2b8c1e-9d4a-4b7e-8f21-6c0d5e9a7b13", uint16(0), uint16(0), int64(0), int64(-1), uint8(4), uint16(1035), "stat:FAKE id:1 text:")
	f.Add("ID: SUBMIT DATE: TEXT:", "", uint16(999), uint16(1000), int64(1<<40), int64(-1<<40), uint8(255), uint16(65535), "नमस्ते\x00\xff:")
	for _, c := range loadReceiptCases(f) {
		f.Add(c.text, "id", uint16(1), uint16(0), jan2024, jan2024, uint8(c.line), uint16(c.line), c.text)
	}

	f.Fuzz(func(t *testing.T, text, id string, sub, dlvrd uint16, submit, done int64, state uint8, errCode uint16, msg string) {
		checkReceiptText(t, text)

		// Round trip. Fields the format cannot carry are made representable first: ids have no
		// separators, dates fall in 2000-2099 at whole minutes, state is a real one.
		id = strings.Map(func(r rune) rune {
			if r < 0x80 && isReceiptSpace(byte(r)) {
				return -1
			}
			return r
		}, id)
		in := &Receipt{
			MessageID:  id,
			Submitted:  int(sub),
			Delivered:  int(dlvrd),
			SubmitDate: receiptFuzzDate(submit),
			DoneDate:   receiptFuzzDate(done),
			State:      MessageState(state%8 + 1),
			ErrCode:    int(errCode),
			Text:       msg,
		}
		formatted := FormatReceiptText(in, receiptTestZone)
		out, err := ParseReceiptText(formatted, receiptTestZone)
		if err != nil {
			t.Fatalf("%q: %v", formatted, err)
		}
		wantText := msg
		n := 0
		for i := range msg {
			if n == 20 {
				wantText = msg[:i]
				break
			}
			n++
		}
		if out.MessageID != in.MessageID || out.Submitted != in.Submitted || out.Delivered != in.Delivered ||
			!out.SubmitDate.Equal(in.SubmitDate) || !out.DoneDate.Equal(in.DoneDate) || out.State != in.State ||
			out.Stat != in.State.ReceiptStat() || out.ErrCode != in.ErrCode || out.Text != wantText || out.Extra != nil {
			t.Fatalf("round trip of %+v\nvia %q\ngave %+v", in, formatted, out)
		}
	})
}

// receiptFuzzDate maps any int64 to a whole minute of 2000-2099, the years a two-digit receipt
// date can say.
func receiptFuzzDate(v int64) time.Time {
	lo := time.Date(2000, 1, 1, 0, 0, 0, 0, receiptTestZone).Unix() / 60
	hi := time.Date(2100, 1, 1, 0, 0, 0, 0, receiptTestZone).Unix() / 60
	m := v % (hi - lo)
	if m < 0 {
		m += hi - lo
	}
	return time.Unix((lo+m)*60, 0)
}

// checkReceiptText holds for every text, receipt or not.
func checkReceiptText(t *testing.T, text string) {
	t.Helper()
	r, err := ParseReceiptText(text, nil)
	if err != nil {
		if r != nil || !errors.Is(err, ErrNotReceipt) {
			t.Fatalf("%q: receipt %v, error %v", text, r, err)
		}
	} else {
		if r.MessageID == "" && r.Stat == "" {
			t.Fatalf("%q: success with neither id nor stat", text)
		}
		for name, v := range map[string]string{"id": r.MessageID, "stat": r.Stat, "err": r.Err,
			"submit date": r.SubmitDateRaw, "done date": r.DoneDateRaw} {
			if !strings.Contains(text, v) {
				t.Fatalf("%q: %s %q is not from the input", text, name, v)
			}
		}
		if !strings.HasSuffix(text, r.Text) {
			t.Fatalf("%q: text %q is not the rest of the input", text, r.Text)
		}
		if r.State != 0 && r.Stat == "" {
			t.Fatalf("%q: state %v without a stat", text, r.State)
		}
		again, err := ParseReceiptText(FormatReceiptText(r, nil), nil)
		if err != nil && r.MessageID != "" && !strings.ContainsFunc(r.MessageID, func(c rune) bool { return c < 0x80 && isReceiptSpace(byte(c)) }) {
			t.Fatalf("%q: formatted receipt does not parse: %v", text, err)
		}
		_ = again
	}
	// The same octets as a deliver_sm, plain and as UCS-2, with and without TLVs.
	for _, p := range []*DeliverSM{
		{ESMClass: ESMClassDeliveryRcpt, ShortMessage: []byte(text)},
		{ESMClass: ESMClassIntermediate, DataCoding: 0x08, ShortMessage: []byte(text)},
		{ESMClass: ESMClassDeliveryRcpt, TLVs: TLVs{{TagMessagePayload, []byte(text)}, {TagReceiptedMessageID, []byte(text)},
			{TagMessageState, []byte(text)}, {TagNetworkErrorCode, []byte(text)}}},
	} {
		if r, err := ParseReceipt(p, nil); (r == nil) == (err == nil) {
			t.Fatalf("%q: ParseReceipt gave receipt %v and error %v", text, r, err)
		}
	}
}

package text_test

import (
	"fmt"
	"strings"

	"github.com/smppd/smppd/smpp/text"
)

func Example() {
	msg := "नमस्ते! Your OTP is 123456 😀 " + strings.Repeat("-", 45)

	enc, err := text.ChooseEncoding(msg)
	if err != nil {
		panic(err)
	}
	info, _ := text.Count(msg, enc, text.Options{})
	fmt.Printf("%v, %d units, %d parts of up to %d\n", enc, info.Units, info.Parts, info.PerPart)

	// The reference comes from the caller, e.g. a per-destination counter.
	parts, err := text.Split(msg, enc, text.Options{Concat: text.ConcatUDH8, Ref: 0x2A})
	if err != nil {
		panic(err)
	}
	for _, p := range parts {
		// submit_sm: data_coding = enc.DataCoding(), esm_class |= 0x40
		// when p.UDHLen > 0, short_message = p.Data.
		fmt.Printf("part %d/%d: UDH % x, %d octets of text\n", p.Seq, p.Total, p.UDH(), len(p.Text()))
	}
	// Output:
	// UCS2, 75 units, 2 parts of up to 67
	// part 1/2: UDH 05 00 03 2a 02 01, 134 octets of text
	// part 2/2: UDH 05 00 03 2a 02 02, 16 octets of text
}

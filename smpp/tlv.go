package smpp

import (
	"encoding/binary"
	"fmt"
)

// Tag is the tag of an optional parameter (SMPP 3.4 §5.3.2).
type Tag uint16

// Tags of the SMPP 3.4 optional parameters, plus the DLT tags Indian carriers use (their
// numbers are configurable per carrier in the daemon; these are the common defaults).
const (
	TagDestAddrSubunit        Tag = 0x0005
	TagDestNetworkType        Tag = 0x0006
	TagDestBearerType         Tag = 0x0007
	TagDestTelematicsID       Tag = 0x0008
	TagSourceAddrSubunit      Tag = 0x000D
	TagSourceNetworkType      Tag = 0x000E
	TagSourceBearerType       Tag = 0x000F
	TagSourceTelematicsID     Tag = 0x0010
	TagQOSTimeToLive          Tag = 0x0017
	TagPayloadType            Tag = 0x0019
	TagAdditionalStatusInfo   Tag = 0x001D
	TagReceiptedMessageID     Tag = 0x001E
	TagMSMsgWaitFacilities    Tag = 0x0030
	TagPrivacyIndicator       Tag = 0x0201
	TagSourceSubaddress       Tag = 0x0202
	TagDestSubaddress         Tag = 0x0203
	TagUserMessageReference   Tag = 0x0204
	TagUserResponseCode       Tag = 0x0205
	TagSourcePort             Tag = 0x020A
	TagDestinationPort        Tag = 0x020B
	TagSARMsgRefNum           Tag = 0x020C
	TagLanguageIndicator      Tag = 0x020D
	TagSARTotalSegments       Tag = 0x020E
	TagSARSegmentSeqnum       Tag = 0x020F
	TagSCInterfaceVersion     Tag = 0x0210
	TagCallbackNumPresInd     Tag = 0x0302
	TagCallbackNumAtag        Tag = 0x0303
	TagNumberOfMessages       Tag = 0x0304
	TagCallbackNum            Tag = 0x0381
	TagDPFResult              Tag = 0x0420
	TagSetDPF                 Tag = 0x0421
	TagMSAvailabilityStatus   Tag = 0x0422
	TagNetworkErrorCode       Tag = 0x0423
	TagMessagePayload         Tag = 0x0424
	TagDeliveryFailureReason  Tag = 0x0425
	TagMoreMessagesToSend     Tag = 0x0426
	TagMessageState           Tag = 0x0427
	TagUSSDServiceOp          Tag = 0x0501
	TagDisplayTime            Tag = 0x1201
	TagSMSSignal              Tag = 0x1203
	TagMSValidity             Tag = 0x1204
	TagAlertOnMessageDelivery Tag = 0x130C
	TagItsReplyType           Tag = 0x1380
	TagItsSessionInfo         Tag = 0x1383

	// DLT tags (TRAI TCCCPR) as most Indian carriers number them.
	TagDLTPEID      Tag = 0x1400 // principal entity id, ASCII digits, no NUL
	TagDLTTemplate  Tag = 0x1401 // content template id, ASCII digits, no NUL
	TagDLTChainHash Tag = 0x1402 // PE→TM chain: SHA-256 hex or raw TM ids, per carrier
)

// TLV is one optional parameter. Value holds the exact octets of the wire value.
type TLV struct {
	Tag   Tag
	Value []byte
}

// TLVs is the optional part of a PDU, in wire order. Duplicate and unknown tags are kept as
// they came, so decode→encode reproduces the bytes.
type TLVs []TLV

// Uint8TLV, Uint16TLV and Uint32TLV build integer parameters of exactly that width; the value
// type makes silent truncation impossible.
func Uint8TLV(tag Tag, v uint8) TLV   { return TLV{tag, []byte{v}} }
func Uint16TLV(tag Tag, v uint16) TLV { return TLV{tag, binary.BigEndian.AppendUint16(nil, v)} }
func Uint32TLV(tag Tag, v uint32) TLV { return TLV{tag, binary.BigEndian.AppendUint32(nil, v)} }

// StringTLV builds an octet-string parameter without a terminating NUL (the form DLT tags
// and message_payload use).
func StringTLV(tag Tag, s string) TLV { return TLV{tag, []byte(s)} }

// CStringTLV builds a C-octet-string parameter: s followed by a NUL (receipted_message_id).
func CStringTLV(tag Tag, s string) TLV { return TLV{tag, append([]byte(s), 0)} }

// BytesTLV builds a parameter from raw octets, copied.
func BytesTLV(tag Tag, b []byte) TLV { return TLV{tag, append([]byte(nil), b...)} }

// Get returns the first parameter with the tag.
func (t TLVs) Get(tag Tag) (TLV, bool) {
	for _, v := range t {
		if v.Tag == tag {
			return v, true
		}
	}
	return TLV{}, false
}

// Has reports whether a parameter with the tag is present.
func (t TLVs) Has(tag Tag) bool { _, ok := t.Get(tag); return ok }

// Set replaces the first parameter with v's tag, or appends v; other parameters keep their
// places.
func (t *TLVs) Set(v TLV) {
	for i := range *t {
		if (*t)[i].Tag == v.Tag {
			(*t)[i] = v
			return
		}
	}
	*t = append(*t, v)
}

// Delete removes every parameter with the tag.
func (t *TLVs) Delete(tag Tag) {
	out := (*t)[:0]
	for _, v := range *t {
		if v.Tag != tag {
			out = append(out, v)
		}
	}
	*t = out
}

// TLVValueError says a parameter's value does not have the form its reader expects.
type TLVValueError struct {
	Tag    Tag
	Reason string
}

func (e *TLVValueError) Error() string {
	return fmt.Sprintf("smpp: tlv %#04x: %s", uint16(e.Tag), e.Reason)
}

func (t TLVs) fixed(tag Tag, n int) ([]byte, bool, error) {
	v, ok := t.Get(tag)
	if !ok {
		return nil, false, nil
	}
	if len(v.Value) != n {
		return nil, true, &TLVValueError{tag, fmt.Sprintf("value is %d octets, want %d", len(v.Value), n)}
	}
	return v.Value, true, nil
}

// Uint8 returns a one-octet parameter; a value of any other length is an error, never a
// truncation.
func (t TLVs) Uint8(tag Tag) (uint8, bool, error) {
	b, ok, err := t.fixed(tag, 1)
	if !ok || err != nil {
		return 0, ok, err
	}
	return b[0], true, nil
}

// Uint16 returns a two-octet big-endian parameter.
func (t TLVs) Uint16(tag Tag) (uint16, bool, error) {
	b, ok, err := t.fixed(tag, 2)
	if !ok || err != nil {
		return 0, ok, err
	}
	return binary.BigEndian.Uint16(b), true, nil
}

// Uint32 returns a four-octet big-endian parameter.
func (t TLVs) Uint32(tag Tag) (uint32, bool, error) {
	b, ok, err := t.fixed(tag, 4)
	if !ok || err != nil {
		return 0, ok, err
	}
	return binary.BigEndian.Uint32(b), true, nil
}

// String returns an octet-string parameter as text, exactly as sent.
func (t TLVs) String(tag Tag) (string, bool) {
	v, ok := t.Get(tag)
	return string(v.Value), ok
}

// CString returns a C-octet-string parameter without its NUL. A value with no NUL, or with
// one before the end, is an error: the peer sent something other than a C string.
func (t TLVs) CString(tag Tag) (string, bool, error) {
	v, ok := t.Get(tag)
	if !ok {
		return "", false, nil
	}
	n := len(v.Value)
	if n == 0 || v.Value[n-1] != 0 {
		return "", true, &TLVValueError{tag, "C string has no terminating NUL"}
	}
	for _, c := range v.Value[:n-1] {
		if c == 0 {
			return "", true, &TLVValueError{tag, "C string has a NUL before its end"}
		}
	}
	return string(v.Value[:n-1]), true, nil
}

// CStringLenient returns a text parameter with any trailing NULs removed. Receipts from real
// carriers carry receipted_message_id both with and without the NUL the spec asks for.
func (t TLVs) CStringLenient(tag Tag) (string, bool) {
	v, ok := t.Get(tag)
	if !ok {
		return "", false
	}
	b := v.Value
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return string(b), true
}

// Clone returns a deep copy.
func (t TLVs) Clone() TLVs {
	if t == nil {
		return nil
	}
	out := make(TLVs, len(t))
	for i, v := range t {
		out[i] = TLV{v.Tag, append([]byte(nil), v.Value...)}
	}
	return out
}

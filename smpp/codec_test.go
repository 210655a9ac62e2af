package smpp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
)

// Test fixtures shared by codec_test.go, golden_test.go, fuzz_test.go and diff_test.go. Every
// helper here starts with "ct" so it cannot collide with the session tests' helpers.

// DLT values as an Indian carrier sees them: 19-digit PE and template ids, and the PE→TM
// chain as the lowercase hex SHA-256 of the chain (64 characters). All three are octet
// strings without a NUL.
const (
	ctPEID       = "1101234567890123456"
	ctTemplateID = "1107161234567890123"
)

var ctChainHash = func() string {
	sum := sha256.Sum256([]byte(ctPEID + "," + "1702158976543210987"))
	return hex.EncodeToString(sum[:])
}()

func ctDLT() TLVs {
	return TLVs{
		StringTLV(TagDLTPEID, ctPEID),
		StringTLV(TagDLTTemplate, ctTemplateID),
		StringTLV(TagDLTChainHash, ctChainHash),
	}
}

// ctUCS2 returns s as UTF-16BE, the data_coding 8 form of short_message.
func ctUCS2(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.BigEndian.AppendUint16(b, u)
	}
	return b
}

const (
	ctAbsTime = "250301103000004+" // 2025-03-01 10:30:00.0, UTC+1h
	ctRelTime = "000001000000000R" // one day from now
)

// ctSample is one PDU value with the header it is sent under. name is also the golden file's
// base name in testdata/pdu.
type ctSample struct {
	name   string
	desc   string
	seq    uint32
	status CommandStatus
	pdu    PDU
}

// ctSamples returns fresh values of every PDU kind. Expectations are built the way the decoder
// produces them: empty slices are nil (an absent short_message, no TLVs, a zero-length TLV
// value), which is what reflect.DeepEqual needs.
func ctSamples() []ctSample {
	receipt := "id:5f3c9a1e0b sub:001 dlvrd:001 submit date:2503011030 done date:2503011031 stat:DELIVRD err:000 text:Your OTP is 4821"
	return []ctSample{
		{"bind_transmitter", "bind_transmitter with every field set", 1, ESME_ROK, &Bind{
			Mode: BindTransmitter, SystemID: "smppclient1", Password: "password", SystemType: "OTP",
			InterfaceVersion: 0x34, AddrTON: 1, AddrNPI: 1, AddressRange: "^91"}},
		{"bind_receiver", "bind_receiver, empty system_type and address_range", 2, ESME_ROK, &Bind{
			Mode: BindReceiver, SystemID: "rx", Password: "secret", InterfaceVersion: 0x34}},
		{"bind_transceiver", "bind_transceiver as the daemon sends it", 3, ESME_ROK, &Bind{
			Mode: BindTransceiver, SystemID: "smppd-trx-01", Password: "s3cr3t!", SystemType: "SMPP",
			InterfaceVersion: 0x34, AddrTON: 0, AddrNPI: 0, AddressRange: ""}},
		{"bind_transmitter_resp", "bind_transmitter_resp with sc_interface_version", 1, ESME_ROK, &BindResp{
			Mode: BindTransmitter, SystemID: "SMSC", TLVs: TLVs{Uint8TLV(TagSCInterfaceVersion, 0x34)}}},
		{"bind_receiver_resp", "bind_receiver_resp without TLVs", 2, ESME_ROK, &BindResp{
			Mode: BindReceiver, SystemID: "SMSC"}},
		{"bind_transceiver_resp", "bind_transceiver_resp refusing the password, body still present", 3, ESME_RINVPASWD, &BindResp{
			Mode: BindTransceiver, SystemID: "SMSC", TLVs: TLVs{Uint8TLV(TagSCInterfaceVersion, 0x34)}}},
		{"outbind", "outbind", 4, ESME_ROK, &Outbind{SystemID: "SMSC", Password: "pw"}},
		{"unbind", "unbind (header only)", 5, ESME_ROK, &Unbind{}},
		{"unbind_resp", "unbind_resp (header only)", 5, ESME_ROK, &UnbindResp{}},
		{"generic_nack", "generic_nack for an unknown command id", 6, ESME_RINVCMDID, &GenericNack{}},
		{"enquire_link", "enquire_link (header only)", 7, ESME_ROK, &EnquireLink{}},
		{"enquire_link_resp", "enquire_link_resp (header only)", 7, ESME_ROK, &EnquireLinkResp{}},
		{"submit_sm", "submit_sm, GSM text, receipt requested, absolute and relative times", 8, ESME_ROK, &SubmitSM{
			ServiceType: "CMT", Source: Address{5, 0, "SMPPD"}, Dest: Address{1, 1, "919812345678"},
			ProtocolID: 0, PriorityFlag: 1, ScheduleDeliveryTime: ctAbsTime, ValidityPeriod: ctRelTime,
			RegisteredDelivery: RegisteredDeliveryAll, DataCoding: 0, ShortMessage: []byte("Your OTP is 4821")}},
		{"submit_sm_dlt", "submit_sm with the three DLT TLVs 0x1400 PE_ID, 0x1401 CT_ID, 0x1402 chain hash (octet strings, no NUL)", 9, ESME_ROK, &SubmitSM{
			Source: Address{5, 0, "VM-SMPPD"}, Dest: Address{1, 1, "919812345678"},
			RegisteredDelivery: RegisteredDeliveryAll, ShortMessage: []byte("Dear customer, your OTP is 4821. Do not share it."),
			TLVs: ctDLT()}},
		{"submit_sm_payload", "submit_sm with the text in message_payload and sm_length 0", 10, ESME_ROK, &SubmitSM{
			Source: Address{1, 1, "919800000001"}, Dest: Address{1, 1, "919812345678"}, DataCoding: 0,
			TLVs: TLVs{StringTLV(TagMessagePayload, strings.Repeat("long text ", 40)), Uint16TLV(TagUserMessageReference, 0x1234)}}},
		{"submit_sm_ucs2_udh", "submit_sm, UCS-2 part 1 of 2 with an 8-bit concatenation UDH", 11, ESME_ROK, &SubmitSM{
			Source: Address{5, 0, "SMPPD"}, Dest: Address{1, 1, "919812345678"}, ESMClass: ESMClassUDHI, DataCoding: 8,
			ShortMessage: append([]byte{0x05, 0x00, 0x03, 0x2a, 0x02, 0x01}, ctUCS2("नमस्ते, आपका OTP 4821 है")...)}},
		{"submit_sm_resp", "submit_sm_resp with a message id", 8, ESME_ROK, &SubmitSMResp{MessageID: "5f3c9a1e0b"}},
		{"submit_sm_resp_tlv", "submit_sm_resp with additional_status_info_text (SMPP 5.0 style)", 9, ESME_RSUBMITFAIL, &SubmitSMResp{
			TLVs: TLVs{CStringTLV(TagAdditionalStatusInfo, "DLT template mismatch")}}},
		{"submit_multi", "submit_multi to two SMEs and a distribution list", 12, ESME_ROK, &SubmitMulti{
			ServiceType: "", Source: Address{5, 0, "SMPPD"},
			Dests: []DestAddress{
				{Address: Address{1, 1, "919812345678"}},
				{DLName: "friends"},
				{Address: Address{0, 0, "12345"}},
			},
			RegisteredDelivery: RegisteredDeliveryErr, ValidityPeriod: ctRelTime,
			ShortMessage: []byte("hello all"), TLVs: ctDLT()[:1]}},
		{"submit_multi_resp", "submit_multi_resp with two unsuccessful destinations", 12, ESME_ROK, &SubmitMultiResp{
			MessageID: "m-42", Unsuccess: []UnsuccessSME{
				{Address: Address{1, 1, "919812345678"}, Status: ESME_RINVDSTADR},
				{Address: Address{0, 0, "12345"}, Status: ESME_RTHROTTLED},
			}}},
		{"submit_multi_resp_none", "submit_multi_resp, every destination accepted", 13, ESME_ROK, &SubmitMultiResp{MessageID: "m-43"}},
		{"deliver_sm", "deliver_sm, a mobile-originated message", 14, ESME_ROK, &DeliverSM{
			Source: Address{1, 1, "919812345678"}, Dest: Address{0, 0, "56767"}, ShortMessage: []byte("STOP")}},
		{"deliver_sm_receipt", "deliver_sm delivery receipt with receipted_message_id, message_state, network_error_code", 15, ESME_ROK, &DeliverSM{
			Source: Address{1, 1, "919812345678"}, Dest: Address{5, 0, "SMPPD"}, ESMClass: ESMClassDeliveryRcpt,
			ShortMessage: []byte(receipt),
			TLVs: TLVs{
				CStringTLV(TagReceiptedMessageID, "5f3c9a1e0b"),
				Uint8TLV(TagMessageState, uint8(StateDelivered)),
				{TagNetworkErrorCode, []byte{0x03, 0x00, 0x00}}, // GSM, error 0
			}}},
		{"deliver_sm_dlt", "deliver_sm carrying the DLT TLVs back", 16, ESME_ROK, &DeliverSM{
			Source: Address{1, 1, "919812345678"}, Dest: Address{5, 0, "VM-SMPPD"}, DataCoding: 8,
			ShortMessage: ctUCS2("ठीक है"), TLVs: ctDLT()}},
		{"deliver_sm_resp", "deliver_sm_resp, empty message_id", 15, ESME_ROK, &DeliverSMResp{}},
		{"data_sm", "data_sm with 30-digit addresses (65 allowed) and message_payload", 17, ESME_ROK, &DataSM{
			ServiceType: "WAP", Source: Address{1, 1, strings.Repeat("9", 30)}, Dest: Address{2, 9, strings.Repeat("1234567890", 6)},
			ESMClass: 0, RegisteredDelivery: 1, DataCoding: 4,
			TLVs: TLVs{BytesTLV(TagMessagePayload, []byte{0x00, 0x01, 0xfe, 0xff}), Uint16TLV(TagSourcePort, 9200), Uint16TLV(TagDestinationPort, 2948)}}},
		{"data_sm_resp", "data_sm_resp with delivery_failure_reason", 17, ESME_RDELIVERYFAILURE, &DataSMResp{
			MessageID: "d-1", TLVs: TLVs{Uint8TLV(TagDeliveryFailureReason, 1)}}},
		{"query_sm", "query_sm", 18, ESME_ROK, &QuerySM{MessageID: "5f3c9a1e0b", Source: Address{5, 0, "SMPPD"}}},
		{"query_sm_resp", "query_sm_resp, delivered", 18, ESME_ROK, &QuerySMResp{
			MessageID: "5f3c9a1e0b", FinalDate: ctAbsTime, MessageState: StateDelivered, ErrorCode: 0}},
		{"cancel_sm", "cancel_sm", 19, ESME_ROK, &CancelSM{
			ServiceType: "CMT", MessageID: "5f3c9a1e0b", Source: Address{5, 0, "SMPPD"}, Dest: Address{1, 1, "919812345678"}}},
		{"cancel_sm_resp", "cancel_sm_resp (header only)", 19, ESME_ROK, &CancelSMResp{}},
		{"replace_sm", "replace_sm", 20, ESME_ROK, &ReplaceSM{
			MessageID: "5f3c9a1e0b", Source: Address{5, 0, "SMPPD"}, ScheduleDeliveryTime: "",
			ValidityPeriod: ctRelTime, RegisteredDelivery: 1, SMDefaultMsgID: 0, ShortMessage: []byte("Your OTP is 9999")}},
		{"replace_sm_resp", "replace_sm_resp (header only)", 20, ESME_ROK, &ReplaceSMResp{}},
		{"alert_notification", "alert_notification with ms_availability_status", 21, ESME_ROK, &AlertNotification{
			Source: Address{1, 1, "919812345678"}, ESME: Address{0, 0, "smppd"},
			TLVs: TLVs{Uint8TLV(TagMSAvailabilityStatus, 0)}}},
	}
}

func ctSample1(t testing.TB, name string) ctSample {
	t.Helper()
	for _, s := range ctSamples() {
		if s.name == name {
			return s
		}
	}
	t.Fatalf("no sample %q", name)
	return ctSample{}
}

func ctEncode(t testing.TB, seq uint32, st CommandStatus, p PDU) []byte {
	t.Helper()
	b, err := EncodePDU(seq, st, p)
	if err != nil {
		t.Fatalf("encode %T: %v", p, err)
	}
	return b
}

// ctFrame builds a raw frame from a command id and body parts, with command_length right.
func ctFrame(id CommandID, status CommandStatus, seq uint32, body ...[]byte) []byte {
	b := make([]byte, HeaderLen)
	putUint32(b[4:], uint32(id))
	putUint32(b[8:], uint32(status))
	putUint32(b[12:], seq)
	for _, p := range body {
		b = append(b, p...)
	}
	putUint32(b, uint32(len(b)))
	return b
}

func ctCS(s string) []byte { return append([]byte(s), 0) }

func ctTLVBytes(tag uint16, v []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, tag)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// ctSubmitBody is the mandatory part of a submit_sm body with the given short_message.
func ctSubmitBody(sm []byte) []byte {
	var b []byte
	b = append(b, ctCS("")...)                     // service_type
	b = append(b, 1, 1)                            // source ton, npi
	b = append(b, ctCS("919800000001")...)         // source_addr
	b = append(b, 1, 1)                            // dest ton, npi
	b = append(b, ctCS("919812345678")...)         // destination_addr
	b = append(b, 0, 0, 0)                         // esm_class, protocol_id, priority_flag
	b = append(b, ctCS("")...)                     // schedule_delivery_time
	b = append(b, ctCS("")...)                     // validity_period
	b = append(b, 1, 0, 0, 0)                      // registered_delivery, replace, data_coding, default_msg_id
	return append(append(b, byte(len(sm))), sm...) // sm_length, short_message
}

// ctWantFieldError checks that err is a *FieldError for field with status.
func ctWantFieldError(t *testing.T, err error, cmd CommandID, field string, st CommandStatus) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v (%T), want a *FieldError for %s", err, err, field)
	}
	if fe.Field != field || fe.Status != st || fe.Cmd != cmd {
		t.Fatalf("err = %+v, want Cmd %s Field %q Status %s", fe, cmd, field, st)
	}
	if fe.Reason == "" || !strings.Contains(fe.Error(), field) {
		t.Fatalf("error %q does not explain itself", fe.Error())
	}
}

// TestRoundTripEveryPDU encodes every PDU kind, checks the layout octet by octet with an
// independent walker, decodes it back to an equal value and re-encodes it byte-identically.
func TestRoundTripEveryPDU(t *testing.T) {
	seen := map[CommandID]bool{}
	for _, s := range ctSamples() {
		t.Run(s.name, func(t *testing.T) {
			frame := ctEncode(t, s.seq, s.status, s.pdu)
			seen[s.pdu.CommandID()] = true
			if _, err := ctDescribe(frame); err != nil {
				t.Fatalf("layout walker: %v\n%x", err, frame)
			}
			h, p, err := DecodePDU(frame)
			if err != nil {
				t.Fatalf("decode: %v\n%x", err, frame)
			}
			want := Header{Length: uint32(len(frame)), ID: s.pdu.CommandID(), Status: s.status, Sequence: s.seq}
			if h != want {
				t.Fatalf("header = %+v, want %+v", h, want)
			}
			if !reflect.DeepEqual(p, s.pdu) {
				t.Fatalf("decoded\n %#v\nwant\n %#v", p, s.pdu)
			}
			again := ctEncode(t, h.Sequence, h.Status, p)
			if !bytes.Equal(again, frame) {
				t.Fatalf("re-encoding differs:\n got %x\nwant %x", again, frame)
			}
			// AppendPDU appends after existing bytes and leaves them alone.
			prefix := []byte("prefix")
			app, err := AppendPDU(prefix, s.seq, s.status, s.pdu)
			if err != nil || string(app[:6]) != "prefix" || !bytes.Equal(app[6:], frame) {
				t.Fatalf("AppendPDU = %x, %v", app, err)
			}
		})
	}
	for id := range commandNames {
		if !seen[id] {
			t.Errorf("no round-trip sample for %s", id)
		}
	}
}

// TestDecodeMakesEmptySlicesNil pins the nil-vs-empty convention that DeepEqual-based tests
// (and callers comparing PDUs) rely on: an empty short_message, no TLVs and a zero-length TLV
// value all decode as nil, whatever the encoder was given.
func TestDecodeMakesEmptySlicesNil(t *testing.T) {
	in := &SubmitSM{Source: Address{1, 1, "1"}, Dest: Address{1, 1, "2"}, ShortMessage: []byte{}, TLVs: TLVs{{Tag: 0x1234, Value: []byte{}}}}
	_, p, err := DecodePDU(ctEncode(t, 1, ESME_ROK, in))
	if err != nil {
		t.Fatal(err)
	}
	got := p.(*SubmitSM)
	if got.ShortMessage != nil || len(got.TLVs) != 1 || got.TLVs[0].Value != nil {
		t.Fatalf("got %#v", got)
	}
	_, p, _ = DecodePDU(ctEncode(t, 1, ESME_ROK, &SubmitSM{TLVs: TLVs{}}))
	if p.(*SubmitSM).TLVs != nil {
		t.Fatalf("empty TLVs decoded as %#v", p.(*SubmitSM).TLVs)
	}
	_, p, _ = DecodePDU(ctEncode(t, 1, ESME_ROK, &SubmitMultiResp{Unsuccess: []UnsuccessSME{}}))
	if p.(*SubmitMultiResp).Unsuccess != nil {
		t.Fatalf("no unsuccess decoded as %#v", p.(*SubmitMultiResp).Unsuccess)
	}
}

// TestDecodeDoesNotAliasInput: DecodePDU's result must survive the caller reusing the frame.
func TestDecodeDoesNotAliasInput(t *testing.T) {
	s := ctSample1(t, "submit_sm_dlt")
	frame := ctEncode(t, s.seq, s.status, s.pdu)
	_, p, err := DecodePDU(frame)
	if err != nil {
		t.Fatal(err)
	}
	for i := range frame {
		frame[i] = 0xAA
	}
	if !reflect.DeepEqual(p, s.pdu) {
		t.Fatalf("decoded PDU changed when the input buffer was overwritten: %#v", p)
	}
}

func TestEncodeErrors(t *testing.T) {
	sm := func(mod func(*SubmitSM)) *SubmitSM {
		p := &SubmitSM{Source: Address{1, 1, "919800000001"}, Dest: Address{1, 1, "919812345678"}, ShortMessage: []byte("hi")}
		mod(p)
		return p
	}
	dests := func(n int) []DestAddress {
		d := make([]DestAddress, n)
		for i := range d {
			d[i].Address = Address{1, 1, "9198" + strconv.Itoa(10000000+i)}
		}
		return d
	}
	tests := []struct {
		name  string
		pdu   PDU
		field string
		st    CommandStatus
	}{
		{"short_message 255 octets", sm(func(p *SubmitSM) { p.ShortMessage = bytes.Repeat([]byte{'a'}, 255) }), "short_message", ESME_RINVMSGLEN},
		{"deliver_sm short_message 300 octets", (*DeliverSM)(sm(func(p *SubmitSM) { p.ShortMessage = make([]byte, 300) })), "short_message", ESME_RINVMSGLEN},
		{"replace_sm short_message 255 octets", &ReplaceSM{MessageID: "x", ShortMessage: make([]byte, 255)}, "short_message", ESME_RINVMSGLEN},
		{"source_addr 21 chars", sm(func(p *SubmitSM) { p.Source.Addr = strings.Repeat("1", 21) }), "source_addr", ESME_RINVSRCADR},
		{"destination_addr 21 chars", sm(func(p *SubmitSM) { p.Dest.Addr = strings.Repeat("1", 21) }), "destination_addr", ESME_RINVDSTADR},
		{"service_type 6 chars", sm(func(p *SubmitSM) { p.ServiceType = "ABCDEF" }), "service_type", ESME_RINVSERTYP},
		{"system_id 16 chars", &Bind{Mode: BindTransceiver, SystemID: strings.Repeat("s", 16), Password: "pw"}, "system_id", ESME_RINVSYSID},
		{"password 9 chars", &Bind{Mode: BindTransmitter, SystemID: "sys", Password: "123456789"}, "password", ESME_RINVPASWD},
		{"system_type 13 chars", &Bind{Mode: BindReceiver, SystemID: "sys", SystemType: strings.Repeat("t", 13)}, "system_type", ESME_RINVSYSTYP},
		{"bind_resp system_id 16 chars", &BindResp{Mode: BindReceiver, SystemID: strings.Repeat("s", 16)}, "system_id", ESME_RINVSYSID},
		{"outbind password 9 chars", &Outbind{SystemID: "s", Password: "123456789"}, "password", ESME_RINVPASWD},
		{"NUL inside system_id", &Bind{Mode: BindTransceiver, SystemID: "ab\x00cd"}, "system_id", ESME_RINVSYSID},
		{"NUL inside source_addr", sm(func(p *SubmitSM) { p.Source.Addr = "9198\x0000" }), "source_addr", ESME_RINVSRCADR},
		{"NUL inside message_id", &SubmitSMResp{MessageID: "\x00"}, "message_id", ESME_RINVMSGID},
		{"schedule_delivery_time 15 chars", sm(func(p *SubmitSM) { p.ScheduleDeliveryTime = ctAbsTime[:15] }), "schedule_delivery_time", ESME_RINVSCHED},
		{"schedule_delivery_time 17 chars", sm(func(p *SubmitSM) { p.ScheduleDeliveryTime = ctAbsTime + "0" }), "schedule_delivery_time", ESME_RINVSCHED},
		{"validity_period 1 char", sm(func(p *SubmitSM) { p.ValidityPeriod = "1" }), "validity_period", ESME_RINVEXPIRY},
		{"replace_sm validity_period 10 chars", &ReplaceSM{ValidityPeriod: "2503011030"}, "validity_period", ESME_RINVEXPIRY},
		{"query_sm_resp final_date 12 chars", &QuerySMResp{FinalDate: "250301103000"}, "final_date", ESME_RINVPARLEN},
		{"short_message with message_payload", sm(func(p *SubmitSM) { p.TLVs = TLVs{StringTLV(TagMessagePayload, "x")} }), "short_message", ESME_RINVMSGLEN},
		{"deliver_sm short_message with message_payload", (*DeliverSM)(sm(func(p *SubmitSM) { p.TLVs = TLVs{StringTLV(TagMessagePayload, "x")} })), "short_message", ESME_RINVMSGLEN},
		{"submit_multi 0 destinations", &SubmitMulti{Source: Address{1, 1, "1"}}, "number_of_dests", ESME_RINVNUMDESTS},
		{"submit_multi 255 destinations", &SubmitMulti{Source: Address{1, 1, "1"}, Dests: dests(255)}, "number_of_dests", ESME_RINVNUMDESTS},
		{"submit_multi dl_name 21 chars", &SubmitMulti{Dests: []DestAddress{{DLName: strings.Repeat("d", 21)}}}, "dl_name", ESME_RINVDLNAME},
		{"submit_multi dest_addr 21 chars", &SubmitMulti{Dests: []DestAddress{{Address: Address{1, 1, strings.Repeat("1", 21)}}}}, "destination_addr", ESME_RINVDSTADR},
		{"submit_multi_resp 255 unsuccess", &SubmitMultiResp{Unsuccess: make([]UnsuccessSME, 255)}, "no_unsuccess", ESME_RINVNUMDESTS},
		{"data_sm source_addr 65 chars", &DataSM{Source: Address{1, 1, strings.Repeat("1", 65)}}, "source_addr", ESME_RINVSRCADR},
		{"alert_notification esme_addr 65 chars", &AlertNotification{ESME: Address{Addr: strings.Repeat("e", 65)}}, "esme_addr", ESME_RINVDSTADR},
		{"TLV value 65536 octets", sm(func(p *SubmitSM) { p.TLVs = TLVs{BytesTLV(TagDLTChainHash, make([]byte, 65536))} }), "tlv 0x1402", ESME_RINVPARLEN},
		{"bind_resp TLV value 70000 octets", &BindResp{Mode: BindTransceiver, TLVs: TLVs{{TagSCInterfaceVersion, make([]byte, 70000)}}}, "tlv 0x0210", ESME_RINVPARLEN},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := AppendPDU(dst, 7, ESME_ROK, tc.pdu)
			ctWantFieldError(t, err, tc.pdu.CommandID(), tc.field, tc.st)
			if string(out) != "keep" {
				t.Fatalf("AppendPDU returned %q on error, want dst unchanged", out)
			}
			if b, err := EncodePDU(7, ESME_ROK, tc.pdu); err == nil || b != nil {
				t.Fatalf("EncodePDU = %x, %v", b, err)
			}
		})
	}
}

// TestEncodeLimitsAccepted: the largest legal values encode and decode.
func TestEncodeLimitsAccepted(t *testing.T) {
	dests := make([]DestAddress, maxDests)
	for i := range dests {
		dests[i].Address = Address{1, 1, strings.Repeat("9", 20)}
	}
	unsuccess := make([]UnsuccessSME, maxDests)
	for i := range unsuccess {
		unsuccess[i] = UnsuccessSME{Address{1, 1, strconv.Itoa(i)}, ESME_RINVDSTADR}
	}
	for _, p := range []PDU{
		&SubmitSM{Source: Address{1, 1, strings.Repeat("1", 20)}, Dest: Address{1, 1, strings.Repeat("2", 20)},
			ServiceType: "ABCDE", ShortMessage: bytes.Repeat([]byte{0xff}, MaxShortMessage)},
		&Bind{Mode: BindTransceiver, SystemID: strings.Repeat("s", 15), Password: strings.Repeat("p", 8),
			SystemType: strings.Repeat("t", 12), AddressRange: strings.Repeat("a", 40)},
		&SubmitMulti{Source: Address{1, 1, "1"}, Dests: dests},
		&SubmitMultiResp{MessageID: strings.Repeat("m", 64), Unsuccess: unsuccess},
		&DataSM{Source: Address{1, 1, strings.Repeat("1", 64)}, Dest: Address{1, 1, strings.Repeat("2", 64)},
			TLVs: TLVs{{TagMessagePayload, bytes.Repeat([]byte{'x'}, 0xFFFF)}}},
	} {
		frame := ctEncode(t, 1, ESME_ROK, p)
		_, got, err := DecodePDU(frame)
		if err != nil {
			t.Fatalf("%T: %v", p, err)
		}
		if !reflect.DeepEqual(got, p) {
			t.Fatalf("%T: round trip differs", p)
		}
	}
}

// TestDecodeTruncatedSubmitSM cuts a valid submit_sm (with TLVs) at every octet, patching
// command_length so that only the body is short. A cut between two TLVs (or right after
// short_message) leaves a valid PDU with fewer TLVs; every other cut is a *FieldError that
// names a field. Nothing panics.
func TestDecodeTruncatedSubmitSM(t *testing.T) {
	s := ctSample1(t, "submit_sm_dlt")
	full := ctEncode(t, s.seq, s.status, s.pdu)
	segs, err := ctDescribe(full)
	if err != nil {
		t.Fatal(err)
	}
	// Offsets at which the TLV part may legally end.
	valid := map[int]int{} // cut -> number of TLVs kept
	off, ntlv := 0, -1
	for _, sg := range segs {
		off += len(sg.b)
		if sg.name == "short_message" {
			ntlv = 0
			valid[off] = 0
		} else if strings.HasPrefix(sg.name, "tlv ") {
			ntlv++
			valid[off] = ntlv
		}
	}
	if off != len(full) || len(valid) != 4 {
		t.Fatalf("walker covered %d of %d octets, %d TLV boundaries", off, len(full), len(valid))
	}
	fields := map[string]bool{}
	for cut := 0; cut < len(full); cut++ {
		frame := append([]byte(nil), full[:cut]...)
		if cut >= 4 {
			putUint32(frame, uint32(cut))
		}
		h, p, err := DecodePDU(frame)
		if n, ok := valid[cut]; ok {
			if err != nil {
				t.Fatalf("cut %d (after %d TLVs): %v", cut, n, err)
			}
			want := *s.pdu.(*SubmitSM)
			want.TLVs = want.TLVs[:n:n]
			if n == 0 {
				want.TLVs = nil
			}
			if got := p.(*SubmitSM); !reflect.DeepEqual(got, &want) {
				t.Fatalf("cut %d: got %#v", cut, got)
			}
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field == "" || fe.Status == ESME_ROK || p != nil {
			t.Fatalf("cut %d: p=%v err=%v, want a *FieldError naming a field", cut, p, err)
		}
		if cut >= HeaderLen && (fe.Cmd != SubmitSMID || h.ID != SubmitSMID) {
			t.Fatalf("cut %d: error %+v, header %+v", cut, fe, h)
		}
		fields[fe.Field] = true
	}
	for _, f := range []string{"header", "service_type", "source_addr_ton", "source_addr", "destination_addr",
		"esm_class", "schedule_delivery_time", "sm_default_msg_id", "sm_length", "short_message", "tlv", "tlv 0x1400", "tlv 0x1402"} {
		if !fields[f] {
			t.Errorf("no cut reported field %q; reported %v", f, fields)
		}
	}
}

// TestDecodeTruncatedEveryPDU cuts every sample at every octet: never a panic, and every
// failure is a *FieldError naming a field.
func TestDecodeTruncatedEveryPDU(t *testing.T) {
	for _, s := range ctSamples() {
		full := ctEncode(t, s.seq, s.status, s.pdu)
		for cut := 0; cut < len(full); cut++ {
			frame := append([]byte(nil), full[:cut]...)
			if cut >= 4 {
				putUint32(frame, uint32(cut))
			}
			_, p, err := DecodePDU(frame)
			if err == nil {
				// Only possible at a TLV boundary or for an error response's empty body.
				if _, err := EncodePDU(1, s.status, p); err != nil {
					t.Fatalf("%s cut %d: decoded PDU does not re-encode: %v", s.name, cut, err)
				}
				continue
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("%s cut %d: %v", s.name, cut, err)
			}
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	withTLVs := func(tlv ...[]byte) []byte {
		b := ctSubmitBody([]byte("hi"))
		for _, v := range tlv {
			b = append(b, v...)
		}
		return b
	}
	longLen := ctFrame(EnquireLinkID, 0, 1)
	putUint32(longLen, 17)
	shortLen := ctFrame(SubmitSMID, 0, 1, ctSubmitBody([]byte("hi")))
	putUint32(shortLen, uint32(len(shortLen)-1))
	tinyLen := ctFrame(EnquireLinkID, 0, 1)
	putUint32(tinyLen, 12)
	tests := []struct {
		name  string
		frame []byte
		cmd   CommandID
		field string
		st    CommandStatus
	}{
		{"header short", []byte{0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0}, 0, "header", ESME_RINVCMDLEN},
		{"empty", nil, 0, "header", ESME_RINVCMDLEN},
		{"command_length larger than frame", longLen, EnquireLinkID, "command_length", ESME_RINVCMDLEN},
		{"command_length smaller than frame", shortLen, SubmitSMID, "command_length", ESME_RINVCMDLEN},
		{"command_length below header", tinyLen, EnquireLinkID, "command_length", ESME_RINVCMDLEN},
		{"unknown command id", ctFrame(0x00000099, 0, 1), 0x00000099, "command_id", ESME_RINVCMDID},
		{"unknown response id", ctFrame(0x80000099, ESME_RSYSERR, 1), 0x80000099, "command_id", ESME_RINVCMDID},
		{"reserved id 0x0a", ctFrame(0x0000000A, 0, 1, []byte{0}), 0x0000000A, "command_id", ESME_RINVCMDID},
		{"trailing junk after enquire_link", ctFrame(EnquireLinkID, 0, 1, []byte{0xde, 0xad}), EnquireLinkID, "body", ESME_RINVCMDLEN},
		{"trailing junk after unbind_resp", ctFrame(UnbindRespID, 0, 1, []byte{0}), UnbindRespID, "body", ESME_RINVCMDLEN},
		{"trailing junk after query_sm", ctFrame(QuerySMID, 0, 1, ctCS("id"), []byte{1, 1}, ctCS("1"), []byte{9}), QuerySMID, "body", ESME_RINVCMDLEN},
		{"sm_length larger than remaining", ctFrame(SubmitSMID, 0, 1, ctSubmitBody([]byte("hello"))[:len(ctSubmitBody([]byte("hello")))-2]), SubmitSMID, "short_message", ESME_RINVMSGLEN},
		{"sm_length 255", ctFrame(SubmitSMID, 0, 1, ctSubmitBody(make([]byte, 255))), SubmitSMID, "sm_length", ESME_RINVMSGLEN},
		{"source_addr without NUL within 21", ctFrame(SubmitSMID, 0, 1, ctCS(""), []byte{1, 1}, ctCS(strings.Repeat("9", 21)), []byte{1, 1}, ctCS("1")), SubmitSMID, "source_addr", ESME_RINVSRCADR},
		{"system_id without NUL within 16", ctFrame(BindTransceiverID, 0, 1, ctCS(strings.Repeat("s", 16)), ctCS("pw"), ctCS(""), []byte{0x34, 0, 0}, ctCS("")), BindTransceiverID, "system_id", ESME_RINVSYSID},
		{"password without NUL within 9", ctFrame(BindTransmitterID, 0, 1, ctCS("s"), ctCS(strings.Repeat("p", 9)), ctCS(""), []byte{0x34, 0, 0}, ctCS("")), BindTransmitterID, "password", ESME_RINVPASWD},
		{"C string runs off the body", ctFrame(SubmitSMID, 0, 1, ctCS(""), []byte{1, 1}, []byte("9198")), SubmitSMID, "source_addr", ESME_RINVCMDLEN},
		{"message_id without NUL within 65", ctFrame(SubmitSMRespID, 0, 1, ctCS(strings.Repeat("m", 65))), SubmitSMRespID, "message_id", ESME_RINVMSGID},
		{"TLV header truncated (2 octets)", ctFrame(SubmitSMID, 0, 1, withTLVs([]byte{0x14, 0x00})), SubmitSMID, "tlv", ESME_RINVOPTPARSTREAM},
		{"TLV header truncated after a good TLV", ctFrame(SubmitSMID, 0, 1, withTLVs(ctTLVBytes(0x1400, []byte(ctPEID)), []byte{0x14, 0x01, 0x00})), SubmitSMID, "tlv", ESME_RINVOPTPARSTREAM},
		{"TLV length overruns body", ctFrame(SubmitSMID, 0, 1, withTLVs(ctTLVBytes(0x1400, []byte(ctPEID))[:10])), SubmitSMID, "tlv 0x1400", ESME_RINVPARLEN},
		{"TLV length 0xffff with 1 octet", ctFrame(DataSMRespID, 0, 1, ctCS("x"), []byte{0x04, 0x24, 0xff, 0xff, 'a'}), DataSMRespID, "tlv 0x0424", ESME_RINVPARLEN},
		{"submit_multi 0 dests", ctFrame(SubmitMultiID, 0, 1, ctCS(""), []byte{1, 1}, ctCS("1"), []byte{0}), SubmitMultiID, "number_of_dests", ESME_RINVNUMDESTS},
		{"submit_multi 255 dests", ctFrame(SubmitMultiID, 0, 1, ctCS(""), []byte{1, 1}, ctCS("1"), []byte{255}), SubmitMultiID, "number_of_dests", ESME_RINVNUMDESTS},
		{"submit_multi dest_flag 3", ctFrame(SubmitMultiID, 0, 1, ctCS(""), []byte{1, 1}, ctCS("1"), []byte{1, 3}), SubmitMultiID, "dest_flag", ESME_RINVDESTFLAG},
		{"submit_multi dl_name too long", ctFrame(SubmitMultiID, 0, 1, ctCS(""), []byte{1, 1}, ctCS("1"), []byte{1, 2}, ctCS(strings.Repeat("d", 21))), SubmitMultiID, "dl_name", ESME_RINVDLNAME},
		{"submit_multi_resp unsuccess truncated", ctFrame(SubmitMultiRespID, 0, 1, ctCS("m"), []byte{2, 1, 1}, ctCS("1"), []byte{0, 0, 0, 0x0b}), SubmitMultiRespID, "dest_addr_ton", ESME_RINVCMDLEN},
		{"submit_multi_resp error_status_code truncated", ctFrame(SubmitMultiRespID, 0, 1, ctCS("m"), []byte{1, 1, 1}, ctCS("1"), []byte{0, 0}), SubmitMultiRespID, "error_status_code", ESME_RINVCMDLEN},
		{"schedule_delivery_time of 14 characters", ctFrame(SubmitSMID, 0, 1, ctCS(""), []byte{1, 1}, ctCS("1"), []byte{1, 1}, ctCS("2"), []byte{0, 0, 0}, ctCS(ctAbsTime[:14]), ctCS(""), []byte{0, 0, 0, 0, 0}), SubmitSMID, "schedule_delivery_time", ESME_RINVSCHED},
		{"validity_period of 1 character", ctFrame(DeliverSMID, 0, 1, ctCS(""), []byte{1, 1}, ctCS("1"), []byte{1, 1}, ctCS("2"), []byte{0, 0, 0}, ctCS(""), ctCS("5"), []byte{0, 0, 0, 0, 0}), DeliverSMID, "validity_period", ESME_RINVEXPIRY},
		{"replace_sm schedule_delivery_time of 15 characters", ctFrame(ReplaceSMID, 0, 1, ctCS("id"), []byte{1, 1}, ctCS("1"), ctCS(ctAbsTime[:15]), ctCS(""), []byte{0, 0, 0}), ReplaceSMID, "schedule_delivery_time", ESME_RINVSCHED},
		{"submit_multi validity_period of 2 characters", ctFrame(SubmitMultiID, 0, 1, ctCS(""), []byte{1, 1}, ctCS("1"), []byte{1, 1, 1, 1}, ctCS("2"), []byte{0, 0, 0}, ctCS(""), ctCS("10"), []byte{0, 0, 0, 0, 0}), SubmitMultiID, "validity_period", ESME_RINVEXPIRY},
		{"query_sm_resp final_date of 12 characters", ctFrame(QuerySMRespID, 0, 1, ctCS("id"), ctCS("250301103000"), []byte{2, 0}), QuerySMRespID, "final_date", ESME_RINVPARLEN},
		{"short_message with message_payload", ctFrame(SubmitSMID, 0, 1, ctSubmitBody([]byte("hi")), ctTLVBytes(0x0424, []byte("payload"))), SubmitSMID, "short_message", ESME_RINVMSGLEN},
		{"deliver_sm short_message with message_payload", ctFrame(DeliverSMID, 0, 1, ctSubmitBody([]byte("hi")), ctTLVBytes(0x0424, nil)), DeliverSMID, "short_message", ESME_RINVMSGLEN},
		{"submit_multi empty dl_name", ctFrame(SubmitMultiID, 0, 1, ctCS(""), []byte{1, 1}, ctCS("1"), []byte{1, 2}, ctCS(""), []byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 0}), SubmitMultiID, "dl_name", ESME_RINVDLNAME},
		{"submit_multi_resp no_unsuccess 255", ctFrame(SubmitMultiRespID, 0, 1, ctCS("m"), []byte{255}), SubmitMultiRespID, "no_unsuccess", ESME_RINVNUMDESTS},
		{"submit_sm_resp ESME_ROK with empty body", ctFrame(SubmitSMRespID, ESME_ROK, 1), SubmitSMRespID, "message_id", ESME_RINVCMDLEN},
		{"submit_sm with empty body", ctFrame(SubmitSMID, ESME_ROK, 1), SubmitSMID, "service_type", ESME_RINVCMDLEN},
		{"bind with error status and empty body is still a request", ctFrame(BindTransceiverID, ESME_RSYSERR, 1), BindTransceiverID, "system_id", ESME_RINVCMDLEN},
		{"query_sm_resp missing error_code", ctFrame(QuerySMRespID, 0, 1, ctCS("id"), ctCS(""), []byte{2}), QuerySMRespID, "error_code", ESME_RINVCMDLEN},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, p, err := DecodePDU(tc.frame)
			if p != nil {
				t.Fatalf("got a PDU %#v with error %v", p, err)
			}
			ctWantFieldError(t, err, tc.cmd, tc.field, tc.st)
		})
	}
}

// TestDecodeEmptyErrorResponses: a response carrying an error may omit its body.
func TestDecodeEmptyErrorResponses(t *testing.T) {
	tests := []struct {
		id   CommandID
		st   CommandStatus
		want PDU
	}{
		{SubmitSMRespID, ESME_RTHROTTLED, &SubmitSMResp{}},
		{SubmitSMRespID, ESME_RINVDSTADR, &SubmitSMResp{}},
		{BindTransceiverRespID, ESME_RINVPASWD, &BindResp{Mode: BindTransceiver}},
		{BindReceiverRespID, ESME_RBINDFAIL, &BindResp{Mode: BindReceiver}},
		{BindTransmitterRespID, ESME_RINVSYSID, &BindResp{Mode: BindTransmitter}},
		{DeliverSMRespID, ESME_RX_T_APPN, &DeliverSMResp{}},
		{DataSMRespID, ESME_RDELIVERYFAILURE, &DataSMResp{}},
		{SubmitMultiRespID, ESME_RINVNUMDESTS, &SubmitMultiResp{}},
		{QuerySMRespID, ESME_RQUERYFAIL, &QuerySMResp{}},
		{GenericNackID, ESME_RINVCMDLEN, &GenericNack{}},
	}
	for _, tc := range tests {
		t.Run(tc.id.String()+"/"+tc.st.String(), func(t *testing.T) {
			h, p, err := DecodePDU(ctFrame(tc.id, tc.st, 42))
			if err != nil {
				t.Fatal(err)
			}
			if h.Status != tc.st || h.Sequence != 42 || h.ID != tc.id || !reflect.DeepEqual(p, tc.want) {
				t.Fatalf("got %+v %#v", h, p)
			}
			// Re-encoding writes the (empty) mandatory fields, which decode to the same value.
			_, p2, err := DecodePDU(ctEncode(t, 42, tc.st, p))
			if err != nil || !reflect.DeepEqual(p2, tc.want) {
				t.Fatalf("re-encoded: %#v, %v", p2, err)
			}
		})
	}
}

func TestDecodeHeader(t *testing.T) {
	b := ctFrame(DeliverSMRespID, ESME_RTHROTTLED, MaxSequence, ctCS(""))
	h, err := DecodeHeader(b)
	if err != nil || h != (Header{17, DeliverSMRespID, ESME_RTHROTTLED, MaxSequence}) {
		t.Fatalf("%+v %v", h, err)
	}
	if _, err := DecodeHeader(b[:15]); err == nil {
		t.Fatal("15 octets decoded as a header")
	}
}

// TestTLVsPreservedByteExact: unknown tags, duplicates and zero-length values survive
// decode→encode in wire order.
func TestTLVsPreservedByteExact(t *testing.T) {
	tlvs := [][]byte{
		ctTLVBytes(0x1400, []byte(ctPEID)),
		ctTLVBytes(0xBEEF, []byte{0, 1, 2, 0, 0xff}), // unknown vendor tag
		ctTLVBytes(0x1400, []byte("duplicate")),      // duplicate of the first
		ctTLVBytes(0x0000, nil),                      // zero tag, zero length
		ctTLVBytes(0x001E, ctCS("abc")),
		ctTLVBytes(0xFFFF, []byte{1}),
	}
	body := ctSubmitBody(nil)
	for _, v := range tlvs {
		body = append(body, v...)
	}
	for _, id := range []CommandID{SubmitSMID, DeliverSMID} {
		frame := ctFrame(id, 0, 3, body)
		_, p, err := DecodePDU(frame)
		if err != nil {
			t.Fatal(err)
		}
		var got TLVs
		switch p := p.(type) {
		case *SubmitSM:
			got = p.TLVs
		case *DeliverSM:
			got = p.TLVs
		}
		want := TLVs{
			{0x1400, []byte(ctPEID)}, {0xBEEF, []byte{0, 1, 2, 0, 0xff}}, {0x1400, []byte("duplicate")},
			{0x0000, nil}, {0x001E, ctCS("abc")}, {0xFFFF, []byte{1}},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("TLVs = %#v", got)
		}
		if v, _ := got.String(0x1400); v != ctPEID {
			t.Fatalf("Get returns %q, want the first of the duplicates", v)
		}
		if again := ctEncode(t, 3, 0, p); !bytes.Equal(again, frame) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", again, frame)
		}
	}
}

func TestTLVIntegerGetters(t *testing.T) {
	tl := TLVs{
		{1, []byte{0x7f}}, {2, []byte{0x12, 0x34}}, {4, []byte{0xde, 0xad, 0xbe, 0xef}},
		{10, nil}, {11, []byte{1, 2, 3}}, {12, []byte{1, 2, 3, 4, 5, 6, 7, 8}},
	}
	type res struct {
		v     uint32
		found bool
		err   bool
	}
	get8 := func(tag Tag) res { v, ok, err := tl.Uint8(tag); return res{uint32(v), ok, err != nil} }
	get16 := func(tag Tag) res { v, ok, err := tl.Uint16(tag); return res{uint32(v), ok, err != nil} }
	get32 := func(tag Tag) res { v, ok, err := tl.Uint32(tag); return res{v, ok, err != nil} }
	tests := []struct {
		name string
		got  res
		want res
	}{
		{"uint8 ok", get8(1), res{0x7f, true, false}},
		{"uint8 of 2 octets", get8(2), res{0, true, true}},
		{"uint8 of 0 octets", get8(10), res{0, true, true}},
		{"uint8 of 4 octets", get8(4), res{0, true, true}},
		{"uint8 missing", get8(99), res{0, false, false}},
		{"uint16 ok", get16(2), res{0x1234, true, false}},
		{"uint16 of 1 octet", get16(1), res{0, true, true}},
		{"uint16 of 3 octets", get16(11), res{0, true, true}},
		{"uint16 of 4 octets", get16(4), res{0, true, true}},
		{"uint16 missing", get16(99), res{0, false, false}},
		{"uint32 ok", get32(4), res{0xdeadbeef, true, false}},
		{"uint32 of 2 octets", get32(2), res{0, true, true}},
		{"uint32 of 3 octets", get32(11), res{0, true, true}},
		{"uint32 of 8 octets", get32(12), res{0, true, true}},
		{"uint32 of 0 octets", get32(10), res{0, true, true}},
		{"uint32 missing", get32(99), res{0, false, false}},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, tc.got, tc.want)
		}
	}
	_, _, err := tl.Uint16(4)
	var ve *TLVValueError
	if !errors.As(err, &ve) || ve.Tag != 4 || !strings.Contains(err.Error(), "tlv 0x0004") {
		t.Fatalf("err = %v", err)
	}
	// The builders produce exactly the widths the getters want.
	b := TLVs{Uint8TLV(1, 0xab), Uint16TLV(2, 0xabcd), Uint32TLV(3, 0x01020304)}
	if v, _, err := b.Uint8(1); v != 0xab || err != nil {
		t.Fatal(v, err)
	}
	if v, _, err := b.Uint16(2); v != 0xabcd || err != nil {
		t.Fatal(v, err)
	}
	if v, _, err := b.Uint32(3); v != 0x01020304 || err != nil || !bytes.Equal(b[2].Value, []byte{1, 2, 3, 4}) {
		t.Fatal(v, err)
	}
}

func TestTLVStringGetters(t *testing.T) {
	tl := TLVs{
		{1, ctCS("abc")}, {2, []byte("abc")}, {3, []byte("ab\x00c\x00")}, {4, nil}, {5, []byte{0}},
		{6, []byte("abc\x00\x00")}, {7, []byte("a\x00b")},
	}
	tests := []struct {
		tag     Tag
		cstr    string
		cerr    bool
		lenient string
		str     string
	}{
		{1, "abc", false, "abc", "abc\x00"},
		{2, "", true, "abc", "abc"},             // no NUL
		{3, "", true, "ab\x00c", "ab\x00c\x00"}, // NUL before the end
		{4, "", true, "", ""},                   // empty value: not even the NUL
		{5, "", false, "", "\x00"},              // just the NUL: the empty C string
		{6, "", true, "abc", "abc\x00\x00"},     // two NULs: "exactly one terminating NUL"
		{7, "", true, "a\x00b", "a\x00b"},
	}
	for _, tc := range tests {
		s, ok, err := tl.CString(tc.tag)
		if s != tc.cstr || !ok || (err != nil) != tc.cerr {
			t.Errorf("CString(%d) = %q, %v, %v", tc.tag, s, ok, err)
		}
		if l, ok := tl.CStringLenient(tc.tag); l != tc.lenient || !ok {
			t.Errorf("CStringLenient(%d) = %q, %v", tc.tag, l, ok)
		}
		if s, ok := tl.String(tc.tag); s != tc.str || !ok {
			t.Errorf("String(%d) = %q, %v", tc.tag, s, ok)
		}
	}
	if s, ok, err := tl.CString(99); s != "" || ok || err != nil {
		t.Errorf("CString(missing) = %q %v %v", s, ok, err)
	}
	if s, ok := tl.CStringLenient(99); s != "" || ok {
		t.Errorf("CStringLenient(missing) = %q %v", s, ok)
	}
	if s, ok := tl.String(99); s != "" || ok {
		t.Errorf("String(missing) = %q %v", s, ok)
	}
	if v := StringTLV(TagDLTPEID, ctPEID).Value; string(v) != ctPEID {
		t.Errorf("StringTLV added something: %q", v)
	}
	if v := CStringTLV(TagReceiptedMessageID, "id").Value; string(v) != "id\x00" {
		t.Errorf("CStringTLV = %q", v)
	}
	src := []byte{1, 2, 3}
	bt := BytesTLV(1, src)
	src[0] = 9
	if bt.Value[0] != 1 {
		t.Error("BytesTLV does not copy")
	}
}

func TestTLVSetDeleteClone(t *testing.T) {
	a, b, c := StringTLV(1, "a"), StringTLV(2, "b"), StringTLV(3, "c")
	tl := TLVs{a, b, c, StringTLV(2, "b2")}
	tl.Set(StringTLV(2, "B"))
	want := TLVs{a, StringTLV(2, "B"), c, StringTLV(2, "b2")}
	if !reflect.DeepEqual(tl, want) {
		t.Fatalf("Set in place: %v", tl)
	}
	tl.Set(StringTLV(4, "d"))
	if len(tl) != 5 || tl[4].Tag != 4 {
		t.Fatalf("Set of a new tag must append: %v", tl)
	}
	var empty TLVs
	empty.Set(a)
	if !reflect.DeepEqual(empty, TLVs{a}) {
		t.Fatalf("Set on nil: %v", empty)
	}
	cl := tl.Clone()
	cl[0].Value[0] = 'z'
	if string(tl[0].Value) != "a" {
		t.Fatal("Clone shares values")
	}
	if TLVs(nil).Clone() != nil {
		t.Fatal("Clone(nil) != nil")
	}
	tl.Delete(2) // both duplicates go
	if !reflect.DeepEqual(tl, TLVs{a, c, StringTLV(4, "d")}) {
		t.Fatalf("Delete: %v", tl)
	}
	tl.Delete(99)
	if len(tl) != 3 {
		t.Fatalf("Delete of a missing tag changed %v", tl)
	}
	if !tl.Has(3) || tl.Has(2) {
		t.Fatal("Has")
	}
	var none TLVs
	none.Delete(1)
	if v, ok := none.Get(1); ok || v.Value != nil {
		t.Fatal("Get on nil")
	}
}

func TestPayload(t *testing.T) {
	p := &SubmitSM{ShortMessage: []byte("sm")}
	if string(p.Payload()) != "sm" {
		t.Fatal(p.Payload())
	}
	p = &SubmitSM{TLVs: TLVs{StringTLV(TagMessagePayload, "payload")}}
	if string(p.Payload()) != "payload" || string((*DeliverSM)(p).Payload()) != "payload" {
		t.Fatal(p.Payload())
	}
	if (&SubmitSM{}).Payload() != nil {
		t.Fatal("empty payload")
	}
}

func TestCommandIDString(t *testing.T) {
	want := map[CommandID]string{
		GenericNackID: "generic_nack", BindReceiverID: "bind_receiver", BindReceiverRespID: "bind_receiver_resp",
		BindTransmitterID: "bind_transmitter", BindTransmitterRespID: "bind_transmitter_resp",
		QuerySMID: "query_sm", QuerySMRespID: "query_sm_resp", SubmitSMID: "submit_sm", SubmitSMRespID: "submit_sm_resp",
		DeliverSMID: "deliver_sm", DeliverSMRespID: "deliver_sm_resp", UnbindID: "unbind", UnbindRespID: "unbind_resp",
		ReplaceSMID: "replace_sm", ReplaceSMRespID: "replace_sm_resp", CancelSMID: "cancel_sm", CancelSMRespID: "cancel_sm_resp",
		BindTransceiverID: "bind_transceiver", BindTransceiverRespID: "bind_transceiver_resp", OutbindID: "outbind",
		EnquireLinkID: "enquire_link", EnquireLinkRespID: "enquire_link_resp", SubmitMultiID: "submit_multi",
		SubmitMultiRespID: "submit_multi_resp", AlertNotificationID: "alert_notification", DataSMID: "data_sm", DataSMRespID: "data_sm_resp",
	}
	for id, name := range want {
		if got := id.String(); got != name {
			t.Errorf("%#x.String() = %q, want %q", uint32(id), got, name)
		}
		if !id.Known() {
			t.Errorf("%s not Known", name)
		}
		if id.IsResponse() != strings.HasSuffix(name, "_resp") && id != GenericNackID {
			t.Errorf("%s IsResponse = %v", name, id.IsResponse())
		}
		if p := newPDU(id); p == nil || p.CommandID() != id {
			t.Errorf("newPDU(%s) = %T", name, p)
		}
	}
	if len(want) != len(commandNames) {
		t.Errorf("%d names tested, %d defined", len(want), len(commandNames))
	}
	if !GenericNackID.IsResponse() || SubmitSMID.Response() != SubmitSMRespID || SubmitSMRespID.Response() != SubmitSMRespID {
		t.Error("IsResponse/Response")
	}
	if !SubmitSMID.hasResponse() || OutbindID.hasResponse() || AlertNotificationID.hasResponse() || SubmitSMRespID.hasResponse() {
		t.Error("hasResponse")
	}
	// Unknown ids print their value in hex, whatever the padding.
	for _, id := range []CommandID{0x99, 0x0000000A, 0x80000099, 0xFFFFFFFF} {
		s := id.String()
		if !strings.HasPrefix(s, "command_id(0x") || !strings.HasSuffix(s, ")") || id.Known() {
			t.Errorf("%#x.String() = %q", uint32(id), s)
			continue
		}
		if v, err := strconv.ParseUint(s[len("command_id(0x"):len(s)-1], 16, 32); err != nil || CommandID(v) != id {
			t.Errorf("%#x.String() = %q", uint32(id), s)
		}
	}
}

func TestCommandStatusString(t *testing.T) {
	tests := []struct {
		st   CommandStatus
		name string
	}{
		{ESME_ROK, "ESME_ROK"}, {ESME_RINVMSGLEN, "ESME_RINVMSGLEN"}, {ESME_RTHROTTLED, "ESME_RTHROTTLED"},
		{ESME_RMSGQFUL, "ESME_RMSGQFUL"}, {ESME_RINVDSTADR, "ESME_RINVDSTADR"}, {ESME_RX_T_APPN, "ESME_RX_T_APPN"},
		{ESME_RINVOPTPARSTREAM, "ESME_RINVOPTPARSTREAM"}, {ESME_RUNKNOWNERR, "ESME_RUNKNOWNERR"},
		{0x00000009, "status(0x9)"}, {0x00000400, "status(0x400)"}, {0x0000040F, "status(0x40f)"}, {0xFFFFFFFF, "status(0xffffffff)"},
	}
	for _, tc := range tests {
		if got := tc.st.String(); got != tc.name {
			t.Errorf("%#x.String() = %q, want %q", uint32(tc.st), got, tc.name)
		}
	}
	// Every name parses back to its value.
	for st, name := range statusNames {
		if !strings.HasPrefix(name, "ESME_") || st.String() != name {
			t.Errorf("%#x named %q", uint32(st), name)
		}
		got, ok := ParseCommandStatus(name)
		if !ok || got != st {
			t.Errorf("ParseCommandStatus(%q) = %#x, %v", name, uint32(got), ok)
		}
	}
	for _, bad := range []string{"", "ESME_NOPE", "status(0x400)", "esme_rthrottled", " ESME_ROK", "0x58"} {
		if st, ok := ParseCommandStatus(bad); ok || st != 0 {
			t.Errorf("ParseCommandStatus(%q) = %#x, %v", bad, uint32(st), ok)
		}
	}
	temp := map[CommandStatus]bool{ESME_RTHROTTLED: true, ESME_RMSGQFUL: true, ESME_RX_T_APPN: true, ESME_RSYSERR: true}
	for st := range statusNames {
		if st.Temporary() != temp[st] {
			t.Errorf("%s.Temporary() = %v", st, st.Temporary())
		}
		if st.Throttling() != (st == ESME_RTHROTTLED || st == ESME_RMSGQFUL) {
			t.Errorf("%s.Throttling() = %v", st, st.Throttling())
		}
	}
}

// ctTimeoutErr is a net.Error that timed out.
type ctTimeoutErr struct{}

func (ctTimeoutErr) Error() string   { return "i/o timeout" }
func (ctTimeoutErr) Timeout() bool   { return true }
func (ctTimeoutErr) Temporary() bool { return true }

func TestRetryableAndOutcomeUnknown(t *testing.T) {
	throttled := &StatusError{Cmd: SubmitSMRespID, Status: ESME_RTHROTTLED}
	closedInFlight := &ClosedError{Reason: CloseReason(0), InFlight: true, Err: io.EOF}
	closedQueued := &ClosedError{Reason: CloseReason(0)}
	fieldErr := &FieldError{Cmd: SubmitSMID, Field: "source_addr", Reason: "too long", Status: ESME_RINVSRCADR}
	tests := []struct {
		name      string
		err       error
		retryable bool
		unknown   bool
	}{
		{"nil", nil, false, false},
		{"ESME_RTHROTTLED", throttled, true, false},
		{"ESME_RMSGQFUL", &StatusError{Cmd: SubmitSMRespID, Status: ESME_RMSGQFUL}, true, false},
		{"ESME_RX_T_APPN", &StatusError{Cmd: DeliverSMRespID, Status: ESME_RX_T_APPN}, true, false},
		{"ESME_RINVDSTADR", &StatusError{Cmd: SubmitSMRespID, Status: ESME_RINVDSTADR}, false, false},
		{"generic_nack ESME_RINVCMDID", &StatusError{Cmd: GenericNackID, Status: ESME_RINVCMDID}, false, false},
		{"DLT vendor status", &StatusError{Cmd: SubmitSMRespID, Status: 0x40F}, false, false},
		{"FieldError", fieldErr, false, false},
		{"wrapped FieldError", fmt.Errorf("submit: %w", fieldErr), false, false},
		{"ErrResponseTimeout", ErrResponseTimeout, true, true},
		{"wrapped ErrResponseTimeout", fmt.Errorf("submit to airtel: %w", ErrResponseTimeout), true, true},
		{"ClosedError in flight", closedInFlight, true, true},
		{"ClosedError queued", closedQueued, true, false},
		{"wrapped ClosedError in flight", fmt.Errorf("a: %w", fmt.Errorf("b: %w", closedInFlight)), true, true},
		{"ErrSessionClosed", ErrSessionClosed, true, false},
		{"ErrNotBound", ErrNotBound, true, false},
		{"ErrBindTimeout", ErrBindTimeout, true, false},
		{"wrapped ESME_RTHROTTLED", fmt.Errorf("submit: %w", throttled), true, false},
		{"wrapped ESME_RINVDSTADR", fmt.Errorf("submit: %w", &StatusError{Status: ESME_RINVDSTADR}), false, false},
		{"context.Canceled", context.Canceled, false, false},
		{"wrapped context.Canceled", fmt.Errorf("submit: %w", context.Canceled), false, false},
		{"context.DeadlineExceeded", context.DeadlineExceeded, false, false},
		{"io.EOF", io.EOF, true, false},
		{"wrapped io.ErrUnexpectedEOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true, false},
		{"net timeout", ctTimeoutErr{}, true, false},
		{"plain error", errors.New("something"), false, false},
	}
	for _, tc := range tests {
		if got := Retryable(tc.err); got != tc.retryable {
			t.Errorf("Retryable(%s) = %v, want %v", tc.name, got, tc.retryable)
		}
		if got := OutcomeUnknown(tc.err); got != tc.unknown {
			t.Errorf("OutcomeUnknown(%s) = %v, want %v", tc.name, got, tc.unknown)
		}
	}
	if !errors.Is(closedQueued, ErrSessionClosed) || !errors.Is(closedInFlight, io.EOF) {
		t.Error("ClosedError Is/Unwrap")
	}
	if statusFor(fieldErr) != ESME_RINVSRCADR || statusFor(throttled) != ESME_RTHROTTLED || statusFor(io.EOF) != ESME_RSYSERR {
		t.Error("statusFor")
	}
	if s := throttled.Error(); !strings.Contains(s, "submit_sm_resp") || !strings.Contains(s, "ESME_RTHROTTLED") {
		t.Errorf("StatusError.Error() = %q", s)
	}
}

// TestFrameReader covers the stream splitter outside the fuzzer.
func TestFrameReader(t *testing.T) {
	var stream []byte
	var want [][]byte
	for _, s := range ctSamples() {
		f := ctEncode(t, s.seq, s.status, s.pdu)
		want = append(want, f)
		stream = append(stream, f...)
	}
	fr := NewFrameReader(bytes.NewReader(stream), 0)
	for i, w := range want {
		got, err := fr.ReadFrame()
		if err != nil || !bytes.Equal(got, w) {
			t.Fatalf("frame %d: %x, %v", i, got, err)
		}
		if h := fr.LastHeader(); h.Length != uint32(len(w)) {
			t.Fatalf("LastHeader = %+v", h)
		}
	}
	if _, err := fr.ReadFrame(); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}

	enq := ctFrame(EnquireLinkID, 0, 5)
	big := ctFrame(SubmitSMID, 0, 77, make([]byte, 5000))
	tests := []struct {
		name  string
		in    []byte
		max   int
		check func(error) bool
	}{
		{"header cut", enq[:9], 0, func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
		{"body cut", ctFrame(SubmitSMRespID, 0, 1, ctCS("abc"))[:18], 0, func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
		{"length below header", append([]byte{0, 0, 0, 15}, enq[4:]...), 0, func(err error) bool {
			var fe *FieldError
			return errors.As(err, &fe) && fe.Field == "command_length" && !errors.Is(err, ErrPDUTooLarge)
		}},
		{"too large", big, 4096, func(err error) bool {
			var fe *FieldError
			return errors.Is(err, ErrPDUTooLarge) && errors.As(err, &fe) && fe.Field == "command_length" && fe.Status == ESME_RINVCMDLEN
		}},
		{"huge length", []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1}, 0, func(err error) bool { return errors.Is(err, ErrPDUTooLarge) }},
	}
	for _, tc := range tests {
		fr := NewFrameReader(bytes.NewReader(tc.in), tc.max)
		f, err := fr.ReadFrame()
		if f != nil || !tc.check(err) {
			t.Errorf("%s: %x, %v", tc.name, f, err)
		}
	}
	fr = NewFrameReader(bytes.NewReader(big), 4096)
	fr.ReadFrame()
	if h := fr.LastHeader(); h.ID != SubmitSMID || h.Sequence != 77 {
		t.Errorf("LastHeader after a rejected frame = %+v", h)
	}
	if fr := NewFrameReader(bytes.NewReader(big), 0); fr.max != DefaultMaxPDUSize {
		t.Errorf("default max = %d", fr.max)
	}
}

package smpp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// Golden files live in the repository's top-level testdata/pdu so that other packages (the
// simulator, the daemon's capture tools) can share them. Each holds one frame as hex; lines
// starting with # are comments, and a # anywhere ends the line's hex. Whitespace is ignored.
//
// Regenerate after a deliberate wire change with
//
//	go test ./smpp -run TestGolden -update
//
// and review the diff: the comments name every field, so a change reads like a protocol trace.
var update = flag.Bool("update", false, "rewrite testdata/pdu/*.hex from the Go values in ctSamples")

const ctGoldenDir = "../testdata/pdu"

// ctParseHex decodes the golden file format.
func ctParseHex(text []byte) ([]byte, error) {
	var digits strings.Builder
	for n, line := range strings.Split(string(text), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, r := range line {
			switch {
			case r == ' ' || r == '\t' || r == '\r':
			case strings.ContainsRune("0123456789abcdefABCDEF", r):
				digits.WriteRune(r)
			default:
				return nil, fmt.Errorf("line %d: %q is not a hex digit", n+1, r)
			}
		}
	}
	if digits.Len()%2 != 0 {
		return nil, fmt.Errorf("odd number of hex digits (%d)", digits.Len())
	}
	return hex.DecodeString(digits.String())
}

func TestParseHex(t *testing.T) {
	got, err := ctParseHex([]byte("# comment\n00 01\t0A\r\n  # indented comment\nff# trailing comment with zz\n\n"))
	if err != nil || !bytes.Equal(got, []byte{0, 1, 0x0a, 0xff}) {
		t.Fatalf("%x %v", got, err)
	}
	for _, bad := range []string{"0", "0g", "00 1", "xx # no"} {
		if _, err := ctParseHex([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// ctSeg is one field of a frame as the golden files show it.
type ctSeg struct {
	name string
	note string
	b    []byte
}

// ctWalker splits a frame into named fields. It is a second, independent reading of the
// SMPP 3.4 layouts (§4), written from the spec rather than from pdus.go, so the round-trip
// test also checks the encoder puts every field where the spec says.
type ctWalker struct {
	b    []byte
	off  int
	segs []ctSeg
	err  error
}

func (w *ctWalker) take(name string, n int, note func([]byte) string) []byte {
	if w.err != nil {
		return nil
	}
	if len(w.b)-w.off < n {
		w.err = fmt.Errorf("%s: need %d octets at offset %d, have %d", name, n, w.off, len(w.b)-w.off)
		return nil
	}
	v := w.b[w.off : w.off+n : w.off+n]
	w.off += n
	w.segs = append(w.segs, ctSeg{name, note(v), v})
	return v
}

func (w *ctWalker) u8(name string) uint8 {
	v := w.take(name, 1, func(b []byte) string { return fmt.Sprintf("%d (%#02x)", b[0], b[0]) })
	if v == nil {
		return 0
	}
	return v[0]
}

func (w *ctWalker) cstr(name string) {
	if w.err != nil {
		return
	}
	i := bytes.IndexByte(w.b[w.off:], 0)
	if i < 0 {
		w.err = fmt.Errorf("%s: no NUL after offset %d", name, w.off)
		return
	}
	w.take(name, i+1, func(b []byte) string { return fmt.Sprintf("%q", b[:len(b)-1]) })
}

// addr walks an address triple; the spec spells the destination's string "destination_addr"
// but its type and plan "dest_addr_ton" and "dest_addr_npi".
func (w *ctWalker) addr(prefix string) {
	w.u8(prefix + "addr_ton")
	w.u8(prefix + "addr_npi")
	if p, ok := strings.CutSuffix(prefix, "dest_"); ok {
		w.cstr(p + "destination_addr")
		return
	}
	w.cstr(prefix + "addr")
}

func ctPrintable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

func ctOctets(b []byte) string {
	if len(b) > 0 && ctPrintable(b) {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%d octets", len(b))
}

func (w *ctWalker) sm() {
	n := w.u8("sm_length")
	w.take("short_message", int(n), ctOctets)
}

var ctTagNames = map[Tag]string{
	TagSCInterfaceVersion: "sc_interface_version", TagMessagePayload: "message_payload",
	TagReceiptedMessageID: "receipted_message_id", TagMessageState: "message_state",
	TagNetworkErrorCode: "network_error_code", TagAdditionalStatusInfo: "additional_status_info_text",
	TagUserMessageReference: "user_message_reference", TagSourcePort: "source_port",
	TagDestinationPort: "destination_port", TagDeliveryFailureReason: "delivery_failure_reason",
	TagMSAvailabilityStatus: "ms_availability_status", TagSARMsgRefNum: "sar_msg_ref_num",
	TagSARTotalSegments: "sar_total_segments", TagSARSegmentSeqnum: "sar_segment_seqnum",
	TagDLTPEID: "DLT PE_ID", TagDLTTemplate: "DLT CT_ID (template)", TagDLTChainHash: "DLT chain hash",
}

func (w *ctWalker) tlvs() {
	for w.err == nil && w.off < len(w.b) {
		if len(w.b)-w.off < 4 {
			w.err = fmt.Errorf("tlv: %d stray octets", len(w.b)-w.off)
			return
		}
		tag := Tag(binary.BigEndian.Uint16(w.b[w.off:]))
		n := int(binary.BigEndian.Uint16(w.b[w.off+2:]))
		name := fmt.Sprintf("tlv %#04x", uint16(tag))
		w.take(name, 4+n, func(b []byte) string {
			v := b[4:]
			s := fmt.Sprintf("%s, length %d", ctTagNames[tag], n)
			if ctTagNames[tag] == "" {
				s = fmt.Sprintf("unknown tag, length %d", n)
			}
			switch {
			case n > 0 && v[n-1] == 0 && ctPrintable(v[:n-1]):
				return s + fmt.Sprintf(", C string %q", v[:n-1])
			case n > 0 && ctPrintable(v):
				return s + fmt.Sprintf(", %q", v)
			}
			return s
		})
	}
}

func (w *ctWalker) smTail() {
	w.u8("esm_class")
	w.u8("protocol_id")
	w.u8("priority_flag")
	w.cstr("schedule_delivery_time")
	w.cstr("validity_period")
	w.u8("registered_delivery")
	w.u8("replace_if_present_flag")
	w.u8("data_coding")
	w.u8("sm_default_msg_id")
	w.sm()
	w.tlvs()
}

// ctDescribe returns the fields of frame in order; together they cover it exactly.
func ctDescribe(frame []byte) ([]ctSeg, error) {
	w := &ctWalker{b: frame}
	w.take("command_length", 4, func(b []byte) string { return fmt.Sprint(binary.BigEndian.Uint32(b)) })
	w.take("command_id", 4, func(b []byte) string { return CommandID(binary.BigEndian.Uint32(b)).String() })
	w.take("command_status", 4, func(b []byte) string { return CommandStatus(binary.BigEndian.Uint32(b)).String() })
	w.take("sequence_number", 4, func(b []byte) string { return fmt.Sprint(binary.BigEndian.Uint32(b)) })
	if w.err != nil {
		return nil, w.err
	}
	id := CommandID(binary.BigEndian.Uint32(frame[4:]))
	if int(binary.BigEndian.Uint32(frame)) != len(frame) {
		return nil, fmt.Errorf("command_length %d, frame %d", binary.BigEndian.Uint32(frame), len(frame))
	}
	switch id {
	case BindTransmitterID, BindReceiverID, BindTransceiverID:
		w.cstr("system_id")
		w.cstr("password")
		w.cstr("system_type")
		w.u8("interface_version")
		w.u8("addr_ton")
		w.u8("addr_npi")
		w.cstr("address_range")
	case BindTransmitterRespID, BindReceiverRespID, BindTransceiverRespID:
		w.cstr("system_id")
		w.tlvs()
	case OutbindID:
		w.cstr("system_id")
		w.cstr("password")
	case UnbindID, UnbindRespID, EnquireLinkID, EnquireLinkRespID, GenericNackID, CancelSMRespID, ReplaceSMRespID:
	case SubmitSMID, DeliverSMID:
		w.cstr("service_type")
		w.addr("source_")
		w.addr("dest_")
		w.smTail()
	case SubmitSMRespID, DeliverSMRespID, DataSMRespID:
		w.cstr("message_id")
		w.tlvs()
	case SubmitMultiID:
		w.cstr("service_type")
		w.addr("source_")
		n := w.u8("number_of_dests")
		for i := 0; i < int(n) && w.err == nil; i++ {
			switch w.u8(fmt.Sprintf("dest_flag[%d]", i)) {
			case 1:
				w.addr(fmt.Sprintf("dest[%d].dest_", i))
			case 2:
				w.cstr(fmt.Sprintf("dest[%d].dl_name", i))
			default:
				w.err = fmt.Errorf("bad dest_flag")
			}
		}
		w.smTail()
	case SubmitMultiRespID:
		w.cstr("message_id")
		n := w.u8("no_unsuccess")
		for i := 0; i < int(n) && w.err == nil; i++ {
			w.addr(fmt.Sprintf("unsuccess[%d].dest_", i))
			w.take(fmt.Sprintf("unsuccess[%d].error_status_code", i), 4, func(b []byte) string {
				return CommandStatus(binary.BigEndian.Uint32(b)).String()
			})
		}
	case DataSMID:
		w.cstr("service_type")
		w.addr("source_")
		w.addr("dest_")
		w.u8("esm_class")
		w.u8("registered_delivery")
		w.u8("data_coding")
		w.tlvs()
	case QuerySMID:
		w.cstr("message_id")
		w.addr("source_")
	case QuerySMRespID:
		w.cstr("message_id")
		w.cstr("final_date")
		w.u8("message_state")
		w.u8("error_code")
	case CancelSMID:
		w.cstr("service_type")
		w.cstr("message_id")
		w.addr("source_")
		w.addr("dest_")
	case ReplaceSMID:
		w.cstr("message_id")
		w.addr("source_")
		w.cstr("schedule_delivery_time")
		w.cstr("validity_period")
		w.u8("registered_delivery")
		w.u8("sm_default_msg_id")
		w.sm()
	case AlertNotificationID:
		w.addr("source_")
		w.addr("esme_")
		w.tlvs()
	default:
		return nil, fmt.Errorf("unknown command %s", id)
	}
	if w.err == nil && w.off != len(frame) {
		w.err = fmt.Errorf("%d octets left after the last field", len(frame)-w.off)
	}
	return w.segs, w.err
}

// ctGoldenText renders a frame in the golden format, one commented line group per field.
func ctGoldenText(s ctSample, frame []byte) (string, error) {
	segs, err := ctDescribe(frame)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: %s\n", s.name, s.desc)
	b.WriteString("# Generated by `go test ./smpp -run TestGolden -update` from ctSamples in\n")
	b.WriteString("# smpp/codec_test.go. Lines starting with # are comments; the rest is hex.\n")
	for _, sg := range segs {
		if len(sg.b) == 0 {
			fmt.Fprintf(&b, "# %s: empty\n", sg.name)
			continue
		}
		fmt.Fprintf(&b, "# %s: %s\n", sg.name, sg.note)
		for i := 0; i < len(sg.b); i += 32 {
			line := sg.b[i:min(i+32, len(sg.b))]
			for j := 0; j < len(line); j += 4 {
				if j > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(hex.EncodeToString(line[j:min(j+4, len(line))]))
			}
			b.WriteByte('\n')
		}
	}
	return b.String(), nil
}

// ctGoldenFrames returns the frames of every golden file, by base name.
func ctGoldenFrames(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(ctGoldenDir, "*.hex"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		text, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ctParseHex(text)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".hex")] = b
	}
	return out
}

func TestGolden(t *testing.T) {
	if *update {
		if err := os.MkdirAll(ctGoldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	names := map[string]bool{}
	for _, s := range ctSamples() {
		names[s.name] = true
		t.Run(s.name, func(t *testing.T) {
			path := filepath.Join(ctGoldenDir, s.name+".hex")
			frame := ctEncode(t, s.seq, s.status, s.pdu)
			if *update {
				text, err := ctGoldenText(s, frame)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			text, err := os.ReadFile(path)
			if errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s missing; run go test ./smpp -run TestGolden -update", path)
			}
			if err != nil {
				t.Fatal(err)
			}
			want, err := ctParseHex(text)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if !bytes.Equal(frame, want) {
				t.Fatalf("encoding differs from %s:\n got %x\nwant %x", path, frame, want)
			}
			h, p, err := DecodePDU(want)
			if err != nil {
				t.Fatalf("decode %s: %v", path, err)
			}
			if h.Sequence != s.seq || h.Status != s.status || !reflect.DeepEqual(p, s.pdu) {
				t.Fatalf("decoding %s gives %+v %#v, want %#v", path, h, p, s.pdu)
			}
		})
	}
	// The directory is shared with other packages, so files without a sample here are only
	// reported; they still go through FuzzDecodePDU's seeds and TestGoldenFilesDecode.
	paths, _ := filepath.Glob(filepath.Join(ctGoldenDir, "*.hex"))
	var other []string
	for _, p := range paths {
		if n := strings.TrimSuffix(filepath.Base(p), ".hex"); !names[n] {
			other = append(other, n)
		}
	}
	sort.Strings(other)
	if len(other) > 0 {
		t.Logf("golden files not generated from ctSamples: %v", other)
	}
}

// TestGoldenFilesDecode: every frame in testdata/pdu, whoever wrote it, decodes and
// re-encodes to the same bytes.
func TestGoldenFilesDecode(t *testing.T) {
	frames := ctGoldenFrames(t)
	if len(frames) < len(ctSamples()) {
		t.Fatalf("%d golden files, want at least %d", len(frames), len(ctSamples()))
	}
	for name, b := range frames {
		h, p, err := DecodePDU(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if again, err := EncodePDU(h.Sequence, h.Status, p); err != nil || !bytes.Equal(again, b) {
			t.Errorf("%s: re-encoding differs (%v)", name, err)
		}
	}
}

// TestGoldenDLT pins the DLT submit_sm field by field, independently of ctSamples, so a
// change to the sample cannot silently weaken what the golden file proves.
func TestGoldenDLT(t *testing.T) {
	frame := ctGoldenFrames(t)["submit_sm_dlt"]
	if frame == nil {
		t.Fatal("testdata/pdu/submit_sm_dlt.hex missing")
	}
	_, p, err := DecodePDU(frame)
	if err != nil {
		t.Fatal(err)
	}
	sm := p.(*SubmitSM)
	for _, c := range []struct {
		tag  Tag
		want string
	}{{TagDLTPEID, "1101234567890123456"}, {TagDLTTemplate, "1107161234567890123"}} {
		if v, ok := sm.TLVs.String(c.tag); !ok || v != c.want {
			t.Errorf("tlv %#04x = %q", uint16(c.tag), v)
		}
	}
	h, _ := sm.TLVs.String(TagDLTChainHash)
	if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		t.Errorf("chain hash %q is not 64 lowercase hex digits", h)
	}
	for _, v := range sm.TLVs {
		if bytes.IndexByte(v.Value, 0) >= 0 {
			t.Errorf("tlv %#04x carries a NUL", uint16(v.Tag))
		}
	}
	rcpt := ctGoldenFrames(t)["deliver_sm_receipt"]
	_, p, err = DecodePDU(rcpt)
	if err != nil {
		t.Fatal(err)
	}
	d := p.(*DeliverSM)
	id, _, err := d.TLVs.CString(TagReceiptedMessageID)
	st, _, err2 := d.TLVs.Uint8(TagMessageState)
	nec, ok := d.TLVs.Get(TagNetworkErrorCode)
	if err != nil || err2 != nil || id != "5f3c9a1e0b" || MessageState(st) != StateDelivered || !ok || len(nec.Value) != 3 || d.ESMClass&ESMClassDeliveryRcpt == 0 {
		t.Errorf("receipt: id %q %v, state %d %v, network_error_code %x", id, err, st, err2, nec.Value)
	}
}

package smsc

import (
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smpp/text"
)

// record is one received message as the simulator keeps it. The immutable part is set
// before the record is stored; the rest is guarded by store.mu.
type record struct {
	id          string
	seq         uint64
	account     string
	bind        uint64
	cmd         smpp.CommandID
	serviceType string
	src         smpp.Address
	dest        smpp.Address
	more        []smpp.Address // further destinations of a submit_multi
	esm         uint8
	regDel      uint8
	dc          uint8
	sm          []byte // short_message, or message_payload when that carried the text
	tlvs        smpp.TLVs
	received    time.Time

	// guarded by store.mu
	status    smpp.CommandStatus
	state     smpp.MessageState
	stat      string
	errCode   int
	done      time.Time
	receipt   string // "", "scheduled", "queued", "sent", "failed", "dropped", "none"
	cancelled bool
	replaced  bool
	dltErr    int
	dltReason string
}

// store keeps the last N received messages in a ring, and an index of those that got a
// message id (for query_sm, cancel_sm, replace_sm and GET /api/messages/{id}).
type store struct {
	mu   sync.RWMutex
	ring []*record
	next uint64
	byID map[string]*record
}

func newStore(size int) *store {
	return &store{ring: make([]*record, size), byID: make(map[string]*record, min(size, 1<<16))}
}

func (st *store) add(r *record) {
	st.mu.Lock()
	st.next++
	r.seq = st.next
	i := r.seq % uint64(len(st.ring))
	if old := st.ring[i]; old != nil && old.id != "" && st.byID[old.id] == old {
		delete(st.byID, old.id)
	}
	st.ring[i] = r
	if r.id != "" {
		st.byID[r.id] = r
	}
	st.mu.Unlock()
}

func (st *store) get(id string) *record {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.byID[id]
}

func (st *store) count() uint64 {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.next
}

func (st *store) reset() {
	st.mu.Lock()
	clear(st.ring)
	clear(st.byID)
	st.mu.Unlock()
}

// Filter selects messages in Server.Messages and GET /api/messages. Zero fields match all.
type Filter struct {
	SystemID string // account
	Dest     string // destination address, exact
	Source   string // source address, exact
	After    uint64 // only messages with Seq greater than this
	Limit    int    // only the newest Limit (after the other filters)
}

func (f Filter) match(r *record) bool {
	if r.seq <= f.After || f.SystemID != "" && r.account != f.SystemID || f.Source != "" && r.src.Addr != f.Source {
		return false
	}
	if f.Dest != "" && r.dest.Addr != f.Dest {
		for _, d := range r.more {
			if d.Addr == f.Dest {
				return true
			}
		}
		return false
	}
	return true
}

// list returns the matching messages, oldest first.
func (st *store) list(f Filter) []Message {
	st.mu.RLock()
	var recs []*record
	n := uint64(len(st.ring))
	first := uint64(1)
	if st.next > n {
		first = st.next - n + 1
	}
	// Newest first; everything at or below After is older still, so the walk stops there
	// (pollers that ask for what is new pay for what is new, not for the whole ring).
	for seq := st.next; seq >= first && seq > f.After; seq-- {
		r := st.ring[seq%n]
		if r == nil || r.seq != seq || !f.match(r) {
			continue
		}
		recs = append(recs, r)
		if f.Limit > 0 && len(recs) >= f.Limit {
			break
		}
	}
	out := make([]Message, len(recs))
	for i, r := range recs {
		out[len(recs)-1-i] = r.export()
	}
	st.mu.RUnlock()
	return out
}

// Message is a received message as tests and the HTTP API see it.
type Message struct {
	// ID is the message id given in the response; empty when the message was refused.
	ID       string `json:"id"`
	Seq      uint64 `json:"seq"` // receive order, from 1
	SystemID string `json:"system_id"`
	Bind     uint64 `json:"bind"`
	Command  string `json:"command"` // submit_sm, data_sm or submit_multi

	ServiceType        string    `json:"service_type,omitempty"`
	Source             Addr      `json:"source"`
	Dest               Addr      `json:"dest"`
	MoreDests          []Addr    `json:"more_dests,omitempty"` // submit_multi
	ESMClass           uint8     `json:"esm_class"`
	RegisteredDelivery uint8     `json:"registered_delivery"`
	DataCoding         uint8     `json:"data_coding"`
	Text               string    `json:"text"`                 // decoded, without the UDH
	TextError          string    `json:"text_error,omitempty"` // why Text could not be decoded
	UDH                string    `json:"udh,omitempty"`        // hex
	Concat             *Concat   `json:"concat,omitempty"`     // from the UDH or the SAR TLVs
	ShortMessage       string    `json:"short_message"`        // hex of short_message (or message_payload)
	TLVs               []TLVInfo `json:"tlvs"`
	ReceivedAt         time.Time `json:"received_at"`

	Status    string     `json:"status"` // of the response: ESME_ROK, ESME_RTHROTTLED …
	State     string     `json:"state"`  // ENROUTE until its outcome applies, then DELIVRD …
	Err       int        `json:"err"`    // the receipt's err:
	DoneAt    *time.Time `json:"done_at,omitempty"`
	Receipt   string     `json:"receipt"` // none, scheduled, queued, sent, failed, dropped
	Cancelled bool       `json:"cancelled,omitempty"`
	Replaced  bool       `json:"replaced,omitempty"`
	DLTError  int        `json:"dlt_error,omitempty"`
	DLTReason string     `json:"dlt_reason,omitempty"`

	// Raw octets for Go callers.
	Raw    []byte    `json:"-"`
	RawTLV smpp.TLVs `json:"-"`
}

// Addr is an address with its TON and NPI.
type Addr struct {
	TON  uint8  `json:"ton"`
	NPI  uint8  `json:"npi"`
	Addr string `json:"addr"`
}

// Concat identifies one part of a concatenated message.
type Concat struct {
	Ref   uint16 `json:"ref"`
	Total uint8  `json:"total"`
	Seq   uint8  `json:"seq"`
	Via   string `json:"via"` // udh8, udh16 or sar
}

// TLVInfo is one optional parameter, decoded for people.
type TLVInfo struct {
	Tag   uint16 `json:"tag"`
	Name  string `json:"name"` // 0x1400 or a known name such as message_payload
	Len   int    `json:"len"`
	Hex   string `json:"hex"`
	Value string `json:"value,omitempty"` // the value as text when it is printable
}

func addr(a smpp.Address) Addr { return Addr{a.TON, a.NPI, a.Addr} }

// export copies r for callers; it runs under store.mu (read).
func (r *record) export() Message {
	m := Message{
		ID: r.id, Seq: r.seq, SystemID: r.account, Bind: r.bind, Command: r.cmd.String(),
		ServiceType: r.serviceType, Source: addr(r.src), Dest: addr(r.dest),
		ESMClass: r.esm, RegisteredDelivery: r.regDel, DataCoding: r.dc,
		ShortMessage: hex.EncodeToString(r.sm), ReceivedAt: r.received,
		Status: r.status.String(), State: r.stat, Err: r.errCode, Receipt: r.receipt,
		Cancelled: r.cancelled, Replaced: r.replaced, DLTError: r.dltErr, DLTReason: r.dltReason,
		Raw: r.sm, RawTLV: r.tlvs,
	}
	if m.State == "" {
		m.State = "ENROUTE"
		if r.status != smpp.ESME_ROK {
			m.State = ""
		}
	}
	for _, d := range r.more {
		m.MoreDests = append(m.MoreDests, addr(d))
	}
	if !r.done.IsZero() {
		d := r.done
		m.DoneAt = &d
	}
	body := r.sm
	if r.esm&smpp.ESMClassUDHI != 0 {
		udh, rest, c := splitUDH(body)
		m.UDH, body, m.Concat = hex.EncodeToString(udh), rest, c
	}
	if m.Concat == nil {
		m.Concat = sarConcat(r.tlvs)
	}
	m.Text, m.TextError = decodeText(r.dc, body)
	m.TLVs = tlvInfos(r.tlvs)
	return m
}

// splitUDH separates a User Data Header from the text and reads a concatenation element
// (text.ParseUDH); a malformed element ends the reading, what came before it still counts.
func splitUDH(b []byte) (udh, rest []byte, c *Concat) {
	udh, rest, pc, _ := text.ParseUDH(b)
	if pc != nil {
		via := "udh8"
		if pc.Ref16 {
			via = "udh16"
		}
		c = &Concat{Ref: pc.Ref, Total: pc.Total, Seq: pc.Seq, Via: via}
	}
	return udh, rest, c
}

func sarConcat(t smpp.TLVs) *Concat {
	ref, ok1, _ := t.Uint16(smpp.TagSARMsgRefNum)
	total, ok2, _ := t.Uint8(smpp.TagSARTotalSegments)
	seq, ok3, _ := t.Uint8(smpp.TagSARSegmentSeqnum)
	if !ok1 || !ok2 || !ok3 {
		return nil
	}
	return &Concat{Ref: ref, Total: total, Seq: seq, Via: "sar"}
}

// decodeText decodes with package text; data_coding 0 is taken as unpacked GSM 03.38, and
// IA5 as ASCII. Binary codings give no text.
func decodeText(dc uint8, b []byte) (string, string) {
	if len(b) == 0 {
		return "", ""
	}
	if dc == 0x01 {
		if utf8.Valid(b) {
			return string(b), ""
		}
	}
	s, err := text.Decode(text.DataCoding(dc), b)
	if err != nil {
		return "", err.Error()
	}
	return s, ""
}

var tlvNames = map[smpp.Tag]string{
	smpp.TagReceiptedMessageID: "receipted_message_id", smpp.TagMessageState: "message_state",
	smpp.TagNetworkErrorCode: "network_error_code", smpp.TagMessagePayload: "message_payload",
	smpp.TagSARMsgRefNum: "sar_msg_ref_num", smpp.TagSARTotalSegments: "sar_total_segments",
	smpp.TagSARSegmentSeqnum: "sar_segment_seqnum", smpp.TagUserMessageReference: "user_message_reference",
	smpp.TagSourcePort: "source_port", smpp.TagDestinationPort: "destination_port",
	smpp.TagPayloadType: "payload_type", smpp.TagMoreMessagesToSend: "more_messages_to_send",
	smpp.TagQOSTimeToLive: "qos_time_to_live", smpp.TagLanguageIndicator: "language_indicator",
	smpp.TagCallbackNum: "callback_num", smpp.TagPrivacyIndicator: "privacy_indicator",
	smpp.TagDLTPEID: "dlt_pe_id", smpp.TagDLTTemplate: "dlt_template_id", smpp.TagDLTChainHash: "dlt_chain_hash",
}

func tlvInfos(t smpp.TLVs) []TLVInfo {
	out := make([]TLVInfo, 0, len(t))
	for _, v := range t {
		name, ok := tlvNames[v.Tag]
		if !ok {
			name = fmt.Sprintf("0x%04x", uint16(v.Tag))
		}
		info := TLVInfo{Tag: uint16(v.Tag), Name: name, Len: len(v.Value), Hex: hex.EncodeToString(v.Value)}
		if s := strings.TrimRight(string(v.Value), "\x00"); s != "" && printable(s) {
			info.Value = s
		}
		out = append(out, info)
	}
	return out
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f {
			return false
		}
	}
	return true
}

package smpp

import "fmt"

// Field size limits from SMPP 3.4 §5.2, counting the terminating NUL as the spec does.
const (
	maxSystemID     = 16
	maxPassword     = 9
	maxSystemType   = 13
	maxAddressRange = 41
	maxServiceType  = 6
	maxAddr         = 21 // source_addr, destination_addr of submit_sm/deliver_sm and friends
	maxAddr65       = 65 // data_sm addresses, alert_notification addresses
	maxMessageID    = 65
	maxDLName       = 21
	maxDests        = 254 // submit_multi number_of_dests

	// MaxShortMessage is the largest short_message (sm_length is one octet, 255 reserved).
	// Longer text goes in parts or in the message_payload TLV.
	MaxShortMessage = 254
)

// esm_class bits and registered_delivery values the daemon and simulator rely on.
const (
	ESMClassUDHI          uint8 = 0x40 // short_message starts with a User Data Header
	ESMClassDeliveryRcpt  uint8 = 0x04 // deliver_sm carries an SMSC delivery receipt
	ESMClassIntermediate  uint8 = 0x20 // deliver_sm carries an intermediate notification
	RegisteredDeliveryAll uint8 = 0x01 // receipt on final outcome, success or failure
	RegisteredDeliveryErr uint8 = 0x02 // receipt on failure only
)

// Address is a type-of-number, numbering-plan and address triple.
type Address struct {
	TON  uint8
	NPI  uint8
	Addr string
}

func (a Address) String() string { return fmt.Sprintf("%d.%d.%s", a.TON, a.NPI, a.Addr) }

// BindMode is the kind of bind: transmitter, receiver or transceiver.
type BindMode uint8

const (
	BindTransmitter BindMode = iota + 1
	BindReceiver
	BindTransceiver
)

func (m BindMode) String() string {
	switch m {
	case BindTransmitter:
		return "transmitter"
	case BindReceiver:
		return "receiver"
	case BindTransceiver:
		return "transceiver"
	}
	return fmt.Sprintf("bind_mode(%d)", uint8(m))
}

// CanSend reports whether an ESME bound in this mode may submit messages.
func (m BindMode) CanSend() bool { return m == BindTransmitter || m == BindTransceiver }

// CanReceive reports whether an ESME bound in this mode receives deliver_sm.
func (m BindMode) CanReceive() bool { return m == BindReceiver || m == BindTransceiver }

func (m BindMode) requestID() CommandID {
	switch m {
	case BindReceiver:
		return BindReceiverID
	case BindTransceiver:
		return BindTransceiverID
	}
	return BindTransmitterID
}

// Bind is bind_transmitter, bind_receiver or bind_transceiver, by Mode (§4.1.1).
type Bind struct {
	Mode             BindMode
	SystemID         string
	Password         string
	SystemType       string
	InterfaceVersion uint8 // 0x34 for SMPP 3.4
	AddrTON          uint8
	AddrNPI          uint8
	AddressRange     string
}

func (p *Bind) CommandID() CommandID { return p.Mode.requestID() }
func (p *Bind) appendBody(e *encoder) {
	e.cstring("system_id", p.SystemID, maxSystemID, ESME_RINVSYSID)
	e.cstring("password", p.Password, maxPassword, ESME_RINVPASWD)
	e.cstring("system_type", p.SystemType, maxSystemType, ESME_RINVSYSTYP)
	e.u8(p.InterfaceVersion)
	e.u8(p.AddrTON)
	e.u8(p.AddrNPI)
	e.cstring("address_range", p.AddressRange, maxAddressRange, ESME_RINVPARLEN)
}
func (p *Bind) decodeBody(d *decoder) {
	p.SystemID = d.cstring("system_id", maxSystemID, ESME_RINVSYSID)
	p.Password = d.cstring("password", maxPassword, ESME_RINVPASWD)
	p.SystemType = d.cstring("system_type", maxSystemType, ESME_RINVSYSTYP)
	p.InterfaceVersion = d.u8("interface_version")
	p.AddrTON = d.u8("addr_ton")
	p.AddrNPI = d.u8("addr_npi")
	p.AddressRange = d.cstring("address_range", maxAddressRange, ESME_RINVPARLEN)
}

// BindResp answers a Bind of the same Mode.
type BindResp struct {
	Mode     BindMode
	SystemID string // the SMSC's id
	TLVs     TLVs   // sc_interface_version
}

func (p *BindResp) CommandID() CommandID { return p.Mode.requestID().Response() }
func (p *BindResp) appendBody(e *encoder) {
	e.cstring("system_id", p.SystemID, maxSystemID, ESME_RINVSYSID)
	e.tlvs(p.TLVs)
}
func (p *BindResp) decodeBody(d *decoder) {
	p.SystemID = d.cstring("system_id", maxSystemID, ESME_RINVSYSID)
	p.TLVs = d.tlvs()
}

// Outbind asks an ESME to bind as a receiver (§4.1.7).
type Outbind struct {
	SystemID string
	Password string
}

func (p *Outbind) CommandID() CommandID { return OutbindID }
func (p *Outbind) appendBody(e *encoder) {
	e.cstring("system_id", p.SystemID, maxSystemID, ESME_RINVSYSID)
	e.cstring("password", p.Password, maxPassword, ESME_RINVPASWD)
}
func (p *Outbind) decodeBody(d *decoder) {
	p.SystemID = d.cstring("system_id", maxSystemID, ESME_RINVSYSID)
	p.Password = d.cstring("password", maxPassword, ESME_RINVPASWD)
}

// The PDUs with an empty body.
type (
	Unbind          struct{}
	UnbindResp      struct{}
	EnquireLink     struct{}
	EnquireLinkResp struct{}
	GenericNack     struct{}
	CancelSMResp    struct{}
	ReplaceSMResp   struct{}
)

func (*Unbind) CommandID() CommandID          { return UnbindID }
func (*UnbindResp) CommandID() CommandID      { return UnbindRespID }
func (*EnquireLink) CommandID() CommandID     { return EnquireLinkID }
func (*EnquireLinkResp) CommandID() CommandID { return EnquireLinkRespID }
func (*GenericNack) CommandID() CommandID     { return GenericNackID }
func (*CancelSMResp) CommandID() CommandID    { return CancelSMRespID }
func (*ReplaceSMResp) CommandID() CommandID   { return ReplaceSMRespID }

func (*Unbind) appendBody(*encoder)          {}
func (*UnbindResp) appendBody(*encoder)      {}
func (*EnquireLink) appendBody(*encoder)     {}
func (*EnquireLinkResp) appendBody(*encoder) {}
func (*GenericNack) appendBody(*encoder)     {}
func (*CancelSMResp) appendBody(*encoder)    {}
func (*ReplaceSMResp) appendBody(*encoder)   {}

func (*Unbind) decodeBody(*decoder)          {}
func (*UnbindResp) decodeBody(*decoder)      {}
func (*EnquireLink) decodeBody(*decoder)     {}
func (*EnquireLinkResp) decodeBody(*decoder) {}
func (*GenericNack) decodeBody(*decoder)     {}
func (*CancelSMResp) decodeBody(*decoder)    {}
func (*ReplaceSMResp) decodeBody(*decoder)   {}

// SubmitSM submits one short message (§4.4.1).
type SubmitSM struct {
	ServiceType          string
	Source               Address
	Dest                 Address
	ESMClass             uint8
	ProtocolID           uint8
	PriorityFlag         uint8
	ScheduleDeliveryTime string // empty, or "YYMMDDhhmmsstnnp"
	ValidityPeriod       string // empty, or "YYMMDDhhmmsstnnp"
	RegisteredDelivery   uint8
	ReplaceIfPresent     uint8
	DataCoding           uint8
	SMDefaultMsgID       uint8
	ShortMessage         []byte // at most 254 octets; longer text goes in TLVs.message_payload
	TLVs                 TLVs
}

// DeliverSM carries a mobile-originated message or a delivery receipt from the SMSC (§4.6.1).
// Its wire layout is submit_sm's.
type DeliverSM SubmitSM

func (p *SubmitSM) CommandID() CommandID  { return SubmitSMID }
func (p *SubmitSM) appendBody(e *encoder) { appendSM(e, p) }
func (p *SubmitSM) decodeBody(d *decoder) { decodeSM(d, p) }

func (p *DeliverSM) CommandID() CommandID  { return DeliverSMID }
func (p *DeliverSM) appendBody(e *encoder) { appendSM(e, (*SubmitSM)(p)) }
func (p *DeliverSM) decodeBody(d *decoder) { decodeSM(d, (*SubmitSM)(p)) }

// Payload returns the message octets: short_message, or the message_payload TLV when
// short_message is empty.
func (p *SubmitSM) Payload() []byte {
	if len(p.ShortMessage) == 0 {
		if v, ok := p.TLVs.Get(TagMessagePayload); ok {
			return v.Value
		}
	}
	return p.ShortMessage
}

// Payload returns the message octets: short_message, or the message_payload TLV.
func (p *DeliverSM) Payload() []byte { return (*SubmitSM)(p).Payload() }

func appendSM(e *encoder, p *SubmitSM) {
	e.cstring("service_type", p.ServiceType, maxServiceType, ESME_RINVSERTYP)
	e.address(&sourceNames, p.Source, maxAddr, ESME_RINVSRCADR)
	e.address(&destinationNames, p.Dest, maxAddr, ESME_RINVDSTADR)
	e.u8(p.ESMClass)
	e.u8(p.ProtocolID)
	e.u8(p.PriorityFlag)
	e.time("schedule_delivery_time", p.ScheduleDeliveryTime, ESME_RINVSCHED)
	e.time("validity_period", p.ValidityPeriod, ESME_RINVEXPIRY)
	e.u8(p.RegisteredDelivery)
	e.u8(p.ReplaceIfPresent)
	e.u8(p.DataCoding)
	e.u8(p.SMDefaultMsgID)
	if len(p.ShortMessage) > 0 && p.TLVs.Has(TagMessagePayload) {
		e.fail("short_message", "set together with message_payload; the spec allows one or the other", ESME_RINVMSGLEN)
	}
	e.shortMessage(p.ShortMessage)
	e.tlvs(p.TLVs)
}

func decodeSM(d *decoder, p *SubmitSM) {
	p.ServiceType = d.cstring("service_type", maxServiceType, ESME_RINVSERTYP)
	p.Source = d.address(&sourceNames, maxAddr, ESME_RINVSRCADR)
	p.Dest = d.address(&destinationNames, maxAddr, ESME_RINVDSTADR)
	p.ESMClass = d.u8("esm_class")
	p.ProtocolID = d.u8("protocol_id")
	p.PriorityFlag = d.u8("priority_flag")
	p.ScheduleDeliveryTime = d.time("schedule_delivery_time", ESME_RINVSCHED)
	p.ValidityPeriod = d.time("validity_period", ESME_RINVEXPIRY)
	p.RegisteredDelivery = d.u8("registered_delivery")
	p.ReplaceIfPresent = d.u8("replace_if_present_flag")
	p.DataCoding = d.u8("data_coding")
	p.SMDefaultMsgID = d.u8("sm_default_msg_id")
	p.ShortMessage = d.shortMessage()
	p.TLVs = d.tlvs()
	// The encoder refuses this pair (appendSM); accepting it here would hand out PDUs that
	// cannot be re-sent or re-encoded.
	if d.err == nil && len(p.ShortMessage) > 0 && p.TLVs.Has(TagMessagePayload) {
		d.fail("short_message", "set together with message_payload; the spec allows one or the other", ESME_RINVMSGLEN)
	}
}

// appendIDResp and decodeIDResp are the body of every response that carries a message id
// and optional parameters: submit_sm_resp, deliver_sm_resp and data_sm_resp.
func appendIDResp(e *encoder, id string, t TLVs) {
	e.cstring("message_id", id, maxMessageID, ESME_RINVMSGID)
	e.tlvs(t)
}

func decodeIDResp(d *decoder) (string, TLVs) {
	id := d.cstring("message_id", maxMessageID, ESME_RINVMSGID)
	return id, d.tlvs()
}

// SubmitSMResp answers submit_sm with the SMSC's message id. TLVs are an SMPP 5.0 addition
// some carriers already send (additional_status_info_text); they are kept, not rejected.
type SubmitSMResp struct {
	MessageID string
	TLVs      TLVs
}

func (p *SubmitSMResp) CommandID() CommandID  { return SubmitSMRespID }
func (p *SubmitSMResp) appendBody(e *encoder) { appendIDResp(e, p.MessageID, p.TLVs) }
func (p *SubmitSMResp) decodeBody(d *decoder) { p.MessageID, p.TLVs = decodeIDResp(d) }

// DeliverSMResp answers deliver_sm; message_id is unused in SMPP 3.4 and normally empty.
type DeliverSMResp struct {
	MessageID string
	TLVs      TLVs
}

func (p *DeliverSMResp) CommandID() CommandID  { return DeliverSMRespID }
func (p *DeliverSMResp) appendBody(e *encoder) { appendIDResp(e, p.MessageID, p.TLVs) }
func (p *DeliverSMResp) decodeBody(d *decoder) { p.MessageID, p.TLVs = decodeIDResp(d) }

// DestAddress is one destination of submit_multi: an SME address, or (when DLName is set) the
// name of a distribution list held by the SMSC.
type DestAddress struct {
	Address Address
	DLName  string
}

// UnsuccessSME is one destination submit_multi could not accept, with the reason.
type UnsuccessSME struct {
	Address Address
	Status  CommandStatus
}

// SubmitMulti submits one message to up to 254 destinations (§4.5.1).
type SubmitMulti struct {
	ServiceType          string
	Source               Address
	Dests                []DestAddress
	ESMClass             uint8
	ProtocolID           uint8
	PriorityFlag         uint8
	ScheduleDeliveryTime string
	ValidityPeriod       string
	RegisteredDelivery   uint8
	ReplaceIfPresent     uint8
	DataCoding           uint8
	SMDefaultMsgID       uint8
	ShortMessage         []byte
	TLVs                 TLVs
}

func (p *SubmitMulti) CommandID() CommandID { return SubmitMultiID }
func (p *SubmitMulti) appendBody(e *encoder) {
	e.cstring("service_type", p.ServiceType, maxServiceType, ESME_RINVSERTYP)
	e.address(&sourceNames, p.Source, maxAddr, ESME_RINVSRCADR)
	if len(p.Dests) == 0 || len(p.Dests) > maxDests {
		e.fail("number_of_dests", fmt.Sprintf("%d destinations; 1 to %d allowed", len(p.Dests), maxDests), ESME_RINVNUMDESTS)
	}
	e.u8(uint8(len(p.Dests)))
	for _, dst := range p.Dests {
		if dst.DLName != "" {
			e.u8(2)
			e.cstring("dl_name", dst.DLName, maxDLName, ESME_RINVDLNAME)
		} else {
			e.u8(1)
			e.address(&destinationNames, dst.Address, maxAddr, ESME_RINVDSTADR)
		}
	}
	e.u8(p.ESMClass)
	e.u8(p.ProtocolID)
	e.u8(p.PriorityFlag)
	e.time("schedule_delivery_time", p.ScheduleDeliveryTime, ESME_RINVSCHED)
	e.time("validity_period", p.ValidityPeriod, ESME_RINVEXPIRY)
	e.u8(p.RegisteredDelivery)
	e.u8(p.ReplaceIfPresent)
	e.u8(p.DataCoding)
	e.u8(p.SMDefaultMsgID)
	e.shortMessage(p.ShortMessage)
	e.tlvs(p.TLVs)
}
func (p *SubmitMulti) decodeBody(d *decoder) {
	p.ServiceType = d.cstring("service_type", maxServiceType, ESME_RINVSERTYP)
	p.Source = d.address(&sourceNames, maxAddr, ESME_RINVSRCADR)
	n := int(d.u8("number_of_dests"))
	if d.err == nil && (n == 0 || n > maxDests) {
		d.fail("number_of_dests", fmt.Sprintf("%d destinations; 1 to %d allowed", n, maxDests), ESME_RINVNUMDESTS)
	}
	if d.err == nil {
		p.Dests = make([]DestAddress, n)
		for i := range p.Dests {
			switch flag := d.u8("dest_flag"); flag {
			case 1:
				p.Dests[i].Address = d.address(&destinationNames, maxAddr, ESME_RINVDSTADR)
			case 2:
				p.Dests[i].DLName = d.cstring("dl_name", maxDLName, ESME_RINVDLNAME)
				// An empty name names no list, and DestAddress cannot tell it from an SME
				// address: the encoder would send it back as dest_flag 1.
				if d.err == nil && p.Dests[i].DLName == "" {
					d.fail("dl_name", "empty distribution list name", ESME_RINVDLNAME)
				}
			default:
				if d.err == nil {
					d.fail("dest_flag", fmt.Sprintf("%d; 1 (SME address) or 2 (distribution list) allowed", flag), ESME_RINVDESTFLAG)
				}
			}
		}
	}
	p.ESMClass = d.u8("esm_class")
	p.ProtocolID = d.u8("protocol_id")
	p.PriorityFlag = d.u8("priority_flag")
	p.ScheduleDeliveryTime = d.time("schedule_delivery_time", ESME_RINVSCHED)
	p.ValidityPeriod = d.time("validity_period", ESME_RINVEXPIRY)
	p.RegisteredDelivery = d.u8("registered_delivery")
	p.ReplaceIfPresent = d.u8("replace_if_present_flag")
	p.DataCoding = d.u8("data_coding")
	p.SMDefaultMsgID = d.u8("sm_default_msg_id")
	p.ShortMessage = d.shortMessage()
	p.TLVs = d.tlvs()
}

// SubmitMultiResp answers submit_multi: one message id and the destinations that failed.
type SubmitMultiResp struct {
	MessageID string
	Unsuccess []UnsuccessSME
}

func (p *SubmitMultiResp) CommandID() CommandID { return SubmitMultiRespID }
func (p *SubmitMultiResp) appendBody(e *encoder) {
	e.cstring("message_id", p.MessageID, maxMessageID, ESME_RINVMSGID)
	if len(p.Unsuccess) > maxDests {
		e.fail("no_unsuccess", fmt.Sprintf("%d entries, at most %d allowed", len(p.Unsuccess), maxDests), ESME_RINVNUMDESTS)
	}
	e.u8(uint8(len(p.Unsuccess)))
	for _, u := range p.Unsuccess {
		e.address(&destinationNames, u.Address, maxAddr, ESME_RINVDSTADR)
		e.u32(uint32(u.Status))
	}
}
func (p *SubmitMultiResp) decodeBody(d *decoder) {
	p.MessageID = d.cstring("message_id", maxMessageID, ESME_RINVMSGID)
	n := int(d.u8("no_unsuccess"))
	if d.err == nil && n > maxDests {
		d.fail("no_unsuccess", fmt.Sprintf("%d entries, at most %d allowed", n, maxDests), ESME_RINVNUMDESTS)
	}
	if d.err == nil && n > 0 {
		p.Unsuccess = make([]UnsuccessSME, n)
		for i := range p.Unsuccess {
			p.Unsuccess[i].Address = d.address(&destinationNames, maxAddr, ESME_RINVDSTADR)
			p.Unsuccess[i].Status = CommandStatus(d.u32("error_status_code"))
		}
	}
}

// DataSM is the TLV-based alternative to submit_sm and deliver_sm (§4.7.1).
type DataSM struct {
	ServiceType        string
	Source             Address
	Dest               Address
	ESMClass           uint8
	RegisteredDelivery uint8
	DataCoding         uint8
	TLVs               TLVs
}

func (p *DataSM) CommandID() CommandID { return DataSMID }
func (p *DataSM) appendBody(e *encoder) {
	e.cstring("service_type", p.ServiceType, maxServiceType, ESME_RINVSERTYP)
	e.address(&sourceNames, p.Source, maxAddr65, ESME_RINVSRCADR)
	e.address(&destinationNames, p.Dest, maxAddr65, ESME_RINVDSTADR)
	e.u8(p.ESMClass)
	e.u8(p.RegisteredDelivery)
	e.u8(p.DataCoding)
	e.tlvs(p.TLVs)
}
func (p *DataSM) decodeBody(d *decoder) {
	p.ServiceType = d.cstring("service_type", maxServiceType, ESME_RINVSERTYP)
	p.Source = d.address(&sourceNames, maxAddr65, ESME_RINVSRCADR)
	p.Dest = d.address(&destinationNames, maxAddr65, ESME_RINVDSTADR)
	p.ESMClass = d.u8("esm_class")
	p.RegisteredDelivery = d.u8("registered_delivery")
	p.DataCoding = d.u8("data_coding")
	p.TLVs = d.tlvs()
}

// DataSMResp answers data_sm.
type DataSMResp struct {
	MessageID string
	TLVs      TLVs
}

func (p *DataSMResp) CommandID() CommandID  { return DataSMRespID }
func (p *DataSMResp) appendBody(e *encoder) { appendIDResp(e, p.MessageID, p.TLVs) }
func (p *DataSMResp) decodeBody(d *decoder) { p.MessageID, p.TLVs = decodeIDResp(d) }

// QuerySM asks for the state of a previously submitted message (§4.8.1).
type QuerySM struct {
	MessageID string
	Source    Address
}

func (p *QuerySM) CommandID() CommandID { return QuerySMID }
func (p *QuerySM) appendBody(e *encoder) {
	e.cstring("message_id", p.MessageID, maxMessageID, ESME_RINVMSGID)
	e.address(&sourceNames, p.Source, maxAddr, ESME_RINVSRCADR)
}
func (p *QuerySM) decodeBody(d *decoder) {
	p.MessageID = d.cstring("message_id", maxMessageID, ESME_RINVMSGID)
	p.Source = d.address(&sourceNames, maxAddr, ESME_RINVSRCADR)
}

// QuerySMResp answers query_sm.
type QuerySMResp struct {
	MessageID    string
	FinalDate    string
	MessageState MessageState
	ErrorCode    uint8
}

func (p *QuerySMResp) CommandID() CommandID { return QuerySMRespID }
func (p *QuerySMResp) appendBody(e *encoder) {
	e.cstring("message_id", p.MessageID, maxMessageID, ESME_RINVMSGID)
	e.time("final_date", p.FinalDate, ESME_RINVPARLEN)
	e.u8(uint8(p.MessageState))
	e.u8(p.ErrorCode)
}
func (p *QuerySMResp) decodeBody(d *decoder) {
	p.MessageID = d.cstring("message_id", maxMessageID, ESME_RINVMSGID)
	p.FinalDate = d.time("final_date", ESME_RINVPARLEN)
	p.MessageState = MessageState(d.u8("message_state"))
	p.ErrorCode = d.u8("error_code")
}

// CancelSM cancels a pending message (§4.9.1).
type CancelSM struct {
	ServiceType string
	MessageID   string
	Source      Address
	Dest        Address
}

func (p *CancelSM) CommandID() CommandID { return CancelSMID }
func (p *CancelSM) appendBody(e *encoder) {
	e.cstring("service_type", p.ServiceType, maxServiceType, ESME_RINVSERTYP)
	e.cstring("message_id", p.MessageID, maxMessageID, ESME_RINVMSGID)
	e.address(&sourceNames, p.Source, maxAddr, ESME_RINVSRCADR)
	e.address(&destinationNames, p.Dest, maxAddr, ESME_RINVDSTADR)
}
func (p *CancelSM) decodeBody(d *decoder) {
	p.ServiceType = d.cstring("service_type", maxServiceType, ESME_RINVSERTYP)
	p.MessageID = d.cstring("message_id", maxMessageID, ESME_RINVMSGID)
	p.Source = d.address(&sourceNames, maxAddr, ESME_RINVSRCADR)
	p.Dest = d.address(&destinationNames, maxAddr, ESME_RINVDSTADR)
}

// ReplaceSM replaces a pending message (§4.10.1).
type ReplaceSM struct {
	MessageID            string
	Source               Address
	ScheduleDeliveryTime string
	ValidityPeriod       string
	RegisteredDelivery   uint8
	SMDefaultMsgID       uint8
	ShortMessage         []byte
}

func (p *ReplaceSM) CommandID() CommandID { return ReplaceSMID }
func (p *ReplaceSM) appendBody(e *encoder) {
	e.cstring("message_id", p.MessageID, maxMessageID, ESME_RINVMSGID)
	e.address(&sourceNames, p.Source, maxAddr, ESME_RINVSRCADR)
	e.time("schedule_delivery_time", p.ScheduleDeliveryTime, ESME_RINVSCHED)
	e.time("validity_period", p.ValidityPeriod, ESME_RINVEXPIRY)
	e.u8(p.RegisteredDelivery)
	e.u8(p.SMDefaultMsgID)
	e.shortMessage(p.ShortMessage)
}
func (p *ReplaceSM) decodeBody(d *decoder) {
	p.MessageID = d.cstring("message_id", maxMessageID, ESME_RINVMSGID)
	p.Source = d.address(&sourceNames, maxAddr, ESME_RINVSRCADR)
	p.ScheduleDeliveryTime = d.time("schedule_delivery_time", ESME_RINVSCHED)
	p.ValidityPeriod = d.time("validity_period", ESME_RINVEXPIRY)
	p.RegisteredDelivery = d.u8("registered_delivery")
	p.SMDefaultMsgID = d.u8("sm_default_msg_id")
	p.ShortMessage = d.shortMessage()
}

// AlertNotification tells an ESME that a mobile became available (§4.12.1).
type AlertNotification struct {
	Source Address
	ESME   Address
	TLVs   TLVs // ms_availability_status
}

func (p *AlertNotification) CommandID() CommandID { return AlertNotificationID }
func (p *AlertNotification) appendBody(e *encoder) {
	e.address(&sourceNames, p.Source, maxAddr65, ESME_RINVSRCADR)
	e.address(&esmeNames, p.ESME, maxAddr65, ESME_RINVDSTADR)
	e.tlvs(p.TLVs)
}
func (p *AlertNotification) decodeBody(d *decoder) {
	p.Source = d.address(&sourceNames, maxAddr65, ESME_RINVSRCADR)
	p.ESME = d.address(&esmeNames, maxAddr65, ESME_RINVDSTADR)
	p.TLVs = d.tlvs()
}

// MessageState is the state of a message in query_sm_resp and the message_state TLV (§5.2.28).
type MessageState uint8

const (
	StateEnroute       MessageState = 1
	StateDelivered     MessageState = 2
	StateExpired       MessageState = 3
	StateDeleted       MessageState = 4
	StateUndeliverable MessageState = 5
	StateAccepted      MessageState = 6
	StateUnknown       MessageState = 7
	StateRejected      MessageState = 8
)

var stateNames = [...]string{"", "ENROUTE", "DELIVERED", "EXPIRED", "DELETED", "UNDELIVERABLE", "ACCEPTED", "UNKNOWN", "REJECTED"}

func (s MessageState) String() string {
	if int(s) < len(stateNames) && s != 0 {
		return stateNames[s]
	}
	return fmt.Sprintf("message_state(%d)", uint8(s))
}

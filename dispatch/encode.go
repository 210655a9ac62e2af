package dispatch

import (
	"fmt"
	"slices"

	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smpp/text"
	"github.com/smppd/smppd/store"
)

// sourceAddress infers TON/NPI from a sender id: alphanumeric headers are TON 5 (the DLT
// headers of transactional and service traffic), numeric ones national or international.
func sourceAddress(from string) smpp.Address {
	digits := from != ""
	for _, r := range from {
		if r < '0' || r > '9' {
			digits = false
			break
		}
	}
	switch {
	case !digits:
		return smpp.Address{TON: 5, NPI: 0, Addr: from}
	case len(from) > 10:
		return smpp.Address{TON: 1, NPI: 1, Addr: from}
	default:
		return smpp.Address{TON: 0, NPI: 1, Addr: from}
	}
}

// dltTLVs returns the DLT parameters for a message on a carrier.
func dltTLVs(m *store.Message, spec dlt.CarrierSpec, chainFor func(string) []string) smpp.TLVs {
	params := spec.Params(m.PEID, m.TemplateID, chainOf(m, spec, chainFor))
	if len(params) == 0 {
		return nil
	}
	t := make(smpp.TLVs, len(params))
	for i, p := range params {
		t[i] = smpp.StringTLV(smpp.Tag(p.Tag), p.Value)
	}
	return t
}

// chainTLV returns the value of the chain TLV a message went out with (the PE-TM chain hash,
// or the raw chain in chain_mode raw), "" when it had none, read off its first part as
// encoded: the timeline's submitted event keeps it, so the console shows what the carrier got.
func chainTLV(parts []*smpp.SubmitSM, spec dlt.CarrierSpec) string {
	if len(parts) == 0 {
		return ""
	}
	tag := spec.ChainTag
	if tag == 0 {
		tag = dlt.DefaultChainTag
	}
	v, _ := parts[0].TLVs.String(smpp.Tag(tag))
	return v
}

// chainOf returns the telemarketer ids after the PE for a message's chain TLV (PE, TM-AF
// ids, TM-D). A message without TM-AF ids of its own gets the entity's registered chain
// (chainFor), else nil so that Params uses the carrier's TMChain, as before. A message that
// names its TM-AF ids (m.TMIDs: a client aggregator's path, which the api completed from
// the registry) keeps them and ends with the TM-D of the registered chain — whose own TM-AF
// ids are some path's, possibly another aggregator's — or else with the carrier's TMChain
// (smppd's TM-AF ids towards an upstream, if any, and the TM-D); an id already named is not
// repeated.
func chainOf(m *store.Message, spec dlt.CarrierSpec, chainFor func(string) []string) []string {
	if m.PEID == "" {
		return nil
	}
	var own []string
	if chainFor != nil {
		own = chainFor(m.PEID)
	}
	if len(m.TMIDs) == 0 {
		return own // nil: Params uses the carrier's TMChain
	}
	if len(own) > 0 {
		own = own[len(own)-1:] // the registered chain's TM-D
	} else {
		own = spec.TMChain
	}
	chain := append([]string(nil), m.TMIDs...)
	for _, id := range own {
		if !slices.Contains(m.TMIDs, id) {
			chain = append(chain, id)
		}
	}
	return chain
}

// buildParts encodes and splits a message into the submit_sm PDUs for a carrier. ref is the
// concatenation reference shared by the parts.
func buildParts(m *store.Message, c *CarrierOptions, ref uint16, chainFor func(string) []string) ([]*smpp.SubmitSM, error) {
	enc, err := text.ChooseEncoding(m.Text)
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	parts, err := text.Split(m.Text, enc, text.Options{
		Concat: c.Text.Concat, Ref: ref, MaxParts: c.Text.MaxParts,
		PackGSM7: c.Text.PackGSM7, SARFullParts: c.Text.SARFullParts,
	})
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	tlvs := dltTLVs(m, c.DLT, chainFor)
	src := sourceAddress(m.From)
	dst := smpp.Address{TON: 1, NPI: 1, Addr: m.To}
	out := make([]*smpp.SubmitSM, len(parts))
	for i, p := range parts {
		sm := &smpp.SubmitSM{
			Source: src, Dest: dst,
			RegisteredDelivery: *c.RegisteredDelivery,
			DataCoding:         uint8(enc.DataCoding()),
			TLVs:               append(smpp.TLVs(nil), tlvs...),
		}
		switch {
		case c.Text.Concat == text.ConcatPayload:
			sm.TLVs = append(sm.TLVs, smpp.BytesTLV(smpp.TagMessagePayload, p.Data))
		case p.Total > 1 && c.Text.Concat == text.ConcatSAR:
			sm.ShortMessage = p.Data
			sm.TLVs = append(sm.TLVs,
				smpp.Uint16TLV(smpp.TagSARMsgRefNum, p.Ref),
				smpp.Uint8TLV(smpp.TagSARTotalSegments, p.Total),
				smpp.Uint8TLV(smpp.TagSARSegmentSeqnum, p.Seq))
		default:
			sm.ShortMessage = p.Data
			if p.UDHLen > 0 {
				sm.ESMClass |= smpp.ESMClassUDHI
			}
		}
		out[i] = sm
	}
	return out, nil
}

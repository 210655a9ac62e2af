package dlt

import (
	"fmt"
	"strconv"
	"strings"
)

// Default TLV tags most Indian carriers use for the DLT data.
const (
	DefaultPETag       uint16 = 0x1400
	DefaultTemplateTag uint16 = 0x1401
	DefaultChainTag    uint16 = 0x1402
)

// CarrierSpec is how one carrier wants the DLT data on each submit_sm, and how it reports
// DLT rejections in command_status.
type CarrierSpec struct {
	// PETag, TemplateTag and ChainTag are the TLV tags; zero means the default
	// (0x1400, 0x1401, 0x1402).
	PETag, TemplateTag, ChainTag uint16
	// ChainMode is "sha256" (the lowercase hex SHA-256 of "PE,TM1,…,TMD"; the default), "raw"
	// (the comma-separated ids, for an upstream aggregator that builds the hash) or "off".
	ChainMode string
	// TMChain lists the telemarketer ids after the PE (TM-AF ids, then the TM-D) for
	// entities the registry has no chain for.
	TMChain []string
	// StatusCodes says how the carrier writes a DLT code in command_status: "decimal" (630 is
	// 0x276; the default) or "hex" (630 is 0x630).
	StatusCodes string
	// Codes overrides the default table's names for this carrier: the same number means
	// different things on different upstreams (the 61x range especially).
	Codes map[int]string
}

// Param is one DLT TLV: its tag and its value (ASCII, sent as an octet string without NUL).
type Param struct {
	Tag   uint16
	Value string
}

// Params returns the TLVs for a message: PE_ID, CT_ID and the chain. chain is the TM-AF and
// TM-D ids after the PE; nil uses the carrier's TMChain. Empty ids are left out.
func (c CarrierSpec) Params(peID, templateID string, chain []string) []Param {
	var out []Param
	if peID != "" {
		out = append(out, Param{orDefault(c.PETag, DefaultPETag), peID})
	}
	if templateID != "" {
		out = append(out, Param{orDefault(c.TemplateTag, DefaultTemplateTag), templateID})
	}
	if peID == "" {
		return out
	}
	if chain == nil {
		chain = c.TMChain
	}
	switch c.ChainMode {
	case "", "sha256":
		if len(chain) > 0 {
			out = append(out, Param{orDefault(c.ChainTag, DefaultChainTag), ChainHash(peID, chain...)})
		}
	case "raw":
		out = append(out, Param{orDefault(c.ChainTag, DefaultChainTag), strings.Join(append([]string{peID}, chain...), ",")})
	}
	return out
}

func orDefault(v, d uint16) uint16 {
	if v == 0 {
		return d
	}
	return v
}

// Validate checks the spec, naming the field.
func (c CarrierSpec) Validate() error {
	switch c.ChainMode {
	case "", "sha256", "raw", "off":
	default:
		return fmt.Errorf("dlt: chain mode %q: want sha256, raw or off", c.ChainMode)
	}
	switch c.StatusCodes {
	case "", "decimal", "hex":
	default:
		return fmt.Errorf("dlt: status codes %q: want decimal or hex", c.StatusCodes)
	}
	for _, id := range c.TMChain {
		if !ValidID(id) {
			return fmt.Errorf("dlt: tm chain id %q: digits only", id)
		}
	}
	return nil
}

// StatusCode reads a DLT code out of a submit response's command_status. SMPP's own
// statuses stay below 0x100 and vendor ones in 0x400–0x4FF, so a code is recognised only
// above 0xFF and only when the carrier's table (or the default one) knows it.
func (c CarrierSpec) StatusCode(status uint32) (Code, bool) {
	if status <= 0xFF {
		return 0, false
	}
	n := int(status)
	if c.StatusCodes == "hex" {
		v, err := strconv.Atoi(strconv.FormatUint(uint64(status), 16))
		if err != nil {
			return 0, false
		}
		n = v
	}
	return c.Lookup(n)
}

// Status writes a DLT code in command_status the way StatusCode reads it: decimal (630 is
// 0x276) or hex (630 is 0x630). An SMSC that refuses with DLT codes (the SMPP front) answers
// its clients as their carriers would.
func (c CarrierSpec) Status(code Code) (uint32, bool) {
	if code <= 0 {
		return 0, false
	}
	if c.StatusCodes == "hex" {
		v, err := strconv.ParseUint(strconv.Itoa(int(code)), 16, 32)
		if err != nil {
			return 0, false
		}
		return uint32(v), true
	}
	return uint32(code), true
}

// Lookup returns the code for a number from the carrier's table, then the default one.
func (c CarrierSpec) Lookup(n int) (Code, bool) {
	if _, ok := c.Codes[n]; ok {
		return Code(n), true
	}
	return LookupCode(n)
}

// Name returns the code's name on this carrier.
func (c CarrierSpec) Name(code Code) string {
	if n, ok := c.Codes[int(code)]; ok {
		return n
	}
	return code.String()
}

// Reason returns words for a rejection with code: "DLT 630 template_not_found: …".
func (c CarrierSpec) Reason(code Code) string {
	if n, ok := c.Codes[int(code)]; ok {
		return fmt.Sprintf("DLT %d %s", int(code), n)
	}
	return fmt.Sprintf("DLT %d %s: %s", int(code), code.String(), code.Description())
}

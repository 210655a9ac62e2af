package api

// fieldNames are the request fields and modules a send's errors name, as the client's API
// spells them: R1's lower-case parameters and modules, or the legacy V1 TSMS/PSMS
// endpoints' own (2Factor's From, To, Msg, TemplateName, SendAt), which have no peid or ctid.
type fieldNames struct {
	to, from, msg, template, sendAt string
	peid, ctid                      string // "" = the endpoint cannot pass it
	trans, promo                    string // the transactional and promotional module
}

var (
	r1Names       = fieldNames{to: "to", from: "from", msg: "msg", template: "templatename", sendAt: "scheduletime", peid: "peid", ctid: "ctid", trans: "TRANS_SMS", promo: "PROMO_SMS"}
	v1LegacyNames = fieldNames{to: "To", from: "From", msg: "Msg", template: "TemplateName", sendAt: "SendAt", trans: "TSMS", promo: "PSMS"}
)

// names are the field names of the request the draft came from (R1's unless it says).
func (d *draft) names() *fieldNames {
	if d.sp.names != nil {
		return d.sp.names
	}
	return &r1Names
}

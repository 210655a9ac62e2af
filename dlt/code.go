package dlt

import "fmt"

// Code is a DLT scrubbing error code as Indian operators and aggregators report it, in API
// replies and in the err: field of delivery receipts.
//
// The values come from dlt-smpp.md §3. The 6xx family is the platform-level list that several
// aggregators publish with identical wording, so it is the default table and the one Check
// returns. The 4-digit (52xx–59xx) and the 8xx/90xx codes come from one public error-code map
// whose entries name Vi ("VISPL") and Airtel; their constants carry a Vi or Airtel prefix to
// keep them apart from the 6xx codes with similar meanings. Which upstream sends which code is
// not settled (the 61x range is not even stable across sources), so per-carrier tables belong
// in a later layer; this file is the single default table.
type Code int

// Platform-level codes (the "6xx" list, dlt-smpp.md §3).
const (
	CodeEntityNotFound              Code = 600 // no record with the PE ID as key
	CodeEntityNotRegistered         Code = 601
	CodeEntityInactive              Code = 602
	CodeEntityBlacklisted           Code = 603
	CodeInvalidEntityID             Code = 604 // wrong format, or no PE ID tag at all
	CodeEntityNotAllowedForTM       Code = 605
	CodeTelemarketerNotRegistered   Code = 610
	CodeTelemarketerInactive        Code = 611
	CodeTelemarketerBlacklisted     Code = 612
	CodeTelemarketerNotAllowed      Code = 613 // telemarketer not allowed for this entity
	CodePETMHashNotReceived         Code = 614
	CodePETMHashNotRegistered       Code = 615
	CodePETMHashInactive            Code = 616
	CodePETMHashBlacklisted         Code = 617
	CodePETMHashSuspended           Code = 618
	CodeHeaderNotFound              Code = 620 // headers are case sensitive
	CodeHeaderInactive              Code = 621
	CodeHeaderBlacklisted           Code = 622
	CodePEIDNotMatchedWithHeader    Code = 623
	CodeHeaderSuspendedValidity     Code = 624
	CodeHeaderSuspendedUsage        Code = 625
	CodeTemplateNotFound            Code = 630
	CodeTemplateInactive            Code = 631
	CodeTemplateBlacklisted         Code = 632
	CodeTemplateNotMatched          Code = 633
	CodeHeaderNotRegisteredForTmpl  Code = 634
	CodeTemplateVariableTooLong     Code = 635
	CodeErrorIdentifyingTemplate    Code = 636
	CodeInvalidTemplateID           Code = 637 // wrong format, or no template ID tag at all
	CodePreference                  Code = 650 // blocked by the recipient's DND preferences
	CodeInvalidPromoTime            Code = 651 // promotional traffic outside 10:00–21:00 IST
	CodeServiceExplicitBlocked      Code = 652 // service explicit to fully blocked DND without consent
	CodeConsentFailed               Code = 660
	CodeContentMismatch             Code = 666
	CodeScrubbingFailed             Code = 670
	CodeInvalidTMID                 Code = 677
	CodeSMSTypeHeaderMismatch       Code = 683
	CodeSMSTypeTemplateMismatch     Code = 687
	CodeNoCTAWhitelisted            Code = 700
	CodeURLCTANotMatched            Code = 701
	CodeExpectedTLVMissing          Code = 195 // ESME_RMISSINGTLV, seen in older lists
	CodeViHeaderInactive            Code = 5201
	CodeViHeaderBlacklisted         Code = 5202
	CodeViHeaderNotFound            Code = 5203
	CodeViEntityTemplateMismatch    Code = 5205
	CodeViPromoPortMismatch         Code = 5206
	CodeViTransPortMismatch         Code = 5207
	CodeViHeaderSuspendedUsage      Code = 5213
	CodeViHeaderSuspendedValidity   Code = 5214
	CodeViContentUnregistered       Code = 5301
	CodeViContentTypeMismatch       Code = 5305
	CodeViRegexNotMatched           Code = 5307
	CodeViContentIDBlank            Code = 5308
	CodeViVariableExceeded          Code = 5312
	CodeViTemplateSuspended         Code = 5313
	CodeViTemplateSuspended2        Code = 5314
	CodeViConsentNotFound           Code = 5501
	CodeViConsentExpired            Code = 5502
	CodeViConsentRevoked            Code = 5503
	CodeViPETMHashInvalid           Code = 5601 // not valid, not available or blank
	CodeViPETMHashBlacklisted       Code = 5602
	CodeViPETMHashInactive          Code = 5603
	CodeViPETMHashSuspended         Code = 5604
	CodeViTMDNotMatched             Code = 5605
	CodeViPEIDNotMatched            Code = 5606
	CodeViURLNotWhitelisted         Code = 5901
	CodeViURLBlacklisted            Code = 5902
	CodeViURLInactive               Code = 5903
	CodeAirtelBlacklistedMSISDN     Code = 801
	CodeAirtelEntityNotRegistered   Code = 802
	CodeAirtelTemplateInactive      Code = 805
	CodeAirtelPETMChainInactive     Code = 811
	CodeAirtelInvalidPETMHash       Code = 812
	CodeAirtelPETMHashChainMismatch Code = 813
	CodeAirtelTMIDTagAbsent         Code = 9024
	CodeAirtelTemplateIDTagAbsent   Code = 9025
	CodeAirtelPEIDTagAbsent         Code = 9026
	CodeAirtelInvalidTMExtensionID  Code = 9030
)

type codeInfo struct {
	name string // snake_case, stable: used as a metric label and log field
	desc string
}

var codeTable = map[Code]codeInfo{
	CodeEntityNotFound:              {"entity_not_found", "no entity registered with this PE ID"},
	CodeEntityNotRegistered:         {"entity_not_registered", "entity not registered"},
	CodeEntityInactive:              {"entity_inactive", "entity inactive"},
	CodeEntityBlacklisted:           {"entity_blacklisted", "entity blacklisted"},
	CodeInvalidEntityID:             {"invalid_entity_id", "PE ID missing or not in the right format"},
	CodeEntityNotAllowedForTM:       {"entity_not_allowed_for_tm", "entity not allowed for this telemarketer"},
	CodeTelemarketerNotRegistered:   {"telemarketer_not_registered", "telemarketer not registered"},
	CodeTelemarketerInactive:        {"telemarketer_inactive", "telemarketer inactive"},
	CodeTelemarketerBlacklisted:     {"telemarketer_blacklisted", "telemarketer blacklisted"},
	CodeTelemarketerNotAllowed:      {"telemarketer_not_allowed_for_entity", "telemarketer not allowed for this entity"},
	CodePETMHashNotReceived:         {"pe_tm_hash_not_received", "PE-TM chain hash not received"},
	CodePETMHashNotRegistered:       {"pe_tm_hash_not_registered", "PE-TM chain hash not registered"},
	CodePETMHashInactive:            {"pe_tm_hash_inactive", "PE-TM chain hash inactive"},
	CodePETMHashBlacklisted:         {"pe_tm_hash_blacklisted", "PE-TM chain hash blacklisted"},
	CodePETMHashSuspended:           {"pe_tm_hash_suspended", "PE-TM chain hash suspended"},
	CodeHeaderNotFound:              {"header_not_found", "header (sender ID) not found; headers are case sensitive"},
	CodeHeaderInactive:              {"header_inactive", "header inactive"},
	CodeHeaderBlacklisted:           {"header_blacklisted", "header blacklisted"},
	CodePEIDNotMatchedWithHeader:    {"peid_not_matched_with_header", "header is registered to another entity"},
	CodeHeaderSuspendedValidity:     {"header_suspended_validity", "header suspended: validity expired"},
	CodeHeaderSuspendedUsage:        {"header_suspended_usage", "header suspended: not used"},
	CodeTemplateNotFound:            {"template_not_found", "content template not found"},
	CodeTemplateInactive:            {"template_inactive", "content template inactive"},
	CodeTemplateBlacklisted:         {"template_blacklisted", "content template blacklisted"},
	CodeTemplateNotMatched:          {"template_not_matched", "message text does not match the content template"},
	CodeHeaderNotRegisteredForTmpl:  {"header_not_registered_for_template", "header not registered for this template"},
	CodeTemplateVariableTooLong:     {"template_variable_exceeded_max_length", "a template variable exceeds its maximum length"},
	CodeErrorIdentifyingTemplate:    {"error_identifying_template", "no registered template matches the message text"},
	CodeInvalidTemplateID:           {"invalid_template_id", "template ID missing or not in the right format"},
	CodePreference:                  {"preference", "blocked by the recipient's preferences (DND)"},
	CodeInvalidPromoTime:            {"invalid_promo_time", "promotional traffic outside 10:00–21:00 IST"},
	CodeServiceExplicitBlocked:      {"service_explicit_blocked", "service explicit message to a fully blocked DND number without consent"},
	CodeConsentFailed:               {"consent_failed", "consent scrubbing failed"},
	CodeContentMismatch:             {"content_mismatch", "SMS content mismatch"},
	CodeScrubbingFailed:             {"scrubbing_failed", "scrubbing failed"},
	CodeInvalidTMID:                 {"invalid_tm_id", "invalid telemarketer ID"},
	CodeSMSTypeHeaderMismatch:       {"sms_type_header_mismatch", "message category does not fit the header type"},
	CodeSMSTypeTemplateMismatch:     {"sms_type_template_mismatch", "message category does not fit the template type"},
	CodeNoCTAWhitelisted:            {"no_cta_whitelisted", "no call-to-action (URL, number) whitelisted"},
	CodeURLCTANotMatched:            {"url_cta_not_matched", "URL does not match a whitelisted call-to-action"},
	CodeExpectedTLVMissing:          {"expected_tlv_missing", "expected TLV missing (ESME_RMISSINGTLV)"},
	CodeViHeaderInactive:            {"vi_header_inactive", "header inactive"},
	CodeViHeaderBlacklisted:         {"vi_header_blacklisted", "header blacklisted"},
	CodeViHeaderNotFound:            {"vi_header_not_found", "header not found"},
	CodeViEntityTemplateMismatch:    {"vi_entity_template_mismatch", "entity not matched with template"},
	CodeViPromoPortMismatch:         {"vi_promo_port_mismatch", "promotional header on a transactional port"},
	CodeViTransPortMismatch:         {"vi_trans_port_mismatch", "transactional header on a promotional port"},
	CodeViHeaderSuspendedUsage:      {"vi_header_suspended_usage", "header suspended: usage"},
	CodeViHeaderSuspendedValidity:   {"vi_header_suspended_validity", "header suspended: validity"},
	CodeViContentUnregistered:       {"vi_content_unregistered", "content template unregistered"},
	CodeViContentTypeMismatch:       {"vi_content_type_mismatch", "content type mismatch"},
	CodeViRegexNotMatched:           {"vi_regex_not_matched", "content does not match the template"},
	CodeViContentIDBlank:            {"vi_content_id_blank", "content template ID blank"},
	CodeViVariableExceeded:          {"vi_variable_exceeded", "template variable exceeded"},
	CodeViTemplateSuspended:         {"vi_template_suspended", "template suspended"},
	CodeViTemplateSuspended2:        {"vi_template_suspended_2", "template suspended"},
	CodeViConsentNotFound:           {"vi_consent_not_found", "consent not in the database"},
	CodeViConsentExpired:            {"vi_consent_expired", "consent expired"},
	CodeViConsentRevoked:            {"vi_consent_revoked", "consent revoked"},
	CodeViPETMHashInvalid:           {"vi_pe_tm_hash_invalid", "PE-TM hash not valid, not available or blank"},
	CodeViPETMHashBlacklisted:       {"vi_pe_tm_hash_blacklisted", "PE-TM hash blacklisted"},
	CodeViPETMHashInactive:          {"vi_pe_tm_hash_inactive", "PE-TM hash inactive"},
	CodeViPETMHashSuspended:         {"vi_pe_tm_hash_suspended", "PE-TM hash suspended"},
	CodeViTMDNotMatched:             {"vi_tmd_not_matched", "TM-D ID not matched"},
	CodeViPEIDNotMatched:            {"vi_peid_not_matched", "PE ID not matched"},
	CodeViURLNotWhitelisted:         {"vi_url_not_whitelisted", "CTA/URL not whitelisted"},
	CodeViURLBlacklisted:            {"vi_url_blacklisted", "URL blacklisted"},
	CodeViURLInactive:               {"vi_url_inactive", "URL inactive"},
	CodeAirtelBlacklistedMSISDN:     {"airtel_blacklisted_msisdn", "recipient number blacklisted"},
	CodeAirtelEntityNotRegistered:   {"airtel_entity_not_registered", "entity ID inactive or not registered with the operator"},
	CodeAirtelTemplateInactive:      {"airtel_template_inactive", "template inactive"},
	CodeAirtelPETMChainInactive:     {"airtel_pe_tm_chain_inactive", "PE-TM chain inactive"},
	CodeAirtelInvalidPETMHash:       {"airtel_invalid_pe_tm_hash", "invalid PE-TM hash"},
	CodeAirtelPETMHashChainMismatch: {"airtel_pe_tm_hash_chain_mismatch", "hash does not match the PE-TM chain"},
	CodeAirtelTMIDTagAbsent:         {"airtel_tm_id_tag_absent", "TM ID TLV absent"},
	CodeAirtelTemplateIDTagAbsent:   {"airtel_template_id_tag_absent", "template ID TLV absent"},
	CodeAirtelPEIDTagAbsent:         {"airtel_pe_id_tag_absent", "PE ID TLV absent"},
	CodeAirtelInvalidTMExtensionID:  {"airtel_invalid_tm_extension_id", "invalid TM extension ID (ESME_INVD_TM_EXN_ID)"},
}

// String returns the code's stable snake_case name, e.g. "template_not_matched", suitable as
// a metric label. Unknown codes print as "dlt_<n>".
func (c Code) String() string {
	if ci, ok := codeTable[c]; ok {
		return ci.name
	}
	return fmt.Sprintf("dlt_%d", int(c))
}

// Description returns a short English description of what the code means.
func (c Code) Description() string {
	if ci, ok := codeTable[c]; ok {
		return ci.desc
	}
	return fmt.Sprintf("unknown DLT error code %d", int(c))
}

// LookupCode reports whether n is a code in the default table, and returns it as a Code.
// Receipt parsers use it on the err: field, which Indian upstreams send as 3 or 4 digits.
func LookupCode(n int) (Code, bool) {
	c := Code(n)
	_, ok := codeTable[c]
	return c, ok
}

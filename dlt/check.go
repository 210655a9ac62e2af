package dlt

import (
	"time"
)

// Message is what a DLT scrubber sees of one submitted SMS: the TLV values and the
// submit_sm fields that matter for compliance.
type Message struct {
	PEID       string // PE ID TLV (default tag 0x1400)
	TemplateID string // CT ID TLV (default tag 0x1401); empty means "identify by content"
	Header     string // source_addr, the registered header without operator prefix or suffix
	Text       string // the decoded message text (all parts joined)
	ChainHash  string // PE-TM chain hash TLV (default tag 0x1402), lowercase hex
}

// CheckOptions select which of the optional checks Check runs. The zero value checks entity,
// header, template, content and the send window, and ignores the chain hash.
type CheckOptions struct {
	// Match tunes content matching (variable length, URL whitelist).
	Match MatchOptions

	// RequireChainHash makes a missing chain hash PE_TM_HASH_NOT_RECEIVED (614) and a hash
	// that is not one of the entity's registered chains PE_TM_HASH_NOT_REGISTERED (615), as
	// operators scrub since 11 Dec 2024.
	RequireChainHash bool

	// ExpectedChainHash, if set, is the only hash accepted (615 otherwise), whatever the
	// registry holds; it implies RequireChainHash. A simulator uses it to check that the
	// daemon built the hash for the chain it was configured with.
	ExpectedChainHash string

	// SkipSendWindow turns off the 10:00–21:00 IST check, for callers that accept
	// promotional messages at any hour and defer their delivery (see NextSendTime).
	SkipSendWindow bool
}

// Check scrubs m the way an operator's DLT platform does and returns the first rule it
// breaks, or nil. The checks, in order, and the code each failure gets:
//
//  1. PE ID present and well formed (604 INVALID_ENTITY_ID), registered (600 ENTITY_NOT_FOUND).
//  2. If required, chain hash present (614) and registered or expected (615).
//  3. Header registered, case-sensitively (620 HEADER_NOT_FOUND), and the entity's (623).
//  4. Template: with a CT ID, well formed (637), registered to this entity (630), allowing
//     the header (634); without one, identified by content (636, see MatchContent).
//  5. Header type fits the template category: 6 digits for promotional, 6 letters otherwise
//     (683 SMS_TYPE_HEADER_MISMATCH).
//  6. Text matches the template (633, 635 variable too long, 701 link not whitelisted).
//  7. Promotional and service explicit only 10:00–21:00 IST (651 INVALID_PROMO_TIME).
func (r *Registry) Check(m Message, now time.Time, opt CheckOptions) *Violation {
	if m.PEID == "" {
		return violation(CodeInvalidEntityID, "", "no PE ID was sent")
	}
	if !ValidID(m.PEID) {
		return violation(CodeInvalidEntityID, "", "PE ID %q is not 1 to %d digits", clip(m.PEID, 40), maxIDLen)
	}
	ent, ok := r.Entity(m.PEID)
	if !ok {
		return violation(CodeEntityNotFound, "", "entity %s is not registered", m.PEID)
	}

	if opt.RequireChainHash || opt.ExpectedChainHash != "" {
		switch {
		case m.ChainHash == "":
			return violation(CodePETMHashNotReceived, "", "no PE-TM chain hash was sent for entity %s", m.PEID)
		case opt.ExpectedChainHash != "" && m.ChainHash != opt.ExpectedChainHash:
			return violation(CodePETMHashNotRegistered, "", "PE-TM chain hash %s is not the expected %s", clip(m.ChainHash, 64), opt.ExpectedChainHash)
		case opt.ExpectedChainHash == "" && !r.ChainRegistered(m.PEID, m.ChainHash):
			return violation(CodePETMHashNotRegistered, "", "PE-TM chain hash %s is not registered for entity %s", clip(m.ChainHash, 64), m.PEID)
		}
	}

	if m.Header == "" {
		return violation(CodeHeaderNotFound, "", "no header (source address) was sent")
	}
	h, ok := r.Header(m.Header)
	if !ok {
		return violation(CodeHeaderNotFound, "", "header %s is not registered for entity %s (headers are case sensitive)", clip(m.Header, 20), m.PEID)
	}
	if h.EntityID != m.PEID {
		return violation(CodePEIDNotMatchedWithHeader, "", "header %s is registered for entity %s, not %s", h.Name, h.EntityID, m.PEID)
	}

	if opt.Match.URLWhitelist == nil {
		opt.Match.URLWhitelist = ent.URLWhitelist
	}
	var t *Template
	if m.TemplateID == "" {
		found, _, v := r.matchContent(m.PEID, m.Header, m.Text, opt.Match)
		if v != nil {
			return v
		}
		t = found
	} else {
		if !ValidID(m.TemplateID) {
			return violation(CodeInvalidTemplateID, "", "template ID %q is not 1 to %d digits", clip(m.TemplateID, 40), maxIDLen)
		}
		t, ok = r.Template(m.TemplateID)
		switch {
		case !ok:
			return violation(CodeTemplateNotFound, m.TemplateID, "template %s is not registered", m.TemplateID)
		case t.EntityID != m.PEID:
			return violation(CodeTemplateNotFound, t.ID, "template %s belongs to entity %s, not %s", t.ID, t.EntityID, m.PEID)
		case !t.AllowsHeader(m.Header):
			return violation(CodeHeaderNotRegisteredForTmpl, t.ID, "header %s is not registered for template %s (it allows %v)", m.Header, t.ID, t.Headers)
		}
	}
	if h.Category.NumericHeader() != t.Category.NumericHeader() {
		want := "6 letters"
		if t.Category.NumericHeader() {
			want = "6 digits"
		}
		return violation(CodeSMSTypeHeaderMismatch, t.ID, "template %s is %s, so its header must be %s; %s is a %s header",
			t.ID, t.Category, want, h.Name, h.Category)
	}
	if m.TemplateID != "" {
		if _, v := t.prog.match(t.ID, m.Text, opt.Match); v != nil {
			return v
		}
	}
	if !opt.SkipSendWindow && !InSendWindow(t.Category, now) {
		return violation(CodeInvalidPromoTime, t.ID, "template %s is %s, which may only be delivered 10:00-21:00 IST; it is %s IST",
			t.ID, t.Category, now.In(IST).Format("15:04:05"))
	}
	return nil
}

package smsc

import (
	"crypto/tls"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/smppd/smppd/smpp"
)

// Defaults of the account a simulator gets when Options.Accounts is empty.
const (
	DefaultSystemID = "smppd"
	DefaultPassword = "password"
)

// Options configure a simulator. The zero value is usable: every field has a documented
// default, applied to a copy by NewServer. A scenario file (LoadScenario) maps onto this
// struct with the yaml keys shown.
type Options struct {
	// SMPPAddr is where the SMPP listener binds. Default: "127.0.0.1:0" (any free port; see
	// Server.Addr).
	SMPPAddr string `yaml:"smpp_addr"`

	// SystemID is the SMSC's system_id sent in bind responses. Default: "smscsim".
	SystemID string `yaml:"system_id"`

	// TLSConfig, when set, makes the SMPP listener speak TLS only.
	TLSConfig *tls.Config `yaml:"-"`

	// Accounts are the ESME accounts that may bind. Default: one account
	// DefaultSystemID / DefaultPassword with every other setting at its default.
	Accounts []Account `yaml:"accounts"`

	// Window is how many deliver_sm (receipts and MO) may await deliver_sm_resp on each
	// RX/TRX bind, for accounts whose Receipts.Window is 0. Default: 64; at most MaxWindow.
	Window int `yaml:"window"`

	// InboundWindow is the server-side window: how many requests from one bind may wait for
	// an answer. A request beyond it is answered ESME_RTHROTTLED at once. Default: 512.
	InboundWindow int `yaml:"inbound_window"`

	// MaxOutstanding is the server-side window as carriers enforce it: how many submits of
	// one bind may be unanswered at once (responses held back by latency or the slow fault
	// count). One more is answered ESME_RTHROTTLED. 0: no cap beyond InboundWindow.
	MaxOutstanding int `yaml:"max_outstanding"`

	// InboundWorkers is how many goroutines per bind serve requests. Default: 8.
	InboundWorkers int `yaml:"inbound_workers"`

	// EnquireLinkInterval is how often the SMSC tests an idle link. Negative disables.
	// Default: 30s.
	EnquireLinkInterval time.Duration `yaml:"enquire_link_interval"`

	// ResponseTimeout bounds the wait for deliver_sm_resp; a delivery that times out is
	// retried. Receipts.ResponseTimeout may shorten it per account. Default: 10s.
	ResponseTimeout time.Duration `yaml:"response_timeout"`

	// MessageID is the format of message ids in submit responses, for accounts that do not
	// set their own. Default: decimal.
	MessageID MessageIDFormat `yaml:"message_id"`

	// StoreSize is how many received messages are kept for inspection (a ring buffer: the
	// oldest are forgotten first, and query_sm/cancel_sm no longer find them). Default:
	// 100000.
	StoreSize int `yaml:"store_size"`

	// HeldDeliveries bounds, per account, the receipts and MO messages due but not yet
	// handed to a bind (none bound, or all windows full). Beyond it deliveries are dropped
	// and counted (Counters.DeliveriesDropped). Default: 100000.
	HeldDeliveries int `yaml:"held_deliveries"`

	// RetryDelay is the wait before a delivery answered with an error, or timed out, is
	// sent again, for accounts whose Receipts.RetryDelay is 0. Default: 1s.
	RetryDelay time.Duration `yaml:"retry_delay"`

	// MaxAttempts bounds the deliveries of one receipt or MO message, for accounts whose
	// Receipts.Retries is unset; after that it is dropped and counted
	// (Counters.DeliveriesFailed). Only temporary errors and timeouts are retried under
	// this policy; a permanent error gives up at once. Default: 10.
	MaxAttempts int `yaml:"max_attempts"`

	// DLTRegistryFile is a DLT registry YAML (see package dlt) used by accounts with
	// DLT.Enabled. Empty: no registry; DLT-enabled accounts then only check the TLVs are
	// present.
	DLTRegistryFile string `yaml:"dlt_registry"`

	// Now is the clock (receipt dates, the DLT promotional window). Default: time.Now.
	Now func() time.Time `yaml:"-"`

	// Logger receives log lines; the zero Logger discards them.
	Logger zerolog.Logger `yaml:"-"`
}

// Account is one ESME account: credentials, bind limits, and the behaviour its binds see.
// Everything below Throttle can be changed at run time (Server.SetLatency and friends, or
// the HTTP API).
type Account struct {
	// SystemID and Password are the bind credentials. An empty Password accepts any.
	SystemID string `yaml:"system_id" json:"system_id"`
	Password string `yaml:"password" json:"-"`

	// MaxBinds caps the account's simultaneous binds; 0 means no cap.
	MaxBinds int `yaml:"max_binds" json:"max_binds"`
	// MaxBindsStatus is how a bind beyond MaxBinds is refused. Default: ESME_RALYBND.
	MaxBindsStatus string `yaml:"max_binds_status" json:"max_binds_status,omitempty"`
	// RefuseBinds, when set to a status name (ESME_RBINDFAIL …), refuses every new bind with
	// it. Existing binds are left alone.
	RefuseBinds string `yaml:"refuse_binds" json:"refuse_binds,omitempty"`

	// MessageID overrides Options.MessageID for this account.
	MessageID *MessageIDFormat `yaml:"message_id" json:"message_id,omitempty"`

	Throttle Throttle `yaml:"throttle" json:"throttle"`
	Latency  Latency  `yaml:"latency" json:"latency"`
	Receipts Receipts `yaml:"receipts" json:"receipts"`
	Faults   Faults   `yaml:"faults" json:"faults"`
	DLT      DLT      `yaml:"dlt" json:"dlt"`
}

// MessageIDFormat says what message ids look like. Real carriers differ: Jio-style long
// decimals, Airtel-style hex, UUIDs; smppd must normalise them all.
type MessageIDFormat struct {
	// Kind is "decimal" (default), "hex" (lower case), "HEX" (upper case) or "uuid".
	Kind string `yaml:"kind" json:"kind"`
	// Length, when positive, pads decimal and hex ids with leading zeros to exactly this
	// many characters (ids wrap after Kind's base to the Length). Ignored for uuid.
	Length int `yaml:"length" json:"length,omitempty"`
	// Prefix is put in front of every id (e.g. "SIM-").
	Prefix string `yaml:"prefix" json:"prefix,omitempty"`
}

// Throttle caps messages per second (submit_sm, data_sm, submit_multi) with token buckets;
// a message over the cap is answered ESME_RTHROTTLED. 0 means no cap.
type Throttle struct {
	PerBind    float64 `yaml:"per_bind" json:"per_bind"`
	PerAccount float64 `yaml:"per_account" json:"per_account"`
	// Burst is the bucket size. Default: the rate rounded up (one second's worth), at least 1.
	Burst int `yaml:"burst" json:"burst,omitempty"`
}

// Latency delays every response to a submit by Min, or by a uniformly random duration in
// [Min, Max) when Max > Min.
type Latency struct {
	Min time.Duration `yaml:"min" json:"min"`
	Max time.Duration `yaml:"max" json:"max,omitempty"`
}

// Receipts decide the outcome of each accepted message and when its delivery receipt comes.
// A receipt is sent when registered_delivery asks for one (bit 0x01: always; 0x02: on
// failure only).
type Receipts struct {
	// DelayMin and DelayMax: the receipt comes DelayMin after the submit, or a uniformly
	// random time in [DelayMin, DelayMax) when DelayMax > DelayMin. Default: 0 (at once).
	DelayMin time.Duration `yaml:"delay_min" json:"delay_min"`
	DelayMax time.Duration `yaml:"delay_max" json:"delay_max,omitempty"`

	// Mix picks the outcome of a message no rule matched, by weight. Default: 100% DELIVRD.
	Mix []Weighted `yaml:"mix" json:"mix,omitempty"`

	// Rules decide outcomes (and can script the submit response) by destination. The
	// first matching rule wins; rules are checked before FirstDigit and Mix.
	Rules []Rule `yaml:"rules" json:"rules,omitempty"`

	// FirstDigit applies SMPPSim's deterministic rule to the first digit of the destination
	// (after any leading '+'): 1 EXPIRED, 2 DELETED, 3 UNDELIV, 4 ACCEPTD, 5 REJECTD,
	// anything else DELIVRD.
	FirstDigit bool `yaml:"first_digit" json:"first_digit,omitempty"`

	// Enroute sends an intermediate ENROUTE receipt at once, before the final one.
	Enroute bool `yaml:"enroute" json:"enroute,omitempty"`

	// The fields below are the account's delivery policy: how its receipts (and MO
	// messages, which travel the same way) reach the ESME. Their zero values keep the
	// simulator-wide settings (Options.Window, MaxAttempts, RetryDelay, ResponseTimeout),
	// so accounts that do not set them behave as before. Real carriers differ here, and an
	// ESME's receipt handling is only proven against the rough ones.

	// Window is how many deliver_sm may be outstanding (sent, unanswered) per bind of the
	// account. 0: Options.Window (default 64). NoWindow (-1): no window at all, as many
	// carriers do it: every due receipt is sent at once, without waiting for the answers
	// to earlier ones (up to MaxWindow outstanding per bind, the protocol package's cap).
	Window int `yaml:"window" json:"window,omitempty"`

	// Retries is how many times a refused deliver_sm is sent again: refused means answered
	// with any non-zero command_status, or not answered within ResponseTimeout. After the
	// last retry it is given up (Counters.ReceiptsGivenUp). 0 drops it at the first
	// refusal. Unset (nil): the simulator-wide policy, Options.MaxAttempts attempts in all,
	// retrying only temporary errors and timeouts. Once set, every refusal is retried
	// alike, temporary or permanent, as many carriers do.
	Retries *int `yaml:"retries" json:"retries,omitempty"`

	// RetryDelay is the wait before a refused deliver_sm is sent again. 0:
	// Options.RetryDelay (default 1s).
	RetryDelay time.Duration `yaml:"retry_delay" json:"retry_delay,omitempty"`

	// ResponseTimeout, when positive and shorter than Options.ResponseTimeout (default
	// 10s), is how long a deliver_sm of this account waits for its deliver_sm_resp before
	// it counts as refused (Counters.ReceiptTimeouts). 0: Options.ResponseTimeout.
	ResponseTimeout time.Duration `yaml:"response_timeout" json:"response_timeout,omitempty"`
}

// NoWindow as Receipts.Window sends every due deliver_sm at once, without waiting for the
// responses to earlier ones.
const NoWindow = -1

// MaxWindow is the most deliver_sm one bind may have outstanding (Options.Window,
// Receipts.Window, and the cap under NoWindow): the protocol package's largest window.
const MaxWindow = 100000

// Weighted is one entry of an outcome mix.
type Weighted struct {
	// Stat is the receipt stat: DELIVRD, UNDELIV, EXPIRED, REJECTD, DELETED, ACCEPTD,
	// UNKNOWN.
	Stat string `yaml:"stat" json:"stat"`
	// Weight is relative (percentages are fine; they need not sum to 100).
	Weight float64 `yaml:"weight" json:"weight"`
	// Err is the receipt's err: and network_error_code; default: 0 for DELIVRD and
	// ACCEPTD, DefaultErr otherwise.
	Err *int `yaml:"err" json:"err,omitempty"`
}

// DefaultErr is the receipt error code of a failed outcome that does not set its own.
const DefaultErr = 1

// Rule scripts the fate of messages by destination: "magic numbers". Exactly one of Dest,
// Prefix or Suffix should be set (Dest wins, then Prefix, then Suffix).
type Rule struct {
	Dest   string `yaml:"dest" json:"dest,omitempty"`
	Prefix string `yaml:"prefix" json:"prefix,omitempty"`
	Suffix string `yaml:"suffix" json:"suffix,omitempty"`

	// Stat and Err give the receipt outcome (as in Weighted). Empty Stat: DELIVRD.
	Stat string `yaml:"stat" json:"stat,omitempty"`
	Err  *int   `yaml:"err" json:"err,omitempty"`

	// SubmitStatus, a status name, rejects the submit with it (no receipt).
	SubmitStatus string `yaml:"submit_status" json:"submit_status,omitempty"`
	// NoResponse never answers the submit.
	NoResponse bool `yaml:"no_response" json:"no_response,omitempty"`
	// Delay delays the submit response.
	Delay time.Duration `yaml:"delay" json:"delay,omitempty"`
	// ReceiptDelay, when positive, overrides the account's receipt delay.
	ReceiptDelay time.Duration `yaml:"receipt_delay" json:"receipt_delay,omitempty"`
	// NoReceipt accepts the message but never sends its receipt.
	NoReceipt bool `yaml:"no_receipt" json:"no_receipt,omitempty"`
}

// Faults inject misbehaviour into one account's binds.
type Faults struct {
	// Each of these answers a submit with the fault instead of accepting it.
	MsgQFull    Fault `yaml:"msgqfull" json:"msgqfull"`         // ESME_RMSGQFUL
	SysErr      Fault `yaml:"syserr" json:"syserr"`             // ESME_RSYSERR
	Throttled   Fault `yaml:"throttled" json:"throttled"`       // ESME_RTHROTTLED
	GenericNack Fault `yaml:"generic_nack" json:"generic_nack"` // generic_nack (ESME_RSYSERR)
	NoResponse  Fault `yaml:"no_response" json:"no_response"`   // never answered
	// Slow answers the submit normally but only after SlowDelay.
	Slow      Fault         `yaml:"slow" json:"slow"`
	SlowDelay time.Duration `yaml:"slow_delay" json:"slow_delay,omitempty"`

	// DisconnectAfter drops a bind's TCP connection (without unbind) when it sends its Nth
	// request (submit_sm and the like); that request is not answered. 0: never.
	DisconnectAfter int `yaml:"disconnect_after" json:"disconnect_after,omitempty"`
	// DisconnectEvery drops each bind's connection this long after it bound. 0: never.
	DisconnectEvery time.Duration `yaml:"disconnect_every" json:"disconnect_every,omitempty"`
	// SilentEnquireLink stops answering enquire_link (the ESME should time the link out).
	SilentEnquireLink bool `yaml:"silent_enquire_link" json:"silent_enquire_link,omitempty"`
	// UnbindMidWindow unbinds each bind with this many submits in flight, and still answers
	// them, as carriers do when they move a bind: the bind holds back its submit responses
	// until N are due (or 200ms after the first, whichever comes first: a carrier answers
	// late, never not at all), sends unbind, and once the ESME's unbind_resp is in answers
	// them (and any others still due) before it closes. New submits after the unbind are
	// refused ESME_RINVBNDSTS. A well-behaved ESME drains: it sends nothing new and closes
	// after the last response. Counted in Counters.Unbinds.
	// 0: never. Server.Unbind / UnbindAll do the same on demand.
	UnbindMidWindow int `yaml:"unbind_mid_window" json:"unbind_mid_window,omitempty"`
}

// Fault fires with Probability (0..1) on each request, or on every Every-th request of the
// account, or both.
type Fault struct {
	Probability float64 `yaml:"probability" json:"probability,omitempty"`
	Every       int     `yaml:"every" json:"every,omitempty"`
}

func (f Fault) active() bool { return f.Probability > 0 || f.Every > 0 }

// DLT configures scrubbing as Indian carriers do it (TRAI TCCCPR).
type DLT struct {
	// Enabled turns scrubbing on for the account.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// PEIDTag, TemplateTag and ChainHashTag are the TLV tags. Defaults: 0x1400, 0x1401,
	// 0x1402.
	PEIDTag      uint16 `yaml:"peid_tag" json:"peid_tag,omitempty"`
	TemplateTag  uint16 `yaml:"template_tag" json:"template_tag,omitempty"`
	ChainHashTag uint16 `yaml:"chain_hash_tag" json:"chain_hash_tag,omitempty"`
	// RequireChainHash rejects messages without the chain-hash TLV (614).
	RequireChainHash bool `yaml:"require_chain_hash" json:"require_chain_hash,omitempty"`
	// RejectIn is where a violation is reported: "submit" (default: the DLT code as
	// command_status of submit_sm_resp) or "receipt" (accepted, then a REJECTD receipt
	// whose err: is the DLT code).
	RejectIn string `yaml:"reject_in" json:"reject_in,omitempty"`
	// SkipPromoWindow disables the 10:00–21:00 IST check for promotional templates.
	SkipPromoWindow bool `yaml:"skip_promo_window" json:"skip_promo_window,omitempty"`
}

func (o *Options) setDefaults() {
	if o.SMPPAddr == "" {
		o.SMPPAddr = "127.0.0.1:0"
	}
	if o.SystemID == "" {
		o.SystemID = "smscsim"
	}
	if len(o.Accounts) == 0 {
		o.Accounts = []Account{{SystemID: DefaultSystemID, Password: DefaultPassword}}
	}
	if o.Window <= 0 {
		o.Window = 64
	}
	if o.InboundWindow <= 0 {
		o.InboundWindow = 512
	}
	if o.InboundWorkers <= 0 {
		o.InboundWorkers = 8
	}
	if o.EnquireLinkInterval == 0 {
		o.EnquireLinkInterval = 30 * time.Second
	}
	if o.ResponseTimeout <= 0 {
		o.ResponseTimeout = 10 * time.Second
	}
	if o.StoreSize <= 0 {
		o.StoreSize = 100000
	}
	if o.HeldDeliveries <= 0 {
		o.HeldDeliveries = 100000
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// validate checks the options after defaults, naming the offending field.
func (o *Options) validate() error {
	seen := map[string]bool{}
	if o.Window > MaxWindow {
		return fmt.Errorf("smsc: window %d: at most %d", o.Window, MaxWindow)
	}
	if err := o.MessageID.validate("message_id"); err != nil {
		return err
	}
	for i := range o.Accounts {
		a := &o.Accounts[i]
		where := fmt.Sprintf("accounts[%d]", i)
		if a.SystemID == "" {
			return fmt.Errorf("smsc: %s.system_id is empty", where)
		}
		if len(a.SystemID) > 15 {
			return fmt.Errorf("smsc: %s.system_id %q is longer than SMPP's 15 octets", where, a.SystemID)
		}
		if seen[a.SystemID] {
			return fmt.Errorf("smsc: %s.system_id %q appears twice", where, a.SystemID)
		}
		seen[a.SystemID] = true
		if err := a.validate(where); err != nil {
			return err
		}
	}
	return nil
}

func (a *Account) validate(where string) error {
	if a.MaxBinds < 0 {
		return fmt.Errorf("smsc: %s.max_binds %d is negative", where, a.MaxBinds)
	}
	for _, f := range []struct{ name, v string }{{"max_binds_status", a.MaxBindsStatus}, {"refuse_binds", a.RefuseBinds}} {
		if f.v != "" {
			if _, err := parseStatus(f.v); err != nil {
				return fmt.Errorf("smsc: %s.%s: %w", where, f.name, err)
			}
		}
	}
	if a.MessageID != nil {
		if err := a.MessageID.validate(where + ".message_id"); err != nil {
			return err
		}
	}
	if err := a.Throttle.validate(where + ".throttle"); err != nil {
		return err
	}
	if err := a.Latency.validate(where + ".latency"); err != nil {
		return err
	}
	if err := a.Receipts.validate(where + ".receipts"); err != nil {
		return err
	}
	if err := a.Faults.validate(where + ".faults"); err != nil {
		return err
	}
	return a.DLT.validate(where + ".dlt")
}

func (f MessageIDFormat) validate(where string) error {
	switch f.Kind {
	case "", "decimal", "hex", "HEX", "uuid":
	default:
		return fmt.Errorf("smsc: %s.kind %q: want decimal, hex, HEX or uuid", where, f.Kind)
	}
	if f.Length < 0 || f.Length > 64 {
		return fmt.Errorf("smsc: %s.length %d: want 0..64", where, f.Length)
	}
	if n := len(f.Prefix) + max(f.Length, 20); f.Kind != "uuid" && n > 64 || f.Kind == "uuid" && len(f.Prefix)+36 > 64 {
		return fmt.Errorf("smsc: %s: ids would exceed the 64 octets of message_id", where)
	}
	return nil
}

func (t Throttle) validate(where string) error {
	if t.PerBind < 0 || t.PerAccount < 0 || t.Burst < 0 {
		return fmt.Errorf("smsc: %s: rates and burst must not be negative", where)
	}
	return nil
}

func (l Latency) validate(where string) error {
	if l.Min < 0 || l.Max < 0 {
		return fmt.Errorf("smsc: %s: negative latency", where)
	}
	return nil
}

func (r Receipts) validate(where string) error {
	if r.DelayMin < 0 || r.DelayMax < 0 {
		return fmt.Errorf("smsc: %s: negative delay", where)
	}
	if r.Window < NoWindow || r.Window > MaxWindow {
		return fmt.Errorf("smsc: %s.window %d: want 1..%d, 0 (the simulator's window) or %d (no window)", where, r.Window, MaxWindow, NoWindow)
	}
	if r.Retries != nil && *r.Retries < 0 {
		return fmt.Errorf("smsc: %s.retries %d is negative (0 drops a refused receipt at once)", where, *r.Retries)
	}
	if r.RetryDelay < 0 || r.ResponseTimeout < 0 {
		return fmt.Errorf("smsc: %s: negative retry_delay or response_timeout", where)
	}
	total := 0.0
	for i, w := range r.Mix {
		if _, ok := statState[strings.ToUpper(w.Stat)]; !ok {
			return fmt.Errorf("smsc: %s.mix[%d].stat %q: want one of %s", where, i, w.Stat, statNames)
		}
		if w.Weight < 0 {
			return fmt.Errorf("smsc: %s.mix[%d].weight is negative", where, i)
		}
		total += w.Weight
	}
	if len(r.Mix) > 0 && total <= 0 {
		return fmt.Errorf("smsc: %s.mix: weights sum to zero", where)
	}
	for i, ru := range r.Rules {
		w := fmt.Sprintf("%s.rules[%d]", where, i)
		if ru.Dest == "" && ru.Prefix == "" && ru.Suffix == "" {
			return fmt.Errorf("smsc: %s: set dest, prefix or suffix", w)
		}
		if ru.Stat != "" {
			if _, ok := statState[strings.ToUpper(ru.Stat)]; !ok {
				return fmt.Errorf("smsc: %s.stat %q: want one of %s", w, ru.Stat, statNames)
			}
		}
		if ru.SubmitStatus != "" {
			if _, err := parseStatus(ru.SubmitStatus); err != nil {
				return fmt.Errorf("smsc: %s.submit_status: %w", w, err)
			}
		}
	}
	return nil
}

func (f Faults) validate(where string) error {
	for name, x := range map[string]Fault{"msgqfull": f.MsgQFull, "syserr": f.SysErr, "throttled": f.Throttled,
		"generic_nack": f.GenericNack, "no_response": f.NoResponse, "slow": f.Slow} {
		if x.Probability < 0 || x.Probability > 1 {
			return fmt.Errorf("smsc: %s.%s.probability %v: want 0..1", where, name, x.Probability)
		}
		if x.Every < 0 {
			return fmt.Errorf("smsc: %s.%s.every is negative", where, name)
		}
	}
	if f.DisconnectAfter < 0 || f.DisconnectEvery < 0 || f.SlowDelay < 0 {
		return fmt.Errorf("smsc: %s: negative disconnect or delay", where)
	}
	if f.UnbindMidWindow < 0 || f.UnbindMidWindow > MaxWindow {
		return fmt.Errorf("smsc: %s.unbind_mid_window %d: want 0..%d", where, f.UnbindMidWindow, MaxWindow)
	}
	return nil
}

func (d DLT) validate(where string) error {
	switch d.RejectIn {
	case "", "submit", "receipt":
	default:
		return fmt.Errorf("smsc: %s.reject_in %q: want submit or receipt", where, d.RejectIn)
	}
	return nil
}

func (d *DLT) setDefaults() {
	if d.PEIDTag == 0 {
		d.PEIDTag = uint16(smpp.TagDLTPEID)
	}
	if d.TemplateTag == 0 {
		d.TemplateTag = uint16(smpp.TagDLTTemplate)
	}
	if d.ChainHashTag == 0 {
		d.ChainHashTag = uint16(smpp.TagDLTChainHash)
	}
	if d.RejectIn == "" {
		d.RejectIn = "submit"
	}
}

// parseStatus accepts a status name (ESME_RTHROTTLED), a decimal or a 0x-hex number (DLT
// codes such as 651 travel as vendor-specific statuses).
func parseStatus(s string) (smpp.CommandStatus, error) {
	if st, ok := smpp.ParseCommandStatus(strings.ToUpper(strings.TrimSpace(s))); ok {
		return st, nil
	}
	if v, err := strconv.ParseUint(strings.TrimSpace(s), 0, 32); err == nil {
		return smpp.CommandStatus(v), nil
	}
	return 0, fmt.Errorf("unknown command status %q (want a name such as ESME_RTHROTTLED, or a number)", s)
}

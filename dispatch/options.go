package dispatch

import (
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smpp/text"
	"github.com/smppd/smppd/store"
)

// NoResponsePolicy says what to do with a message whose submit_sm got no response (the
// response timed out, or the connection dropped with it in flight): the carrier may or may
// not have it.
type NoResponsePolicy string

const (
	// PolicyResubmit sends it again once a bind is up. The handset may get it twice; every
	// such resend is counted in the record's Duplicates and the duplicates metric.
	PolicyResubmit NoResponsePolicy = "resubmit"
	// PolicyUnknown stops: the record goes to UNKNOWN and a receipt, if the carrier had it
	// after all, still completes it. Nothing is ever sent twice.
	PolicyUnknown NoResponsePolicy = "unknown"
)

// BindGroup is a set of identical binds to one carrier.
type BindGroup struct {
	// Addrs are the SMSC's addresses, tried in turn on every connect.
	Addrs []string
	// Bind carries the credentials and mode (transmitter, receiver or transceiver).
	Bind smpp.Bind
	// Count is how many such binds to hold. Default: 1.
	Count int
	// MPS caps messages per second per bind, counted per segment; 0 means no cap of its own.
	MPS float64
	// Session tunes each bind's session (window, timeouts, TLS, keepalive). Its Handler
	// must be nil: Options.Receipts serves the deliver_sm of every bind.
	Session smpp.Options
	// ReconnectMin, ReconnectMax and PermanentBackoff tune the reconnect supervisor; see
	// smpp.SupervisorOptions for the defaults.
	ReconnectMin, ReconnectMax, PermanentBackoff time.Duration
}

// TextOptions say how text is encoded and split for a carrier.
type TextOptions struct {
	// Concat is how long text is split: UDH with an 8-bit reference (the default), UDH with
	// a 16-bit reference, SAR TLVs, or one message_payload.
	Concat text.Concat
	// MaxParts caps the parts of one message. Default: 10.
	MaxParts int
	// PackGSM7 sends GSM-7 text 7-bit packed, for SMSCs that expect that on data_coding 0.
	PackGSM7 bool
	// SARFullParts lets SAR parts be full single-SMS size; see text.Options.
	SARFullParts bool
}

// CarrierOptions configure one carrier (operator or upstream aggregator).
type CarrierOptions struct {
	Name  string
	Binds []BindGroup
	// MPS caps the carrier's messages per second over all binds, counted per segment; 0
	// means no cap but the binds'. On ESME_RTHROTTLED the dispatcher lowers its own rate
	// below it and climbs back when the carrier stops complaining.
	MPS float64
	// NoResponse is the policy for submits whose outcome is unknown. Default: PolicyResubmit.
	NoResponse NoResponsePolicy
	// Text says how text is encoded and split; DLT how the DLT data travels and how the
	// carrier reports DLT rejections.
	Text TextOptions
	DLT  dlt.CarrierSpec
	// RegisteredDelivery asks for receipts. Default: 1 (final receipt, success or failure).
	RegisteredDelivery *uint8
	// FailoverAfter is how long every bind must be down before this carrier's queue is moved
	// to the next carrier of each message's route. 0 disables failover. Default: 0.
	FailoverAfter time.Duration
}

// Route sends destinations starting with Prefix to the first carrier of Carriers that is
// up; the others are the failover order. The longest matching prefix wins; "" matches all.
type Route struct {
	Prefix   string
	Carriers []string
}

// DefaultReclaimAfter is Options.ReclaimAfter's default. It must exceed the default
// HoldLimit (20 s) plus the default MaxParts (10) × the default response timeout (10 s),
// 2 minutes, which New requires (a slow send must not be taken over and sent twice); 5
// minutes leaves room for a slower carrier's longer response timeout.
const DefaultReclaimAfter = 5 * time.Minute

// Options configure a Dispatcher.
type Options struct {
	Store    store.Store
	Carriers []CarrierOptions
	Routes   []Route

	// Membership is this instance's liveness (a heartbeat in the store; see
	// store/liveness.Keeper): the consumer name to claim under, which changes when the
	// instance has to join again after its heartbeat lapsed, and whether a claim made under
	// a name may still be acted on. Nil: Consumer, always valid (a single instance, tests).
	Membership Membership
	// Consumer names this instance in the store's consumer groups when Membership is nil.
	// Default: hostname, pid and a random suffix, unique per process.
	Consumer string
	// TakeoverEvery is how often each carrier looks for messages that dead instances had
	// claimed (store.Queue.TakeOver). Default: 1 second.
	TakeoverEvery time.Duration

	// ClaimBatch bounds how many messages one claim takes. Default: 100.
	ClaimBatch int
	// ClaimWait is how long a claim blocks when the queue is empty. Default: 1 second.
	ClaimWait time.Duration
	// ReclaimAfter is how long a message may stay claimed by a consumer whose liveness is
	// unknown (one that keeps no heartbeat: an older smppd, a tool) before another instance
	// takes it over. Claims of dead members are taken over within TakeoverEvery instead. It
	// must exceed the longest a live instance holds a claim: HoldLimit plus the response
	// timeouts of all parts. Default: DefaultReclaimAfter (5 minutes).
	ReclaimAfter time.Duration
	// HoldLimit is how long claimed messages may wait in memory for a carrier that is down
	// or paused before they are handed back to the store for anyone to take. Default: 20 s.
	HoldLimit time.Duration
	// PromoteEvery is how often scheduled and retry-later messages are checked. Default: 200 ms.
	PromoteEvery time.Duration

	// RetryMin and RetryMax bound the backoff of a message that failed temporarily.
	// Defaults: 2 s and 5 minutes.
	RetryMin, RetryMax time.Duration
	// MaxAttempts is how many sends a message gets before it is FAILED. Default: 8.
	MaxAttempts int
	// PauseMin and PauseMax bound how long a carrier pauses after ESME_RTHROTTLED or
	// ESME_RMSGQFUL; the pause doubles while the carrier keeps throttling. Defaults: 200 ms
	// and 10 s.
	PauseMin, PauseMax time.Duration

	// RecordTTL is how long message records are kept. Default: 90 days (the privacy policy's
	// retention of delivery data). IndexTTL is how long carrier message ids map back to our
	// messages for receipt correlation. Default: 72 hours.
	RecordTTL, IndexTTL time.Duration

	// OnSubmit, if set, is called after every submit_sm with the carrier, the outcome and
	// the time from write to response; binaries hang metrics on it.
	OnSubmit func(SubmitEvent)
	// ChainFor, if set, returns the telemarketer chain (TM-AF ids, then the TM-D) registered
	// for a principal entity; the DLT registry provides it. Nil, or an empty answer, uses the
	// carrier's DLT.TMChain.
	ChainFor func(peID string) []string
	// Receipts is receipt correlation (dlr.Correlator): it serves the deliver_sm of every
	// bind, names the index entries of each submitted part, and builds the webhook of a
	// message dispatch makes final. Nil: carrier message ids are indexed as they are, and
	// deliver_sm are answered with a temporary error so that carriers keep them.
	Receipts Receipts
	// OnLinkEvent, if set, receives every bind's state changes (see smpp.Event).
	OnLinkEvent func(carrier string, e smpp.Event)

	// Leases, if set, shares every carrier's binds with the other instances on the same
	// store: each bind (Count of them per group, for the whole deployment) is a slot that
	// this instance runs only while it holds the slot's lease, taking its fair share,
	// ceil(binds / live members), with the live count from Membership when it implements
	// MemberCounter (see lease.go). Leases are held under Membership's Consumer name.
	// Usually the store itself (both stores implement store.BindLeases). Nil: every bind
	// runs here, as for a single instance.
	Leases store.BindLeases
	// LeaseTTL is how long a bind slot lease lasts without renewal; leases are renewed
	// every LeaseTTL/3, and a bind whose lease could not be renewed is unbound before
	// LeaseTTL has passed. A dead instance's binds are taken over within about LeaseTTL
	// plus LeaseTTL/3. At least 100ms. Default: DefaultLeaseTTL (6 seconds).
	LeaseTTL time.Duration

	Logger zerolog.Logger
	// Now is the clock; tests replace it. Default: time.Now.
	Now func() time.Time
}

// Membership is what dispatch needs of the instance's liveness: the name to claim under now,
// and whether claims made under a name are still this instance's to act on (false once its
// heartbeat lapsed: others may have taken them over, and acting on them would send twice).
type Membership interface {
	Consumer() string
	Valid(consumer string) bool
}

// Abandoner is an optional capability of a Membership: giving up the incarnation named
// consumer (and joining as a new one) because claims made under it may be pending in the
// store with nobody holding them. store/liveness.Keeper has it. Without it, such claims wait
// for ReclaimAfter.
type Abandoner interface {
	Abandon(consumer string)
}

// staticMember is the Membership of an instance without heartbeats: one name, always valid.
type staticMember string

func (m staticMember) Consumer() string    { return string(m) }
func (m staticMember) Valid(c string) bool { return c == string(m) }

// Receipts is dispatch's one seam to receipt correlation; dlr.Correlator implements it.
type Receipts interface {
	// Handler serves deliver_sm (receipts, MO) arriving on carrier's binds.
	Handler(carrier string) smpp.Handler
	// IndexEntries returns the index entries that let receipts find part `part` of message
	// msgID, which carrier accepted under carrierMsgID: the id as given, and its normalised
	// forms when the carrier's receipts write it differently.
	IndexEntries(carrier, carrierMsgID, msgID string, part int) []store.IndexEntry
	// FinalWebhook returns the webhook job reporting rec, which dispatch made final (FAILED,
	// REJECTED at submit), or nil when the message's client wants none.
	FinalWebhook(rec *store.Record) *store.WebhookJob
}

// SubmitEvent is one submit_sm's outcome.
type SubmitEvent struct {
	Carrier string
	Status  smpp.CommandStatus // ESME_ROK, or the status the carrier answered
	Err     error              // nil, a *smpp.StatusError, or a session error
	Latency time.Duration
}

// WithDefaults returns o with every zero field that has a documented default set to it:
// what New runs with. Configuration tests compare it with docs/config.md.
func (o Options) WithDefaults() Options {
	o.setDefaults()
	return o
}

func (o *Options) setDefaults() {
	if o.Consumer == "" {
		o.Consumer = store.ConsumerName()
	}
	if o.Membership == nil {
		o.Membership = staticMember(o.Consumer)
	}
	if o.TakeoverEvery <= 0 {
		o.TakeoverEvery = time.Second
	}
	if o.ClaimBatch <= 0 {
		o.ClaimBatch = 100
	}
	if o.ClaimWait <= 0 {
		o.ClaimWait = time.Second
	}
	if o.ReclaimAfter <= 0 {
		o.ReclaimAfter = DefaultReclaimAfter
	}
	if o.HoldLimit <= 0 {
		o.HoldLimit = 20 * time.Second
	}
	if o.PromoteEvery <= 0 {
		o.PromoteEvery = 200 * time.Millisecond
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 2 * time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 5 * time.Minute
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.PauseMin <= 0 {
		o.PauseMin = 200 * time.Millisecond
	}
	if o.PauseMax <= 0 {
		o.PauseMax = 10 * time.Second
	}
	if o.RecordTTL <= 0 {
		o.RecordTTL = 90 * 24 * time.Hour
	}
	if o.IndexTTL <= 0 {
		o.IndexTTL = 72 * time.Hour
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	for i := range o.Carriers {
		c := &o.Carriers[i]
		if c.NoResponse == "" {
			c.NoResponse = PolicyResubmit
		}
		if c.Text.MaxParts <= 0 {
			c.Text.MaxParts = 10
		}
		if c.RegisteredDelivery == nil {
			one := smpp.RegisteredDeliveryAll
			c.RegisteredDelivery = &one
		}
		for j := range c.Binds {
			if c.Binds[j].Count <= 0 {
				c.Binds[j].Count = 1
			}
		}
	}
}

// validate checks what defaults cannot fix, naming the offending field.
func (o *Options) validate() error {
	if o.Store == nil {
		return fmt.Errorf("dispatch: Options.Store is required")
	}
	if len(o.Carriers) == 0 {
		return fmt.Errorf("dispatch: no carriers configured")
	}
	if o.Leases != nil && o.LeaseTTL < 100*time.Millisecond {
		return fmt.Errorf("dispatch: LeaseTTL %s is below 100ms: renewals, every third of it, need room for round trips to the store", o.LeaseTTL)
	}
	names := map[string]bool{}
	for i, c := range o.Carriers {
		if c.Name == "" {
			return fmt.Errorf("dispatch: carriers[%d]: name is required", i)
		}
		if names[c.Name] {
			return fmt.Errorf("dispatch: carriers[%d]: duplicate name %q", i, c.Name)
		}
		names[c.Name] = true
		sends := false
		for j, b := range c.Binds {
			if len(b.Addrs) == 0 {
				return fmt.Errorf("dispatch: carrier %s: binds[%d]: no address", c.Name, j)
			}
			if b.Session.Handler != nil {
				return fmt.Errorf("dispatch: carrier %s: binds[%d]: Session.Handler is set: deliver_sm on carrier binds are served by Options.Receipts", c.Name, j)
			}
			if err := b.Session.Validate(); err != nil {
				return fmt.Errorf("dispatch: carrier %s: binds[%d]: %w", c.Name, j, err)
			}
			mode := b.Bind.Mode
			if mode == 0 || mode.CanSend() {
				sends = true
			}
			// A live instance must finish a claim well before another may take it over.
			rt := b.Session.ResponseTimeout
			if rt <= 0 {
				rt = 10 * time.Second
			}
			if hold := o.HoldLimit + time.Duration(c.Text.MaxParts)*rt; o.ReclaimAfter <= hold {
				return fmt.Errorf("dispatch: ReclaimAfter %s must exceed HoldLimit plus %d parts × response timeout (%s) for carrier %s, or a slow send could be taken over and sent twice",
					o.ReclaimAfter, c.Text.MaxParts, hold, c.Name)
			}
		}
		if !sends {
			return fmt.Errorf("dispatch: carrier %s: no transmitter or transceiver bind", c.Name)
		}
		switch c.NoResponse {
		case PolicyResubmit, PolicyUnknown:
		default:
			return fmt.Errorf("dispatch: carrier %s: no_response %q: want resubmit or unknown", c.Name, c.NoResponse)
		}
		if err := c.DLT.Validate(); err != nil {
			return fmt.Errorf("dispatch: carrier %s: %w", c.Name, err)
		}
		if c.Text.MaxParts > text.MaxParts {
			return fmt.Errorf("dispatch: carrier %s: max parts %d above %d", c.Name, c.Text.MaxParts, text.MaxParts)
		}
	}
	for i, r := range o.Routes {
		if len(r.Carriers) == 0 {
			return fmt.Errorf("dispatch: routes[%d] (prefix %q): no carriers", i, r.Prefix)
		}
		for _, n := range r.Carriers {
			if !names[n] {
				return fmt.Errorf("dispatch: routes[%d] (prefix %q): unknown carrier %q", i, r.Prefix, n)
			}
		}
	}
	return nil
}

package smppfront

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/rs/zerolog"

	"github.com/smppd/smppd/api"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/store"
)

// Acceptor takes a message through the same checks and the same durable path as an HTTP
// send; *api.Server implements it. It returns smppd's message ids (one per message) once
// the message is durable, or an *api.Refusal, api.ErrUnknownAccount, or another error (the
// store or dispatcher is unavailable).
type Acceptor interface {
	Accept(ctx context.Context, s api.Submission) ([]string, error)
}

// Records reads status records for query_sm; every store.Store implements it.
type Records interface {
	GetRecords(ctx context.Context, ids ...string) ([]*store.Record, error)
}

// Canceller cancels a message that has not been sent yet, for cancel_sm; *api.Server
// implements it (api.Server.Cancel: only messages still scheduled). Cancel returns an error
// when the message is already on its way (or gone): ESME_RCANCELFAIL; one wrapping
// api.ErrUnknownMessage (no such id for this account) answers ESME_RINVMSGID.
type Canceller interface {
	Cancel(ctx context.Context, account, id string) error
}

// Account is one client account's SMPP settings. Its messages go to the api account Name.
type Account struct {
	// Name is the api account (config accounts[].name) the messages are accepted for.
	Name string
	// SystemID is what the client binds with (at most 15 characters). Unique.
	SystemID string
	// PasswordHash is the password's stored form (HashPassword). Required.
	PasswordHash string
	// AllowedNetworks are the client addresses a bind may come from; empty allows any.
	AllowedNetworks []netip.Prefix
	// MaxBinds caps the account's concurrent binds, all modes together. Default: 4.
	MaxBinds int
	// Window is how many requests one bind may have unanswered at once (the parts of a long
	// message wait for the last part, so it must cover a message's parts). A request
	// beyond it is answered ESME_RTHROTTLED at once. Default: 64.
	Window int
	// Rate is the account's messages per second over all its binds, counted per segment
	// (a part is one; a message_payload one segment per 134 octets; submit_multi one per
	// destination); beyond it a submit is answered ESME_RTHROTTLED. Default: 100;
	// negative: unlimited.
	Rate float64
	// Burst is how many segments may come at once above Rate. Default: Rate (at least 1).
	Burst int
	// ReceiptParts asks for one receipt per part of a long message instead of one combined
	// receipt (dlr's per-part receipts).
	ReceiptParts bool
	// Latin1Default reads data_coding 0 as Latin-1 (ASCII) instead of the GSM default
	// alphabet, for clients that send plain ASCII with data_coding 0 (Kannel's alt-charset):
	// in GSM, "@", "_", "$" and the braces are other characters.
	Latin1Default bool
	// MONumbers are the short codes and long numbers whose mobile-originated messages go to
	// this account's receiver binds (see Front.MOAccount).
	MONumbers []string
}

// Hooks let the binary export metrics without this package importing a metrics library.
// Each hook runs on the request's goroutine and must be quick. Nil hooks are skipped.
type Hooks struct {
	// Bind is called for every bind attempt: account is "" when the system_id is unknown;
	// status is ESME_ROK for a bind accepted.
	Bind func(account string, mode smpp.BindMode, status smpp.CommandStatus)
	// Submit is called once per submit_sm, data_sm and submit_multi destination answered,
	// with the status answered and how long the answer took.
	Submit func(account string, status smpp.CommandStatus, took time.Duration)
	// Throttled is called when a request is answered ESME_RTHROTTLED by the front itself:
	// why is "rate" (the account's Rate) or "window" (the bind's Window).
	Throttled func(account, why string)
	// Deliver is called when a receipt or MO deliver_sm was answered or failed (err nil:
	// ESME_ROK).
	Deliver func(account string, mo bool, err error)
}

// Options configure a Front. Every field but Accounts and Acceptor has a default.
type Options struct {
	// Accounts are the clients that may bind.
	Accounts []Account
	// Acceptor takes the messages. Required.
	Acceptor Acceptor
	// Records answers query_sm; nil answers it ESME_RQUERYFAIL.
	Records Records
	// Canceller serves cancel_sm; nil answers every cancel_sm ESME_RCANCELFAIL.
	Canceller Canceller

	// TLS is the listener's TLS configuration for ListenTLS.
	TLS *tls.Config
	// SystemID is the front's system_id in bind responses. Default: "smppd".
	SystemID string

	// RefusalDelay is how long a refused bind waits before its answer, against password
	// guessing and reconnect storms. Default: 1 second; negative: none.
	RefusalDelay time.Duration
	// PartTimeout is how long the parts of a long message wait for the rest. Default: 60
	// seconds.
	PartTimeout time.Duration
	// MaxAssemblies caps the long messages of one account being reassembled at once; a
	// part that would start one more is answered ESME_RMSGQFUL. Default: 1000.
	MaxAssemblies int
	// AcceptTimeout bounds one Accept call. Default: 30 seconds.
	AcceptTimeout time.Duration
	// DeliverTimeout bounds the wait for deliver_sm_resp. Default: 10 seconds.
	DeliverTimeout time.Duration
	// EnquireLinkInterval is the keepalive of each bind (smpp.Options). Default: 30 seconds.
	EnquireLinkInterval time.Duration

	// PETag, TemplateTag and ChainTag are the TLV tags clients send the DLT data in.
	// Defaults: 0x1400, 0x1401, 0x1402.
	PETag, TemplateTag, ChainTag uint16
	// DLTStatusCodes says how a DLT refusal's code is written in command_status, as the
	// carriers do (dlt.CarrierSpec.StatusCodes): "decimal" (630 is 0x276; the default) or
	// "hex" (630 is 0x630).
	DLTStatusCodes string

	// Hooks receive metrics events.
	Hooks Hooks
	// Logger receives the front's log lines; the zero Logger discards them.
	Logger zerolog.Logger
	// Now is the clock for receipt dates and SMPP times. Default: time.Now.
	Now func() time.Time
}

// Defaults of Options and Account.
const (
	DefaultMaxBinds       = 4
	DefaultWindow         = 64
	DefaultRate           = 100
	DefaultRefusalDelay   = time.Second
	DefaultPartTimeout    = 60 * time.Second
	DefaultMaxAssemblies  = 1000
	DefaultAcceptTimeout  = 30 * time.Second
	DefaultDeliverTimeout = 10 * time.Second
)

func (o *Options) setDefaults() {
	if o.SystemID == "" {
		o.SystemID = "smppd"
	}
	if o.RefusalDelay == 0 {
		o.RefusalDelay = DefaultRefusalDelay
	}
	if o.PartTimeout <= 0 {
		o.PartTimeout = DefaultPartTimeout
	}
	if o.MaxAssemblies <= 0 {
		o.MaxAssemblies = DefaultMaxAssemblies
	}
	if o.AcceptTimeout <= 0 {
		o.AcceptTimeout = DefaultAcceptTimeout
	}
	if o.DeliverTimeout <= 0 {
		o.DeliverTimeout = DefaultDeliverTimeout
	}
	if o.PETag == 0 {
		o.PETag = uint16(smpp.TagDLTPEID)
	}
	if o.TemplateTag == 0 {
		o.TemplateTag = uint16(smpp.TagDLTTemplate)
	}
	if o.ChainTag == 0 {
		o.ChainTag = uint16(smpp.TagDLTChainHash)
	}
	if o.DLTStatusCodes == "" {
		o.DLTStatusCodes = "decimal"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	for i := range o.Accounts {
		a := &o.Accounts[i]
		if a.MaxBinds <= 0 {
			a.MaxBinds = DefaultMaxBinds
		}
		if a.Window <= 0 {
			a.Window = DefaultWindow
		}
		if a.Rate == 0 {
			a.Rate = DefaultRate
		}
		if a.Burst <= 0 {
			a.Burst = max(1, int(a.Rate+0.999))
		}
	}
}

func (o *Options) validate() error {
	if o.Acceptor == nil {
		return errors.New("smppfront: Options.Acceptor is required")
	}
	switch o.DLTStatusCodes {
	case "decimal", "hex":
	default:
		return fmt.Errorf("smppfront: DLTStatusCodes %q: want decimal or hex", o.DLTStatusCodes)
	}
	ids := map[string]bool{}
	mo := map[string]string{}
	for _, a := range o.Accounts {
		switch {
		case a.Name == "":
			return fmt.Errorf("smppfront: account with system_id %q has no name", a.SystemID)
		case a.SystemID == "" || len(a.SystemID) > 15:
			return fmt.Errorf("smppfront: account %s: system_id %q must be 1 to 15 characters", a.Name, a.SystemID)
		case ids[a.SystemID]:
			return fmt.Errorf("smppfront: system_id %q used twice", a.SystemID)
		}
		ids[a.SystemID] = true
		if _, err := parseHash(a.PasswordHash); err != nil {
			return fmt.Errorf("smppfront: account %s: %w", a.Name, err)
		}
		for _, n := range a.MONumbers {
			if other, ok := mo[n]; ok && other != a.Name {
				return fmt.Errorf("smppfront: MO number %s belongs to both %s and %s", n, other, a.Name)
			}
			mo[n] = a.Name
		}
	}
	return nil
}

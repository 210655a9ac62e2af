package smpp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
)

// Sentinel errors. Compare with errors.Is; never compare strings.
var (
	// ErrSessionClosed is returned by every operation on a session that has closed. The
	// concrete error is a *ClosedError that says why and whether the request was in flight.
	ErrSessionClosed = errors.New("smpp: session closed")

	// ErrResponseTimeout means the request was written but no response came within
	// Options.ResponseTimeout. The peer may or may not have acted on it: the outcome is
	// unknown, and the caller applies its own policy (see OutcomeUnknown).
	ErrResponseTimeout = errors.New("smpp: no response within the response timeout")

	// ErrNotBound means the session cannot carry this request now: it is not yet bound, is
	// unbinding, or is bound in a mode that forbids it (a submit on a receiver bind).
	ErrNotBound = errors.New("smpp: session not bound for this request")

	// ErrPDUTooLarge means a frame's command_length exceeds the configured maximum PDU size.
	ErrPDUTooLarge = errors.New("smpp: PDU larger than the maximum PDU size")

	// ErrBindTimeout means the peer did not answer the bind (or, on the server side, did not
	// send one) within the bind timeout.
	ErrBindTimeout = errors.New("smpp: bind timed out")

	// ErrDrainTimeout is the cause (ClosedError.Err) given to requests still unanswered when
	// the drain after an unbind ran out (Options.DrainTimeout): their outcome is unknown.
	ErrDrainTimeout = errors.New("smpp: unanswered when the drain after unbind ended")
)

// StatusError is a response that carried a non-zero command_status.
type StatusError struct {
	Cmd    CommandID     // the response's command, e.g. submit_sm_resp or generic_nack
	Status CommandStatus // the status the peer answered with
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("smpp: %s: %s (%#x)", e.Cmd, e.Status, uint32(e.Status))
}

// Temporary reports whether the same request may succeed later (see CommandStatus.Temporary).
func (e *StatusError) Temporary() bool { return e.Status.Temporary() }

// FieldError is a PDU that cannot be encoded or decoded because of one field. Status is the
// command_status an SMSC answers such a request with.
type FieldError struct {
	Cmd    CommandID
	Field  string // spec name of the field, e.g. "source_addr" or "tlv 0x0424"
	Reason string // what is wrong, in words a person can act on
	Status CommandStatus
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("smpp: %s: %s: %s", e.Cmd, e.Field, e.Reason)
}

// ClosedError is returned to callers whose request could not complete because the session
// closed, or is closing after an unbind (then Reason is ClosePeerUnbind or CloseLocalUnbind
// already: the session takes no new requests while it drains). It matches ErrSessionClosed
// with errors.Is.
type ClosedError struct {
	Reason CloseReason
	// InFlight is true when the request had been written (or handed to the writer) before the
	// close: the peer may have received and acted on it, so its outcome is unknown. False
	// means the peer never got it: sending it again, on another session, cannot duplicate it.
	InFlight bool
	Err      error // the underlying cause, if any (a read error, say)
}

func (e *ClosedError) Error() string {
	msg := "smpp: session closed (" + e.Reason.String() + ")"
	if e.InFlight {
		msg += " with the request in flight"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *ClosedError) Is(target error) bool { return target == ErrSessionClosed }
func (e *ClosedError) Unwrap() error        { return e.Err }

// Retryable reports whether a request that failed with err may succeed if sent again,
// possibly on another session: the peer throttled or was busy, the response timed out, or
// the session or connection failed. It is false for nil, for bad input (FieldError), for a
// permanent status such as ESME_RINVDSTADR, and for the caller's own context ending.
//
// A true answer does not mean resending is safe from duplicates: see OutcomeUnknown.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Temporary()
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, ErrSessionClosed) || errors.Is(err, ErrResponseTimeout) ||
		errors.Is(err, ErrNotBound) || errors.Is(err, ErrBindTimeout) {
		return true
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// OutcomeUnknown reports whether err leaves it unknown if the peer accepted the request: the
// response timed out, or the session closed while the request was in flight. Resending such
// a request may deliver it twice; not resending may lose it. The daemon's no-response policy
// decides which.
func OutcomeUnknown(err error) bool {
	if errors.Is(err, ErrResponseTimeout) {
		return true
	}
	var ce *ClosedError
	return errors.As(err, &ce) && ce.InFlight
}

// statusFor returns the command_status that best describes err to a peer.
func statusFor(err error) CommandStatus {
	var fe *FieldError
	if errors.As(err, &fe) && fe.Status != ESME_ROK {
		return fe.Status
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	return ESME_RSYSERR
}

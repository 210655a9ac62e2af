package smpp

import "fmt"

// State is where a session is in its life. Transitions only go forward:
//
//	StateOpen → StateBound → StateUnbinding → StateClosed
//
// and any state may jump to StateClosed when the connection fails.
type State int32

const (
	// StateOpen: connected, not yet bound. Only bind, enquire_link and unbind are allowed.
	StateOpen State = iota
	// StateBound: bound in the session's Mode; requests flow both ways.
	StateBound
	// StateUnbinding: a graceful close has begun. No new requests of ours are accepted. After
	// Close, those in the window are waited for, then unbind is sent. After the peer's unbind
	// (answered at once) or ours sent by Unbind, the session drains: responses to our
	// requests in flight are still matched and the peer's requests already accepted are still
	// answered, until both are done or Options.DrainTimeout passes; then it closes.
	StateUnbinding
	// StateClosed: the connection is gone and every waiter has been answered.
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateOpen:
		return "open"
	case StateBound:
		return "bound"
	case StateUnbinding:
		return "unbinding"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("state(%d)", int32(s))
}

// CloseReason says why a session closed. Its String form is the `reason` field of log lines
// and the `reason` label of the close counters, so both always agree.
type CloseReason int

const (
	CloseNone               CloseReason = iota // not closed
	CloseLocalUnbind                           // we unbound: Close, Unbind or Server.Shutdown
	ClosePeerUnbind                            // the peer sent unbind; we answered, drained the window and closed
	ClosePeerClosed                            // the peer closed the TCP connection
	CloseReadError                             // reading failed (reset, timeout …)
	CloseWriteError                            // writing failed
	CloseWriteTimeout                          // the peer stopped reading for WriteTimeout
	CloseEnquireLinkTimeout                    // enquire_link went unanswered beyond the budget
	CloseBindRejected                          // the bind was refused
	CloseBindTimeout                           // no bind, or no bind response, in time
	CloseProtocolError                         // the peer broke framing; the stream cannot be resynchronised
	CloseAborted                               // closed at once by Abort or Server.Close
)

var closeReasonNames = [...]string{
	CloseNone:               "none",
	CloseLocalUnbind:        "local_unbind",
	ClosePeerUnbind:         "peer_unbind",
	ClosePeerClosed:         "peer_closed",
	CloseReadError:          "read_error",
	CloseWriteError:         "write_error",
	CloseWriteTimeout:       "write_timeout",
	CloseEnquireLinkTimeout: "enquire_link_timeout",
	CloseBindRejected:       "bind_rejected",
	CloseBindTimeout:        "bind_timeout",
	CloseProtocolError:      "protocol_error",
	CloseAborted:            "aborted",
}

// String returns the snake_case name used in logs and metric labels.
func (r CloseReason) String() string {
	if r >= 0 && int(r) < len(closeReasonNames) {
		return closeReasonNames[r]
	}
	return fmt.Sprintf("close_reason(%d)", int(r))
}

// CloseReasons lists every reason, for pre-declaring metric label values.
func CloseReasons() []CloseReason {
	out := make([]CloseReason, 0, len(closeReasonNames)-1)
	for r := CloseLocalUnbind; int(r) < len(closeReasonNames); r++ {
		out = append(out, r)
	}
	return out
}

package smpp

import (
	"sync"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of one session's counters. Binaries turn these into Prometheus
// metrics; this package never touches a registry.
type Stats struct {
	State            State
	Mode             BindMode
	BoundAt          time.Time
	WindowSize       int
	WindowInUse      int                      // our requests awaiting a response
	Sent             uint64                   // our requests written, enquire_link included when sent by Send
	Responses        map[CommandStatus]uint64 // responses to our requests, by command_status
	LateResponses    uint64                   // responses matching no outstanding request (timed out, or unknown)
	Timeouts         uint64                   // our requests that got no response in ResponseTimeout
	Inbound          uint64                   // requests from the peer handed to the Handler
	InboundThrottled uint64                   // requests from the peer refused with ESME_RTHROTTLED (inbound window full)
	InboundPauses    uint64                   // times reading paused because the inbound window was full (InboundFullWait)
	InboundPaused    time.Duration            // total time reading was paused so
	EnquireLinks     uint64                   // keepalive enquire_link sent
	ProtocolErrors   uint64                   // frames or bodies we could not decode
	FramesReceived   uint64

	// The drain after an unbind, the peer's or ours (Options.DrainTimeout).
	CloseReason     CloseReason // why the session closed (CloseNone while open): ClosePeerUnbind after the peer's unbind
	DrainAnswered   uint64      // responses to our requests that came during the drain (they completed normally)
	DrainUnanswered uint64      // our requests still unanswered when DrainTimeout ended the drain (outcome unknown)
	Withdrawn       uint64      // our requests queued but not yet written when the peer unbound: failed as never sent (Sent counts them too)
	DrainRefused    uint64      // requests from the ESME after the unbind, refused with ESME_RINVBNDSTS (server sessions)
}

type sessionStats struct {
	sent, lateResponses, timeouts, inbound, inboundThrottled atomic.Uint64
	inboundPauses, inboundPausedNanos                        atomic.Uint64
	enquireLinks, protocolErrors, rxFrames                   atomic.Uint64
	drainAnswered, drainUnanswered, withdrawn, drainRefused  atomic.Uint64
	byStatus                                                 [256]atomic.Uint64 // the SMPP 3.4 statuses: no lock on the hot path
	otherMu                                                  sync.Mutex
	other                                                    map[CommandStatus]uint64 // vendor and DLT statuses
}

func (st *sessionStats) countStatus(s CommandStatus) {
	if s < 256 {
		st.byStatus[s].Add(1)
		return
	}
	st.otherMu.Lock()
	if st.other == nil {
		st.other = map[CommandStatus]uint64{}
	}
	st.other[s]++
	st.otherMu.Unlock()
}

// Stats returns a snapshot of the session's counters.
func (s *Session) Stats() Stats {
	out := Stats{
		State:            s.State(),
		Mode:             s.Mode(),
		WindowSize:       s.opts.WindowSize,
		WindowInUse:      s.WindowInUse(),
		Sent:             s.stats.sent.Load(),
		LateResponses:    s.stats.lateResponses.Load(),
		Timeouts:         s.stats.timeouts.Load(),
		Inbound:          s.stats.inbound.Load(),
		InboundThrottled: s.stats.inboundThrottled.Load(),
		InboundPauses:    s.stats.inboundPauses.Load(),
		InboundPaused:    time.Duration(s.stats.inboundPausedNanos.Load()),
		EnquireLinks:     s.stats.enquireLinks.Load(),
		ProtocolErrors:   s.stats.protocolErrors.Load(),
		FramesReceived:   s.stats.rxFrames.Load(),
		Responses:        map[CommandStatus]uint64{},
		CloseReason:      s.CloseReason(),
		DrainAnswered:    s.stats.drainAnswered.Load(),
		DrainUnanswered:  s.stats.drainUnanswered.Load(),
		Withdrawn:        s.stats.withdrawn.Load(),
		DrainRefused:     s.stats.drainRefused.Load(),
	}
	if ns := s.boundAt.Load(); ns != 0 {
		out.BoundAt = time.Unix(0, ns)
	}
	for i := range s.stats.byStatus {
		if n := s.stats.byStatus[i].Load(); n > 0 {
			out.Responses[CommandStatus(i)] = n
		}
	}
	s.stats.otherMu.Lock()
	for k, v := range s.stats.other {
		out.Responses[k] = v
	}
	s.stats.otherMu.Unlock()
	return out
}

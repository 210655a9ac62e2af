package smpp

import (
	"context"
	"errors"
	"sync/atomic"
)

// Handler serves the requests a peer sends over a session. ServeSMPP runs on one of the
// session's worker goroutines, never on the read loop, so a slow handler (one that writes a
// receipt to the store first) never delays the routing of responses.
//
// The handler answers with r.Respond. If it returns without answering, the session answers
// for it with a temporary error (ESME_RX_T_APPN for deliver_sm and data_sm, ESME_RSYSERR
// otherwise), so nothing is acknowledged by accident. A handler that wants to answer later,
// from another goroutine (to simulate latency, say), calls r.Detach first; it then owns the
// answer, and may also never give one.
type Handler interface {
	ServeSMPP(ctx context.Context, r *Request)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, r *Request)

func (f HandlerFunc) ServeSMPP(ctx context.Context, r *Request) { f(ctx, r) }

var _ Handler = HandlerFunc(nil)

// DeliverHandlerFunc adapts a function that handles deliver_sm (MO messages and receipts) to
// Handler: the status it returns is sent in deliver_sm_resp after it returns. Other requests
// are answered ESME_RINVCMDID.
type DeliverHandlerFunc func(ctx context.Context, s *Session, p *DeliverSM) CommandStatus

func (f DeliverHandlerFunc) ServeSMPP(ctx context.Context, r *Request) {
	p, ok := r.PDU.(*DeliverSM)
	if !ok {
		_ = r.Respond(ESME_RINVCMDID, nil)
		return
	}
	_ = r.Respond(f(ctx, r.session, p), nil)
}

// Request is one request from the peer, handed to the Handler.
type Request struct {
	Header  Header
	PDU     PDU
	session *Session
	state   atomic.Uint32 // reqOpen, reqDetached, reqAnswered
}

const (
	reqOpen uint32 = iota
	reqDetached
	reqAnswered
)

// ErrAlreadyAnswered is returned by a second Respond to the same request.
var ErrAlreadyAnswered = errors.New("smpp: request already answered")

// Session returns the session the request arrived on.
func (r *Request) Session() *Session { return r.session }

// Detach tells the session the handler will answer later; see Handler.
func (r *Request) Detach() { r.state.CompareAndSwap(reqOpen, reqDetached) }

// Respond sends the response with the given status. A nil resp sends the empty response of
// the request's command (deliver_sm_resp with no message id, say). Requests without a
// response (alert_notification, outbind) ignore it.
func (r *Request) Respond(status CommandStatus, resp PDU) error {
	if !r.state.CompareAndSwap(reqOpen, reqAnswered) && !r.state.CompareAndSwap(reqDetached, reqAnswered) {
		return ErrAlreadyAnswered
	}
	defer r.session.answered() // after the response is queued: a drain may close the session then
	if !r.Header.ID.hasResponse() {
		return nil
	}
	if resp == nil {
		resp = emptyResponse(r.Header.ID)
	}
	return r.session.send(r.Header.Sequence, status, resp, r.session.lightLoad())
}

// emptyResponse returns the body-less (or empty-field) response to request id. Responses that
// carry nothing are shared values: encoding only reads them.
func emptyResponse(id CommandID) PDU {
	switch id {
	case DeliverSMID:
		return emptyDeliverSMResp
	case EnquireLinkID:
		return emptyEnquireLinkResp
	case UnbindID:
		return emptyUnbindResp
	case SubmitSMID:
		return emptySubmitSMResp
	}
	if p := newPDU(id.Response()); p != nil {
		return p
	}
	return emptyGenericNack
}

var (
	emptyDeliverSMResp   = &DeliverSMResp{}
	emptyEnquireLinkResp = &EnquireLinkResp{}
	emptyUnbindResp      = &UnbindResp{}
	emptySubmitSMResp    = &SubmitSMResp{}
	emptyGenericNack     = &GenericNack{}
)

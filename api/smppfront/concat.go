package smppfront

import (
	"sync"
	"time"

	"github.com/smppd/smppd/internal/msisdn"
	"github.com/smppd/smppd/smpp"
)

// assembler reassembles one account's concatenated messages (UDH or SAR parts). Parts are
// matched by source, destination, reference and part count, as handsets match them, on
// any bind of the account: a client that spreads one message's parts over its binds, or
// resends them after a reconnect, still gets one message.
type assembler struct {
	f   *Front
	acc *account
	mu  sync.Mutex
	m   map[asmKey]*assembly
}

type asmKey struct {
	from, to string
	ref      uint16
	total    int
}

// assembly is one message whose parts are arriving.
type assembly struct {
	key   asmKey
	data  [][]byte // by part number - 1; nil until the part came
	dcs   []uint8
	have  int
	fl    fields
	flSet bool
	wait  []waiter
	timer *time.Timer
}

// waiter is a part's request, answered when the whole message is durable (or given up).
type waiter struct {
	b     *bind
	r     *smpp.Request
	start time.Time
}

func (a *assembler) init(f *Front, acc *account) {
	a.f, a.acc, a.m = f, acc, map[asmKey]*assembly{}
}

func (a *assembler) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.m)
}

// add files one part. The part that completes the message accepts it and answers every
// part's request; the others return at once, their requests waiting.
func (a *assembler) add(b *bind, r *smpp.Request, start time.Time, fl fields, pi partInfo, dc uint8, data []byte) {
	key := asmKey{from: fl.from, to: fl.to, ref: pi.ref, total: pi.total}
	a.mu.Lock()
	as := a.m[key]
	if as == nil {
		if len(a.m) >= a.f.opts.MaxAssemblies {
			a.mu.Unlock()
			a.f.refuse(b, r, start, &refusal{smpp.ESME_RMSGQFUL, "too many long messages being reassembled"})
			return
		}
		as = &assembly{key: key, data: make([][]byte, pi.total), dcs: make([]uint8, pi.total)}
		as.timer = time.AfterFunc(a.f.opts.PartTimeout, func() { a.expire(as) })
		a.m[key] = as
	}
	i := pi.seq - 1
	if as.data[i] == nil {
		as.have++
	}
	// A part sent again (the client retried it) replaces the earlier copy; both requests
	// get the message's answer.
	as.data[i] = append([]byte{}, data...)
	as.dcs[i] = dc
	as.merge(fl, pi.seq == 1)
	as.wait = append(as.wait, waiter{b, r, start})
	if as.have < pi.total {
		a.mu.Unlock()
		return
	}
	delete(a.m, key)
	as.timer.Stop()
	a.mu.Unlock()
	a.complete(as)
}

// merge takes the message's fields from its parts: those of part 1 first, and any DLT id
// or receipt request that only some part carried.
func (as *assembly) merge(fl fields, first bool) {
	if !as.flSet || first {
		old := as.fl
		as.fl, as.flSet = fl, true
		fl = old
	}
	if as.fl.peid == "" {
		as.fl.peid = fl.peid
	}
	if as.fl.template == "" {
		as.fl.template = fl.template
	}
	if as.fl.chain == "" {
		as.fl.chain = fl.chain
	}
	if as.fl.sendAt.IsZero() {
		as.fl.sendAt = fl.sendAt
	}
	if as.fl.validUntil.IsZero() {
		as.fl.validUntil = fl.validUntil
	}
	if fl.receipt && !as.fl.receipt {
		as.fl.failureOnly = fl.failureOnly
	}
	as.fl.receipt = as.fl.receipt || fl.receipt
}

// complete decodes the whole text and accepts the message. The octets are joined before
// decoding when every part has the same data_coding, so a UCS-2 surrogate pair or a GSM
// escape split over two parts decodes right.
func (a *assembler) complete(as *assembly) {
	same := true
	n := 0
	for i, d := range as.data {
		n += len(d)
		same = same && as.dcs[i] == as.dcs[0]
	}
	var txt string
	var ref *refusal
	if same {
		joined := make([]byte, 0, n)
		for _, d := range as.data {
			joined = append(joined, d...)
		}
		txt, ref = a.acc.decodeText(as.dcs[0], joined)
	} else {
		for i, d := range as.data {
			var s string
			if s, ref = a.acc.decodeText(as.dcs[i], d); ref != nil {
				break
			}
			txt += s
		}
	}
	if ref != nil {
		a.answerAll(as, ref.st, "")
		return
	}
	id, st := a.f.accept(a.acc, as.fl, txt)
	a.answerAll(as, st, id)
}

func (a *assembler) answerAll(as *assembly, st smpp.CommandStatus, id string) {
	for _, w := range as.wait {
		a.f.answer(w.b, w.r, w.start, true, st, respWithID(w.r.PDU, id))
	}
}

// expire gives up a message whose parts did not all come within PartTimeout: nothing was
// stored, so its parts are answered ESME_RSYSERR and a client that resends them completes
// the message.
func (a *assembler) expire(as *assembly) {
	a.mu.Lock()
	if a.m[as.key] != as {
		a.mu.Unlock()
		return
	}
	delete(a.m, as.key)
	a.mu.Unlock()
	a.acc.st.partsTimedOut.Add(1)
	a.f.log.Info().Str("account", a.acc.cfg.Name).Str("to", msisdn.Mask(as.key.to)).Int("have", as.have).Int("total", as.key.total).
		Msg("long message incomplete; parts answered ESME_RSYSERR")
	a.answerAll(as, smpp.ESME_RSYSERR, "")
}

// failAll answers every waiting part ESME_RSYSERR (the front is shutting down).
func (a *assembler) failAll() {
	a.mu.Lock()
	all := a.m
	a.m = map[asmKey]*assembly{}
	a.mu.Unlock()
	for _, as := range all {
		as.timer.Stop()
		a.answerAll(as, smpp.ESME_RSYSERR, "")
	}
}

func (f *Front) failAssemblies() {
	for _, acc := range f.accts {
		acc.asm.failAll()
	}
}

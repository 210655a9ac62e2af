package smsc

import (
	"bufio"
	"encoding/binary"
	"net"
	"sync/atomic"

	"github.com/smppd/smppd/smpp"
)

// filterListener wraps every accepted connection in a filterConn.
//
// Why: package smpp answers enquire_link on the session's read loop, before any handler
// sees it, so the "silence to enquire_link" fault cannot be done from a Handler. The
// filterConn follows the PDU framing of the inbound stream and, while the fault is on for
// the connection's account, swallows enquire_link frames before the session reads them.
type filterListener struct {
	net.Listener
	srv *Server
}

func (l *filterListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	fc := &filterConn{Conn: c, br: bufio.NewReaderSize(c, 16<<10)}
	l.srv.conns.Store(c.RemoteAddr().String(), fc)
	return fc, nil
}

type filterConn struct {
	net.Conn
	br       *bufio.Reader
	remain   int // octets left of the current frame; -1: framing lost, pass everything
	acc      atomic.Pointer[account]
	silenced atomic.Uint64
}

func (c *filterConn) silent() bool {
	acc := c.acc.Load()
	return acc != nil && acc.cfg.Load().a.Faults.SilentEnquireLink
}

func (c *filterConn) Read(p []byte) (int, error) {
	for c.remain == 0 {
		hdr, err := c.br.Peek(8)
		if err != nil {
			if len(hdr) > 0 {
				c.remain = -1 // hand the partial header over; the session reports the error
				break
			}
			return 0, err
		}
		n := int(binary.BigEndian.Uint32(hdr[0:4]))
		id := smpp.CommandID(binary.BigEndian.Uint32(hdr[4:8]))
		if n < smpp.HeaderLen || n > smpp.DefaultMaxPDUSize {
			c.remain = -1
			break
		}
		if id == smpp.EnquireLinkID && c.silent() {
			if _, err := c.br.Discard(n); err != nil {
				return 0, err
			}
			c.silenced.Add(1)
			continue
		}
		c.remain = n
	}
	if c.remain < 0 {
		return c.br.Read(p)
	}
	if len(p) > c.remain {
		p = p[:c.remain]
	}
	n, err := c.br.Read(p)
	c.remain -= n
	return n, err
}

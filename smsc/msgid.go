package smsc

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"sync/atomic"
	"time"
)

// idGen makes unique message ids in one MessageIDFormat. Ids come from one counter per
// simulator, seeded from the start time so that a restarted simulator does not repeat the
// ids of the last run (smppd would otherwise correlate a new receipt with an old message).
type idGen struct {
	counter *atomic.Uint64
	f       MessageIDFormat
	mod     uint64   // wrap for fixed-length ids; 0: none
	uuidKey [16]byte // random base for uuid ids
}

func newCounter() *atomic.Uint64 {
	var c atomic.Uint64
	// Seconds since 2020 times 2^16: room for 65536 ids per second of downtime before a
	// restart could collide, and decimal ids of 12–13 digits like many carriers'.
	c.Store(uint64(time.Now().Unix()-1577836800) << 16)
	return &c
}

func newIDGen(counter *atomic.Uint64, f MessageIDFormat) *idGen {
	g := &idGen{counter: counter, f: f}
	if f.Length > 0 && f.Kind != "uuid" {
		base := uint64(10)
		if f.Kind == "hex" || f.Kind == "HEX" {
			base = 16
		}
		m := uint64(1)
		for range f.Length {
			if m > (1<<63)/base {
				m = 0 // longer than a uint64 can wrap: never wraps
				break
			}
			m *= base
		}
		g.mod = m
	}
	if f.Kind == "uuid" {
		_, _ = rand.Read(g.uuidKey[:])
	}
	return g
}

func (g *idGen) next() string {
	n := g.counter.Add(1)
	if g.mod != 0 {
		n %= g.mod
	}
	buf := make([]byte, 0, 40+len(g.f.Prefix))
	buf = append(buf, g.f.Prefix...)
	var digits []byte
	switch g.f.Kind {
	case "uuid":
		var u [16]byte
		copy(u[:], g.uuidKey[:])
		binary.BigEndian.PutUint64(u[8:], binary.BigEndian.Uint64(g.uuidKey[8:])^n)
		u[6] = u[6]&0x0f | 0x40 // version 4
		u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
		var h [36]byte
		hex.Encode(h[0:8], u[0:4])
		h[8] = '-'
		hex.Encode(h[9:13], u[4:6])
		h[13] = '-'
		hex.Encode(h[14:18], u[6:8])
		h[18] = '-'
		hex.Encode(h[19:23], u[8:10])
		h[23] = '-'
		hex.Encode(h[24:], u[10:])
		return string(append(buf, h[:]...))
	case "hex":
		digits = strconv.AppendUint(nil, n, 16)
	case "HEX":
		digits = strconv.AppendUint(nil, n, 16)
		for i, c := range digits {
			if c >= 'a' {
				digits[i] = c - 'a' + 'A'
			}
		}
	default:
		digits = strconv.AppendUint(nil, n, 10)
	}
	for i := len(digits); i < g.f.Length; i++ {
		buf = append(buf, '0')
	}
	return string(append(buf, digits...))
}

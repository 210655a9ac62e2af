package smsc

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/smpp"
)

// dltChecker holds the DLT registry accounts scrub against, and the parts of concatenated
// messages seen so far (operators scrub the whole text, not each part).
type dltChecker struct {
	reg atomic.Pointer[dlt.Registry]

	mu    sync.Mutex
	parts map[concatKey]*partial
}

type concatKey struct {
	account, src, dest string
	ref                uint16
	total              uint8
}

type partial struct {
	texts []string
	have  int
	at    time.Time
}

const maxPartials = 10000

func (srv *Server) loadDLT() error {
	if srv.opts.DLTRegistryFile == "" {
		return nil
	}
	reg, err := dlt.LoadYAMLFile(srv.opts.DLTRegistryFile)
	if err != nil {
		return fmt.Errorf("smsc: dlt_registry: %w", err)
	}
	srv.dlt.reg.Store(reg)
	return nil
}

// SetDLTRegistry replaces the DLT registry that accounts with DLT enabled scrub against
// (nil: none; such accounts then only check that the TLVs are there).
func (srv *Server) SetDLTRegistry(reg *dlt.Registry) { srv.dlt.reg.Store(reg) }

// dltCheck scrubs one message; it returns the DLT error code (0: passes) and why.
func (srv *Server) dltCheck(account string, cfg *DLT, m *msgIn, now time.Time) (int, string) {
	tlv := func(tag uint16) string {
		s, _ := m.tlvs.CStringLenient(smpp.Tag(tag))
		return strings.TrimSpace(s)
	}
	msg := dlt.Message{
		PEID:       tlv(cfg.PEIDTag),
		TemplateID: tlv(cfg.TemplateTag),
		ChainHash:  strings.ToLower(tlv(cfg.ChainHashTag)),
		Header:     m.src.Addr,
	}
	switch {
	case msg.PEID == "":
		return int(dlt.CodeInvalidEntityID), fmt.Sprintf("no PE ID TLV %#04x", cfg.PEIDTag)
	case msg.TemplateID == "":
		return int(dlt.CodeInvalidTemplateID), fmt.Sprintf("no template ID TLV %#04x", cfg.TemplateTag)
	case cfg.RequireChainHash && msg.ChainHash == "":
		return int(dlt.CodePETMHashNotReceived), fmt.Sprintf("no PE-TM chain hash TLV %#04x", cfg.ChainHashTag)
	}
	reg := srv.dlt.reg.Load()
	if reg == nil {
		return 0, ""
	}
	body := m.sm
	var c *Concat
	if m.esm&smpp.ESMClassUDHI != 0 {
		_, body, c = splitUDH(body)
	}
	if c == nil {
		c = sarConcat(m.tlvs)
	}
	text, _ := decodeText(m.dc, body)
	if c != nil && c.Total > 1 {
		full, complete := srv.dlt.collect(concatKey{account, m.src.Addr, m.dest.Addr, c.Ref, c.Total}, c, text, now)
		if !complete {
			return 0, "" // scrubbed when the last part arrives
		}
		text = full
	}
	msg.Text = text
	v := reg.Check(msg, now, dlt.CheckOptions{RequireChainHash: cfg.RequireChainHash, SkipSendWindow: cfg.SkipPromoWindow})
	if v == nil {
		return 0, ""
	}
	return int(v.Code), v.Reason
}

// collect adds one part; when all parts are in it returns the joined text and true.
func (d *dltChecker) collect(k concatKey, c *Concat, text string, now time.Time) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.parts == nil {
		d.parts = map[concatKey]*partial{}
	}
	p := d.parts[k]
	if p == nil {
		if len(d.parts) >= maxPartials {
			for key, old := range d.parts {
				if now.Sub(old.at) > time.Minute || len(d.parts) >= maxPartials {
					delete(d.parts, key)
				}
			}
		}
		p = &partial{texts: make([]string, c.Total), at: now}
		d.parts[k] = p
	}
	if c.Seq >= 1 && int(c.Seq) <= len(p.texts) && p.texts[c.Seq-1] == "" {
		p.texts[c.Seq-1] = text
		p.have++
	}
	if p.have < len(p.texts) {
		return "", false
	}
	delete(d.parts, k)
	return strings.Join(p.texts, ""), true
}

package smppfront

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/smppd/smppd/api"
	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/smpp"
)

// query answers query_sm from the message's record. A message of another account is
// answered as unknown (ESME_RINVMSGID): ids are not secrets, but records are.
func (f *Front) query(acc *account, p *smpp.QuerySM) (smpp.CommandStatus, smpp.PDU) {
	if f.opts.Records == nil {
		return smpp.ESME_RQUERYFAIL, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.opts.AcceptTimeout)
	defer cancel()
	recs, err := f.opts.Records.GetRecords(ctx, p.MessageID)
	if err != nil {
		f.log.Warn().Err(err).Str("account", acc.cfg.Name).Msg("query_sm: records unavailable")
		return smpp.ESME_RQUERYFAIL, nil
	}
	if len(recs) != 1 || recs[0] == nil || recs[0].Account != acc.cfg.Name {
		return smpp.ESME_RINVMSGID, nil
	}
	r := recs[0]
	resp := &smpp.QuerySMResp{MessageID: p.MessageID, MessageState: dlr.MessageState(r.Status)}
	if r.Status.Final() && !r.StatusAt.IsZero() {
		resp.FinalDate = formatTime(r.StatusAt)
	}
	if n, err := strconv.Atoi(r.ErrorCode); err == nil && n >= 0 && n <= 0xFF {
		resp.ErrorCode = uint8(n)
	}
	return smpp.ESME_ROK, resp
}

// cancel serves cancel_sm through the Canceller; without one every cancel fails. Only a
// message still scheduled (schedule_delivery_time in the future) can be cancelled; one due,
// queued or sent answers ESME_RCANCELFAIL, and an id that is unknown or another account's
// ESME_RINVMSGID, as query_sm does.
func (f *Front) cancel(acc *account, p *smpp.CancelSM) smpp.CommandStatus {
	if f.opts.Canceller == nil || p.MessageID == "" {
		return smpp.ESME_RCANCELFAIL
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.opts.AcceptTimeout)
	defer cancel()
	if err := f.opts.Canceller.Cancel(ctx, acc.cfg.Name, p.MessageID); err != nil {
		if errors.Is(err, api.ErrUnknownMessage) {
			return smpp.ESME_RINVMSGID
		}
		f.log.Debug().Err(err).Str("account", acc.cfg.Name).Str("id", p.MessageID).Msg("cancel_sm failed")
		return smpp.ESME_RCANCELFAIL
	}
	return smpp.ESME_ROK
}

// parseTime reads an SMPP time (§7.1.1): "" (none), absolute "YYMMDDhhmmsstnnp" with p
// '+' or '-' and nn the quarter hours local time is ahead of or behind UTC, or relative
// "YYMMDDhhmmss000R" from now.
func parseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if len(s) != 16 {
		return time.Time{}, fmt.Errorf("time %q: want 16 characters YYMMDDhhmmsstnnp", s)
	}
	var v [8]int
	widths := [8]int{2, 2, 2, 2, 2, 2, 1, 2}
	off := 0
	for i, w := range widths {
		n, err := strconv.Atoi(s[off : off+w])
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("time %q: not digits at %d", s, off)
		}
		v[i] = n
		off += w
	}
	yy, mo, dd, hh, mi, ss, tenths, nn := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
	switch s[15] {
	case 'R':
		return now.AddDate(yy, mo, dd).Add(time.Duration(hh)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(ss)*time.Second), nil
	case '+', '-':
		if nn > 48 {
			return time.Time{}, fmt.Errorf("time %q: UTC offset of %d quarter hours", s, nn)
		}
		offset := nn * 15 * 60
		if s[15] == '-' {
			offset = -offset
		}
		t := time.Date(2000+yy, time.Month(mo), dd, hh, mi, ss, tenths*int(100*time.Millisecond), time.FixedZone("", offset))
		if t.Month() != time.Month(mo) || t.Day() != dd || t.Hour() != hh || t.Minute() != mi || t.Second() != ss {
			return time.Time{}, fmt.Errorf("time %q: no such date", s)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("time %q: last character %q: want +, - or R", s, s[15])
}

// formatTime writes t as an absolute SMPP time in IST ("YYMMDDhhmmss022+").
func formatTime(t time.Time) string {
	t = t.In(dlt.IST)
	_, off := t.Zone()
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	return fmt.Sprintf("%02d%02d%02d%02d%02d%02d%d%02d%c", t.Year()%100, t.Month(), t.Day(), t.Hour(), t.Minute(),
		t.Second(), t.Nanosecond()/int(100*time.Millisecond), off/900, sign)
}

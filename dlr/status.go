package dlr

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/store"
)

// Combine says how the receipts of a multipart message's parts make one status.
type Combine string

const (
	// CombineAllDelivered (default): the message is final once every part has a final
	// receipt; DELIVERED when every part was delivered, else the worst part's status
	// (REJECTED, then UNDELIVERED, EXPIRED, UNKNOWN) with that part's error.
	CombineAllDelivered Combine = "all-delivered"
	// CombineFirst: the first final receipt of any part decides.
	CombineFirst Combine = "first"
	// CombineLast: once every part has a final receipt, the last one received decides.
	CombineLast Combine = "last"
)

// partState is what the receipts said about one part; kept in the record's Meta under
// MetaParts as a JSON array, one entry per part.
type partState struct {
	S     store.Status `json:"s,omitempty"` // "" no receipt yet; SUBMITTED after an intermediate one
	Err   string       `json:"e,omitempty"` // err: as written
	Stat  string       `json:"st,omitempty"`
	Net   string       `json:"n,omitempty"` // network_error_code, "type/code"
	At    int64        `json:"t,omitempty"` // unix ms when the receipt reached smppd
	Final bool         `json:"f,omitempty"`
}

// statusOf maps a parsed receipt to a message status, and whether it is final.
func statusOf(r *smpp.Receipt) (store.Status, bool) {
	if r.Intermediate {
		return store.StatusSubmitted, false
	}
	switch r.State {
	case smpp.StateDelivered, smpp.StateAccepted:
		// ACCEPTD as a final receipt: accepted on the subscriber's behalf; carriers and the
		// simulator report it with err 0, as a success.
		return store.StatusDelivered, true
	case smpp.StateExpired:
		return store.StatusExpired, true
	case smpp.StateDeleted, smpp.StateUndeliverable:
		return store.StatusUndelivered, true
	case smpp.StateRejected:
		return store.StatusRejected, true
	case smpp.StateEnroute:
		return store.StatusSubmitted, false
	}
	// UNKNOWN, or a stat nobody recognises: final, so the client hears something.
	return store.StatusUnknown, true
}

// severity orders final statuses for CombineAllDelivered: the highest wins.
func severity(s store.Status) int {
	switch s {
	case store.StatusRejected:
		return 6
	case store.StatusUndelivered:
		return 5
	case store.StatusFailed:
		return 4
	case store.StatusExpired:
		return 3
	case store.StatusUnknown:
		return 2
	case store.StatusDelivered:
		return 1
	}
	return 0
}

// combine returns the message's status from its parts' states, whether it is final, and
// the index of the part that decided it.
func combine(parts []partState, rule Combine) (store.Status, bool, int) {
	switch rule {
	case CombineFirst:
		best := -1
		for i, p := range parts {
			if p.Final && (best < 0 || p.At < parts[best].At) {
				best = i
			}
		}
		if best < 0 {
			return "", false, -1
		}
		return parts[best].S, true, best
	case CombineLast:
		last := -1
		for i, p := range parts {
			if !p.Final {
				return "", false, -1
			}
			if last < 0 || p.At >= parts[last].At {
				last = i
			}
		}
		if last < 0 {
			return "", false, -1
		}
		return parts[last].S, true, last
	}
	worst := -1
	for i, p := range parts {
		if !p.Final {
			return "", false, -1
		}
		if worst < 0 || severity(p.S) > severity(parts[worst].S) {
			worst = i
		}
	}
	if worst < 0 {
		return "", false, -1
	}
	return parts[worst].S, true, worst
}

func decodeParts(r *store.Record) []partState {
	n := max(r.Parts, 1)
	var ps []partState
	if v := r.Meta[MetaParts]; v != "" {
		_ = json.Unmarshal([]byte(v), &ps)
	}
	for len(ps) < n {
		ps = append(ps, partState{})
	}
	return ps
}

func encodeParts(r *store.Record, ps []partState) {
	b, _ := json.Marshal(ps)
	if r.Meta == nil {
		r.Meta = make(map[string]string, 1)
	}
	r.Meta[MetaParts] = string(b)
}

// receiptFinal reports whether receipts made the record final.
func receiptFinal(r *store.Record, rule Combine) bool {
	if r.Meta[MetaParts] == "" {
		return false
	}
	_, final, _ := combine(decodeParts(r), rule)
	return final
}

// errorCode is the code a part's receipt gave, unless it says "no error".
func errorCode(p partState) string {
	if strings.Trim(p.Err, "0") == "" {
		return ""
	}
	return p.Err
}

// reason explains a part's failure in words: the DLT reason when err: is a DLT code of the
// carrier's table (or the default one), else the carrier's stat and err.
func reason(spec dlt.CarrierSpec, p partState) string {
	if p.S == store.StatusDelivered {
		return ""
	}
	if code := errorCode(p); code != "" {
		var n int
		if _, err := fmt.Sscan(code, &n); err == nil {
			if c, ok := spec.Lookup(n); ok {
				return spec.Reason(c)
			}
		}
	}
	var b strings.Builder
	b.WriteString("carrier receipt")
	if p.Stat != "" {
		b.WriteString(" stat " + p.Stat)
	}
	if p.Err != "" {
		b.WriteString(" err " + p.Err)
	}
	if p.Net != "" {
		b.WriteString(" network error " + p.Net)
	}
	return b.String()
}

// DLTReason returns the DLT name and description for a receipt err: value that is a DLT
// code of the default table, e.g. ("template_not_matched", "message text does not …", true).
func DLTReason(errField string) (name, description string, ok bool) {
	var n int
	if _, err := fmt.Sscan(strings.TrimSpace(errField), &n); err != nil {
		return "", "", false
	}
	c, ok := dlt.LookupCode(n)
	if !ok {
		return "", "", false
	}
	return c.String(), c.Description(), true
}

// stateOf turns a stored receipt into a part state.
func stateOf(r *store.Receipt) partState {
	return partState{S: store.Status(r.State), Err: r.Err, Stat: r.Stat, Net: r.NetworkError,
		At: r.ReceivedAt.UnixMilli(), Final: r.Final}
}

// timeMax returns the later of a and b.
func timeMax(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

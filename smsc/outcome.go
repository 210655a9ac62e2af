package smsc

import (
	"math/rand/v2"
	"strings"
	"time"

	"github.com/smppd/smppd/smpp"
)

// statState maps receipt stat: values to message_state.
var statState = map[string]smpp.MessageState{
	"DELIVRD": smpp.StateDelivered,
	"EXPIRED": smpp.StateExpired,
	"DELETED": smpp.StateDeleted,
	"UNDELIV": smpp.StateUndeliverable,
	"ACCEPTD": smpp.StateAccepted,
	"UNKNOWN": smpp.StateUnknown,
	"REJECTD": smpp.StateRejected,
	"ENROUTE": smpp.StateEnroute,
}

const statNames = "DELIVRD, UNDELIV, EXPIRED, REJECTD, DELETED, ACCEPTD, UNKNOWN"

// stateStat is the inverse of statState.
func stateStat(s smpp.MessageState) string {
	for k, v := range statState {
		if v == s {
			return k
		}
	}
	return "UNKNOWN"
}

// outcome is the fate of one message, decided when it is received.
type outcome struct {
	stat  string
	state smpp.MessageState
	err   int

	reject       bool // answer the submit with submitStatus, no receipt
	submitStatus smpp.CommandStatus
	noResponse   bool
	respDelay    time.Duration
	receiptDelay time.Duration // <0: the account's
	noReceipt    bool
}

func (o outcome) failed() bool {
	return o.state != smpp.StateDelivered && o.state != smpp.StateAccepted && o.state != smpp.StateEnroute
}

func defaultErr(stat string) int {
	switch stat {
	case "DELIVRD", "ACCEPTD", "ENROUTE":
		return 0
	}
	return DefaultErr
}

func mkOutcome(stat string, err *int) outcome {
	stat = strings.ToUpper(stat)
	if stat == "" {
		stat = "DELIVRD"
	}
	o := outcome{stat: stat, state: statState[stat], err: defaultErr(stat), receiptDelay: -1}
	if err != nil {
		o.err = *err
	}
	return o
}

// firstDigitStats is SMPPSim's DeterministicLifeCycleManager table.
var firstDigitStats = map[byte]string{'1': "EXPIRED", '2': "DELETED", '3': "UNDELIV", '4': "ACCEPTD", '5': "REJECTD"}

type compiledRule struct {
	r Rule
	o outcome
}

func (c *compiledRule) match(dest string) bool {
	switch {
	case c.r.Dest != "":
		return dest == c.r.Dest
	case c.r.Prefix != "":
		return strings.HasPrefix(dest, c.r.Prefix)
	default:
		return strings.HasSuffix(dest, c.r.Suffix)
	}
}

// outcomes is the compiled form of Receipts.
type outcomes struct {
	rules      []compiledRule
	firstDigit bool
	mix        []outcome
	cum        []float64
	total      float64
}

func compileOutcomes(r Receipts) outcomes {
	var oc outcomes
	for _, ru := range r.Rules {
		o := mkOutcome(ru.Stat, ru.Err)
		if ru.SubmitStatus != "" {
			st, _ := parseStatus(ru.SubmitStatus) // validated
			o.reject, o.submitStatus = st != smpp.ESME_ROK, st
		}
		o.noResponse = ru.NoResponse
		o.respDelay = ru.Delay
		if ru.ReceiptDelay > 0 {
			o.receiptDelay = ru.ReceiptDelay
		}
		o.noReceipt = ru.NoReceipt
		oc.rules = append(oc.rules, compiledRule{r: ru, o: o})
	}
	oc.firstDigit = r.FirstDigit
	for _, w := range r.Mix {
		if w.Weight <= 0 {
			continue
		}
		oc.total += w.Weight
		oc.mix = append(oc.mix, mkOutcome(w.Stat, w.Err))
		oc.cum = append(oc.cum, oc.total)
	}
	if len(oc.mix) == 0 {
		oc.mix = []outcome{mkOutcome("DELIVRD", nil)}
		oc.cum = []float64{1}
		oc.total = 1
	}
	return oc
}

// decide picks the outcome for a message to dest: rules, then the first-digit rule, then the
// mix.
func (oc *outcomes) decide(dest string) outcome {
	for i := range oc.rules {
		if oc.rules[i].match(dest) {
			return oc.rules[i].o
		}
	}
	if oc.firstDigit {
		d := strings.TrimLeft(dest, "+")
		if d != "" {
			if st, ok := firstDigitStats[d[0]]; ok {
				return mkOutcome(st, nil)
			}
		}
		return mkOutcome("DELIVRD", nil)
	}
	if len(oc.mix) == 1 {
		return oc.mix[0]
	}
	x := rand.Float64() * oc.total
	for i, c := range oc.cum {
		if x < c {
			return oc.mix[i]
		}
	}
	return oc.mix[len(oc.mix)-1]
}

// between returns min, or a uniformly random duration in [min, max) when max > min.
func between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + rand.N(hi-lo)
}

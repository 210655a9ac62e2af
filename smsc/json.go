package smsc

import (
	"encoding/json"
	"fmt"
	"time"
)

// jdur is a duration in JSON: a Go duration string ("250ms", "2s"); numbers are read as
// milliseconds.
type jdur time.Duration

func (d jdur) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *jdur) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case string:
		p, err := time.ParseDuration(x)
		if err != nil {
			return fmt.Errorf("duration %q: %w", x, err)
		}
		*d = jdur(p)
	case float64:
		*d = jdur(time.Duration(x * float64(time.Millisecond)))
	case nil:
		*d = 0
	default:
		return fmt.Errorf("duration: want a string such as \"250ms\" or a number of milliseconds, got %s", b)
	}
	return nil
}

// The types below carry durations; their JSON forms use jdur (the YAML forms already parse
// "250ms" into time.Duration).

func (l Latency) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Min jdur `json:"min"`
		Max jdur `json:"max"`
	}{jdur(l.Min), jdur(l.Max)})
}

func (l *Latency) UnmarshalJSON(b []byte) error {
	aux := struct {
		Min jdur `json:"min"`
		Max jdur `json:"max"`
	}{jdur(l.Min), jdur(l.Max)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	l.Min, l.Max = time.Duration(aux.Min), time.Duration(aux.Max)
	return nil
}

func (r Receipts) MarshalJSON() ([]byte, error) {
	type plain Receipts
	return json.Marshal(struct {
		plain
		DelayMin        jdur `json:"delay_min"`
		DelayMax        jdur `json:"delay_max"`
		RetryDelay      jdur `json:"retry_delay,omitempty"`
		ResponseTimeout jdur `json:"response_timeout,omitempty"`
	}{plain(r), jdur(r.DelayMin), jdur(r.DelayMax), jdur(r.RetryDelay), jdur(r.ResponseTimeout)})
}

func (r *Receipts) UnmarshalJSON(b []byte) error {
	type plain Receipts
	aux := struct {
		*plain
		DelayMin        jdur `json:"delay_min"`
		DelayMax        jdur `json:"delay_max"`
		RetryDelay      jdur `json:"retry_delay,omitempty"`
		ResponseTimeout jdur `json:"response_timeout,omitempty"`
	}{(*plain)(r), jdur(r.DelayMin), jdur(r.DelayMax), jdur(r.RetryDelay), jdur(r.ResponseTimeout)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	r.DelayMin, r.DelayMax = time.Duration(aux.DelayMin), time.Duration(aux.DelayMax)
	r.RetryDelay, r.ResponseTimeout = time.Duration(aux.RetryDelay), time.Duration(aux.ResponseTimeout)
	return nil
}

func (f FloodOptions) MarshalJSON() ([]byte, error) {
	type plain FloodOptions
	return json.Marshal(struct {
		plain
		Duration jdur `json:"duration"`
	}{plain(f), jdur(f.Duration)})
}

func (f *FloodOptions) UnmarshalJSON(b []byte) error {
	type plain FloodOptions
	aux := struct {
		*plain
		Duration jdur `json:"duration"`
	}{(*plain)(f), jdur(f.Duration)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	f.Duration = time.Duration(aux.Duration)
	return nil
}

func (ru Rule) MarshalJSON() ([]byte, error) {
	type plain Rule
	return json.Marshal(struct {
		plain
		Delay        jdur `json:"delay,omitempty"`
		ReceiptDelay jdur `json:"receipt_delay,omitempty"`
	}{plain(ru), jdur(ru.Delay), jdur(ru.ReceiptDelay)})
}

func (ru *Rule) UnmarshalJSON(b []byte) error {
	type plain Rule
	aux := struct {
		*plain
		Delay        jdur `json:"delay"`
		ReceiptDelay jdur `json:"receipt_delay"`
	}{(*plain)(ru), jdur(ru.Delay), jdur(ru.ReceiptDelay)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	ru.Delay, ru.ReceiptDelay = time.Duration(aux.Delay), time.Duration(aux.ReceiptDelay)
	return nil
}

func (f Faults) MarshalJSON() ([]byte, error) {
	type plain Faults
	return json.Marshal(struct {
		plain
		SlowDelay       jdur `json:"slow_delay"`
		DisconnectEvery jdur `json:"disconnect_every"`
	}{plain(f), jdur(f.SlowDelay), jdur(f.DisconnectEvery)})
}

func (f *Faults) UnmarshalJSON(b []byte) error {
	type plain Faults
	aux := struct {
		*plain
		SlowDelay       jdur `json:"slow_delay"`
		DisconnectEvery jdur `json:"disconnect_every"`
	}{(*plain)(f), jdur(f.SlowDelay), jdur(f.DisconnectEvery)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	f.SlowDelay, f.DisconnectEvery = time.Duration(aux.SlowDelay), time.Duration(aux.DisconnectEvery)
	return nil
}

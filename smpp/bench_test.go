package smpp

// Benchmarks of the codec and of loopback round trips, each beside the same scenario driven
// by github.com/fiorix/go-smpp so that ratios come from one run on one (noisy) machine:
//
//	go test -run='^$' -bench=. -benchmem ./smpp/
//
// The round-trip benchmarks run client and server in one process, so allocs/op counts both
// ends of one submit_sm → submit_sm_resp.

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gosmpp "github.com/fiorix/go-smpp/smpp"
	gopdu "github.com/fiorix/go-smpp/smpp/pdu"
	gofield "github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	gotext "github.com/fiorix/go-smpp/smpp/pdu/pdutext"
	gotlv "github.com/fiorix/go-smpp/smpp/pdu/pdutlv"
)

const (
	benchPEID  = "1101234567890123456"
	benchCTID  = "1107161234567890123"
	benchChain = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

func benchSubmit() *SubmitSM {
	return &SubmitSM{
		Source: Address{5, 0, "ACMEIN"}, Dest: Address{1, 1, "919812345678"},
		RegisteredDelivery: RegisteredDeliveryAll,
		ShortMessage:       []byte("Your OTP for login is 482913. Do not share it with anyone. - ACME"),
		TLVs: TLVs{
			StringTLV(TagDLTPEID, benchPEID),
			StringTLV(TagDLTTemplate, benchCTID),
			StringTLV(TagDLTChainHash, benchChain),
		},
	}
}

func BenchmarkEncodeSubmitSM(b *testing.B) {
	p := benchSubmit()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendPDU(buf[:0], 1, ESME_ROK, p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSubmitSM(b *testing.B) {
	frame, _ := EncodePDU(1, ESME_ROK, benchSubmit())
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodePDU(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func goSMPPSubmit() gopdu.Body {
	p := gopdu.NewSubmitSM(gotlv.Fields{
		0x1400: gotlv.String(benchPEID),
		0x1401: gotlv.String(benchCTID),
		0x1402: gotlv.String(benchChain),
	})
	f := p.Fields()
	f.Set(gofield.SourceAddrTON, uint8(5))
	f.Set(gofield.SourceAddr, "ACMEIN")
	f.Set(gofield.DestAddrTON, uint8(1))
	f.Set(gofield.DestAddrNPI, uint8(1))
	f.Set(gofield.DestinationAddr, "919812345678")
	f.Set(gofield.RegisteredDelivery, uint8(1))
	f.Set(gofield.ShortMessage, pdutextRaw("Your OTP for login is 482913. Do not share it with anyone. - ACME"))
	return p
}

func pdutextRaw(s string) []byte { return gotext.Raw(s).Encode() }

// BenchmarkGoSMPPEncodeSubmitSM builds and encodes the same submit_sm with go-smpp; its PDUs
// are maps of boxed fields, so building is part of the cost a caller pays per message.
func BenchmarkGoSMPPEncodeSubmitSM(b *testing.B) {
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := goSMPPSubmit().SerializeTo(&buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGoSMPPDecodeSubmitSM(b *testing.B) {
	frame, _ := EncodePDU(1, ESME_ROK, benchSubmit())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := gopdu.Decode(bytes.NewReader(frame)); err != nil {
			b.Fatal(err)
		}
	}
}

// benchServer is our Server answering every submit_sm, at once or after latency.
func benchServer(b *testing.B, latency time.Duration) string {
	var n atomic.Uint64
	h := HandlerFunc(func(ctx context.Context, r *Request) {
		id := n.Add(1)
		resp := &SubmitSMResp{MessageID: itoa(id)}
		if latency == 0 {
			_ = r.Respond(ESME_ROK, resp)
			return
		}
		r.Detach()
		time.AfterFunc(latency, func() { _ = r.Respond(ESME_ROK, resp) })
	})
	ts := startSMSC(b, h, func(o *ServerOptions) {
		o.Session.InboundWindow = 1024
		o.Session.EnquireLinkInterval = -1
		o.Authenticator = AuthenticatorFunc(func(context.Context, *Session, *Bind) CommandStatus { return ESME_ROK })
	})
	return ts.addr
}

// drive runs b.N submits spread over `callers` goroutines and reports the rate.
func drive(b *testing.B, callers int, latency time.Duration, submit func() error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := submit(); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, "submits/s")
	if latency > 0 {
		// Little's law: with `callers` requests always in flight, the ideal rate is
		// callers / latency.
		b.ReportMetric(100*rate/(float64(callers)/latency.Seconds()), "%ideal")
	}
}

var benchWindows = []int{1, 10, 100}
var benchLatencies = []time.Duration{0, 20 * time.Millisecond}

func BenchmarkSubmitRoundTrip(b *testing.B) {
	for _, lat := range benchLatencies {
		for _, w := range benchWindows {
			b.Run(fmt.Sprintf("latency=%s/window=%d", lat, w), func(b *testing.B) {
				addr := benchServer(b, lat)
				s, err := Dial(context.Background(), addr, Bind{Mode: BindTransmitter, SystemID: "bench", Password: "x"},
					Options{WindowSize: w, EnquireLinkInterval: -1})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Abort()
				p := benchSubmit()
				ctx := context.Background()
				drive(b, w, lat, func() error { _, err := s.Submit(ctx, p); return err })
			})
		}
	}
}

// BenchmarkGoSMPPSubmitRoundTrip drives go-smpp's Transmitter against the same server with
// the same number of concurrent callers. Its WindowSize is left unlimited: its window is a
// fail-fast counter, so the callers themselves bound the requests in flight.
func BenchmarkGoSMPPSubmitRoundTrip(b *testing.B) {
	for _, lat := range benchLatencies {
		for _, w := range benchWindows {
			b.Run(fmt.Sprintf("latency=%s/window=%d", lat, w), func(b *testing.B) {
				addr := benchServer(b, lat)
				tx := &gosmpp.Transmitter{Addr: addr, User: "bench", Passwd: "x", RespTimeout: 10 * time.Second}
				status := tx.Bind()
				if st := <-status; st.Status() != gosmpp.Connected {
					b.Fatalf("go-smpp bind: %v", st.Error())
				}
				defer tx.Close()
				drive(b, w, lat, func() error {
					_, err := tx.Submit(&gosmpp.ShortMessage{
						Src: "ACMEIN", SourceAddrTON: 5, Dst: "919812345678", DestAddrTON: 1, DestAddrNPI: 1,
						Text:     gotext.Raw("Your OTP for login is 482913. Do not share it with anyone. - ACME"),
						Register: gofield.FinalDeliveryReceipt,
						TLVFields: gotlv.Fields{
							0x1400: gotlv.String(benchPEID),
							0x1401: gotlv.String(benchCTID),
							0x1402: gotlv.String(benchChain),
						},
					})
					return err
				})
			})
		}
	}
}

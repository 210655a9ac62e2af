package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
)

// The binary serves the simulator's counters as Prometheus series next to the control API;
// these are the series names dashboards and the docs rely on.
func TestMetricsSeriesAndControlAPIOnOneHandler(t *testing.T) {
	noRetries := 0
	srv := smsctest.Start(t, smsc.Options{EnquireLinkInterval: -1, Accounts: []smsc.Account{{
		SystemID: "smppd", Password: "password", Receipts: smsc.Receipts{Retries: &noRetries},
	}}})
	ts := httptest.NewServer(httpHandler(srv))
	defer ts.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	// The ESME refuses every receipt, so the one receipt is refused once and given up.
	ctx := context.Background()
	s, err := smpp.Dial(ctx, srv.Addr(), smpp.Bind{SystemID: "smppd", Password: "password"}, smpp.Options{
		Handler: smpp.DeliverHandlerFunc(func(context.Context, *smpp.Session, *smpp.DeliverSM) smpp.CommandStatus {
			return smpp.ESME_RX_T_APPN
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Abort()
	if _, err := s.Submit(ctx, &smpp.SubmitSM{Dest: smpp.Address{Addr: "919800000001"}, RegisteredDelivery: 1, ShortMessage: []byte("hi")}); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 5*time.Second, "the refused receipt given up", func() bool { return srv.Counters().ReceiptsGivenUp == 1 })

	code, body := get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	for _, want := range []string{
		`smscsim_submits_received_total{system_id="smppd"} 1`,
		`smscsim_submit_responses_total{status="ESME_ROK",system_id="smppd"} 1`,
		`smscsim_binds{system_id="smppd"} 1`,
		`smscsim_receipts_refused_total{system_id="smppd"} 1`,
		`smscsim_receipts_given_up_total{system_id="smppd"} 1`,
		`smscsim_receipt_retries_total{system_id="smppd"} 0`,
		`smscsim_flood_sent_total{system_id="smppd"} 0`,
		`smscsim_messages_received 1`,
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	post, err := http.Post(ts.URL+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusMethodNotAllowed || post.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /metrics: %d Allow %q, want 405 Allow GET, HEAD", post.StatusCode, post.Header.Get("Allow"))
	}
	// Everything else is the simulator's own control API.
	if code, body := get("/healthz"); code != http.StatusOK || !strings.Contains(body, srv.Addr()) {
		t.Errorf("/healthz through the binary's handler: %d %s", code, body)
	}
	if code, body := get("/api/counters"); code != http.StatusOK || !strings.Contains(body, `"receipts_given_up": 1`) {
		t.Errorf("/api/counters through the binary's handler: %d %s", code, body)
	}
	// The library's own handler serves no metrics: Prometheus lives only in this binary.
	lib := httptest.NewServer(srv.HTTPHandler())
	defer lib.Close()
	resp, err := http.Get(lib.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("smsc.Server.HTTPHandler /metrics: %d, want 404", resp.StatusCode)
	}
}

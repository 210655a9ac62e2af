package dlr_test

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/store/redisstore"
)

// TestRedisDownRefusesReceiptsTemporarily runs its own redis-server, stops it, and checks a
// receipt is then refused with ESME_RX_T_APPN within StoreTimeout (the carrier keeps it and
// sends it again) and nothing is acknowledged, and that it is taken once Redis is back and
// the applier recovers.
func TestRedisDownRefusesReceiptsTemporarily(t *testing.T) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("no redis-server binary")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	startRedis := func() *exec.Cmd {
		cmd := exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	cmd := startRedis()
	url := "redis://127.0.0.1:" + strconv.Itoa(port) + "/0?dial_timeout=200ms&read_timeout=200ms&write_timeout=200ms&max_retries=1"
	var st *redisstore.Store
	wait.For(t, 10*time.Second, "redis-server up", func() bool {
		st, err = redisstore.Open(context.Background(), url, redisstore.Options{Prefix: "down"})
		return err == nil
	})
	t.Cleanup(func() { _ = st.Close() }) // after the correlator's shutdown
	c := newCorr(t, dlr.CorrelatorOptions{Store: st, StoreTimeout: time.Second})
	submitted(t, st, c.Correlator, "jio", "m1", hookMeta, "1")
	c.link("jio") // bound before the store goes
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	start := time.Now()
	if got := c.send("jio", receipt("1", "DELIVRD", "000")); got != smpp.ESME_RX_T_APPN {
		t.Fatalf("store down: answered %v", got)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("refusal took %v", d)
	}
	// Nothing was acknowledged, so nothing may count as logged.
	if s := c.Stats(); s.Logged != 0 || s.StoreErrors == 0 {
		t.Fatalf("stats %+v", s)
	}
	// Redis comes back empty (no persistence in this test): the carrier's retransmission is
	// acknowledged, and (the record went with the data) waits in the log as an early receipt.
	startRedis()
	wait.For(t, 20*time.Second, "receipt accepted again", func() bool {
		return c.send("jio", receipt("1", "DELIVRD", "000")) == smpp.ESME_ROK
	})
	wait.For(t, 10*time.Second, "the applier reading again", func() bool { return c.Stats().Early >= 1 })
	if s := c.Stats(); s.Logged != 1 {
		t.Fatalf("stats %+v", s)
	}
}

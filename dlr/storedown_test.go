package dlr_test

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/store/redisstore"
)

// TestRedisDownRefusesReceiptsTemporarily runs its own redis-server, stops it, and checks a
// receipt is then refused with ESME_RX_T_APPN (the carrier keeps it and sends it again), and
// accepted once Redis is back.
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
	waitFor(t, 10*time.Second, "redis-server up", func() bool {
		st, err = redisstore.Open(context.Background(), url, redisstore.Options{Prefix: "down"})
		return err == nil
	})
	defer st.Close()
	c := newCorrelator(t, dlr.CorrelatorOptions{Store: st, StoreTimeout: time.Second})
	submitted(t, st, c, "jio", "m1", hookMeta, "1")
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	start := time.Now()
	if got := c.HandleDeliver(context.Background(), "jio", receipt("1", "DELIVRD", "000")); got != smpp.ESME_RX_T_APPN {
		t.Fatalf("store down: answered %v", got)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("refusal took %v", d)
	}
	// Redis comes back empty (no persistence in this test): the carrier's retransmission is
	// handled (here: kept as an early receipt, since the record went with the data).
	startRedis()
	waitFor(t, 10*time.Second, "receipt accepted again", func() bool {
		return c.HandleDeliver(context.Background(), "jio", receipt("1", "DELIVRD", "000")) == smpp.ESME_ROK
	})
	if s := c.Stats(); s.StoreErrors == 0 {
		t.Fatalf("stats %+v", s)
	}
}

package smsctest_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
)

func TestStartServesUntilTheTestEnds(t *testing.T) {
	var addr string
	t.Run("test using the simulator", func(t *testing.T) {
		sim := smsctest.Start(t, smsc.Options{EnquireLinkInterval: -1})
		addr = sim.Addr()
		ctx := context.Background()
		s, err := smpp.Dial(ctx, addr, smpp.Bind{SystemID: smsc.DefaultSystemID, Password: smsc.DefaultPassword}, smpp.Options{})
		if err != nil {
			t.Fatalf("bind to the simulator: %v", err)
		}
		defer s.Abort()
		if _, err := s.Submit(ctx, &smpp.SubmitSM{Dest: smpp.Address{Addr: "919800000001"}, ShortMessage: []byte("hi")}); err != nil {
			t.Fatalf("submit: %v", err)
		}
		if _, err := sim.WaitForMessages(1, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	})
	// The subtest's cleanup closed the simulator: its listener is gone.
	wait.For(t, 5*time.Second, "the simulator's listener to close", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
}

// fatalRecorder stands in for testing.T: it records the failure and ends the goroutine as
// t.Fatalf does.
type fatalRecorder struct {
	testing.TB
	failed string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestStartFailsTheTestOnBadOptions(t *testing.T) {
	r := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		smsctest.Start(r, smsc.Options{Window: smsc.MaxWindow + 1})
		t.Error("Start returned after a bad option")
	}()
	<-done
	if !strings.Contains(r.failed, "smsctest.Start") || !strings.Contains(r.failed, "window") {
		t.Errorf("failure %q does not say Start failed and why", r.failed)
	}
}

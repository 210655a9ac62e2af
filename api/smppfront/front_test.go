package smppfront

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smpp"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("pa55")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "pbkdf2-sha256$100000$") {
		t.Fatalf("hash %q", h)
	}
	if ok, err := CheckPassword(h, "pa55"); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, _ := CheckPassword(h, "pa56"); ok {
		t.Fatal("wrong password accepted")
	}
	if h2, _ := HashPassword("pa55"); h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, bad := range []string{"", "pa55", "pbkdf2-sha256$0$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAA", "bcrypt$1$a$b",
		"pbkdf2-sha256$1000$!!$AAAAAAAAAAAAAAAAAAAAAAA", "pbkdf2-sha256$99999999999$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAA"} {
		if ok, err := CheckPassword(bad, "pa55"); ok || !errors.Is(err, ErrBadHash) {
			t.Errorf("hash %q: %v %v", bad, ok, err)
		}
	}
	if _, err := New(Options{Acceptor: &fakeAcceptor{}, Accounts: []Account{{Name: "a", SystemID: "a", PasswordHash: "plain"}}}); !errors.Is(err, ErrBadHash) {
		t.Fatalf("New with a clear-text password: %v", err)
	}
}

func TestBindModes(t *testing.T) {
	f, addr := startFront(t, Options{Accounts: []Account{tAccount("acme")}})
	for _, m := range []smpp.BindMode{smpp.BindTransmitter, smpp.BindReceiver, smpp.BindTransceiver} {
		mustDial(t, addr, "acme", m, nil)
	}
	wait.For(t, waitLong, "three binds listed", func() bool { return len(f.Binds()) == 3 })
	modes := map[string]bool{}
	for _, b := range f.Binds() {
		if b.Account != "acme" || b.SystemID != "acme" || !strings.HasPrefix(b.Remote, "127.0.0.1:") || b.Since.IsZero() {
			t.Errorf("bind %+v", b)
		}
		modes[b.Mode] = true
	}
	if len(modes) != 3 {
		t.Errorf("modes %v", modes)
	}
	st := f.Stats().Accounts[0]
	if st.Binds["transmitter"] != 1 || st.Binds["receiver"] != 1 || st.Binds["transceiver"] != 1 || st.BindsAccepted != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestBindRefusals(t *testing.T) {
	local := Account{Name: "local", SystemID: "local", PasswordHash: tHash, MaxBinds: 1}
	far := Account{Name: "far", SystemID: "far", PasswordHash: tHash, AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	near := Account{Name: "near", SystemID: "near", PasswordHash: tHash, AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	var hookMu sync.Mutex
	var hooked []smpp.CommandStatus
	const delay = 50 * time.Millisecond
	f, addr := startFront(t, Options{
		Accounts: []Account{local, far, near}, RefusalDelay: delay,
		Hooks: Hooks{Bind: func(_ string, _ smpp.BindMode, st smpp.CommandStatus) {
			hookMu.Lock()
			hooked = append(hooked, st)
			hookMu.Unlock()
		}},
	})
	mustDial(t, addr, "local", smpp.BindTransceiver, nil) // uses local's only bind
	mustDial(t, addr, "near", smpp.BindTransmitter, nil)
	for _, c := range []struct {
		name, id, pw string
		want         smpp.CommandStatus
	}{
		{"unknown system_id", "nobody", tPassword, smpp.ESME_RINVSYSID},
		{"wrong password", "near", "guess", smpp.ESME_RINVPASWD},
		{"address not allowed", "far", tPassword, smpp.ESME_RBINDFAIL},
		{"address not allowed, wrong password too", "far", "guess", smpp.ESME_RBINDFAIL},
		{"max binds", "local", tPassword, smpp.ESME_RBINDFAIL},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := dial(t, addr, c.id, c.pw, smpp.BindTransceiver, nil)
			if st := statusOf(t, err); st != c.want {
				t.Fatalf("bind answered %s, want %s", st, c.want)
			}
			if took := time.Since(start); took < delay {
				t.Errorf("refused after %s, before the refusal delay %s", took, delay)
			}
		})
	}
	s := f.Stats()
	got := map[string]uint64{}
	for _, a := range s.Accounts {
		got[a.Account] = a.BindsRefused
	}
	if s.UnknownBinds != 1 || got["near"] != 1 || got["far"] != 2 || got["local"] != 1 {
		t.Errorf("refusals counted %+v, unknown %d", got, s.UnknownBinds)
	}
	hookMu.Lock()
	nHooked := len(hooked)
	hookMu.Unlock()
	if nHooked != 7 {
		t.Errorf("bind hook saw %v", hooked)
	}
	// The refused bind of local left its one bind alone; once that one goes, a new one fits.
	if n := f.Kick("local"); n != 1 {
		t.Fatalf("kicked %d", n)
	}
	wait.ForNoError(t, waitLong, "local binds again", func() error {
		s, err := dial(t, addr, "local", tPassword, smpp.BindTransmitter, nil)
		if err == nil {
			s.Abort()
		}
		return err
	})
}

func TestDeliverWithoutReceiverIsNotBound(t *testing.T) {
	f, addr := startFront(t, Options{Accounts: []Account{tAccount("acme")}})
	mustDial(t, addr, "acme", smpp.BindTransmitter, nil) // a transmitter takes no receipts
	err := f.Deliver(context.Background(), receiptJob(t, "acme", "msg-1"))
	if !errors.Is(err, dlr.ErrNotBound) {
		t.Fatalf("Deliver with no receiver: %v", err)
	}
	// The held receipt counts as waiting for the account until it is delivered.
	if got := f.Stats().Accounts[0].ReceiptsWaiting; got != 1 {
		t.Fatalf("ReceiptsWaiting %d after a receipt was held, want 1", got)
	}
	ok := smpp.DeliverHandlerFunc(func(context.Context, *smpp.Session, *smpp.DeliverSM) smpp.CommandStatus { return smpp.ESME_ROK })
	mustDial(t, addr, "acme", smpp.BindReceiver, ok)
	if err := f.Deliver(context.Background(), receiptJob(t, "acme", "msg-1")); err != nil {
		t.Fatalf("Deliver once a receiver is bound: %v", err)
	}
	if got := f.Stats().Accounts[0].ReceiptsWaiting; got != 0 {
		t.Fatalf("ReceiptsWaiting %d after the receipt was delivered, want 0", got)
	}
}

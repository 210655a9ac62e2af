package main

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/smppd/smppd/smpp"
)

func TestReceiptMatcher(t *testing.T) {
	tr := newTracker()
	m := newReceiptMatcher(tr)
	now := time.Now()
	tr.accept([]string{"7000000001", "7000000002"}, now)

	m.submitted("a1", "7000000001")
	m.receipt("a1", now.Add(time.Second))
	m.receipt("a1", now.Add(2*time.Second)) // a duplicate

	// A receipt read before its submit_sm_resp: counted once the id is known, at the time
	// it came.
	m.receipt("a2", now.Add(500*time.Millisecond))
	if tr.hookedCount() != 1 || m.unknown() != 1 {
		t.Fatalf("before a2's id: hooked %d, unknown %d; want 1, 1", tr.hookedCount(), m.unknown())
	}
	m.submitted("a2", "7000000002")
	m.receipt("zz", now) // an id nobody was given

	if got := tr.hookedCount(); got != 2 {
		t.Errorf("end to end %d, want 2", got)
	}
	if tr.webhooks != 2 || tr.duplicateHooks != 1 {
		t.Errorf("receipts %d (%d duplicate), want 2 (1)", tr.webhooks, tr.duplicateHooks)
	}
	if got := tr.hookAt["7000000002"]; !got.Equal(now.Add(500 * time.Millisecond)) {
		t.Errorf("early receipt counted at %v, want when it came", got)
	}
	if m.unknown() != 1 || tr.unhooked() != 0 {
		t.Errorf("unknown %d, unhooked %d; want 1, 0", m.unknown(), tr.unhooked())
	}
}

func TestReceiptID(t *testing.T) {
	text := []byte("id:text-id sub:001 dlvrd:001 submit date:2612062000 done date:2612062000 stat:DELIVRD err:000 text:")
	for _, tc := range []struct {
		name string
		p    *smpp.DeliverSM
		want string
		ok   bool
	}{
		{"receipted_message_id wins", &smpp.DeliverSM{ESMClass: smpp.ESMClassDeliveryRcpt, ShortMessage: text,
			TLVs: smpp.TLVs{smpp.CStringTLV(smpp.TagReceiptedMessageID, "tlv-id")}}, "tlv-id", true},
		{"Appendix B text only", &smpp.DeliverSM{ESMClass: smpp.ESMClassDeliveryRcpt, ShortMessage: text}, "text-id", true},
		{"nothing to read", &smpp.DeliverSM{ESMClass: smpp.ESMClassDeliveryRcpt, ShortMessage: []byte("hello")}, "", false},
	} {
		got, ok := receiptID(tc.p)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: %q %v, want %q %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestPerBind(t *testing.T) {
	for _, tc := range []struct{ c, binds, want int }{{64, 4, 16}, {65, 4, 17}, {2, 4, 1}, {1, 1, 1}} {
		if got := perBind(tc.c, tc.binds); got != tc.want {
			t.Errorf("perBind(%d, %d) = %d, want %d", tc.c, tc.binds, got, tc.want)
		}
		// Workers are dealt to binds in turn: no bind carries more than perBind.
		load := make([]int, tc.binds)
		for w := range tc.c {
			load[w%tc.binds]++
		}
		for _, n := range load {
			if n > perBind(tc.c, tc.binds) {
				t.Errorf("c %d over %d binds: a bind carries %d", tc.c, tc.binds, n)
			}
		}
	}
}

func TestStagesOf(t *testing.T) {
	// The HTTP scenarios keep their row names.
	for _, sc := range []string{"otp", "r1", "bulk", "flood"} {
		if st := stagesOf(sc); st.reply != "HTTP reply" || st.last != "webhook" || st.progress != "webhooks" {
			t.Errorf("%s: %+v", sc, st)
		}
	}
	if st := stagesOf("smpp"); st.last != "receipt to client" || st.progress != "receipts to client" {
		t.Errorf("smpp: %+v", st)
	}
}

// The account lines and the smpp_front section read back as config.AccountSMPP expects.
func TestFrontAccountConfigLines(t *testing.T) {
	fa, err := newFrontAccount(256, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(fa.password) != 8 || !strings.HasPrefix(fa.passwordHash, "pbkdf2-sha256$") {
		t.Fatalf("password %q, hash %q", fa.password, fa.passwordHash)
	}
	account, top := fa.configLines("127.0.0.1:2775")
	doc := "accounts:\n  - name: bench\n" + account + top
	var got struct {
		Accounts []struct {
			TMID string `yaml:"tm_id"`
			SMPP struct {
				SystemID     string  `yaml:"system_id"`
				PasswordHash string  `yaml:"password_hash"`
				Window       int     `yaml:"window"`
				MaxBinds     int     `yaml:"max_binds"`
				Rate         float64 `yaml:"rate"`
			} `yaml:"smpp"`
		} `yaml:"accounts"`
		Front struct {
			Listen string `yaml:"listen"`
		} `yaml:"smpp_front"`
	}
	if err := yaml.Unmarshal([]byte(doc), &got); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	a := got.Accounts[0]
	if a.TMID != benchTMID || a.SMPP.SystemID != "bench" || a.SMPP.PasswordHash != fa.passwordHash || a.SMPP.Window != 256 ||
		a.SMPP.MaxBinds != 4 || a.SMPP.Rate != -1 || got.Front.Listen != "127.0.0.1:2775" {
		t.Errorf("read back %+v\n%s", got, doc)
	}
}

func TestProfilePath(t *testing.T) {
	for _, tc := range []struct {
		path      string
		run, runs int
		want      string
	}{{"smppd.pprof", 1, 1, "smppd.pprof"}, {"smppd.pprof", 2, 3, "smppd-run2.pprof"}, {"/tmp/cpu", 1, 2, "/tmp/cpu-run1"}} {
		if got := profilePath(tc.path, tc.run, tc.runs); got != tc.want {
			t.Errorf("profilePath(%q, %d, %d) = %q, want %q", tc.path, tc.run, tc.runs, got, tc.want)
		}
	}
	if profileSeconds(10*time.Second) != 10 || profileSeconds(300*time.Millisecond) != 1 {
		t.Error("profileSeconds")
	}
}

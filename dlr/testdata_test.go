package dlr_test

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/storetest"
)

// TestReceiptTable runs testdata/dlr/receipts.txt: text-only receipts (no TLVs), sent over
// a bind, against a message settled with the given id.
func TestReceiptTable(t *testing.T) {
	f, err := os.Open("../testdata/dlr/receipts.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		col := strings.Split(line, "|")
		for i := range col {
			col[i] = strings.TrimSpace(col[i])
		}
		n++
		t.Run(fmt.Sprint(n, "-", col[0]), func(t *testing.T) {
			st := storetest.OpenMemory(t)
			c := newCorr(t, dlr.CorrelatorOptions{Store: st, Carriers: []dlr.CarrierIDs{{Name: "c", Format: dlr.Format(col[0])}}})
			submitted(t, st, c.Correlator, "c", "m", hookMeta, col[1])
			c.mustSend("c", &smpp.DeliverSM{ESMClass: smpp.ESMClassDeliveryRcpt, ShortMessage: []byte(col[2])})
			c.waitApplied(1)
			if r := record(t, st, "m"); r.Status != store.Status(col[3]) {
				t.Fatalf("%s: record %+v", line, r)
			}
		})
	}
	if n == 0 {
		t.Fatal("empty table")
	}
}

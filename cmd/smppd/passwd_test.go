package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/smppd/smppd/api/smppfront"
)

func TestPasswd(t *testing.T) {
	var out bytes.Buffer
	if err := passwd(strings.NewReader("s3cret\n"), &out); err != nil {
		t.Fatal(err)
	}
	h := strings.TrimSpace(out.String())
	if ok, err := smppfront.CheckPassword(h, "s3cret"); err != nil || !ok {
		t.Fatalf("hash %q does not check against its password: %v %v", h, ok, err)
	}
	if strings.Contains(h, "s3cret") {
		t.Fatalf("hash %q contains the password", h)
	}
	for _, tc := range []struct{ in, want string }{
		{"", "standard input"},
		{"toolongpassword\n", "at most 8"},
	} {
		if err := passwd(strings.NewReader(tc.in), &out); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("passwd(%q): %v, want an error saying %q", tc.in, err, tc.want)
		}
	}
}

package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/smppd/smppd/api/smppfront"
)

func TestPasswd(t *testing.T) {
	var out bytes.Buffer
	if err := passwd(nil, strings.NewReader("s3cret\n"), &out); err != nil {
		t.Fatal(err)
	}
	h := strings.TrimSpace(out.String())
	if ok, err := smppfront.CheckPassword(h, "s3cret"); err != nil || !ok {
		t.Fatalf("hash %q does not check against its password: %v %v", h, ok, err)
	}
	if strings.Contains(h, "s3cret") {
		t.Fatalf("hash %q contains the password", h)
	}
	for _, tc := range []struct {
		args     []string
		in, want string
	}{
		{nil, "", "standard input"},
		{nil, "toolongpassword\n", "at most 8"},
		{[]string{"-console"}, "short\n", "at least 12"},
	} {
		if err := passwd(tc.args, strings.NewReader(tc.in), &out); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("passwd(%q): %v, want an error saying %q", tc.in, err, tc.want)
		}
	}
}

func TestPasswdConsole(t *testing.T) {
	var out bytes.Buffer
	if err := passwd([]string{"-console"}, strings.NewReader("a long console password\n"), &out); err != nil {
		t.Fatal(err)
	}
	if ok, err := smppfront.CheckPassword(strings.TrimSpace(out.String()), "a long console password"); err != nil || !ok {
		t.Fatalf("%q: %v %v", out.String(), ok, err)
	}
}

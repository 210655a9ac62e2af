package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/smppd/smppd/api/smppfront"
)

// passwd reads an SMPP client's password from in (one line, e.g. piped from a secret store,
// so it never appears in argv or the shell history) and writes its hash for the account's
// smpp.password_hash. SMPP 3.4 passwords are at most 8 characters; longer ones are refused
// because no client could send them in a bind.
func passwd(in io.Reader, out io.Writer) error {
	line, err := bufio.NewReader(io.LimitReader(in, 1024)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("passwd: read the password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	switch {
	case pw == "":
		return errors.New("passwd: give the password on standard input, e.g. `printf %s \"$PW\" | smppd passwd`")
	case len(pw) > 8:
		return fmt.Errorf("passwd: %d characters; an SMPP 3.4 bind carries at most 8", len(pw))
	}
	h, err := smppfront.HashPassword(pw)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, h)
	return err
}

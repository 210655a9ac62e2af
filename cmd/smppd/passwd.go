package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	pwhash "github.com/smppd/smppd/internal/passwd"
)

// passwd reads a password from in (one line, e.g. piped from a secret store, so it never
// appears in argv or the shell history) and writes its hash (internal/passwd's form): for
// an SMPP client's accounts[].smpp.password_hash, or with -console for an operator's
// console.operators[].password_hash. SMPP 3.4 passwords are at most 8 characters; longer
// ones are refused because no client could send them in a bind. Console passwords are
// typed by people into a browser: at least 12 characters.
func passwd(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("smppd passwd", flag.ContinueOnError)
	forConsole := fs.Bool("console", false, "hash an operator console password (at least 12 characters) instead of an SMPP one")
	if err := fs.Parse(args); err != nil {
		return err
	}
	line, err := bufio.NewReader(io.LimitReader(in, 1024)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("passwd: read the password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	switch {
	case pw == "":
		return errors.New("passwd: give the password on standard input, e.g. `printf %s \"$PW\" | smppd passwd`")
	case *forConsole && len(pw) < 12:
		return fmt.Errorf("passwd: %d characters; a console password needs at least 12", len(pw))
	case !*forConsole && len(pw) > 8:
		return fmt.Errorf("passwd: %d characters; an SMPP 3.4 bind carries at most 8 (for a console login: smppd passwd -console)", len(pw))
	}
	h, err := pwhash.Hash(pw)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, h)
	return err
}

package smppfront

import (
	"os"

	"github.com/rs/zerolog"
)

// testLogger writes the front's log to stderr when SMPPFRONT_LOG is set; it discards it
// otherwise.
var testLogger = func() zerolog.Logger {
	if os.Getenv("SMPPFRONT_LOG") == "" {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Logger()
}()

// Package smpp is smppd's own SMPP 3.4 stack: the wire codec for every PDU, command statuses
// and the errors built on them, the client Session with a real window of outstanding
// requests, the Server side that the simulator stands on, a reconnect Supervisor, and the
// delivery-receipt parser.
//
// The package imports no other smppd package. Callers plug in through small interfaces
// (Handler, Authenticator) and read counters through Stats(); logging is a zerolog.Logger
// passed in Options, and metrics are wired by the binaries, never here.
//
// Wire decoding never panics, whatever the bytes: every length is checked before a slice is
// taken and every error names the PDU and the field (see FieldError). Optional parameters are
// kept in wire order as TLVs, unknown tags byte-exact, so a PDU re-encodes to the bytes it
// came from.
package smpp

package smpp

import (
	"encoding/binary"
	"fmt"
	"io"
)

// FrameReader splits a byte stream into PDU frames. It is what a session's read loop runs;
// it is exported for tools and fuzzing that work on captured streams.
type FrameReader struct {
	r       io.Reader
	max     int
	hdr     [HeaderLen]byte
	lastHdr Header
}

// NewFrameReader reads frames of at most maxPDU octets (DefaultMaxPDUSize when 0) from r.
// Wrap r in a bufio.Reader: the reader issues two reads per frame.
func NewFrameReader(r io.Reader, maxPDU int) *FrameReader {
	if maxPDU <= 0 {
		maxPDU = DefaultMaxPDUSize
	}
	return &FrameReader{r: r, max: maxPDU}
}

// ReadFrame returns the next whole frame in a newly allocated slice that the caller owns. A
// command_length below 16 or above the maximum is a *FieldError (ErrPDUTooLarge for the
// latter): the stream cannot be trusted past it, so callers close the connection.
// LastHeader then tells which request to answer with generic_nack.
func (fr *FrameReader) ReadFrame() ([]byte, error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("smpp: connection closed inside a PDU header: %w", err)
		}
		return nil, err
	}
	h, _ := DecodeHeader(fr.hdr[:])
	fr.lastHdr = h
	if h.Length < HeaderLen {
		return nil, &FieldError{Cmd: h.ID, Field: "command_length", Status: ESME_RINVCMDLEN,
			Reason: fmt.Sprintf("%d, less than the 16-octet header", h.Length)}
	}
	if int64(h.Length) > int64(fr.max) {
		return nil, fmt.Errorf("%w: %w", ErrPDUTooLarge, &FieldError{Cmd: h.ID, Field: "command_length", Status: ESME_RINVCMDLEN,
			Reason: fmt.Sprintf("%d octets, more than the maximum PDU size %d", h.Length, fr.max)})
	}
	frame := make([]byte, h.Length)
	copy(frame, fr.hdr[:])
	if _, err := io.ReadFull(fr.r, frame[HeaderLen:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("smpp: connection closed inside a %s PDU: %w", h.ID, err)
	}
	return frame, nil
}

// LastHeader returns the header of the frame read last, also when ReadFrame rejected it.
func (fr *FrameReader) LastHeader() Header { return fr.lastHdr }

// putUint32 is a tiny helper shared by tests that build raw frames.
func putUint32(b []byte, v uint32) { binary.BigEndian.PutUint32(b, v) }

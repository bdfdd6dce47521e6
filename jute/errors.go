package jute

import (
	"errors"
	"strconv"
)

// Sentinel errors. A *DecodeError wraps one of them; test with errors.Is.
var (
	// ErrShortBuffer means the input ended before the value did.
	ErrShortBuffer = errors.New("jute: short buffer")
	// ErrNegativeLength means a length or count below -1 was read.
	ErrNegativeLength = errors.New("jute: negative length")
	// ErrTooLarge means a length exceeded the configured maximum.
	ErrTooLarge = errors.New("jute: length too large")
	// ErrTrailingBytes means a record was followed by unexpected bytes.
	ErrTrailingBytes = errors.New("jute: trailing bytes")
)

// DecodeError gives the position and the length involved in a decode failure.
type DecodeError struct {
	Offset int   // byte offset in the input where the failing value starts
	Length int64 // the length, count or width that could not be satisfied
	Have   int   // bytes that remained at Offset
	Err    error // ErrShortBuffer, ErrNegativeLength or ErrTooLarge
}

func (e *DecodeError) Error() string {
	s := e.Err.Error() + " at offset " + strconv.Itoa(e.Offset)
	switch e.Err {
	case ErrShortBuffer:
		s += " (need " + strconv.FormatInt(e.Length, 10) + ", have " + strconv.Itoa(e.Have) + ")"
	case ErrNegativeLength:
		s += " (length " + strconv.FormatInt(e.Length, 10) + ")"
	case ErrTooLarge:
		s += " (length " + strconv.FormatInt(e.Length, 10) + ", remaining " + strconv.Itoa(e.Have) + ")"
	}
	return s
}

func (e *DecodeError) Unwrap() error { return e.Err }

package wire

import (
	"errors"

	"github.com/zkgo/zkgo/jute"
)

func isShort(err error) bool { return errors.Is(err, jute.ErrShortBuffer) }

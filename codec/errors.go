package codec

import "errors"

// Kinds of bad input. Each is permanent: retrying the same bytes cannot
// succeed. Messages never carry file names or content.
var (
	ErrEmpty       = errors.New("empty input")
	ErrTooLarge    = errors.New("input over the byte limit")
	ErrNotJPEG     = errors.New("not a JPEG")
	ErrCorrupt     = errors.New("corrupt JPEG")
	ErrUnsupported = errors.New("unsupported JPEG")
	ErrDimensions  = errors.New("image dimensions over the limit")
	ErrEncode      = errors.New("encode failed")
)

package codec

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/platemask/platemask/jpeginfo"
)

// Limits are checked on the raw bytes and the JPEG header before any pixel
// is decoded, so that a hostile file cannot exhaust memory.
type Limits struct {
	MaxBytes  int64 // whole file
	MaxPixels int64 // width x height
	MaxSide   int   // either dimension
}

// DefaultLimits suit camera stills up to 8K with room to spare.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 32 << 20, MaxPixels: 50_000_000, MaxSide: 16384}
}

// Validate reports limits that make no sense.
func (l Limits) Validate() error {
	if l.MaxBytes <= 0 || l.MaxPixels <= 0 || l.MaxSide <= 0 {
		return fmt.Errorf("limits must be positive: %+v", l)
	}
	return nil
}

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// Check sniffs the format and reads the header. It returns the header info
// of an acceptable baseline JPEG, or an error naming why it is refused.
func Check(data []byte, lim Limits) (*jpeginfo.Info, error) {
	switch {
	case len(data) == 0:
		return nil, ErrEmpty
	case int64(len(data)) > lim.MaxBytes:
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), lim.MaxBytes)
	case bytes.HasPrefix(data, pngMagic):
		return nil, fmt.Errorf("%w: PNG data", ErrNotJPEG)
	case !jpeginfo.IsJPEG(data):
		return nil, fmt.Errorf("%w: no start-of-image marker", ErrNotJPEG)
	}
	info, err := jpeginfo.Scan(data)
	if err != nil {
		if errors.Is(err, jpeginfo.ErrTruncated) || errors.Is(err, jpeginfo.ErrMalformed) || errors.Is(err, jpeginfo.ErrExif) {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrNotJPEG, err)
	}
	switch {
	case info.Frame == 0:
		return nil, fmt.Errorf("%w: no frame header", ErrCorrupt)
	case info.Progressive():
		return nil, fmt.Errorf("%w: progressive JPEG (baseline only)", ErrUnsupported)
	case info.Arithmetic():
		return nil, fmt.Errorf("%w: arithmetic-coded JPEG", ErrUnsupported)
	case info.Lossless():
		return nil, fmt.Errorf("%w: lossless JPEG", ErrUnsupported)
	case info.Precision != 8:
		return nil, fmt.Errorf("%w: %d-bit samples", ErrUnsupported, info.Precision)
	case info.Components == 4:
		return nil, fmt.Errorf("%w: CMYK/YCCK colour", ErrUnsupported)
	case info.Components != 1 && info.Components != 3:
		return nil, fmt.Errorf("%w: %d colour components", ErrUnsupported, info.Components)
	case info.Width == 0 || info.Height == 0:
		return nil, fmt.Errorf("%w: zero width or height", ErrCorrupt)
	case info.Width > lim.MaxSide || info.Height > lim.MaxSide ||
		int64(info.Width)*int64(info.Height) > lim.MaxPixels:
		return nil, fmt.Errorf("%w: %dx%d", ErrDimensions, info.Width, info.Height)
	}
	return info, nil
}

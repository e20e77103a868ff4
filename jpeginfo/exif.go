package jpeginfo

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Bounds on the EXIF structure a camera plausibly writes. Anything beyond
// them is a loop, a bomb or garbage, and is refused before a C parser sees it.
const (
	maxIFDs       = 16
	maxIFDEntries = 512
)

// ErrExif reports EXIF data whose structure is broken or hostile.
var ErrExif = errors.New("malformed EXIF")

type tiff struct {
	b  []byte
	bo binary.ByteOrder
}

// parseTIFF reads the TIFF header of an APP1 Exif payload.
func parseTIFF(p []byte) (*tiff, int, error) {
	const header = "Exif\x00\x00"
	if len(p) < len(header)+8 || string(p[:len(header)]) != header {
		return nil, 0, fmt.Errorf("%w: short header", ErrExif)
	}
	t := &tiff{b: p[len(header):]}
	switch string(t.b[:2]) {
	case "II":
		t.bo = binary.LittleEndian
	case "MM":
		t.bo = binary.BigEndian
	default:
		return nil, 0, fmt.Errorf("%w: bad byte order", ErrExif)
	}
	if t.bo.Uint16(t.b[2:]) != 42 {
		return nil, 0, fmt.Errorf("%w: bad TIFF magic", ErrExif)
	}
	return t, int(t.bo.Uint32(t.b[4:])), nil
}

// entries returns the entry count of the IFD at off, checking it fits.
func (t *tiff) entries(off int) (int, error) {
	if off < 8 || off+2 > len(t.b) {
		return 0, fmt.Errorf("%w: IFD offset %d outside the segment", ErrExif, off)
	}
	n := int(t.bo.Uint16(t.b[off:]))
	if n > maxIFDEntries {
		return 0, fmt.Errorf("%w: IFD with %d entries", ErrExif, n)
	}
	if off+2+12*n+4 > len(t.b) {
		return 0, fmt.Errorf("%w: IFD runs past the segment", ErrExif)
	}
	return n, nil
}

// checkExif walks every IFD (IFD0, IFD1..., Exif, GPS and interoperability
// sub-IFDs) without reading values, refusing loops, out-of-range offsets
// and oversized tables.
func checkExif(p []byte) error {
	t, first, err := parseTIFF(p)
	if err != nil {
		return err
	}
	seen := map[int]bool{}
	queue := []int{first}
	for len(queue) > 0 {
		off := queue[0]
		queue = queue[1:]
		if off == 0 {
			continue
		}
		if seen[off] {
			return fmt.Errorf("%w: IFD loop", ErrExif)
		}
		seen[off] = true
		if len(seen) > maxIFDs {
			return fmt.Errorf("%w: more than %d IFDs", ErrExif, maxIFDs)
		}
		n, err := t.entries(off)
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			e := off + 2 + 12*i
			switch t.bo.Uint16(t.b[e:]) {
			case 0x8769, 0x8825, 0xA005: // Exif, GPS, interoperability IFD pointers
				queue = append(queue, int(t.bo.Uint32(t.b[e+8:])))
			}
		}
		queue = append(queue, int(t.bo.Uint32(t.b[off+2+12*n:])))
	}
	return nil
}

// exifOrientation reads tag 0x0112 from IFD0 (1..8, else 1). checkExif has
// already vouched for the structure.
func exifOrientation(p []byte) int {
	t, off, err := parseTIFF(p)
	if err != nil {
		return 1
	}
	n, err := t.entries(off)
	if err != nil {
		return 1
	}
	for i := 0; i < n; i++ {
		e := off + 2 + 12*i
		if t.bo.Uint16(t.b[e:]) != 0x0112 || t.bo.Uint16(t.b[e+2:]) != 3 {
			continue
		}
		if v := int(t.bo.Uint16(t.b[e+8:])); v >= 1 && v <= 8 {
			return v
		}
	}
	return 1
}

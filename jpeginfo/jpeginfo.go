// Package jpeginfo reads a JPEG's marker structure without decoding pixels:
// frame type, dimensions, components, EXIF orientation and the metadata
// segments it carries. It is pure Go so that limits are enforced before any
// C decoder sees the bytes, and so that it can be fuzzed.
package jpeginfo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Marker bytes (the second byte of 0xFF xx).
const (
	SOI   = 0xD8
	EOI   = 0xD9
	SOS   = 0xDA
	DQT   = 0xDB
	DHT   = 0xC4
	DRI   = 0xDD
	COM   = 0xFE
	APP0  = 0xE0
	APP1  = 0xE1
	APP2  = 0xE2
	APP13 = 0xED
	APP15 = 0xEF
)

// Errors that say why a file is not an acceptable JPEG. Callers map them to
// outcomes with errors.Is.
var (
	ErrNotJPEG     = errors.New("not a JPEG")
	ErrTruncated   = errors.New("truncated JPEG")
	ErrMalformed   = errors.New("malformed JPEG")
	ErrUnsupported = errors.New("unsupported JPEG")
)

// Segment is one marker segment: its marker byte, the offset of the 0xFF and
// its total length including the marker.
type Segment struct {
	Marker byte
	Offset int
	Length int
	// Ident is the leading identifier of APPn payloads ("Exif", "JFIF",
	// "http://ns.adobe.com/xap/1.0/", "MPF", ...), empty otherwise.
	Ident string
}

// Info is what a scan of the markers learns.
type Info struct {
	Width, Height int
	Components    int
	Precision     int
	// Frame is the SOFn marker byte (0xC0 baseline, 0xC2 progressive, ...).
	Frame byte
	// Orientation is the EXIF orientation (1..8), 1 when absent or invalid.
	Orientation int
	Segments    []Segment
	// Trailing is the number of bytes after EOI (MPF images, junk).
	Trailing int
	// EOI reports whether an end-of-image marker closes the data.
	EOI bool
}

// Progressive reports a progressive frame (SOF2, SOF6, SOF10, SOF14).
func (i *Info) Progressive() bool {
	return i.Frame == 0xC2 || i.Frame == 0xC6 || i.Frame == 0xCA || i.Frame == 0xCE
}

// Arithmetic reports arithmetic coding (SOF9..SOF15).
func (i *Info) Arithmetic() bool { return i.Frame >= 0xC9 && i.Frame <= 0xCF }

// Lossless reports a lossless frame (SOF3, SOF7, SOF11, SOF15).
func (i *Info) Lossless() bool {
	return i.Frame == 0xC3 || i.Frame == 0xC7 || i.Frame == 0xCB || i.Frame == 0xCF
}

// Metadata returns the segments that carry anything beyond pixels: APP1..APP15
// and COM. A plain JFIF APP0 is not metadata.
func (i *Info) Metadata() []Segment {
	var out []Segment
	for _, s := range i.Segments {
		if s.Marker == COM || (s.Marker >= APP0 && s.Marker <= APP15 && !(s.Marker == APP0 && s.Ident == "JFIF")) {
			out = append(out, s)
		}
	}
	return out
}

func isSOF(m byte) bool {
	return m >= 0xC0 && m <= 0xCF && m != DHT && m != 0xC8 && m != 0xCC
}

// IsJPEG reports whether data starts like a JPEG.
func IsJPEG(data []byte) bool {
	return len(data) >= 3 && data[0] == 0xFF && data[1] == SOI && data[2] == 0xFF
}

// Scan walks the markers of a JPEG, through the entropy-coded data, up to EOI.
// It never reads beyond data and allocates in proportion to the number of
// segments only.
func Scan(data []byte) (*Info, error) {
	if !IsJPEG(data) {
		return nil, ErrNotJPEG
	}
	info := &Info{Orientation: 1}
	pos := 2
	sawSOS, sawDQT := false, false
	var compIDs []byte
	for {
		// Find the next marker; fill bytes (0xFF 0xFF) are allowed.
		if pos >= len(data) {
			return info, fmt.Errorf("%w: no end-of-image marker", ErrTruncated)
		}
		if data[pos] != 0xFF {
			return info, fmt.Errorf("%w: expected a marker at offset %d", ErrMalformed, pos)
		}
		for pos < len(data) && data[pos] == 0xFF {
			pos++
		}
		if pos >= len(data) {
			return info, fmt.Errorf("%w: no end-of-image marker", ErrTruncated)
		}
		marker := data[pos]
		start := pos - 1
		pos++
		switch {
		case marker == EOI:
			if !sawSOS {
				return info, fmt.Errorf("%w: end of image before any scan", ErrMalformed)
			}
			info.EOI = true
			info.Trailing = len(data) - pos
			return info, nil
		case marker == SOI:
			return info, fmt.Errorf("%w: nested start-of-image marker", ErrMalformed)
		case marker >= 0xD0 && marker <= 0xD7, marker == 0x01:
			continue // standalone markers
		}
		if pos+2 > len(data) {
			return info, fmt.Errorf("%w: segment header cut off", ErrTruncated)
		}
		length := int(binary.BigEndian.Uint16(data[pos:]))
		if length < 2 {
			return info, fmt.Errorf("%w: segment length %d", ErrMalformed, length)
		}
		if pos+length > len(data) {
			return info, fmt.Errorf("%w: segment 0x%02X runs past the end", ErrTruncated, marker)
		}
		payload := data[pos+2 : pos+length]
		seg := Segment{Marker: marker, Offset: start, Length: length + 2}
		if marker >= APP0 && marker <= APP15 {
			seg.Ident = ident(payload)
		}
		info.Segments = append(info.Segments, seg)
		pos += length
		switch {
		case isSOF(marker):
			if info.Frame != 0 {
				return info, fmt.Errorf("%w: more than one frame header", ErrMalformed)
			}
			if len(payload) < 6 {
				return info, fmt.Errorf("%w: short frame header", ErrMalformed)
			}
			info.Frame = marker
			info.Precision = int(payload[0])
			info.Height = int(binary.BigEndian.Uint16(payload[1:]))
			info.Width = int(binary.BigEndian.Uint16(payload[3:]))
			info.Components = int(payload[5])
			if len(payload) < 6+3*info.Components {
				return info, fmt.Errorf("%w: frame header lists %d components", ErrMalformed, info.Components)
			}
			for c := 0; c < info.Components; c++ {
				compIDs = append(compIDs, payload[6+3*c])
			}
		case marker == DQT:
			sawDQT = true
		case marker == APP1 && seg.Ident == "Exif":
			if err := checkExif(payload); err != nil {
				return info, err
			}
			if info.Orientation == 1 {
				info.Orientation = exifOrientation(payload)
			}
		case marker == SOS:
			if info.Frame == 0 {
				return info, fmt.Errorf("%w: scan before frame header", ErrMalformed)
			}
			if !sawDQT {
				return info, fmt.Errorf("%w: no quantisation table", ErrMalformed)
			}
			if err := checkScan(payload, compIDs); err != nil {
				return info, err
			}
			sawSOS = true
			pos = skipEntropy(data, pos)
		}
	}
}

// checkScan verifies that a scan header selects only components the frame
// declared.
func checkScan(p, compIDs []byte) error {
	if len(p) < 1 {
		return fmt.Errorf("%w: empty scan header", ErrMalformed)
	}
	n := int(p[0])
	if n < 1 || n > 4 || len(p) < 1+2*n+3 {
		return fmt.Errorf("%w: scan header lists %d components", ErrMalformed, n)
	}
	for i := 0; i < n; i++ {
		if !bytes.Contains(compIDs, p[1+2*i:2+2*i]) {
			return fmt.Errorf("%w: scan selects an undeclared component", ErrMalformed)
		}
	}
	return nil
}

// skipEntropy returns the offset of the first marker after entropy-coded
// data: a 0xFF not followed by 0x00 (stuffing) or a restart marker.
func skipEntropy(data []byte, pos int) int {
	for pos < len(data) {
		if data[pos] != 0xFF {
			pos++
			continue
		}
		if pos+1 >= len(data) {
			return len(data)
		}
		next := data[pos+1]
		if next == 0x00 || (next >= 0xD0 && next <= 0xD7) || next == 0xFF {
			pos += 2
			if next == 0xFF {
				pos-- // 0xFF 0xFF: fill, re-examine the second byte
			}
			continue
		}
		return pos
	}
	return pos
}

func ident(p []byte) string {
	n := 0
	for n < len(p) && n < 40 && p[n] != 0 {
		n++
	}
	return string(p[:n])
}

package synth

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
)

// BadInput is a file platemask must refuse, and a word on why.
type BadInput struct {
	Name string
	Data []byte
}

// BadInputs derives malformed and unsupported files from good, a baseline
// JPEG: each must be refused with a clear reason, never decoded.
func BadInputs(good []byte) []BadInput {
	sof := findMarker(good, 0xC0)
	patch := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	var pngBuf bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	png.Encode(&pngBuf, img)

	out := []BadInput{
		{"zero-bytes", nil},
		{"truncated-half", good[:len(good)/2]},
		{"truncated-header", good[:min(len(good), 20)]},
		{"truncated-before-eoi", good[:len(good)-2]},
		{"not-a-jpeg", []byte("hello, this is a text file named .jpg\n")},
		{"png-named-jpg", pngBuf.Bytes()},
		{"soi-only", []byte{0xFF, 0xD8, 0xFF, 0xD9}},
	}
	out = append(out,
		BadInput{"heic-named-jpg", append([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), make([]byte, 64)...)},
		BadInput{"gif-named-jpg", []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")},
		BadInput{"bmp-named-jpg", append([]byte("BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00"), make([]byte, 40)...)},
		BadInput{"webp-named-jpg", append([]byte("RIFF\x24\x00\x00\x00WEBPVP8 "), make([]byte, 32)...)},
		BadInput{"tiff-named-jpg", append([]byte("II*\x00\x08\x00\x00\x00"), make([]byte, 32)...)},
		BadInput{"fill-bytes-forever", append([]byte{0xFF, 0xD8}, bytes.Repeat([]byte{0xFF}, 4096)...)},
		BadInput{"nested-soi", append([]byte{0xFF, 0xD8}, good...)},
		BadInput{"exif-loop", WithMetadata(good, Metadata{Orientation: 1, exifNext: 8})},
		BadInput{"exif-bomb", WithMetadata(good, Metadata{Orientation: 1, exifCount: 65535})},
		BadInput{"exif-offset-out-of-range", WithMetadata(good, Metadata{Orientation: 1, exifNext: 1 << 30})},
	)
	// Cut the file right after each marker, as an interrupted upload does.
	for i, off := range markerOffsets(good) {
		out = append(out, BadInput{fmt.Sprintf("truncated-at-marker-%d", i), good[:off+2]})
	}
	if sof < 0 {
		return out
	}
	// SOF0 payload: length(2) precision(1) height(2) width(2) ncomp(1).
	p := sof + 4
	out = append(out,
		BadInput{"progressive", patch(func(b []byte) { b[sof+1] = 0xC2 })},
		BadInput{"arithmetic", patch(func(b []byte) { b[sof+1] = 0xC9 })},
		BadInput{"lossless", patch(func(b []byte) { b[sof+1] = 0xC3 })},
		BadInput{"12-bit", patch(func(b []byte) { b[p] = 12 })},
		BadInput{"16-bit", patch(func(b []byte) { b[p] = 16 })},
		BadInput{"huge-dimensions", patch(func(b []byte) {
			binary.BigEndian.PutUint16(b[p+1:], 60000)
			binary.BigEndian.PutUint16(b[p+3:], 60000)
		})},
		BadInput{"zero-width", patch(func(b []byte) { binary.BigEndian.PutUint16(b[p+3:], 0) })},
		BadInput{"cmyk", cmyk(good, sof)},
		BadInput{"segment-length-past-end", patch(func(b []byte) { binary.BigEndian.PutUint16(b[sof+2:], 0xFFF0) })},
		BadInput{"segment-length-too-small", patch(func(b []byte) { binary.BigEndian.PutUint16(b[sof+2:], 1) })},
		BadInput{"zero-height", patch(func(b []byte) { binary.BigEndian.PutUint16(b[p+1:], 0) })},
		BadInput{"two-frames", insertAt(good, sof, good[sof:sof+2+int(binary.BigEndian.Uint16(good[sof+2:]))])},
		BadInput{"no-quantisation-tables", dropSegments(good, 0xDB)},
		BadInput{"sos-unknown-component", patchSOS(good)},
		BadInput{"header-only", append(bytes.Clone(good[:findMarker(good, 0xC4)]), 0xFF, 0xD9)},
	)
	return out
}

// cmyk rewrites the frame header to declare four components, as a CMYK or
// YCCK file from a print workflow does.
func cmyk(good []byte, sof int) []byte {
	length := int(binary.BigEndian.Uint16(good[sof+2:]))
	seg := bytes.Clone(good[sof : sof+2+length])
	n := int(seg[9])
	seg = append(seg, 4, 0x11, seg[10+3*(n-1)+2]) // a fourth component
	seg[9] = 4
	binary.BigEndian.PutUint16(seg[2:], uint16(len(seg)-2))
	out := append([]byte{}, good[:sof]...)
	out = append(out, seg...)
	return append(out, good[sof+2+length:]...)
}

// markerOffsets lists the offsets of the segments before the scan.
func markerOffsets(b []byte) []int {
	var out []int
	pos := 2
	for pos+4 <= len(b) && b[pos] == 0xFF {
		out = append(out, pos)
		if b[pos+1] == 0xDA {
			break
		}
		pos += 2 + int(binary.BigEndian.Uint16(b[pos+2:]))
	}
	return out
}

func insertAt(b []byte, at int, seg []byte) []byte {
	out := append([]byte{}, b[:at]...)
	out = append(out, seg...)
	return append(out, b[at:]...)
}

// dropSegments removes every segment with marker m before the scan.
func dropSegments(b []byte, m byte) []byte {
	out := append([]byte{}, b[:2]...)
	pos := 2
	for pos+4 <= len(b) && b[pos] == 0xFF && b[pos+1] != 0xDA {
		n := 2 + int(binary.BigEndian.Uint16(b[pos+2:]))
		if b[pos+1] != m {
			out = append(out, b[pos:pos+n]...)
		}
		pos += n
	}
	return append(out, b[pos:]...)
}

// patchSOS makes the scan refer to a component the frame does not have.
func patchSOS(b []byte) []byte {
	out := bytes.Clone(b)
	if i := findMarker(out, 0xDA); i >= 0 {
		out[i+5] = 0x7F // first component selector
	}
	return out
}

// findMarker returns the offset of the first 0xFF m marker segment before
// the scan, or -1.
func findMarker(b []byte, m byte) int {
	pos := 2
	for pos+4 <= len(b) && b[pos] == 0xFF {
		if b[pos+1] == m {
			return pos
		}
		if b[pos+1] == 0xDA {
			return -1
		}
		pos += 2 + int(binary.BigEndian.Uint16(b[pos+2:]))
	}
	return -1
}

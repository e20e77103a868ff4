package synth

import (
	"bytes"
	"encoding/binary"
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

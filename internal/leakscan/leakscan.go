// Package leakscan checks that nothing at rest holds raw input bytes: it
// indexes the identifying parts of input JPEGs (entropy-coded pixels and
// metadata segments) and finds any 32-byte run of them in stored files.
package leakscan

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/platemask/platemask/jpeginfo"
)

// Run is the length of a match that counts as a leak.
const Run = 32

// block is half a run: every 32-byte run of an input contains a whole
// block-aligned 16-byte block, so indexing aligned blocks finds them all.
const block = Run / 2

// Index holds the aligned blocks of the inputs.
type Index struct {
	inputs [][]byte
	blocks map[[block]byte][]ref
}

type ref struct{ input, off int }

// New indexes inputs. Only pixels and metadata are indexed: JPEG headers
// (standard Huffman tables, say) are the same in every encoder's output
// and identify nothing.
func New(inputs [][]byte) *Index { return index(inputs, identifying) }

// NewMetadata indexes the metadata segments of inputs only: for scanning
// redacted images, which keep the compressed blocks of everything but the
// plates exactly as they came, while their inputs' metadata must be gone.
func NewMetadata(inputs [][]byte) *Index { return index(inputs, metadata) }

func index(inputs [][]byte, spans func([]byte) [][2]int) *Index {
	ix := &Index{inputs: inputs, blocks: map[[block]byte][]ref{}}
	for i, in := range inputs {
		for _, span := range spans(in) {
			start := span[0] + (block-span[0]%block)%block
			for off := start; off+block <= span[1]; off += block {
				var k [block]byte
				copy(k[:], in[off:off+block])
				if !fingerprint(k) {
					continue
				}
				ix.blocks[k] = append(ix.blocks[k], ref{i, off})
			}
		}
	}
	return ix
}

// fingerprint reports a block varied enough to identify its input. Flat
// areas encode to short repeating patterns (an end-of-block code after a
// zero DC difference, over and over) that any encoder writes for any flat
// image; they carry nothing of the input.
func fingerprint(k [block]byte) bool {
	var seen [256]bool
	n := 0
	for _, b := range k {
		if !seen[b] {
			seen[b] = true
			n++
		}
	}
	return n >= block/2
}

// identifying returns [start, end) spans of in worth indexing.
func identifying(in []byte) [][2]int {
	info, err := jpeginfo.Scan(in)
	if err != nil {
		return [][2]int{{0, len(in)}}
	}
	spans := metadataSpans(info)
	for _, s := range info.Segments {
		if s.Marker == 0xDA {
			spans = append(spans, [2]int{s.Offset + s.Length, len(in)})
		}
	}
	return spans
}

// metadata returns the spans of in's metadata segments (all of in when it
// is no JPEG).
func metadata(in []byte) [][2]int {
	info, err := jpeginfo.Scan(in)
	if err != nil {
		return [][2]int{{0, len(in)}}
	}
	return metadataSpans(info)
}

func metadataSpans(info *jpeginfo.Info) [][2]int {
	var spans [][2]int
	for _, s := range info.Metadata() {
		spans = append(spans, [2]int{s.Offset, s.Offset + s.Length})
	}
	return spans
}

// Find reports the first run of Run or more input bytes in data, as
// "input N at offset O".
func (ix *Index) Find(data []byte) (string, bool) {
	var k [block]byte
	for p := 0; p+block <= len(data); p++ {
		copy(k[:], data[p:p+block])
		for _, r := range ix.blocks[k] {
			in := ix.inputs[r.input]
			// Extend the match both ways.
			l := 0
			for l < r.off && l < p && in[r.off-l-1] == data[p-l-1] {
				l++
			}
			n := block
			for r.off+n < len(in) && p+n < len(data) && in[r.off+n] == data[p+n] {
				n++
			}
			if l+n >= Run {
				return fmt.Sprintf("%d bytes of input %d at offset %d", l+n, r.input, r.off-l), true
			}
		}
	}
	return "", false
}

// ScanDir checks every file under dir and returns a finding per leak; a
// file holding an EXIF header counts too.
func (ix *Index) ScanDir(dir string) ([]string, error) {
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if what, ok := ix.Find(data); ok {
			found = append(found, p+": "+what)
		}
		if bytes.Contains(data, []byte("Exif\x00\x00")) {
			found = append(found, p+": EXIF header")
		}
		return nil
	})
	return found, err
}

// Package redact destroys detected plates in the pixels, re-encodes without
// metadata, and derives pseudonymous names and records.
package redact

import (
	"fmt"
	"image"
)

// Method is how a region is overwritten. Both methods compute the new
// pixels from the pixels around the regions only, never from inside them,
// so nothing of a plate survives (a blur of the plate itself can be undone).
type Method string

const (
	// Blur paints a smooth patch interpolated from the blurred border
	// around the region: it looks like a heavy blur.
	Blur Method = "blur"
	// Fill paints the region with the mean colour of its surroundings.
	Fill Method = "fill"
)

// ParseMethod accepts "blur" or "fill".
func ParseMethod(s string) (Method, error) {
	switch m := Method(s); m {
	case Blur, Fill:
		return m, nil
	}
	return "", fmt.Errorf("unknown method %q (blur or fill)", s)
}

// Destroy overwrites rects in pix, a w x h image of 3-byte pixels stored row
// after row. Pixels inside any rect are never read: every new value comes
// from a band of pixels just outside, excluding other rects.
func Destroy(pix []byte, w, h int, rects []image.Rectangle, m Method) error {
	if len(pix) != w*h*3 {
		return fmt.Errorf("pixel buffer holds %d bytes, want %d", len(pix), w*h*3)
	}
	bounds := image.Rect(0, 0, w, h)
	var clipped []image.Rectangle
	for _, r := range rects {
		if r = r.Intersect(bounds); !r.Empty() {
			clipped = append(clipped, r)
		}
	}
	if len(clipped) == 0 {
		return nil
	}
	clipped = dropNested(clipped)
	mask := newMask(bounds, clipped)
	// Sample every rect before writing any, so the order of rects cannot
	// matter (samples only ever come from unmasked pixels anyway).
	patches := make([]patch, len(clipped))
	for i, r := range clipped {
		patches[i] = sample(pix, w, mask, r)
	}
	for i, r := range clipped {
		patches[i].paint(pix, w, r, m)
	}
	return nil
}

// dropNested removes rects that lie inside another, so that piles of
// detections of one plate cost one patch. Overlapping rects are not merged:
// their bounding box would destroy the space between them too, and chains
// of such boxes can swallow a whole image.
func dropNested(rs []image.Rectangle) []image.Rectangle {
	out := rs[:0]
	for i, r := range rs {
		nested := false
		for j, o := range rs {
			// Of two equal rects keep the first.
			if i != j && r.In(o) && (r != o || j < i) {
				nested = true
				break
			}
		}
		if !nested {
			out = append(out, r)
		}
	}
	return out
}

// mask marks the pixels inside any rect.
type mask struct {
	bounds image.Rectangle
	bits   []bool
}

func newMask(b image.Rectangle, rects []image.Rectangle) *mask {
	m := &mask{bounds: b, bits: make([]bool, b.Dx()*b.Dy())}
	for _, r := range rects {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := m.bits[y*b.Dx():]
			for x := r.Min.X; x < r.Max.X; x++ {
				row[x] = true
			}
		}
	}
	return m
}

func (m *mask) free(x, y int) bool {
	return image.Pt(x, y).In(m.bounds) && !m.bits[y*m.bounds.Dx()+x]
}

type rgb [3]float64

// edge holds one colour per position along a side of a rect, and whether
// any unmasked pixel contributed to it.
type edge struct {
	c  []rgb
	ok []bool
}

type patch struct {
	top, bottom, left, right edge
	mean                     rgb
}

// band is how far outside a rect the samples reach.
func band(r image.Rectangle) int { return min(8, max(2, min(r.Dx(), r.Dy())/4)) }

func sample(pix []byte, w int, m *mask, r image.Rectangle) patch {
	b := band(r)
	var sum rgb
	n := 0
	// Each edge position averages the band of pixels straight outside it:
	// pixel d of position pos is at start + pos*along + d*out.
	collect := func(length int, start, along, out image.Point) edge {
		e := edge{c: make([]rgb, length), ok: make([]bool, length)}
		for pos := 0; pos < length; pos++ {
			var acc rgb
			k := 0
			for d := 1; d <= b; d++ {
				x, y := start.X+pos*along.X+d*out.X, start.Y+pos*along.Y+d*out.Y
				if !m.free(x, y) {
					continue
				}
				i := (y*w + x) * 3
				c0, c1, c2 := float64(pix[i]), float64(pix[i+1]), float64(pix[i+2])
				sum[0], sum[1], sum[2] = sum[0]+c0, sum[1]+c1, sum[2]+c2
				acc[0], acc[1], acc[2] = acc[0]+c0, acc[1]+c1, acc[2]+c2
				n++
				k++
			}
			if k > 0 {
				e.c[pos] = rgb{acc[0] / float64(k), acc[1] / float64(k), acc[2] / float64(k)}
				e.ok[pos] = true
			}
		}
		return e
	}
	right, down := image.Pt(1, 0), image.Pt(0, 1)
	p := patch{
		top:    collect(r.Dx(), r.Min, right, image.Pt(0, -1)),
		bottom: collect(r.Dx(), image.Pt(r.Min.X, r.Max.Y-1), right, down),
		left:   collect(r.Dy(), r.Min, down, image.Pt(-1, 0)),
		right:  collect(r.Dy(), image.Pt(r.Max.X-1, r.Min.Y), down, right),
		mean:   rgb{128, 128, 128}, // a region with no free surroundings at all
	}
	if n > 0 {
		p.mean = rgb{sum[0] / float64(n), sum[1] / float64(n), sum[2] / float64(n)}
	}
	return p
}

func (p *patch) paint(pix []byte, w int, r image.Rectangle, m Method) {
	W, H := r.Dx(), r.Dy()
	if m == Fill {
		var c [3]byte
		for k := range c {
			c[k] = clamp(float32(p.mean[k]))
		}
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := pix[(y*w+r.Min.X)*3 : (y*w+r.Max.X)*3]
			for x := 0; x < len(row); x += 3 {
				row[x], row[x+1], row[x+2] = c[0], c[1], c[2]
			}
		}
		return
	}
	// Blur: smooth each side heavily, then fill the inside with the Coons
	// patch (bilinearly blended) spanned by the four sides.
	radius := max(W, H) / 6
	top, bottom := p.top.smooth(p.mean, radius), p.bottom.smooth(p.mean, radius)
	left, right := p.left.smooth(p.mean, radius), p.right.smooth(p.mean, radius)
	c00, c10 := avg(top[0], left[0]), avg(top[W-1], right[0])
	c01, c11 := avg(bottom[0], left[H-1]), avg(bottom[W-1], right[H-1])
	// The patch is top/bottom blended by v, plus left/right blended by u,
	// minus the corners blended by both. Per column i, everything but the
	// left/right term is a[i] + v*b[i]; so each pixel costs two
	// multiply-adds per channel (coonsFill, in C: large regions are
	// common, a glow over a car body can cover much of the image).
	a, b, u3 := make([]float32, W*3), make([]float32, W*3), make([]float32, W*3)
	for i := 0; i < W; i++ {
		u := (float64(i) + 0.5) / float64(W)
		for k := 0; k < 3; k++ {
			u3[i*3+k] = float32(u)
			a[i*3+k] = float32(top[i][k] - (1-u)*c00[k] - u*c10[k])
			b[i*3+k] = float32(bottom[i][k] - top[i][k] - ((1-u)*(c01[k]-c00[k]) + u*(c11[k]-c10[k])))
		}
	}
	l, rt := make([]float32, H*3), make([]float32, H*3)
	for j := 0; j < H; j++ {
		for k := 0; k < 3; k++ {
			l[j*3+k], rt[j*3+k] = float32(left[j][k]), float32(right[j][k])
		}
	}
	coonsFill(pix[(r.Min.Y*w+r.Min.X)*3:], w*3, W, H, a, b, u3, l, rt)
}

// smooth fills positions without samples from the nearest that has one (or
// the mean), then applies a box filter of the given radius.
func (e edge) smooth(mean rgb, radius int) []rgb {
	n := len(e.c)
	filled := make([]rgb, n)
	last := -1
	for i := 0; i < n; i++ {
		if e.ok[i] {
			filled[i] = e.c[i]
			last = i
		} else if last >= 0 {
			filled[i] = e.c[last]
		} else {
			filled[i] = mean
		}
	}
	// Leading gaps take the first sample found after them.
	first := -1
	for i := 0; i < n; i++ {
		if e.ok[i] {
			first = i
			break
		}
	}
	for i := 0; i < first; i++ {
		filled[i] = e.c[first]
	}
	if radius < 1 {
		return filled
	}
	// Prefix sums make the box filter linear in n.
	prefix := make([]rgb, n+1)
	for i, c := range filled {
		for k := 0; k < 3; k++ {
			prefix[i+1][k] = prefix[i][k] + c[k]
		}
	}
	out := make([]rgb, n)
	for i := range out {
		lo, hi := max(0, i-radius), min(n, i+radius+1)
		for k := 0; k < 3; k++ {
			out[i][k] = (prefix[hi][k] - prefix[lo][k]) / float64(hi-lo)
		}
	}
	return out
}

func avg(a, b rgb) rgb { return rgb{(a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2} }

// clamp rounds to the nearest byte value.
func clamp(v float32) byte {
	v += 0.5
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return byte(v)
}

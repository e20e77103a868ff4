package codec

import (
	"fmt"
	"image"
	"math"
)

// The pixel side of coefficient rewriting: decoding the blocks of a few
// MCUs to BGR and encoding BGR back into them. Decoding is needed only for
// the band of pixels around regions, so a plain float IDCT is fast enough;
// encoding, which can cover much of a frame, is libjpeg's.
//
// Chroma is upsampled by replication, not interpolation, so a pixel depends
// on its own MCU only: the pixels around a rewritten area never depend on
// what was inside it.

// MCU is the size in pixels of the units blocks are grouped in. Areas are
// rewritten in whole MCUs.
func (c *Coefficients) MCU() image.Point { return image.Pt(8*c.maxH, 8*c.maxV) }

// Align grows r outwards to whole MCUs, clipped to the image.
func (c *Coefficients) Align(r image.Rectangle) image.Rectangle {
	r = r.Intersect(c.Bounds())
	if r.Empty() {
		return image.Rectangle{}
	}
	m := c.MCU()
	a := image.Rect(r.Min.X/m.X*m.X, r.Min.Y/m.Y*m.Y, (r.Max.X+m.X-1)/m.X*m.X, (r.Max.Y+m.Y-1)/m.Y*m.Y)
	return a.Intersect(c.Bounds())
}

// mcus is the range of MCUs covering area, Max exclusive.
func (c *Coefficients) mcus(area image.Rectangle) image.Rectangle {
	m := c.MCU()
	return image.Rect(area.Min.X/m.X, area.Min.Y/m.Y, (area.Max.X+m.X-1)/m.X, (area.Max.Y+m.Y-1)/m.Y)
}

// DecodeArea decodes the pixels of area into dst, a BGR image (3 bytes a
// pixel, no padding) covering bounds. Pixels of area outside bounds are
// skipped.
func (c *Coefficients) DecodeArea(dst []byte, bounds, area image.Rectangle) error {
	if len(dst) != bounds.Dx()*bounds.Dy()*3 {
		return fmt.Errorf("pixel buffer holds %d bytes, want %d", len(dst), bounds.Dx()*bounds.Dy()*3)
	}
	area = area.Intersect(bounds).Intersect(c.Bounds())
	m := c.MCU()
	planes := c.planes()
	mr := c.mcus(area)
	for my := mr.Min.Y; my < mr.Max.Y; my++ {
		for mx := mr.Min.X; mx < mr.Max.X; mx++ {
			px := image.Rect(mx*m.X, my*m.Y, (mx+1)*m.X, (my+1)*m.Y).Intersect(area)
			inMCU := px.Sub(image.Pt(mx*m.X, my*m.Y))
			for ci, comp := range c.comps {
				pw := 8 * comp.h
				fx, fy := 8*c.maxH/comp.h, 8*c.maxV/comp.v // pixels a block spans
				for j := 0; j < comp.v; j++ {
					row := c.row(ci, my*comp.v+j)
					for i := 0; i < comp.h; i++ {
						// Only blocks under the wanted pixels: a band of a
						// few pixels needs one of an MCU's rows of blocks.
						if !image.Rect(i*fx, j*fy, (i+1)*fx, (j+1)*fy).Overlaps(inMCU) {
							continue
						}
						b := (mx*comp.h + i) * 64
						idct(row[b:b+64], &comp.quant, planes[ci][(j*8*pw)+i*8:], pw)
					}
				}
			}
			for y := px.Min.Y; y < px.Max.Y; y++ {
				o := ((y-bounds.Min.Y)*bounds.Dx() + px.Min.X - bounds.Min.X) * 3
				c.convertRow(planes, y-my*m.Y, px.Min.X-mx*m.X, px.Max.X-mx*m.X, dst[o:o+px.Dx()*3])
			}
		}
	}
	return nil
}

// EncodeArea replaces every block of area, whole MCUs clipped to the
// image, with the pixels of src, a BGR image covering bounds. libjpeg
// encodes them with the image's own sampling and quantisation, so the
// blocks are what an encoder of the whole image would have written.
func (c *Coefficients) EncodeArea(src []byte, bounds, area image.Rectangle) error {
	if len(src) != bounds.Dx()*bounds.Dy()*3 {
		return fmt.Errorf("pixel buffer holds %d bytes, want %d", len(src), bounds.Dx()*bounds.Dy()*3)
	}
	area = area.Intersect(c.Bounds())
	if area.Empty() {
		return nil
	}
	if area != c.Align(area) {
		return fmt.Errorf("area %v is not whole MCUs of %v", area, c.MCU())
	}
	if !area.In(bounds) {
		return fmt.Errorf("area %v outside the pixels given %v", area, bounds)
	}
	crop := make([]byte, area.Dx()*area.Dy()*3)
	for y := area.Min.Y; y < area.Max.Y; y++ {
		o := ((y-bounds.Min.Y)*bounds.Dx() + area.Min.X - bounds.Min.X) * 3
		copy(crop[(y-area.Min.Y)*area.Dx()*3:], src[o:o+area.Dx()*3])
	}
	m := c.MCU()
	return c.encode(area.Min.X/m.X, area.Min.Y/m.Y, crop, area.Dx(), area.Dy())
}

// planes allocates one MCU's worth of samples per component.
func (c *Coefficients) planes() [][]float32 {
	out := make([][]float32, len(c.comps))
	for i, comp := range c.comps {
		out[i] = make([]float32, 64*comp.h*comp.v)
	}
	return out
}

// convertRow converts pixels x0 to x1 of row py of an MCU into BGR.
func (c *Coefficients) convertRow(planes [][]float32, py, x0, x1 int, dst []byte) {
	luma := c.comps[0]
	yrow, ymap := planes[0][(py*luma.v/c.maxV)*8*luma.h:], c.xmap[0][x0:x1]
	if len(c.comps) == 1 {
		for i, sx := range ymap {
			v := clampByte(yrow[sx])
			dst[i*3], dst[i*3+1], dst[i*3+2] = v, v, v
		}
		return
	}
	cbc, crc := c.comps[1], c.comps[2]
	cbrow, cbmap := planes[1][(py*cbc.v/c.maxV)*8*cbc.h:], c.xmap[1][x0:x1]
	crrow, crmap := planes[2][(py*crc.v/c.maxV)*8*crc.h:], c.xmap[2][x0:x1]
	for i, sx := range ymap {
		y := yrow[sx]
		cb, cr := cbrow[cbmap[i]]-128, crrow[crmap[i]]-128
		o := dst[i*3 : i*3+3 : i*3+3]
		o[0] = clampByte(y + 1.772*cb)
		o[1] = clampByte(y - 0.344136*cb - 0.714136*cr)
		o[2] = clampByte(y + 1.402*cr)
	}
}

func clampByte(v float32) byte {
	v += 0.5
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return byte(v)
}

// dctBasis[n][k] is the orthonormal 8-point DCT-II basis: c(k)/2 *
// cos((2n+1)kπ/16), c(0) = 1/√2, else 1.
var dctBasis = func() (t [8][8]float32) {
	for n := 0; n < 8; n++ {
		for k := 0; k < 8; k++ {
			s := 0.5
			if k == 0 {
				s = 0.5 / math.Sqrt2
			}
			t[n][k] = float32(s * math.Cos(float64(2*n+1)*float64(k)*math.Pi/16))
		}
	}
	return t
}()

// idct dequantises one block and writes its samples (level shifted back
// to 0..255, not clamped) into out, rows stride apart. Quantised blocks
// are mostly zeros, so rows of frequencies that are all zero are skipped.
func idct(coef []int16, quant *[64]float32, out []float32, stride int) {
	var tmp [64]float32
	var rows [8]int
	n := 0
	for v := 0; v < 8; v++ { // rows of frequencies -> pixel columns
		r := coef[v*8 : v*8+8 : v*8+8]
		if r[0]|r[1]|r[2]|r[3]|r[4]|r[5]|r[6]|r[7] == 0 {
			continue
		}
		rows[n] = v
		n++
		q := quant[v*8 : v*8+8 : v*8+8]
		var f [8]float32
		for u := range f {
			f[u] = float32(r[u]) * q[u]
		}
		t := tmp[v*8 : v*8+8 : v*8+8]
		for x := 0; x < 8; x++ {
			b := &dctBasis[x]
			t[x] = f[0]*b[0] + f[1]*b[1] + f[2]*b[2] + f[3]*b[3] + f[4]*b[4] + f[5]*b[5] + f[6]*b[6] + f[7]*b[7]
		}
	}
	for y := 0; y < 8; y++ {
		o := out[y*stride : y*stride+8 : y*stride+8]
		for x := range o {
			o[x] = 128
		}
		b := &dctBasis[y]
		for _, v := range rows[:n] {
			w, t := b[v], tmp[v*8:v*8+8:v*8+8]
			for x := range o {
				o[x] += w * t[x]
			}
		}
	}
}

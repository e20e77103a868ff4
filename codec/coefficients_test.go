package codec

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/platemask/platemask/internal/testenv"
	"github.com/platemask/platemask/jpeginfo"
)

// sources are JPEGs in the layouts cameras write: 4:2:0 colour (Go's
// encoder), 4:4:4 colour (OpenCV with sampling 1x1) and grey.
func sources(t *testing.T) map[string][]byte {
	t.Helper()
	c420, _ := testenv.SceneJPEG(t, 3, 333, 211, 1, 90) // sizes not whole MCUs
	img, err := jpeg.Decode(bytes.NewReader(c420))
	if err != nil {
		t.Fatal(err)
	}
	m, err := gocv.ImageToMatRGB(img)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// 7 is cv::IMWRITE_JPEG_SAMPLING_FACTOR, 0x111111 its 4:4:4 value.
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, m, []int{gocv.IMWriteJpegQuality, 92, 7, 0x111111})
	if err != nil {
		t.Fatal(err)
	}
	c444 := bytes.Clone(buf.GetBytes())
	buf.Close()
	return map[string][]byte{"4:2:0": c420, "4:4:4": c444, "grey": testenv.GreyJPEG(t, c420)}
}

func readCoefficients(t *testing.T, data []byte) *Coefficients {
	t.Helper()
	c, err := ReadCoefficients(data)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// blocksOf copies every block inside the image, per component, row after
// row, so block i sits at (i%imageW, i/imageW).
func blocksOf(c *Coefficients) [][]int16 {
	out := make([][]int16, len(c.comps))
	for ci, comp := range c.comps {
		for y := 0; y < comp.imageH; y++ {
			out[ci] = append(out[ci], c.row(ci, y)[:comp.imageW*64]...)
		}
	}
	return out
}

func TestWriteIsLossless(t *testing.T) {
	for name, data := range sources(t) {
		t.Run(name, func(t *testing.T) {
			c := readCoefficients(t, data)
			out, err := c.Write()
			if err != nil {
				t.Fatal(err)
			}
			info, err := jpeginfo.Scan(out)
			if err != nil {
				t.Fatal(err)
			}
			if info.Frame != 0xC0 || info.Width != c.w || info.Height != c.h || len(info.Metadata()) != 0 {
				t.Fatalf("output frame %+v", info)
			}
			again := readCoefficients(t, out)
			a, b := blocksOf(c), blocksOf(again)
			for ci := range a {
				if !slicesEqual(a[ci], b[ci]) {
					t.Fatalf("component %d: coefficients changed in a plain rewrite", ci)
				}
			}
		})
	}
}

func slicesEqual(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// reference decodes data with OpenCV into BGR bytes.
func reference(t *testing.T, data []byte) ([]byte, image.Rectangle) {
	t.Helper()
	m, err := gocv.IMDecode(data, gocv.IMReadColor)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	pix, err := m.DataPtrUint8()
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(pix), image.Rect(0, 0, m.Cols(), m.Rows())
}

// meanAbs is the mean absolute difference of a and b over area of bounds.
func meanAbs(a, b []byte, bounds, area image.Rectangle) float64 {
	sum, n := 0.0, 0
	for y := area.Min.Y; y < area.Max.Y; y++ {
		for x := area.Min.X; x < area.Max.X; x++ {
			o := ((y-bounds.Min.Y)*bounds.Dx() + x - bounds.Min.X) * 3
			for k := 0; k < 3; k++ {
				sum += math.Abs(float64(a[o+k]) - float64(b[o+k]))
				n++
			}
		}
	}
	return sum / float64(n)
}

func TestDecodeAreaMatchesDecoder(t *testing.T) {
	for name, data := range sources(t) {
		t.Run(name, func(t *testing.T) {
			c := readCoefficients(t, data)
			ref, b := reference(t, data)
			got := make([]byte, len(ref))
			if err := c.DecodeArea(got, b, b); err != nil {
				t.Fatal(err)
			}
			// The reference interpolates chroma; this replicates it.
			if d := meanAbs(got, ref, b, b); d > 1.5 {
				t.Fatalf("mean difference from OpenCV's decode %.2f", d)
			}
			// A window decodes to the same pixels as the whole.
			win := image.Rect(37, 21, 190, 120)
			part := make([]byte, win.Dx()*win.Dy()*3)
			if err := c.DecodeArea(part, win, win); err != nil {
				t.Fatal(err)
			}
			for y := win.Min.Y; y < win.Max.Y; y++ {
				o := (y*b.Dx() + win.Min.X) * 3
				p := (y - win.Min.Y) * win.Dx() * 3
				if !bytes.Equal(part[p:p+win.Dx()*3], got[o:o+win.Dx()*3]) {
					t.Fatalf("row %d of a window differs from the whole decode", y)
				}
			}
		})
	}
}

func TestEncodeAreaRewritesOnlyItsMCUs(t *testing.T) {
	areas := map[string]image.Rectangle{
		"inside": image.Rect(50, 40, 141, 90),
		// The sources are not whole MCUs: the last ones are partly padding.
		"corner": image.Rect(250, 150, 333, 211),
	}
	for name, data := range sources(t) {
		for where, want := range areas {
			t.Run(name+"/"+where, func(t *testing.T) {
				encodeArea(t, data, want)
			})
		}
	}
}

// encodeArea paints want (grown to whole MCUs) with a ramp, rewrites its
// blocks and checks the result inside and away from it.
func encodeArea(t *testing.T, data []byte, want image.Rectangle) {
	c := readCoefficients(t, data)
	before := blocksOf(c)
	ref, b := reference(t, data)
	area := c.Align(want).Intersect(c.Bounds())
	if area.Min.X%c.MCU().X != 0 || !want.In(area) {
		t.Fatalf("aligned area %v", area)
	}
	// Paint the area grey, rewrite it, and read the result back.
	pix := bytes.Clone(ref)
	for y := area.Min.Y; y < area.Max.Y; y++ {
		for x := area.Min.X; x < area.Max.X; x++ {
			o := (y*b.Dx() + x) * 3
			// A smooth colour ramp (a grey one for grey JPEGs).
			b, g, r := byte(80+x-area.Min.X), byte(120), byte(160-(y-area.Min.Y))
			if len(c.comps) == 1 {
				g, r = b, b
			}
			pix[o], pix[o+1], pix[o+2] = b, g, r
		}
	}
	if err := c.EncodeArea(pix, b, area); err != nil {
		t.Fatal(err)
	}
	after := blocksOf(c)
	m := c.MCU()
	for ci, comp := range c.comps {
		changed := 0
		for i := range before[ci] {
			if before[ci][i] == after[ci][i] {
				continue
			}
			blk := i / 64
			bx, by := blk%comp.imageW, blk/comp.imageW
			// The MCU this block belongs to must lie in area.
			mx, my := bx/comp.h*m.X, by/comp.v*m.Y
			if !image.Pt(mx, my).In(area) {
				t.Fatalf("component %d: block %d,%d outside %v changed", ci, bx, by, area)
			}
			changed++
		}
		if changed == 0 {
			t.Fatalf("component %d: nothing rewritten", ci)
		}
	}
	out, err := c.Write()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := reference(t, out)
	inner := area.Inset(2)
	if d := meanAbs(got, pix, b, inner); d > 2 {
		t.Fatalf("rewritten area differs from what was painted by %.2f on average", d)
	}
	// Away from the area, the decode is the source's, bit for bit
	// (OpenCV interpolates chroma across MCUs, so stay a MCU away).
	// (image.Rect would swap the corners of an empty band.)
	for _, far := range []image.Rectangle{
		{Max: image.Pt(b.Dx(), area.Min.Y-m.Y)},
		{image.Pt(0, area.Max.Y+m.Y), b.Max},
	} {
		if far.Empty() {
			continue
		}
		if d := meanAbs(got, ref, b, far); d != 0 {
			t.Fatalf("pixels in %v, away from the area, changed by %.3f", far, d)
		}
	}
}

// TestReduced: the detector's pixels, decoded from the coefficients
// already read, are the size libjpeg's scaled decode gives and hardly
// differ from it (OpenCV's reduced reads are that decode).
func TestReduced(t *testing.T) {
	data, _ := testenv.SceneJPEG(t, 5, 1921, 1083, 2, 90)
	c := readCoefficients(t, data)
	_, b := reference(t, data)
	for _, tc := range []struct {
		maxSide, scale int
		flag           gocv.IMReadFlag
	}{{0, 1, gocv.IMReadColor}, {1280, 1, gocv.IMReadColor}, {960, 2, gocv.IMReadReducedColor2},
		{900, 2, gocv.IMReadReducedColor2}, {480, 4, gocv.IMReadReducedColor4}, {200, 8, gocv.IMReadReducedColor8}} {
		im, scale, err := c.Reduced(tc.maxSide)
		if err != nil {
			t.Fatal(err)
		}
		got := im.Bounds()
		want := image.Rect(0, 0, (b.Dx()+scale-1)/scale, (b.Dy()+scale-1)/scale)
		if scale != tc.scale || got != want {
			t.Fatalf("max side %d: scale %d size %v, want %d %v", tc.maxSide, scale, got, tc.scale, want)
		}
		closeToLibjpeg(t, fmt.Sprintf("max side %d", tc.maxSide), im, data, tc.flag)
		im.Close()
	}
	// Every layout: 4:2:0 at sizes that are not whole MCUs, 4:4:4, grey;
	// every scale.
	flags := map[int]gocv.IMReadFlag{1: gocv.IMReadColor, 2: gocv.IMReadReducedColor2,
		4: gocv.IMReadReducedColor4, 8: gocv.IMReadReducedColor8}
	for name, data := range sources(t) {
		c := readCoefficients(t, data)
		for _, maxSide := range []int{0, 100, 50, 30} {
			im, scale, err := c.Reduced(maxSide)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			closeToLibjpeg(t, fmt.Sprintf("%s at 1/%d", name, scale), im, data, flags[scale])
			im.Close()
		}
	}
}

// closeToLibjpeg fails unless im is what OpenCV's reader (libjpeg) decodes
// with flag, to within rounding in the colour conversion and chroma
// upsampling: a mean difference under a tenth of a level, none over 3.
func closeToLibjpeg(t *testing.T, what string, im *Image, data []byte, flag gocv.IMReadFlag) {
	t.Helper()
	ref, err := gocv.IMDecode(data, flag)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	want, _ := ref.DataPtrUint8()
	got, err := im.Pix()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d bytes, libjpeg gives %d", what, len(got), len(want))
	}
	sum, worst := 0, 0
	for i := range got {
		d := int(got[i]) - int(want[i])
		d = max(d, -d)
		sum += d
		worst = max(worst, d)
	}
	if mean := float64(sum) / float64(len(got)); mean > 0.1 || worst > 3 {
		t.Errorf("%s: differs from libjpeg's decode by %.3f on average, %d at most", what, mean, worst)
	} else {
		t.Logf("%s: mean difference %.3f, largest %d", what, mean, worst)
	}
}

func TestDamagedDataRefused(t *testing.T) {
	data, _ := testenv.SceneJPEG(t, 5, 320, 240, 1, 90)
	// Cut the entropy-coded data short but keep the end marker: libjpeg
	// would warn and fill the rest with grey; the reader refuses.
	cut := append(bytes.Clone(data[:len(data)*2/3]), 0xFF, 0xD9)
	if _, err := ReadCoefficients(cut); !errors.Is(err, ErrCorrupt) {
		t.Errorf("coefficients of damaged data: %v", err)
	}
}

// TestOutOfRangeRefused: a coefficient the baseline writer cannot write
// back (a fuzzed Huffman table can decode to one) is refused as corrupt by
// whichever reads the blocks first, the reduced decode or the writer.
func TestOutOfRangeRefused(t *testing.T) {
	data, _ := testenv.SceneJPEG(t, 5, 320, 240, 1, 90)
	for _, first := range []string{"reduced", "write"} {
		c := readCoefficients(t, data)
		c.row(1, 3)[5*64+7] = 2000 // an AC coefficient of a chroma block
		var err error
		if first == "reduced" {
			var im *Image
			if im, _, err = c.Reduced(0); err == nil {
				im.Close()
			}
		} else {
			_, err = c.Write()
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("%s: %v, want a corrupt JPEG with a coefficient out of range", first, err)
		}
		if first == "reduced" {
			if _, err := c.Write(); !errors.Is(err, ErrCorrupt) {
				t.Errorf("write after a refused reduced decode: %v", err)
			}
		}
	}
}

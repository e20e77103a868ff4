// Package synth generates the images platemask tests and demonstrates on:
// camera-like scenes with plate-like text rendered on them, JPEGs carrying
// every kind of metadata a camera writes, and camera-style file names. It
// uses no outside data, so tests run anywhere.
package synth

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math/rand"
	"sync"

	"github.com/disintegration/imaging"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Plate is a rendered plate's text and where it lies.
type Plate struct {
	Text string
	Rect image.Rectangle
}

var (
	fontOnce sync.Once
	plateFnt *opentype.Font
	fontErr  error
)

func plateFont() (*opentype.Font, error) {
	fontOnce.Do(func() { plateFnt, fontErr = opentype.Parse(gobold.TTF) })
	return plateFnt, fontErr
}

// PlateText returns a plate-like string in one of several national formats.
func PlateText(r *rand.Rand) string {
	letter := func() byte { return "ABCDEFGHJKLMNPRSTUVWXYZ"[r.Intn(23)] }
	digit := func() byte { return byte('0' + r.Intn(10)) }
	pick := func(pattern string) string {
		b := make([]byte, len(pattern))
		for i := range pattern {
			switch pattern[i] {
			case 'L':
				b[i] = letter()
			case 'D':
				b[i] = digit()
			default:
				b[i] = pattern[i]
			}
		}
		return string(b)
	}
	formats := []string{"LLDD LLL", "LLL DDDD", "LLDLDD", "DLLLDDD", "LL DDD LL", "LDDLLL"}
	return pick(formats[r.Intn(len(formats))])
}

// RenderPlate draws a plate of the given height: light background, dark
// border and text.
func RenderPlate(text string, height int, bg color.Color) (*image.RGBA, error) {
	f, err := plateFont()
	if err != nil {
		return nil, fmt.Errorf("plate font: %w", err)
	}
	size := float64(height) * 0.72
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("plate face: %w", err)
	}
	defer face.Close()
	adv := font.MeasureString(face, text).Ceil()
	width := adv + height/2
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{20, 20, 20, 255}), image.Point{}, draw.Src)
	border := max(1, height/16)
	draw.Draw(img, img.Bounds().Inset(border), image.NewUniform(bg), image.Point{}, draw.Src)
	d := &font.Drawer{Dst: img, Src: image.NewUniform(color.RGBA{15, 15, 20, 255}), Face: face,
		Dot: fixed.P((width-adv)/2, int(float64(height)*0.78))}
	d.DrawString(text)
	return img, nil
}

// Scene renders a w x h street scene with n cars, each carrying a plate of
// 12-60 px height, and returns it with the plates.
func Scene(seed int64, w, h, n int) (*image.NRGBA, []Plate, error) {
	r := rand.New(rand.NewSource(seed))
	img := imaging.New(w, h, color.NRGBA{0, 0, 0, 255})
	// Sky-to-ground gradient with noise.
	sky := color.NRGBA{uint8(120 + r.Intn(80)), uint8(140 + r.Intn(60)), uint8(170 + r.Intn(60)), 255}
	ground := color.NRGBA{uint8(60 + r.Intn(40)), uint8(60 + r.Intn(40)), uint8(60 + r.Intn(40)), 255}
	for y := 0; y < h; y++ {
		t := float64(y) / float64(h)
		for x := 0; x < w; x++ {
			j := r.Intn(9) - 4
			img.SetNRGBA(x, y, color.NRGBA{
				clamp(lerp(sky.R, ground.R, t) + j), clamp(lerp(sky.G, ground.G, t) + j),
				clamp(lerp(sky.B, ground.B, t) + j), 255})
		}
	}
	var plates []Plate
	slot := w / max(1, n)
	for i := 0; i < n; i++ {
		ph := 12 + r.Intn(min(49, max(1, h/12)))
		text := PlateText(r)
		plateImg, err := RenderPlate(text, ph, []color.Color{
			color.RGBA{240, 240, 235, 255}, color.RGBA{245, 205, 40, 255}}[r.Intn(2)])
		if err != nil {
			return nil, nil, err
		}
		pw := plateImg.Bounds().Dx()
		carW := min(slot-8, pw*3)
		carH := min(h/2, carW*2/3)
		cx := i*slot + (slot-carW)/2
		cy := h/2 + r.Intn(max(1, h/2-carH))
		body := color.NRGBA{uint8(r.Intn(256)), uint8(r.Intn(256)), uint8(r.Intn(256)), 255}
		draw.Draw(img, image.Rect(cx, cy, cx+carW, cy+carH), image.NewUniform(body), image.Point{}, draw.Src)
		// Windscreen and lights give the detectors some texture to reject.
		draw.Draw(img, image.Rect(cx+carW/6, cy+carH/10, cx+carW*5/6, cy+carH/3), image.NewUniform(color.NRGBA{40, 50, 60, 255}), image.Point{}, draw.Src)
		px := cx + (carW-pw)/2
		py := cy + carH*2/3 - ph/2
		rect := image.Rect(px, py, px+pw, py+ph)
		draw.Draw(img, rect, plateImg, image.Point{}, draw.Src)
		plates = append(plates, Plate{Text: text, Rect: rect})
	}
	return img, plates, nil
}

// SensorNoise adds a camera sensor's grain to img: Gaussian noise of sigma
// levels on every channel of every pixel. A camera never delivers flat
// colour, and a detector trained on photos takes large flat panels for
// plates (on six `platemask samples` frames, 88% of the frame redacted
// away from plates without grain, 4.5% with sigma 6:
// TestSamplesLookLikeCameraImages).
func SensorNoise(img *image.NRGBA, r *rand.Rand, sigma float64) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := img.Pix[img.PixOffset(b.Min.X, y):img.PixOffset(b.Max.X, y)]
		for i := range row {
			if i%4 != 3 { // alpha stays
				row[i] = clamp(int(row[i]) + int(r.NormFloat64()*sigma+0.5))
			}
		}
	}
}

func lerp(a, b uint8, t float64) int { return int(float64(a)*(1-t) + float64(b)*t) }

func clamp(v int) uint8 { return uint8(min(255, max(0, v))) }

// EncodeJPEG encodes img as a baseline JPEG with Go's encoder.
func EncodeJPEG(img image.Image, quality int) ([]byte, error) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("encode fixture: %w", err)
	}
	return b.Bytes(), nil
}

// Fence draws a chain-link fence in front of img, as a camera sees one
// close to its lens: wires wire pixels thick, gap pixels apart, at 45
// degrees both ways, in ink at the given opacity (0-1). Plates behind it
// are still plates, and must still be found.
func Fence(img *image.NRGBA, gap, wire int, ink color.NRGBA, opacity float64) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			// x+y is constant along one family of wires, x-y along the other.
			if ((x+y)%gap+gap)%gap >= wire && ((x-y)%gap+gap)%gap >= wire {
				continue
			}
			i := img.PixOffset(x, y)
			p := img.Pix[i : i+3]
			for c, v := range []uint8{ink.R, ink.G, ink.B} {
				p[c] = uint8(float64(p[c])*(1-opacity) + float64(v)*opacity + 0.5)
			}
		}
	}
}

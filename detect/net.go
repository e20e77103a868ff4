package detect

import (
	"errors"
	"fmt"
	"image"
	"math"

	"gocv.io/x/gocv"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/models"
)

// Net runs a plate heat-map model (the project's own, see models/): the
// image is scaled so its longer side is MaxSide, padded to a multiple of 32,
// and the model marks each stride-4 cell that lies on a plate. Connected
// cells become boxes.
//
// A Net, like the OpenCV network inside it, serves one goroutine at a time.
type Net struct {
	net    gocv.Net
	mirror *gocv.Net // the same model for the mirrored crops (manifest "mirror"), so net keeps its input size
	m      models.Manifest
	pad    Padding
	label  string
	in     *input
}

// NetPadding is the padding the manifest calibrated on validation data.
func NetPadding(m models.Manifest) Padding {
	return Padding{Frac: m.Margin, Px: m.MarginPx}
}

// NewNet loads a heat-map model from its ONNX bytes and manifest.
func NewNet(onnx []byte, m models.Manifest, pad Padding) (*Net, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	net, err := gocv.ReadNetFromONNXBytes(onnx)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", m.Name, err)
	}
	if net.Empty() {
		net.Close()
		return nil, fmt.Errorf("load model %s: OpenCV could not read it", m.Name)
	}
	n := &Net{net: net, m: m, pad: pad, label: m.Name}
	if m.Mirror {
		crops, err := gocv.ReadNetFromONNXBytes(onnx)
		if err != nil || crops.Empty() {
			net.Close()
			if err == nil {
				crops.Close()
				err = errors.New("OpenCV could not read it")
			}
			return nil, fmt.Errorf("load model %s for the mirrored pass: %w", m.Name, err)
		}
		n.mirror = &crops
	}
	return n, nil
}

func (n *Net) Name() string { return n.label }

// MaxSide is the manifest's input size: larger images are scaled down.
func (n *Net) MaxSide() int { return n.m.Input.MaxSide }

func (n *Net) Close() error {
	if n.in != nil {
		n.in.close()
		n.in = nil
	}
	if n.mirror != nil {
		n.mirror.Close()
		n.mirror = nil
	}
	return n.net.Close()
}

// input holds the model's input for one scaled image size, reused from
// call to call: a camera sends one size, and allocating these afresh made
// each call fault in 1,300-3,000 pages of memory just freed (up to 15 ms
// a 1080p frame on a virtual machine).
type input struct {
	scaled image.Point
	padded gocv.Mat // 8-bit BGR, the scaled image at the top left, zeros around
	blob   gocv.Mat // 1x3xHxW float32, what the network reads
}

func newInput(scaled, size image.Point) (*input, error) {
	in := &input{scaled: scaled}
	in.padded = gocv.Zeros(size.Y, size.X, gocv.MatTypeCV8UC3)
	// BlobFromImage only to get the 4-D layout the network wants.
	in.blob = gocv.BlobFromImage(in.padded, 1, size, gocv.NewScalar(0, 0, 0, 0), false, false)
	if in.padded.Empty() || in.blob.Empty() {
		in.close()
		return nil, fmt.Errorf("model input %v: OpenCV could not allocate it", size)
	}
	return in, nil
}

func (in *input) close() {
	in.padded.Close()
	in.blob.Close()
}

// fill scales im into the input, as training did: bilinear resize, zero
// padding right and bottom, BGR times scale, planar. An image from a
// reduced decode goes from its planes to the input in one pass; the
// result differs from converting to BGR bytes first by the rounding of
// those bytes (a level or so).
func (in *input) fill(im *codec.Image, scale float64) error {
	if planes := im.Planes(); planes != nil {
		return in.fillPlanes(planes, im.Bounds().Size(), scale)
	}
	roi := in.padded.Region(image.Rectangle{Max: in.scaled})
	gocv.Resize(im.Mat(), &roi, in.scaled, 0, 0, gocv.InterpolationLinear)
	roi.Close()
	pix, err := in.padded.DataPtrUint8()
	if err != nil {
		return err
	}
	blob, err := in.blob.DataPtrFloat32()
	if err != nil {
		return err
	}
	planar(pix, in.padded.Step(), in.padded.Cols(), in.padded.Rows(), float32(scale), blob)
	return nil
}

func (in *input) fillPlanes(planes []gocv.Mat, size image.Point, scale float64) error {
	pix := make([][]byte, len(planes))
	strides := make([]int, len(planes))
	for i, p := range planes {
		var err error
		if pix[i], err = p.DataPtrUint8(); err != nil {
			return err
		}
		strides[i] = p.Step()
	}
	blob, err := in.blob.DataPtrFloat32()
	if err != nil {
		return err
	}
	pad := image.Pt(in.padded.Cols(), in.padded.Rows())
	return yccPlanar(pix, strides, size, in.scaled, pad, float32(scale), blob)
}

func (n *Net) Detect(im *codec.Image) ([]Region, error) {
	b := im.Bounds()
	// Scale the longer side to MaxSide, but never up: upscaled small images
	// look blurred, unlike anything the model learned from.
	s := min(1, float64(n.m.Input.MaxSide)/float64(max(b.Dx(), b.Dy())))
	rw, rh := int(float64(b.Dx())*s+0.5), int(float64(b.Dy())*s+0.5)
	mult := n.m.Input.Multiple
	pw, ph := (rw+mult-1)/mult*mult, (rh+mult-1)/mult*mult

	if n.in == nil || n.in.scaled != image.Pt(rw, rh) {
		if n.in != nil {
			n.in.close()
		}
		in, err := newInput(image.Pt(rw, rh), image.Pt(pw, ph))
		if err != nil {
			n.in = nil
			return nil, fmt.Errorf("%s: %w", n.label, err)
		}
		n.in = in
	}
	if err := n.in.fill(im, n.m.Input.Scale); err != nil {
		return nil, fmt.Errorf("%s input: %w", n.label, err)
	}
	n.net.SetInput(n.in.blob, n.m.Input.Name)
	out := n.net.Forward(n.m.Output.Name)
	defer out.Close()
	heat, err := out.DataPtrFloat32()
	if err != nil {
		return nil, fmt.Errorf("%s output: %w", n.label, err)
	}
	stride := n.m.Output.Stride
	gw, gh := pw/stride, ph/stride
	if len(heat) != gw*gh {
		return nil, fmt.Errorf("%s: output has %d cells, want %dx%d", n.label, len(heat), gw, gh)
	}
	var regions []Region
	// The valid part of the grid (without the zero padding) bounds how big
	// a single plate can plausibly be.
	valid := image.Rect(0, 0, (rw+stride-1)/stride, (rh+stride-1)/stride)
	if n.mirror != nil {
		if heat, err = n.agree(heat, gw, gh, valid); err != nil {
			return nil, fmt.Errorf("%s mirrored pass: %w", n.label, err)
		}
	}
	for _, c := range plateComponents(heat, gw, gh, float32(n.m.Threshold), valid, float32(n.m.SplitStep)) {
		if c.peak < float32(n.m.MinPeak) {
			continue
		}
		var cells []image.Rectangle
		if n.m.Parts {
			cells = coreParts(heat, gw, c, float32(n.m.Core), float32(n.m.MinPeak))
		} else {
			cells = []image.Rectangle{coreRect(heat, gw, c, float32(n.m.Core), n.m.Grow)}
		}
		for _, cr := range cells {
			r := image.Rect(cr.Min.X*stride, cr.Min.Y*stride, cr.Max.X*stride, cr.Max.Y*stride)
			regions = append(regions, Region{Rect: n.pad.Apply(scaleRect(r, s), b), Kind: n.label, Score: c.peak})
		}
	}
	return regions, nil
}

// agree is the mirrored pass (manifest "mirror"). Around each component
// that could become a box, the model looks again at the image mirrored
// left to right, and each cell keeps the lower of its two values: a plate
// reads as a plate either way round, while a lamp, badge or grille the
// model takes for one mostly does so one way only. Only crops around the
// components are run again (see mirrorRects), so the pass costs a share
// of a forward pass, not a whole one. Cells outside the crops become
// zero; no box could come from them. With mirror_below (gated), only the
// components the first pass is unsure of and large enough to read are
// looked at again, and only the cells in their boxes can change.
func (n *Net) agree(heat []float32, gw, gh int, valid image.Rectangle) ([]float32, error) {
	boxes := n.mirrorBoxes(heat, gw, gh, valid)
	gated := n.m.MirrorBelow > 0
	if gated && len(boxes) == 0 {
		return heat, nil // most frames hold no component to look at again
	}
	blob, err := n.in.blob.DataPtrFloat32()
	if err != nil {
		return nil, err
	}
	stride := n.m.Output.Stride
	pw, ph := gw*stride, gh*stride
	out := make([]float32, len(heat))
	if gated {
		copy(out, heat)
	}
	for _, r := range mirrorRects(boxes, image.Rect(0, 0, gw, gh)) {
		w, h := r.Dx()*stride, r.Dy()*stride
		crop := gocv.NewMatWithSizes([]int{1, 3, h, w}, gocv.MatTypeCV32F)
		dst, err := crop.DataPtrFloat32()
		if err != nil {
			crop.Close()
			return nil, err
		}
		for c := range 3 {
			for y := range h {
				src := blob[c*ph*pw+(r.Min.Y*stride+y)*pw+r.Min.X*stride:][:w]
				row := dst[(c*h+y)*w:][:w]
				for x, v := range src {
					row[w-1-x] = v
				}
			}
		}
		n.mirror.SetInput(crop, n.m.Input.Name)
		m := n.mirror.Forward(n.m.Output.Name)
		mh, err := m.DataPtrFloat32()
		if err == nil && len(mh) != r.Dx()*r.Dy() {
			err = fmt.Errorf("crop output has %d cells, want %dx%d", len(mh), r.Dx(), r.Dy())
		}
		if err != nil {
			m.Close()
			crop.Close()
			return nil, err
		}
		lower := func(b image.Rectangle) {
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					out[y*gw+x] = min(heat[y*gw+x], mh[(y-r.Min.Y)*r.Dx()+r.Max.X-1-x])
				}
			}
		}
		if !gated {
			lower(r)
		} else {
			for _, b := range boxes {
				if b.In(r) { // crops do not overlap: each box lies in one
					lower(b)
				}
			}
		}
		m.Close()
		crop.Close()
	}
	return out, nil
}

// mirrorBoxes are the boxes (in cells) of the components the mirrored pass
// looks at again: every one that could become a box, or with mirror_below
// only those peaking below it and at least mirror_min_height cells high.
func (n *Net) mirrorBoxes(heat []float32, gw, gh int, valid image.Rectangle) []image.Rectangle {
	var boxes []image.Rectangle
	for _, c := range plateComponents(heat, gw, gh, float32(n.m.Threshold), valid, float32(n.m.SplitStep)) {
		if c.peak < float32(n.m.MinPeak) {
			continue
		}
		if n.m.MirrorBelow > 0 && (c.peak >= float32(n.m.MirrorBelow) || c.rect.Dy() < n.m.MirrorMinHeight) {
			continue
		}
		boxes = append(boxes, c.rect)
	}
	return boxes
}

// The mirrored pass gives each crop mirrorContext cells (32 px at the
// model's scale) of context on every side, found on validation data to
// reproduce the whole mirrored image's heat map well enough (with 16 px,
// plates near the crop's edge were lost), and aligns it outward to
// mirrorAlign cells, the model's coarsest stride (32 px), so the crop sees
// the same grid as the whole image.
const (
	mirrorContext = 8
	mirrorAlign   = 8
)

// mirrorRects turns component boxes (in cells) into the crops the mirrored
// pass runs: each grown by mirrorContext, aligned outward to mirrorAlign
// and clipped to grid, and overlapping crops merged until none overlap.
// train/evaluate.py's mirror_rects is the same.
func mirrorRects(boxes []image.Rectangle, grid image.Rectangle) []image.Rectangle {
	rs := make([]image.Rectangle, 0, len(boxes))
	for _, b := range boxes {
		r := image.Rect(max(0, b.Min.X-mirrorContext)/mirrorAlign*mirrorAlign,
			max(0, b.Min.Y-mirrorContext)/mirrorAlign*mirrorAlign,
			(b.Max.X+mirrorContext+mirrorAlign-1)/mirrorAlign*mirrorAlign,
			(b.Max.Y+mirrorContext+mirrorAlign-1)/mirrorAlign*mirrorAlign)
		rs = append(rs, r.Intersect(grid))
	}
	for i := 0; i < len(rs); i++ {
		for j := i + 1; j < len(rs); j++ {
			if rs[i].Overlaps(rs[j]) {
				rs[i] = rs[i].Union(rs[j])
				rs = append(rs[:j], rs[j+1:]...)
				i = -1 // the grown crop may now overlap an earlier one
				break
			}
		}
	}
	return rs
}

// coreParts is coreRect that keeps the core's connected parts apart: the
// cells inside a component's box at or above max(its threshold, core ×
// its peak) are labelled again, and each part whose own peak reaches
// minPeak gets its own box. The part holding the component's peak always
// does, so a component never vanishes here.
func coreParts(heat []float32, w int, c component, core, minPeak float32) []image.Rectangle {
	bar := max(c.threshold, core*c.peak)
	if bar <= c.threshold {
		return []image.Rectangle{c.rect}
	}
	box := c.rect
	bw, bh := box.Dx(), box.Dy()
	window := make([]float32, bw*bh)
	for y := range bh {
		copy(window[y*bw:(y+1)*bw], heat[(box.Min.Y+y)*w+box.Min.X:(box.Min.Y+y)*w+box.Max.X])
	}
	var out []image.Rectangle
	for _, p := range components(window, bw, bh, bar) {
		if p.peak >= minPeak {
			out = append(out, p.rect.Add(box.Min))
		}
	}
	return out
}

// coreRect shrinks a component's box to the cells inside it at or above
// max(its threshold, core × its peak). The threshold that joins cells into
// a component is low, for recall; the box a plate needs is its strong core.
// With grow > 0 the box then takes back the cells at or above the
// threshold that lie within k = ceil(grow × the core's height) cells of a
// core cell, in x and in y: a plate's edges glow less than its middle,
// while a glow further out stays out.
func coreRect(heat []float32, w int, c component, core float32, grow float64) image.Rectangle {
	bar := max(c.threshold, core*c.peak)
	if bar <= c.threshold {
		return c.rect
	}
	box := c.rect
	r := image.Rectangle{Min: box.Max, Max: box.Min} // grows from empty
	for y := box.Min.Y; y < box.Max.Y; y++ {
		for x := box.Min.X; x < box.Max.X; x++ {
			if heat[y*w+x] >= bar {
				r.Min.X, r.Min.Y = min(r.Min.X, x), min(r.Min.Y, y)
				r.Max.X, r.Max.Y = max(r.Max.X, x+1), max(r.Max.Y, y+1)
			}
		}
	}
	if grow <= 0 {
		return r // never empty: the peak cell is at or above the bar
	}
	k := int(math.Ceil(grow * float64(r.Dy())))
	bw, bh := box.Dx(), box.Dy()
	// near marks the cells within k of a core cell: a (2k+1)-wide window
	// along each row, then down each column, each from running counts.
	near := make([]int32, bw*bh)
	run := make([]int32, max(bw, bh)+1)
	for y := range bh {
		for x := range bw {
			run[x+1] = run[x]
			if heat[(box.Min.Y+y)*w+box.Min.X+x] >= bar {
				run[x+1]++
			}
		}
		for x := range bw {
			near[y*bw+x] = run[min(bw, x+k+1)] - run[max(0, x-k)]
		}
	}
	out := image.Rectangle{Min: box.Max, Max: box.Min}
	for x := range bw {
		for y := range bh {
			run[y+1] = run[y] + near[y*bw+x]
		}
		for y := range bh {
			if run[min(bh, y+k+1)]-run[max(0, y-k)] > 0 && heat[(box.Min.Y+y)*w+box.Min.X+x] >= c.threshold {
				out.Min.X, out.Min.Y = min(out.Min.X, box.Min.X+x), min(out.Min.Y, box.Min.Y+y)
				out.Max.X, out.Max.Y = max(out.Max.X, box.Min.X+x+1), max(out.Max.Y, box.Min.Y+y+1)
			}
		}
	}
	return out // holds the core
}

// plateComponents labels the heat map at threshold. With a step > 0 it
// then splits any component too large to be one plate (wider than a third
// of the image or taller than a quarter) by labelling the cells in its box
// again at threshold+step, and so on up the levels, keeping each part at
// the first level where it is plate-sized. So a weak glow over a car body
// does not become one box over half the image, while a weaker plate inside
// the glow still separates from it at some level between the two. It fails
// closed: a component with nothing above the next level is kept whole.
func plateComponents(heat []float32, w, h int, threshold float32, valid image.Rectangle, step float32) []component {
	tooBig := func(r image.Rectangle) bool { return r.Dx()*3 > valid.Dx() || r.Dy()*4 > valid.Dy() }
	var out []component
	var split func(cells []float32, t float32)
	split = func(cells []float32, t float32) {
		for _, c := range components(cells, w, h, t) {
			if step <= 0 || !tooBig(c.rect) || t+step >= 1 {
				out = append(out, c)
				continue
			}
			// Keep only this component's box, then raise the bar.
			sub := make([]float32, len(cells))
			for y := c.rect.Min.Y; y < c.rect.Max.Y; y++ {
				copy(sub[y*w+c.rect.Min.X:y*w+c.rect.Max.X], cells[y*w+c.rect.Min.X:y*w+c.rect.Max.X])
			}
			before := len(out)
			split(sub, t+step)
			if len(out) == before {
				out = append(out, c) // nothing stronger inside: keep it whole
			}
		}
	}
	split(heat, threshold)
	return out
}

type component struct {
	rect      image.Rectangle // in cells, Max exclusive
	peak      float32
	threshold float32 // the level it was found at
}

// components labels 8-connected cells at or above threshold and returns the
// bounding box and peak of each.
func components(heat []float32, w, h int, threshold float32) []component {
	seen := make([]bool, len(heat))
	var out []component
	var stack []int
	for start, v := range heat {
		if v < threshold || seen[start] {
			continue
		}
		c := component{rect: image.Rectangle{Min: image.Pt(w, h)}, threshold: threshold} // grows from empty
		seen[start] = true
		stack = append(stack[:0], start)
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			x, y := i%w, i/w
			c.rect.Min.X, c.rect.Min.Y = min(c.rect.Min.X, x), min(c.rect.Min.Y, y)
			c.rect.Max.X, c.rect.Max.Y = max(c.rect.Max.X, x+1), max(c.rect.Max.Y, y+1)
			c.peak = max(c.peak, heat[i])
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					nx, ny := x+dx, y+dy
					if nx < 0 || ny < 0 || nx >= w || ny >= h {
						continue
					}
					j := ny*w + nx
					if !seen[j] && heat[j] >= threshold {
						seen[j] = true
						stack = append(stack, j)
					}
				}
			}
		}
		out = append(out, c)
	}
	return out
}

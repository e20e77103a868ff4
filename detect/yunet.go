package detect

import (
	"fmt"
	"image"
	"math"
	"path/filepath"

	"gocv.io/x/gocv"

	"github.com/platemask/platemask/codec"
)

// YuNet runs an LPD-YuNet-format ONNX model (OpenCV Zoo's
// license_plate_detection_yunet): outputs loc [N,14], conf [N,2] and iou
// [N,1] over prior boxes; each prior decodes to the four plate corners.
type YuNet struct {
	net       gocv.Net
	pad       Padding
	threshold float32
	maxSide   int
	file      string
	// priors are cached for the last input size.
	priorsFor image.Point
	priors    [][4]float32
}

// YuNetPadding pads the corner box: its corners often sit inside the plate's
// frame, more so at the top and bottom.
var YuNetPadding = Padding{Frac: 0.25, WidthFrac: 0.1}

// NewYuNet loads an LPD-YuNet-format model.
func NewYuNet(path string, pad Padding) (*YuNet, error) {
	net := gocv.ReadNetFromONNX(path)
	if net.Empty() {
		net.Close()
		return nil, fmt.Errorf("load ONNX model %s: OpenCV could not read it", path)
	}
	return &YuNet{net: net, pad: pad, threshold: 0.3, maxSide: 1280, file: filepath.Base(path)}, nil
}

func (y *YuNet) Name() string { return "yunet" }

// MaxSide is the size the network scales larger images down to.
func (y *YuNet) MaxSide() int { return y.maxSide }

func (y *YuNet) Close() error { return y.net.Close() }

var (
	yunetMinSizes = [][]float32{{10, 16, 24}, {32, 48}, {64, 96}, {128, 192, 256}}
	yunetSteps    = []float32{8, 16, 32, 64}
)

func (y *YuNet) makePriors(w, h int) {
	if y.priorsFor == image.Pt(w, h) {
		return
	}
	fh, fw := (h+1)/2/2, (w+1)/2/2
	y.priors = y.priors[:0]
	for k := range yunetSteps {
		fh, fw = fh/2, fw/2
		for i := 0; i < fh; i++ {
			for j := 0; j < fw; j++ {
				for _, ms := range yunetMinSizes[k] {
					y.priors = append(y.priors, [4]float32{
						(float32(j) + 0.5) * yunetSteps[k] / float32(w),
						(float32(i) + 0.5) * yunetSteps[k] / float32(h),
						ms / float32(w), ms / float32(h),
					})
				}
			}
		}
	}
	y.priorsFor = image.Pt(w, h)
}

func (y *YuNet) Detect(im *codec.Image) ([]Region, error) {
	src := im.Mat()
	s := fitScale(im.Bounds(), y.maxSide)
	input := src
	if s < 1 {
		small := gocv.NewMat()
		defer small.Close()
		gocv.Resize(src, &small, image.Point{}, s, s, gocv.InterpolationArea)
		input = small
	}
	w, h := input.Cols(), input.Rows()
	blob := gocv.BlobFromImage(input, 1, image.Pt(w, h), gocv.NewScalar(0, 0, 0, 0), false, false)
	defer blob.Close()
	y.net.SetInput(blob, "")
	outs := y.net.ForwardLayers([]string{"loc", "conf", "iou"})
	defer func() {
		for i := range outs {
			outs[i].Close()
		}
	}()
	if len(outs) != 3 {
		return nil, fmt.Errorf("yunet: %d outputs, want 3", len(outs))
	}
	loc, err := outs[0].DataPtrFloat32()
	if err != nil {
		return nil, fmt.Errorf("yunet loc: %w", err)
	}
	conf, err := outs[1].DataPtrFloat32()
	if err != nil {
		return nil, fmt.Errorf("yunet conf: %w", err)
	}
	iou, err := outs[2].DataPtrFloat32()
	if err != nil {
		return nil, fmt.Errorf("yunet iou: %w", err)
	}
	y.makePriors(w, h)
	n := len(y.priors)
	if len(loc) < 14*n || len(conf) < 2*n || len(iou) < n {
		return nil, fmt.Errorf("yunet: outputs do not match %d priors for %dx%d", n, w, h)
	}
	var out []Region
	for i, p := range y.priors {
		u := min(max(iou[i], 0), 1)
		score := float32(math.Sqrt(float64(conf[2*i+1] * u)))
		if score < y.threshold {
			continue
		}
		l := loc[14*i : 14*i+14]
		minX, minY := float32(math.Inf(1)), float32(math.Inf(1))
		maxX, maxY := float32(math.Inf(-1)), float32(math.Inf(-1))
		for _, c := range [4]int{4, 6, 10, 12} {
			x := (p[0] + l[c]*0.1*p[2]) * float32(w)
			yy := (p[1] + l[c+1]*0.1*p[3]) * float32(h)
			minX, maxX = min(minX, x), max(maxX, x)
			minY, maxY = min(minY, yy), max(maxY, yy)
		}
		r := image.Rect(int(minX), int(minY), int(maxX+0.999), int(maxY+0.999))
		if r.Empty() {
			continue
		}
		out = append(out, Region{Rect: y.pad.Apply(scaleRect(r, s), im.Bounds()), Kind: "yunet", Score: score})
	}
	return suppress(out), nil
}

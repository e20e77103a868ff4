package redact

import (
	"context"
	"errors"
	"fmt"
	"image"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/detect"
	"github.com/platemask/platemask/ingest"
	"github.com/platemask/platemask/jpeginfo"
	"github.com/platemask/platemask/keys"
)

// QualityUsage explains the quality setting to users of every command that
// redacts.
const QualityUsage = "JPEG quality of outputs: 0 keeps each source's own compression and re-encodes only the blocks under destroyed regions, so nothing else loses quality; 1-100 re-encodes whole images at that quality"

// CheckQuality accepts 0 (keep the source's compression) to 100.
func CheckQuality(q int) error {
	if q < 0 || q > 100 {
		return fmt.Errorf("quality %d: want 0 (keep the source's) to 100", q)
	}
	return nil
}

// ErrNoPlate marks an image in which nothing was found to redact while the
// policy is to quarantine such images.
var ErrNoPlate = errors.New("no plate found")

// Job is one image on its way through the steps. Input fields are set by
// the caller; the steps fill in the rest.
type Job struct {
	Data   []byte
	Source string // original name: only ever fed to the HMAC
	Camera string // camera id, when known
	// Network is the opt-in shipped network the camera is set to use
	// (models.Networks); "" runs the Processor's own detector.
	Network string
	Name    ingest.Name
	// Manual regions are destroyed as given, without padding.
	Manual []image.Rectangle
	// Static are the camera's masks (burned-in overlays), destroyed as
	// given; they do not count as plates.
	Static []image.Rectangle
	// KeepNoPlate stores the image even when nothing is found: an operator
	// looked and confirmed there is no plate (a detection still redacts).
	KeepNoPlate bool

	// Pixel path: img is the whole upright frame. Coefficient path: coef
	// is the frame and img, when a detector needs pixels, the frame
	// reduced by scale.
	img      *codec.Image
	detector detect.Detector // the one that runs: the Processor's, or Network's
	models   []string
	scale    int
	coef     *codec.Coefficients
	bounds   image.Rectangle // the upright frame
	regions  []detect.Region
	painted  []image.Rectangle

	Output []byte
	Record Record
}

// Step is one stage of the pipeline.
type Step func(ctx context.Context, p *Processor, j *Job) error

// Steps is the pipeline in order; ctx is checked between steps.
var Steps = []Step{decodeStep, detectStep, redactStep, encodeStep, nameStep}

// Processor runs jobs. It holds a detector, so one Processor serves one
// goroutine at a time.
type Processor struct {
	Limits   codec.Limits
	Detector detect.Detector // nil: manual regions only
	Models   []string        // model versions, for records
	// NewNetwork builds the detector for jobs whose camera uses an opt-in
	// network (Job.Network); each is built on first use and kept until
	// Close. Nil: such jobs run Detector.
	NewNetwork func(network string) (detect.Detector, error)
	networks   map[string]detect.Detector
	Keys       *keys.Ring
	Policy     Policy
	// Quality 0 keeps the source's compression: only the MCUs under
	// regions are re-encoded, every other block is copied as it came.
	// 1-100 decodes and re-encodes the whole image at that quality.
	// Images with an EXIF rotation are always re-encoded (upright), at
	// DefaultQuality when Quality is 0.
	Quality int
}

// Close frees the Processor's detectors.
func (p *Processor) Close() {
	if p.Detector != nil {
		p.Detector.Close()
	}
	for _, d := range p.networks {
		d.Close()
	}
	p.networks = nil
}

// detectorFor is the detector for a job from a camera set to network.
func (p *Processor) detectorFor(network string) (detect.Detector, []string, error) {
	if network == "" || p.NewNetwork == nil || p.Detector == nil {
		return p.Detector, p.Models, nil
	}
	d, ok := p.networks[network]
	if !ok {
		var err error
		if d, err = p.NewNetwork(network); err != nil {
			return nil, nil, fmt.Errorf("network %s: %w", network, err)
		}
		if p.networks == nil {
			p.networks = map[string]detect.Detector{}
		}
		p.networks[network] = d
	}
	return d, detect.Versions(d), nil
}

// Process runs j through every step. On error nothing of j is usable. An
// image without any region ends in ErrNoPlate unless the policy keeps it.
func (p *Processor) Process(ctx context.Context, j *Job) error {
	defer j.Close()
	for _, step := range Steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := step(ctx, p, j); err != nil {
			return err
		}
	}
	return nil
}

// Close frees what the steps decoded; Process does it itself, callers that
// run Steps one by one call it.
func (j *Job) Close() {
	if j.img != nil {
		j.img.Close()
		j.img = nil
	}
	if j.coef != nil {
		j.coef.Close()
		j.coef = nil
	}
}

func decodeStep(_ context.Context, p *Processor, j *Job) error {
	info, err := codec.Check(j.Data, p.Limits)
	if err != nil {
		return err
	}
	if j.detector, j.models, err = p.detectorFor(j.Network); err != nil {
		return err
	}
	if j.coef, err = Coefficients(j.Data, info, p.Quality); err != nil {
		return err
	}
	if j.coef != nil {
		j.bounds = j.coef.Bounds()
		if j.detector == nil {
			return nil // manual and static regions need no pixels
		}
	}
	if j.img, j.scale, err = DetectorPixels(j.Data, j.coef, j.detector, p.Limits); err != nil {
		return err
	}
	if j.coef == nil {
		j.bounds = j.img.Bounds()
	}
	return nil
}

// Coefficients reads data's coefficients where the default output
// (quality 0) rewrites blocks in place: an unrotated baseline JPEG that
// libjpeg can transcode. It returns nil, and no error, where the image is
// decoded and encoded whole instead. eval reads images through it and
// DetectorPixels too, so that what it scores is what redact destroys.
func Coefficients(data []byte, info *jpeginfo.Info, quality int) (*codec.Coefficients, error) {
	if quality != 0 || info.Orientation != 1 {
		return nil, nil
	}
	c, err := codec.ReadCoefficients(data)
	if errors.Is(err, codec.ErrNotTranscodable) {
		return nil, nil
	}
	return c, err
}

// DetectorPixels are the pixels d sees of an image and how many times
// smaller they are than the frame: decoded reduced from coef where there
// are coefficients (d scales its input down anyway), else the whole
// upright frame.
func DetectorPixels(data []byte, coef *codec.Coefficients, d detect.Detector, lim codec.Limits) (*codec.Image, int, error) {
	if coef != nil {
		return coef.Reduced(detect.MaxSide(d))
	}
	img, err := codec.Decode(data, lim)
	return img, 1, err
}

func detectStep(_ context.Context, p *Processor, j *Job) error {
	b := j.bounds
	for _, r := range j.Manual {
		if c := r.Intersect(b); !c.Empty() {
			j.regions = append(j.regions, detect.Region{Rect: c, Kind: "manual", Score: 1})
		}
	}
	for _, r := range j.Static {
		if c := r.Intersect(b); !c.Empty() {
			j.regions = append(j.regions, detect.Region{Rect: c, Kind: "static", Score: 1})
		}
	}
	if j.detector != nil {
		found, err := j.detector.Detect(j.img)
		if err != nil {
			return fmt.Errorf("detect: %w", err)
		}
		j.regions = append(j.regions, detect.ScaleUp(found, j.scale, b)...)
	}
	plates := 0
	for _, r := range j.regions {
		if r.Kind != "static" {
			plates++
		}
	}
	if plates == 0 && p.Policy.NoPlate != Keep && !j.KeepNoPlate {
		return ErrNoPlate
	}
	return nil
}

func redactStep(_ context.Context, p *Processor, j *Job) error {
	rects := make([]image.Rectangle, len(j.regions))
	for i, r := range j.regions {
		rects[i] = r.Rect
	}
	if j.coef != nil {
		painted, err := destroyBlocks(j.coef, rects, p.Policy.Method)
		if err != nil {
			return fmt.Errorf("redact: %w", err)
		}
		j.painted = painted
		return nil
	}
	pix, err := j.img.Pix()
	if err != nil {
		return fmt.Errorf("redact: %w", err)
	}
	j.painted = rects
	return Destroy(pix, j.bounds.Dx(), j.bounds.Dy(), rects, p.Policy.Method)
}

func encodeStep(_ context.Context, p *Processor, j *Job) error {
	var out []byte
	var err error
	if j.coef != nil {
		out, err = j.coef.Write()
	} else {
		out, err = codec.Encode(j.img, p.Quality)
	}
	if err != nil {
		return err
	}
	j.Output = out
	return nil
}

func nameStep(_ context.Context, p *Processor, j *Job) error {
	k := p.Keys.Current()
	kinds := map[string]int{}
	for _, r := range j.regions {
		kinds[r.Kind]++
	}
	detector := "none"
	if j.detector != nil {
		detector = j.detector.Name()
	}
	b := j.bounds
	policy := p.Policy
	if j.KeepNoPlate {
		policy.NoPlate = Keep
	}
	j.Record = Record{
		Schema:     1,
		Image:      OutputName(k.HMAC, j.Camera, j.Source, j.Data),
		Camera:     CameraLabel(k.HMAC, j.Camera),
		TimeBucket: p.Policy.TimeBucket.Of(j.Name.Time),
		Width:      b.Dx(),
		Height:     b.Dy(),
		Regions:    len(j.regions),
		Destroyed:  destroyedShare(j.painted, b),
		Kinds:      kinds,
		Detector:   detector,
		Models:     j.models,
		Policy:     policy,
		KeyID:      k.ID,
	}
	return nil
}

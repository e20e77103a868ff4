// Package audit checks a store for what would be a leak: object names
// holding dates, times, plates, addresses or serials; JPEGs carrying
// metadata or bytes after their end; images in which a detector still
// finds a plate; and a server that gives objects to anyone without
// credentials. It reports kinds and keys, never plates or image content.
package audit

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math/rand/v2"
	"sort"
	"sync"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/detect"
	"github.com/platemask/platemask/jpeginfo"
	"github.com/platemask/platemask/store"
)

// Config is one audit.
type Config struct {
	Store store.Store
	// Sample audits this many objects chosen uniformly at random
	// (reservoir sampling over the listing); 0 audits all.
	Sample int
	// NewDetector, when set, runs a detector on every image; one is made
	// per worker.
	NewDetector func() (detect.Detector, error)
	Workers     int
	Limits      codec.Limits
	// MaxFindings bounds the findings kept in the report (default 10000);
	// counts cover all of them.
	MaxFindings int
	// OnFinding sees each object with findings as it is found.
	OnFinding func(Finding)
	// Seed makes sampling reproducible (0: random).
	Seed uint64
}

// Finding is what one object would leak.
type Finding struct {
	Key      string   `json:"key"`
	Name     []string `json:"name,omitempty"`
	Metadata []string `json:"metadata,omitempty"`
	Trailing int      `json:"trailing_bytes,omitempty"`
	Plates   int      `json:"plates,omitempty"`
	// PlateBoxes are where they are (x0,y0 to x1,y1 in the upright
	// image), so that a reviewer can look: positions, never pixels.
	PlateBoxes []image.Rectangle `json:"plate_boxes,omitempty"`
	// Unreadable: the object could not be checked (too large, a JPEG
	// that does not decode); an audit that cannot look cannot clear it.
	Unreadable string `json:"unreadable,omitempty"`
}

// Any reports whether f holds a finding.
func (f Finding) Any() bool {
	return len(f.Name) > 0 || len(f.Metadata) > 0 || f.Trailing > 0 || f.Plates > 0 || f.Unreadable != ""
}

// Kinds lists the finding kinds of f ("name:time", "meta:exif", ...).
func (f Finding) Kinds() []string {
	var out []string
	for _, n := range f.Name {
		out = append(out, "name:"+n)
	}
	for _, m := range f.Metadata {
		out = append(out, "meta:"+m)
	}
	if f.Trailing > 0 {
		out = append(out, "trailing")
	}
	if f.Plates > 0 {
		out = append(out, "plate")
	}
	if f.Unreadable != "" {
		out = append(out, "unreadable")
	}
	return out
}

// Report is the audit's result.
type Report struct {
	Store     string           `json:"store"`
	Exposure  []store.Exposure `json:"exposure"`
	Listed    int64            `json:"listed"`
	Scanned   int64            `json:"scanned"`
	Images    int64            `json:"images"`
	Sealed    int64            `json:"sealed"`
	Detected  bool             `json:"detector_run"`
	Sample    int              `json:"sample,omitempty"`
	WithLeaks int64            `json:"objects_with_findings"`
	Counts    map[string]int64 `json:"counts"`
	Findings  []Finding        `json:"findings"`
	Truncated bool             `json:"findings_truncated,omitempty"`
}

// Clean reports an audit that found nothing.
func (r *Report) Clean() bool { return len(r.Exposure) == 0 && r.WithLeaks == 0 }

// sealedMagic starts payloads sealed by keys.Ring.Seal.
var sealedMagic = []byte("PMS1")

// Run audits the store.
func Run(ctx context.Context, c Config) (*Report, error) {
	if c.MaxFindings <= 0 {
		c.MaxFindings = 10000
	}
	if c.Limits == (codec.Limits{}) {
		c.Limits = codec.DefaultLimits()
	}
	rep := &Report{Store: c.Store.String(), Counts: map[string]int64{}, Findings: []Finding{},
		Detected: c.NewDetector != nil, Sample: c.Sample, Exposure: []store.Exposure{}}
	exp, err := c.Store.Exposure(ctx)
	if err != nil {
		return nil, fmt.Errorf("exposure: %w", err)
	}
	if exp != nil {
		rep.Exposure = exp
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	keys := make(chan string, 64)
	var mu sync.Mutex
	var wg sync.WaitGroup
	workers := max(1, c.Workers)
	for range workers {
		var det detect.Detector
		if c.NewDetector != nil {
			d, err := c.NewDetector()
			if err != nil {
				cancel(err)
				break
			}
			det = d
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if det != nil {
				defer det.Close()
			}
			for k := range keys {
				f, kind, err := check(ctx, c, det, k)
				if err != nil {
					cancel(err)
					continue
				}
				mu.Lock()
				rep.Scanned++
				switch kind {
				case "image":
					rep.Images++
				case "sealed":
					rep.Sealed++
				}
				if f.Any() {
					rep.WithLeaks++
					for _, k := range f.Kinds() {
						rep.Counts[k]++
					}
					if len(rep.Findings) < c.MaxFindings {
						rep.Findings = append(rep.Findings, f)
					} else {
						rep.Truncated = true
					}
					if c.OnFinding != nil {
						c.OnFinding(f)
					}
				}
				mu.Unlock()
			}
		}()
	}
	send := func(k string) error {
		select {
		case keys <- k:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	var listErr error
	if c.Sample > 0 {
		var sample []string
		rng := rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15))
		if c.Seed == 0 {
			rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		}
		var n int64
		listErr = c.Store.List(ctx, "", func(o store.Object) error {
			n++
			if len(sample) < c.Sample {
				sample = append(sample, o.Key)
			} else if j := rng.Int64N(n); j < int64(c.Sample) {
				sample[j] = o.Key
			}
			return nil
		})
		rep.Listed = n
		sort.Strings(sample)
		for _, k := range sample {
			if listErr != nil {
				break
			}
			listErr = send(k)
		}
	} else {
		listErr = c.Store.List(ctx, "", func(o store.Object) error {
			mu.Lock()
			rep.Listed++
			mu.Unlock()
			return send(o.Key)
		})
	}
	close(keys)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return nil, err
	}
	if listErr != nil {
		return nil, listErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sort.Slice(rep.Findings, func(i, j int) bool { return rep.Findings[i].Key < rep.Findings[j].Key })
	return rep, nil
}

// check audits one object. kind is "image", "sealed" or "other".
func check(ctx context.Context, c Config, det detect.Detector, key string) (Finding, string, error) {
	f := Finding{Key: key, Name: NameKinds(key)}
	data, err := c.Store.Get(ctx, key, c.Limits.MaxBytes)
	switch {
	case errors.Is(err, store.ErrTooLarge):
		f.Unreadable = "larger than the byte limit"
		return f, "other", nil
	case errors.Is(err, store.ErrNotFound):
		return f, "other", nil // deleted while auditing
	case err != nil:
		return f, "", err
	}
	switch {
	case len(data) >= len(sealedMagic) && string(data[:len(sealedMagic)]) == string(sealedMagic):
		return f, "sealed", nil
	case !jpeginfo.IsJPEG(data):
		return f, "other", nil
	}
	meta, trailing, err := Metadata(data)
	f.Metadata, f.Trailing = meta, trailing
	if err != nil {
		f.Unreadable = "malformed JPEG"
		return f, "image", nil
	}
	if det == nil {
		return f, "image", nil
	}
	boxes, err := plates(det, data, c.Limits)
	if err != nil {
		f.Unreadable = publicReason(err)
		return f, "image", nil
	}
	f.Plates, f.PlateBoxes = len(boxes), boxes
	return f, "image", nil
}

// publicReason keeps codec's error kind, which holds nothing of the input.
func publicReason(err error) string {
	for _, e := range []error{codec.ErrUnsupported, codec.ErrCorrupt, codec.ErrNotJPEG, codec.ErrDimensions, codec.ErrTooLarge, codec.ErrEmpty} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "does not decode"
}

// plates returns the detections that do not lie on an already-redacted
// area.
func plates(det detect.Detector, data []byte, lim codec.Limits) ([]image.Rectangle, error) {
	img, err := codec.Decode(data, lim)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	found, err := det.Detect(img)
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	if len(found) == 0 {
		return nil, nil
	}
	pix, err := img.Pix()
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	var out []image.Rectangle
	for _, r := range found {
		if !Flat(pix, b.Dx(), b.Dy(), inner(r.Rect)) {
			out = append(out, r.Rect)
		}
	}
	return out, nil
}

// inner is the middle half of a detection (a quarter off each side):
// where a plate's characters would be, without the detector's padding
// that reaches over the unredacted surroundings.
func inner(r image.Rectangle) image.Rectangle {
	dx, dy := r.Dx()/4, r.Dy()/4
	return image.Rect(r.Min.X+dx, r.Min.Y+dy, r.Max.X-dx, r.Max.Y-dy)
}

// FlatThreshold is the mean absolute difference between neighbouring
// pixels (0..255, over the three channels) below which a region counts as
// flat: an area platemask (or anyone) already blurred or filled, where no
// plate can be read whatever a detector says.
const FlatThreshold = 2.5

// Flat reports whether the region r of a BGR image is smooth.
func Flat(pix []byte, w, h int, r image.Rectangle) bool {
	r = r.Intersect(image.Rect(0, 0, w, h))
	if r.Dx() < 2 || r.Dy() < 2 {
		return true
	}
	var sum, n float64
	for y := r.Min.Y; y < r.Max.Y-1; y++ {
		row := y * w * 3
		for x := r.Min.X; x < r.Max.X-1; x++ {
			i := row + x*3
			right, down := i+3, i+w*3
			for ch := 0; ch < 3; ch++ {
				sum += absDiff(pix[i+ch], pix[right+ch]) + absDiff(pix[i+ch], pix[down+ch])
			}
			n += 6
		}
	}
	return sum/n < FlatThreshold
}

func absDiff(a, b byte) float64 {
	if a > b {
		return float64(a - b)
	}
	return float64(b - a)
}

// Package eval scores plate detection on labelled images: the share of
// labelled plates whose box is covered by the redacted regions (privacy
// recall), the share of image area redacted away from labelled plates (the
// cost in usefulness), and the time per image.
package eval

import (
	"fmt"
	"image"
	"io"
	"sort"
	"strings"

	"github.com/platemask/platemask/redact"
)

// DefaultCoverage is how much of a plate's box must be destroyed for it to
// count as redacted: a half-covered plate is still readable.
const DefaultCoverage = 0.95

// ReadLabels reads labelled plates: the same image,x,y,w,h rows as manual
// regions (header optional), keyed by image name.
func ReadLabels(r io.Reader) (map[string][]image.Rectangle, error) {
	labels, err := redact.ReadRegions(r)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	return labels, nil
}

// Prefix groups an image name by source: "oa-eu", "oa-us", "oa-br", "ro"...
// (the first dash-separated word, two for "oa-").
func Prefix(name string) string {
	parts := strings.SplitN(name, "-", 3)
	if len(parts) >= 3 && parts[0] == "oa" {
		return parts[0] + "-" + parts[1]
	}
	if len(parts) >= 2 {
		return parts[0]
	}
	return "other"
}

// ImageScore is one image's result.
type ImageScore struct {
	Plates   int     // labelled plates
	Found    int     // of them, covered at least to the threshold
	Regions  int     // regions the detector produced
	AwayFrac float64 // area redacted outside labelled plates / image area
	Seconds  float64
	Missed   []Miss // the labelled plates not found
}

// Miss is a labelled plate covered less than the threshold, its box as
// the labels give it.
type Miss struct {
	Image   string  `json:"image"` // set by Report.Add
	X       int     `json:"x"`
	Y       int     `json:"y"`
	W       int     `json:"w"`
	H       int     `json:"h"`
	Covered float64 `json:"covered"` // share of its box redacted
}

func newMiss(label image.Rectangle, covered float64) Miss {
	return Miss{X: label.Min.X, Y: label.Min.Y, W: label.Dx(), H: label.Dy(), Covered: covered}
}

// Score compares regions with labelled plates on an image of size b.
func Score(b image.Rectangle, regions, plates []image.Rectangle, coverage float64) ImageScore {
	s := ImageScore{Plates: len(plates), Regions: len(regions)}
	w, h := b.Dx(), b.Dy()
	if w == 0 || h == 0 {
		return s
	}
	red := make([]bool, w*h)
	for _, r := range regions {
		r = r.Intersect(b)
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := red[y*w:]
			for x := r.Min.X; x < r.Max.X; x++ {
				row[x] = true
			}
		}
	}
	plate := make([]bool, w*h)
	for _, label := range plates {
		p := label.Intersect(b)
		covered, total := 0, 0
		for y := p.Min.Y; y < p.Max.Y; y++ {
			for x := p.Min.X; x < p.Max.X; x++ {
				total++
				if red[y*w+x] {
					covered++
				}
				plate[y*w+x] = true
			}
		}
		switch {
		case total > 0 && float64(covered) >= coverage*float64(total):
			s.Found++
		case total > 0:
			s.Missed = append(s.Missed, newMiss(label, float64(covered)/float64(total)))
		default: // a label wholly outside the image
			s.Missed = append(s.Missed, newMiss(label, 0))
		}
	}
	away := 0
	for i := range red {
		if red[i] && !plate[i] {
			away++
		}
	}
	s.AwayFrac = float64(away) / float64(w*h)
	return s
}

// Summary aggregates image scores.
type Summary struct {
	Images      int     `json:"images"`
	Plates      int     `json:"plates"`
	Found       int     `json:"found"`
	Recall      float64 `json:"recall"`
	AwayPercent float64 `json:"area_away_percent"`
	MsPerImage  float64 `json:"ms_per_image"`
	// Quarantined counts images holding a labelled plate that got no
	// region at all: policy holds them back rather than store them.
	Quarantined int `json:"quarantined"`

	away, secs float64
}

// Add folds one image in.
func (s *Summary) Add(is ImageScore) {
	s.Images++
	s.Plates += is.Plates
	s.Found += is.Found
	s.away += is.AwayFrac
	s.secs += is.Seconds
	if is.Plates > 0 && is.Regions == 0 {
		s.Quarantined++
	}
	s.finish()
}

func (s *Summary) finish() {
	if s.Plates > 0 {
		s.Recall = float64(s.Found) / float64(s.Plates)
	}
	if s.Images > 0 {
		s.AwayPercent = 100 * s.away / float64(s.Images)
		s.MsPerImage = 1000 * s.secs / float64(s.Images)
	}
}

// Report is one detector's results, overall and per prefix, and the
// plates it missed, in the order the images were added.
type Report struct {
	Detector string              `json:"detector"`
	Overall  Summary             `json:"overall"`
	ByPrefix map[string]*Summary `json:"by_prefix"`
	Missed   []Miss              `json:"missed"`
}

// NewReport starts an empty report.
func NewReport(detector string) *Report {
	return &Report{Detector: detector, ByPrefix: map[string]*Summary{}, Missed: []Miss{}}
}

// Add folds one image's score in under its name's prefix.
func (r *Report) Add(name string, is ImageScore) {
	r.Overall.Add(is)
	p := Prefix(name)
	if r.ByPrefix[p] == nil {
		r.ByPrefix[p] = &Summary{}
	}
	r.ByPrefix[p].Add(is)
	for _, m := range is.Missed {
		m.Image = name
		r.Missed = append(r.Missed, m)
	}
}

// Prefixes returns the report's prefixes in order.
func (r *Report) Prefixes() []string {
	out := make([]string, 0, len(r.ByPrefix))
	for p := range r.ByPrefix {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

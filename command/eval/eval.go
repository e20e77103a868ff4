// Package eval is the `platemask eval` command: detection quality and speed
// on labelled images, several detectors side by side in one run.
package eval

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/detect"
	"github.com/platemask/platemask/eval"
	"github.com/platemask/platemask/jpeginfo"
	"github.com/platemask/platemask/redact"
)

// Options are the command's flags.
type Options struct {
	IO          *cmdutil.IOStreams
	Labels      string
	Images      string
	Detectors   []string
	Model       string
	Network     string
	NetModel    string
	NetManifest string
	Cascade     string
	Margin      float64
	Coverage    float64
	Threads     int
	Limit       int
	JSON        bool
	Raw         bool
	Misses      bool
}

// New returns the cobra command.
func New(io *cmdutil.IOStreams) *cobra.Command {
	o := &Options{IO: io}
	cmd := &cobra.Command{
		Use:   "eval --labels CSV --images DIR",
		Short: "Measure plate detection on labelled images",
		Long: `Measure detectors on labelled images: recall (the share of labelled plates
whose box is at least --coverage covered by the redacted regions), the share
of image area redacted away from labelled plates, milliseconds per image
(detection only, on --threads OpenCV threads), and images that hold a plate
but got no region at all (quarantined by policy), overall and per file-name
prefix. Each --detector entry is one column; join names with + for an
ensemble.

Regions are scored as redact destroys them by default: grown to the JPEG's
MCUs (8 or 16 pixels), since only whole blocks are rewritten. --raw scores
the detectors' regions as found.`,
		Example: `  platemask eval --labels ../shared/datasets/plates-dev/labels.csv \
      --images ../shared/datasets/plates-dev/images \
      --detector haar,yunet,platenet,platenet+haar \
      --model ../shared/models/license_plate_detection_lpd_yunet_2022may.onnx`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return Run(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Labels, "labels", "", "labels CSV: image,x,y,w,h (required)")
	f.StringVar(&o.Images, "images", "", "folder of the labelled images (required)")
	f.StringSliceVar(&o.Detectors, "detector", []string{strings.Join(detect.DefaultNames, "+")}, "detectors to compare; a+b is an ensemble")
	f.StringVar(&o.Model, "model", "", "LPD-YuNet-format ONNX model for the yunet detector")
	f.StringVar(&o.Network, "network", "", detect.NetworkUsage)
	f.StringVar(&o.NetModel, "net-model", "", "replace the shipped platenet model with this ONNX file")
	f.StringVar(&o.NetManifest, "net-manifest", "", "manifest of --net-model")
	f.StringVar(&o.Cascade, "cascade", "", "Haar cascade file")
	f.Float64Var(&o.Margin, "margin", -1, "padding as a fraction of box height (-1: calibrated per detector)")
	f.Float64Var(&o.Coverage, "coverage", eval.DefaultCoverage, "share of a plate's box that must be covered")
	f.IntVar(&o.Threads, "threads", 1, "OpenCV threads")
	f.IntVar(&o.Limit, "limit", 0, "evaluate only the first N labelled images (0: all)")
	f.BoolVar(&o.JSON, "json", false, "print the reports as JSON")
	f.BoolVar(&o.Raw, "raw", false, "score regions as detected, not grown to whole MCUs as redact destroys them")
	f.BoolVar(&o.Misses, "misses", false, "after the table, list every labelled plate a detector missed: image, box and the share of it covered (JSON always has them)")
	return cmd
}

// Run evaluates and prints the reports.
func Run(ctx context.Context, o *Options) error {
	if ctx == nil {
		ctx = context.Background()
	}
	reports, err := Evaluate(ctx, o)
	if err != nil {
		return err
	}
	if o.JSON {
		return cmdutil.WriteJSON(o.IO.Out, reports)
	}
	return printTable(o, reports)
}

// Evaluate runs every detector on every labelled image. Each image is
// decoded once and shown to all detectors in turn.
func Evaluate(ctx context.Context, o *Options) ([]*eval.Report, error) {
	if o.Labels == "" || o.Images == "" {
		return nil, cmdutil.UsageError("--labels and --images are required")
	}
	f, err := os.Open(o.Labels)
	if err != nil {
		return nil, cmdutil.UsageError("--labels: %w", err)
	}
	labels, err := eval.ReadLabels(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(labels))
	for n := range labels {
		names = append(names, n)
	}
	sort.Strings(names)
	if o.Limit > 0 && o.Limit < len(names) {
		names = names[:o.Limit]
	}
	detect.SetThreads(o.Threads)

	var dets []detect.Detector
	defer func() {
		for _, d := range dets {
			if d != nil {
				d.Close()
			}
		}
	}()
	reports := make([]*eval.Report, len(o.Detectors))
	for i, spec := range o.Detectors {
		c := detect.NewDefaultConfig()
		c.Names = strings.Split(spec, "+")
		c.Margin, c.Cascade, c.YuNetModel = o.Margin, o.Cascade, o.Model
		c.Network, c.NetModel, c.NetManifest = o.Network, o.NetModel, o.NetManifest
		d, err := detect.New(c)
		if err != nil {
			return nil, cmdutil.UsageError("--detector %s: %w", spec, err)
		}
		dets = append(dets, d)
		reports[i] = eval.NewReport(spec)
	}
	lim := codec.DefaultLimits()
	for k, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		im, err := readLabelled(o.Images, name, labels[name], lim)
		if err != nil {
			return nil, err
		}
		err = scoreImage(o, dets, reports, im, lim)
		im.Close()
		if err != nil {
			return nil, err
		}
		if o.IO.ErrTTY {
			fmt.Fprintf(o.IO.ErrOut, "\r%d/%d images", k+1, len(names))
		}
	}
	if o.IO.ErrTTY {
		fmt.Fprintln(o.IO.ErrOut)
	}
	return reports, nil
}

// labelled is one labelled image, read once for every detector.
type labelled struct {
	name   string
	data   []byte
	info   *jpeginfo.Info
	coef   *codec.Coefficients // nil where redact decodes the image whole
	bounds image.Rectangle     // the upright frame the labels refer to
	plates []image.Rectangle
}

// readLabelled reads and checks the image name in dir, labelled with
// plates, and, where redact would, its coefficients; Close releases them.
func readLabelled(dir, name string, plates []image.Rectangle, lim codec.Limits) (*labelled, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("labelled image: %w", err)
	}
	info, err := codec.Check(data, lim)
	if err != nil {
		return nil, fmt.Errorf("labelled image %s: %w", name, err)
	}
	bounds := image.Rect(0, 0, info.Width, info.Height)
	if info.Orientation >= 5 { // turned a quarter: upright it is taller
		bounds = image.Rect(0, 0, info.Height, info.Width)
	}
	coef, err := redact.Coefficients(data, info, 0) // as redact's default output
	if err != nil {
		return nil, fmt.Errorf("labelled image %s: %w", name, err)
	}
	return &labelled{name: name, data: data, info: info, coef: coef, bounds: bounds, plates: plates}, nil
}

// Close releases the coefficients' C memory.
func (im *labelled) Close() {
	if im.coef != nil {
		im.coef.Close()
	}
}

// scoreImage adds one labelled image to every detector's report.
func scoreImage(o *Options, dets []detect.Detector, reports []*eval.Report, im *labelled, lim codec.Limits) error {
	for i, d := range dets {
		var rects []image.Rectangle
		var elapsed float64
		if d != nil {
			found, secs, err := detectAsRedact(d, im.data, im.info, im.coef, lim)
			if err != nil {
				return fmt.Errorf("%s on %s: %w", o.Detectors[i], im.name, err)
			}
			for _, r := range found {
				rects = append(rects, r.Rect)
			}
			elapsed = secs
		}
		if !o.Raw && im.coef != nil {
			rects = asDestroyed(im.coef, rects)
		}
		s := eval.Score(im.bounds, rects, im.plates, o.Coverage)
		s.Seconds = elapsed
		reports[i].Add(im.name, s)
	}
	return nil
}

// detectAsRedact runs d on the pixels redact gives it (redact.Coefficients
// read once for every detector, then redact.DetectorPixels). Only the
// detector's own time is counted.
func detectAsRedact(d detect.Detector, data []byte, info *jpeginfo.Info, coef *codec.Coefficients, lim codec.Limits) ([]detect.Region, float64, error) {
	img, scale, err := redact.DetectorPixels(data, coef, d, lim)
	if err != nil {
		return nil, 0, err
	}
	defer img.Close()
	start := time.Now()
	found, err := d.Detect(img)
	secs := time.Since(start).Seconds()
	if err != nil {
		return nil, 0, err
	}
	bounds := img.Bounds()
	if scale > 1 {
		bounds = image.Rect(0, 0, info.Width, info.Height)
	}
	return detect.ScaleUp(found, scale, bounds), secs, nil
}

// asDestroyed grows rects to whole MCUs, as the default redaction (which
// rewrites only the blocks under regions) destroys them.
func asDestroyed(coef *codec.Coefficients, rects []image.Rectangle) []image.Rectangle {
	out := make([]image.Rectangle, len(rects))
	for i, r := range rects {
		out[i] = coef.Align(r)
	}
	return out
}

func printTable(o *Options, reports []*eval.Report) error {
	tw := tabwriter.NewWriter(o.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DETECTOR\tPREFIX\tIMAGES\tPLATES\tRECALL\tAREA AWAY\tMS/IMAGE\tQUARANTINED")
	row := func(det, prefix string, s *eval.Summary) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.2f%%\t%.2f%%\t%.1f\t%d\n", det, prefix, s.Images, s.Plates,
			100*s.Recall, s.AwayPercent, s.MsPerImage, s.Quarantined)
	}
	for _, r := range reports {
		for _, p := range r.Prefixes() {
			row(r.Detector, p, r.ByPrefix[p])
		}
		row(r.Detector, "all", &r.Overall)
	}
	if err := tw.Flush(); err != nil || !o.Misses {
		return err
	}
	fmt.Fprintln(tw, "\nDETECTOR\tMISSED IN\tX,Y,W,H\tCOVERED")
	for _, r := range reports {
		for _, m := range r.Missed {
			fmt.Fprintf(tw, "%s\t%s\t%d,%d,%d,%d\t%.0f%%\n", r.Detector, m.Image, m.X, m.Y, m.W, m.H, 100*m.Covered)
		}
	}
	return tw.Flush()
}

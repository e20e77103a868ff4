// Package audit is the `platemask audit` command: prove that a store holds
// no plates, timestamps or metadata, and is not open to anyone.
package audit

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/platemask/platemask/audit"
	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/command/storeflag"
	"github.com/platemask/platemask/detect"
	"github.com/platemask/platemask/store"
)

// Options are the command's flags.
type Options struct {
	IO *cmdutil.IOStreams

	URL         string
	JSON        bool
	Sample      int
	Detect      bool
	Detectors   string
	Workers     int
	MaxFindings int
	MaxBytes    int64

	stores *storeflag.Flags
	// Store overrides the store configuration (tests).
	Store *store.Config
}

// New returns the cobra command.
func New(io *cmdutil.IOStreams) *cobra.Command {
	o := &Options{IO: io}
	cmd := &cobra.Command{
		Use:   "audit URL",
		Short: "Report what a store would leak: identifying names, metadata, plates, public access",
		Long: `Audit scans every object of a store (or --sample N of them, chosen at random)
and reports, per object, what would be a leak:

  name:KIND   the key holds a date or time, a plate-like token, an IP or MAC
              address, a serial number or a camera id (platemask's own
              26-character pseudonymous names pass)
  meta:KIND   a JPEG carries EXIF, XMP, IPTC, a comment, an EXIF thumbnail,
              MPF, an ICC profile or another APPn segment
  trailing    bytes after the JPEG's end-of-image marker
  plate       the detector (--detect, on by default) finds a plate; hits on
              smooth areas — regions already blurred or filled — are ignored
  unreadable  an image that could not be checked (too large, undecodable)

and, for the store itself, what the server gives to anyone without
credentials: an Azure container's public access level, an S3 bucket policy
granting everyone, and whether a listing or a read succeeds anonymously.
Sealed quarantined images and JSON records are checked by name only. No
plate or image content is ever printed; object keys are, as they are the
store's own.

` + storeflag.Help + `

Exit status: 0 when nothing was found, 1 when anything was, 2 on usage
errors, 3 when the store could not be read.`,
		Example: `  platemask audit s3://clean-archive/site-7
  platemask audit --sample 10000 --json az://acct/pseudonymised > audit.json
  platemask audit --detect=false /srv/anpr-dump`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.URL = args[0]
			return Run(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.JSON, "json", false, "print the report as JSON")
	f.IntVar(&o.Sample, "sample", 0, "audit this many objects chosen at random (0: all)")
	f.BoolVar(&o.Detect, "detect", true, "run the plate detector on images")
	f.StringVar(&o.Detectors, "detector", strings.Join(detect.DefaultNames, ","), "detectors for --detect: "+strings.Join(detect.Known, ", "))
	f.IntVar(&o.Workers, "workers", runtime.NumCPU(), "objects checked in parallel")
	f.IntVar(&o.MaxFindings, "max-findings", 10000, "most objects listed in the report (all are counted)")
	f.Int64Var(&o.MaxBytes, "max-bytes", codec.DefaultLimits().MaxBytes, "largest object read")
	o.stores = storeflag.Add(f)
	return cmd
}

// Run audits o.URL.
func Run(ctx context.Context, o *Options) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.Sample < 0 {
		return cmdutil.UsageError("--sample must not be negative")
	}
	cfg, err := storeflag.Resolve(o.Store, o.stores)
	if err != nil {
		return err
	}
	s, err := store.Open(ctx, o.URL, cfg)
	if err != nil {
		return cmdutil.UsageError("%w", err)
	}
	lim := codec.DefaultLimits()
	lim.MaxBytes = o.MaxBytes
	if err := lim.Validate(); err != nil {
		return cmdutil.UsageError("%w", err)
	}
	c := audit.Config{Store: s, Sample: o.Sample, Workers: o.Workers, Limits: lim, MaxFindings: o.MaxFindings}
	if o.Detect {
		dc := detect.NewDefaultConfig()
		dc.Names = strings.Split(o.Detectors, ",")
		if err := dc.Validate(); err != nil {
			return cmdutil.UsageError("%w", err)
		}
		detect.SetThreads(1)
		c.NewDetector = func() (detect.Detector, error) { return detect.New(dc) }
	}
	rep, err := audit.Run(ctx, c)
	if err != nil {
		return err
	}
	if o.JSON {
		if err := cmdutil.WriteJSON(o.IO.Out, rep); err != nil {
			return err
		}
	} else {
		printReport(o.IO, rep)
	}
	if !rep.Clean() {
		return cmdutil.Failed
	}
	return nil
}

func printReport(io *cmdutil.IOStreams, rep *audit.Report) {
	if io.OutTTY {
		w := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
		for _, e := range rep.Exposure {
			fmt.Fprintf(w, "STORE\t%s: %s\n", e.Kind, e.Detail)
		}
		if len(rep.Findings) > 0 {
			fmt.Fprintln(w, "OBJECT\tFINDINGS")
		}
		for _, f := range rep.Findings {
			fmt.Fprintf(w, "%s\t%s\n", f.Key, describe(f))
		}
		w.Flush()
	} else {
		// One line per finding, tab-separated, for scripts.
		for _, e := range rep.Exposure {
			fmt.Fprintf(io.Out, "store\t%s\t%s\n", e.Kind, e.Detail)
		}
		for _, f := range rep.Findings {
			fmt.Fprintf(io.Out, "object\t%s\t%s\n", f.Key, strings.Join(f.Kinds(), ","))
		}
	}
	sampled := ""
	if rep.Sample > 0 {
		sampled = fmt.Sprintf(" (a random sample of %d)", rep.Sample)
	}
	det := "detector on"
	if !rep.Detected {
		det = "detector off"
	}
	fmt.Fprintf(io.ErrOut, "audit: %d objects listed, %d checked%s (%d images, %d sealed; %s): %d with findings, %d exposure findings\n",
		rep.Listed, rep.Scanned, sampled, rep.Images, rep.Sealed, det, rep.WithLeaks, len(rep.Exposure))
	if len(rep.Counts) > 0 {
		var parts []string
		for _, k := range sortedKeys(rep.Counts) {
			parts = append(parts, fmt.Sprintf("%s %d", k, rep.Counts[k]))
		}
		fmt.Fprintf(io.ErrOut, "audit: %s\n", strings.Join(parts, ", "))
	}
	if rep.Truncated {
		fmt.Fprintf(io.ErrOut, "audit: only the first %d objects with findings are listed (--max-findings)\n", len(rep.Findings))
	}
	if rep.Clean() {
		fmt.Fprintln(io.ErrOut, "audit: clean")
	}
}

func describe(f audit.Finding) string {
	var parts []string
	if len(f.Name) > 0 {
		parts = append(parts, "name holds "+strings.Join(f.Name, ", "))
	}
	if len(f.Metadata) > 0 {
		parts = append(parts, "metadata "+strings.Join(f.Metadata, ", "))
	}
	if f.Trailing > 0 {
		parts = append(parts, fmt.Sprintf("%d bytes after end of image", f.Trailing))
	}
	if f.Plates > 0 {
		boxes := make([]string, len(f.PlateBoxes))
		for i, r := range f.PlateBoxes {
			boxes[i] = fmt.Sprintf("%d,%d,%d,%d", r.Min.X, r.Min.Y, r.Dx(), r.Dy())
		}
		parts = append(parts, fmt.Sprintf("%d plate(s) detected at x,y,w,h %s", f.Plates, strings.Join(boxes, " ")))
	}
	if f.Unreadable != "" {
		parts = append(parts, "unreadable: "+f.Unreadable)
	}
	return strings.Join(parts, "; ")
}

func sortedKeys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

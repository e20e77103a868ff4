package queue

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig of held images
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/queue"
)

// AuditFile is the append-only log of reviews, in the data folder.
const AuditFile = "audit.log"

// AuditEntry is one line of the audit log: who did what to which job.
type AuditEntry struct {
	At       time.Time `json:"at"`
	Operator string    `json:"operator"`
	Action   string    `json:"action"`
	Job      string    `json:"job"`
	Regions  int       `json:"regions,omitempty"`
}

// Audit actions.
const (
	ActionView           = "view"
	ActionReleaseRegions = "release-regions"
	ActionReleaseNoPlate = "release-no-plate"
)

// audit appends e to DATA/audit.log (0600), synced before the action it
// records happens: no audit, no action.
func (o *Options) audit(operator, action, job string, regions int) error {
	if operator == "" {
		operator = os.Getenv("USER")
	}
	if operator == "" {
		operator = "unknown"
	}
	if err := os.MkdirAll(o.Data, 0o700); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	path := filepath.Join(o.Data, AuditFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("audit log %s must be 0600 (chmod 600)", path)
	}
	b, err := json.Marshal(AuditEntry{At: o.now().UTC(), Operator: operator, Action: action, Job: job, Regions: regions})
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

type viewOptions struct {
	*Options
	ID       string
	Out      string
	Operator string
}

func newView(o *Options) *cobra.Command {
	vo := &viewOptions{Options: o}
	cmd := &cobra.Command{
		Use:   "view JOB --out FILE",
		Short: "Write a quarantined image out for review (audited)",
		Long: `Open a quarantined (or dead-lettered) image with the sealing key and write
it to --out (0600) for review. Every view is recorded in DATA/audit.log:
who (--operator or $USER), when, which job. The file holds the raw image:
delete it after the review.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			vo.ID = args[0]
			return runView(cmd.Context(), vo)
		},
	}
	cmd.Flags().StringVar(&vo.Out, "out", "", "file to write the image to (required)")
	cmd.Flags().StringVar(&vo.Operator, "operator", "", "who is reviewing (default $USER)")
	return cmd
}

func runView(ctx context.Context, o *viewOptions) error {
	if o.Out == "" {
		return cmdutil.UsageError("view: --out FILE is required")
	}
	c, err := o.open(ctx, true)
	if err != nil {
		return err
	}
	defer c.close()
	ctx, cancel := o.call(ctx)
	defer cancel()
	data, err := openHeld(ctx, c.q, o.ID)
	if err != nil {
		return err
	}
	if err := o.audit(o.Operator, ActionView, o.ID, 0); err != nil {
		return err
	}
	f, err := os.OpenFile(o.Out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("view: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("view: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("view: %w", err)
	}
	fmt.Fprintf(o.IO.ErrOut, "wrote job %s to %s (recorded in the audit log); delete it after review\n", o.ID, o.Out)
	return nil
}

// openHeld opens a quarantined job, or a dead letter.
func openHeld(ctx context.Context, q *queue.Queue, id string) ([]byte, error) {
	data, _, err := q.OpenHeld(ctx, false, id)
	if errors.Is(err, queue.ErrJobNotFound) {
		data, _, err = q.OpenHeld(ctx, true, id)
	}
	switch {
	case errors.Is(err, queue.ErrJobNotFound):
		return nil, notFound(id)
	case errors.Is(err, queue.ErrNoPayload):
		return nil, &cmdutil.ExitError{Code: cmdutil.ExitFailed, Err: fmt.Errorf("job %s: %w", id, err)}
	case err != nil:
		return nil, &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: fmt.Errorf("open job %s: %w", id, err)}
	}
	return data, nil
}

// ReleaseResult is what `queue release` did.
type ReleaseResult struct {
	ID      string `json:"id"`
	Review  string `json:"review"`
	Regions int    `json:"regions"`
}

type releaseOptions struct {
	*Options
	ID       string
	Regions  string
	NoPlate  bool
	Operator string
	JSON     bool
}

func newRelease(o *Options) *cobra.Command {
	ro := &releaseOptions{Options: o}
	cmd := &cobra.Command{
		Use:   "release JOB --regions CSV | --no-plate",
		Short: "Send a reviewed quarantined image on (audited)",
		Long: `Release a quarantined job after review: with --regions, the workers
redact the regions given (CSV rows x,y,w,h or image,x,y,w,h, where image
is the job id; "-" reads stdin) besides whatever the detectors find; with
--no-plate, the operator confirms the image holds no plate and it is
stored as is. The output's record says so ("review"). Every release is
recorded in DATA/audit.log.`,
		Example: `  platemask queue release 7kq... --regions boxes.csv
  echo 410,620,180,48 | platemask queue release 7kq... --regions -
  platemask queue release 7kq... --no-plate --operator alice`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ro.ID = args[0]
			return runRelease(cmd.Context(), ro)
		},
	}
	f := cmd.Flags()
	f.StringVar(&ro.Regions, "regions", "", "CSV file of regions to redact (- for stdin)")
	f.BoolVar(&ro.NoPlate, "no-plate", false, "confirm the image holds no plate: store it unredacted")
	f.StringVar(&ro.Operator, "operator", "", "who reviewed it (default $USER)")
	f.BoolVar(&ro.JSON, "json", false, "write JSON")
	return cmd
}

func runRelease(ctx context.Context, o *releaseOptions) error {
	if (o.Regions == "") == !o.NoPlate {
		return cmdutil.UsageError("release: give --regions CSV or --no-plate")
	}
	var rects []image.Rectangle
	if o.Regions != "" {
		var r io.Reader = o.IO.In
		if o.Regions != "-" {
			f, err := os.Open(o.Regions)
			if err != nil {
				return cmdutil.UsageError("--regions: %w", err)
			}
			defer f.Close()
			r = f
		}
		var err error
		if rects, err = readRegions(r, o.ID); err != nil {
			return cmdutil.UsageError("--regions: %w", err)
		}
		if len(rects) == 0 {
			return cmdutil.UsageError("--regions: no region for job %s", o.ID)
		}
	}
	c, err := o.open(ctx, true)
	if err != nil {
		return err
	}
	defer c.close()
	ctx, cancel := o.call(ctx)
	defer cancel()
	data, _, err := c.q.OpenHeld(ctx, false, o.ID)
	switch {
	case errors.Is(err, queue.ErrJobNotFound):
		return &cmdutil.ExitError{Code: cmdutil.ExitFailed, Err: fmt.Errorf("job %s is not in quarantine", o.ID)}
	case err != nil:
		return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: fmt.Errorf("open job %s: %w", o.ID, err)}
	}
	if len(rects) > 0 {
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return &cmdutil.ExitError{Code: cmdutil.ExitFailed, Err: fmt.Errorf("job %s: image header: %w", o.ID, err)}
		}
		b := image.Rect(0, 0, cfg.Width, cfg.Height)
		for i, r := range rects {
			if r.Intersect(b).Empty() {
				return cmdutil.UsageError("--regions: region %d lies outside the %dx%d image", i+1, cfg.Width, cfg.Height)
			}
		}
	}
	action, review := ActionReleaseRegions, queue.ReviewRegions
	if o.NoPlate {
		action, review = ActionReleaseNoPlate, queue.ReviewNoPlate
	}
	if err := o.audit(o.Operator, action, o.ID, len(rects)); err != nil {
		return err
	}
	err = c.q.Requeue(ctx, false, o.ID, func(m *queue.Meta) error {
		m.Manual, m.Review = rects, review
		return nil
	})
	if err != nil {
		return brokerDown(fmt.Errorf("release %s: %w", o.ID, err))
	}
	if o.JSON {
		return cmdutil.WriteJSON(o.IO.Out, ReleaseResult{ID: o.ID, Review: review, Regions: len(rects)})
	}
	fmt.Fprintf(o.IO.ErrOut, "released job %s (%s, %d region(s))\n", o.ID, review, len(rects))
	return nil
}

// readRegions reads rows x,y,w,h, or image,x,y,w,h keeping the rows whose
// image is id (or id.jpg); '#' starts a comment, a header row is skipped.
func readRegions(r io.Reader, id string) ([]image.Rectangle, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	var out []image.Rectangle
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch len(rec) {
		case 4:
		case 5:
			if name := strings.TrimSpace(rec[0]); name != id && name != id+".jpg" {
				if line == 1 {
					continue // header
				}
				return nil, fmt.Errorf("line %d names another image than job %s", line, id)
			}
			rec = rec[1:]
		default:
			return nil, fmt.Errorf("line %d: want x,y,w,h or image,x,y,w,h", line)
		}
		var v [4]int
		for i := range v {
			n, err := strconv.Atoi(strings.TrimSpace(rec[i]))
			if err != nil {
				if line == 1 {
					break
				}
				return nil, fmt.Errorf("line %d: x,y,w,h must be integers", line)
			}
			v[i] = n
			if i == 3 {
				if v[2] <= 0 || v[3] <= 0 {
					return nil, fmt.Errorf("line %d: width and height must be positive", line)
				}
				out = append(out, image.Rect(v[0], v[1], v[0]+v[2], v[1]+v[3]))
			}
		}
	}
}

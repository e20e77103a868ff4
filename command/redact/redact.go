// Package redact is the `platemask redact` command: redact JPEG files and
// folders into an output folder, no queue needed.
package redact

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"image"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/command/pipeline"
	"github.com/platemask/platemask/ingest"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/sink"
)

// Options are the command's flags.
type Options struct {
	IO *cmdutil.IOStreams

	Inputs      []string
	Out         string
	Manifest    string
	Regions     string
	NoDetect    bool
	Workers     int
	Camera      string
	NamePattern string

	// The detector and policy flags, as serve, worker and reprocess take them.
	pipeline.RedactFlags
}

// New returns the cobra command.
func New(io *cmdutil.IOStreams) *cobra.Command {
	o := &Options{IO: io}
	cmd := &cobra.Command{
		Use:   "redact [flags] INPUT...",
		Short: "Redact plates in JPEG files or folders",
		Long: `Redact licence plates in JPEG files and folders (searched recursively for
.jpg/.jpeg) and write each result to --out under an opaque name, with a
JSON record beside it. Images in which no plate is found are quarantined
(not written) unless --no-plate=keep. Bad input is reported and skipped.

Ctrl-C stops after the images in hand; the manifest lists what was done,
and running the same command again redoes nothing twice (outputs are
named by content).

Exit status: 0 when every input was redacted or quarantined, 1 when any
failed or the run was interrupted, 2 on usage errors, 3 when it could not
run at all (keys unreadable, output folder not writable).`,
		Example: `  platemask redact --out redacted/ camera-dump/
  platemask redact --out redacted/ --manifest map.csv --method fill a.jpg b.jpg
  platemask redact --out redacted/ --no-detect --regions boxes.csv review/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Inputs = args
			return Run(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Out, "out", "", "output folder (required)")
	f.StringVar(&o.Manifest, "manifest", "", "write a CSV mapping inputs to outputs (holds original names: keep it private)")
	f.StringVar(&o.Regions, "regions", "", "CSV of extra regions to redact: image,x,y,w,h (image = input base name)")
	f.BoolVar(&o.NoDetect, "no-detect", false, "redact only the --regions, run no detector")
	f.IntVar(&o.Workers, "workers", runtime.NumCPU(), "images processed in parallel")
	f.StringVar(&o.Camera, "camera", "", "camera id for every input (default: parsed from file names)")
	f.StringVar(&o.NamePattern, "name-pattern", "", "regexp with named groups camera, time, plate for your camera's file names")
	o.RedactFlags.Register(f)
	return cmd
}

// Status of one input in the manifest.
const (
	StatusRedacted    = "redacted"
	StatusQuarantined = "quarantined"
	StatusFailed      = "failed"
)

// Result is one manifest row.
type Result struct {
	Input   string
	Output  string // relative to --out
	Status  string
	Regions int
	Reason  string
}

type config struct {
	proc     func() (*redact.Processor, error)
	out      *sink.Dir
	parser   *ingest.Parser
	manual   map[string][]image.Rectangle
	closeAll func()
}

// Run redacts o.Inputs.
func Run(ctx context.Context, o *Options) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.Out != "" {
		if err := outsideInputs(o.Out, o.Inputs); err != nil {
			return err
		}
	}
	var paths []string
	if err := ingest.Walk(o.Inputs, func(p string) error { paths = append(paths, p); return nil }); err != nil {
		return cmdutil.UsageError("%w", err)
	}
	cfg, err := setup(o)
	if err != nil {
		return err
	}
	defer cfg.closeAll()
	// The same folder writer as serve's: synced, readable, image before record.
	if cfg.out, err = sink.NewDir(o.Out); err != nil {
		return err
	}
	if n := unmatched(cfg.manual, paths); n > 0 {
		// Counted, not named: the names may hold plates and times.
		fmt.Fprintf(o.IO.ErrOut, "platemask: %d image names in --regions match no input (rows name inputs by base name); their regions are not used\n", n)
	}
	results := make([]Result, len(paths))
	progress := newProgress(o.IO, len(paths))
	// Ctrl-C or SIGTERM stops handing out inputs; those in hand finish (a
	// few milliseconds each), and the manifest lists everything done.
	sigCtx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	jobs := make(chan int)
	var wg sync.WaitGroup
	var setupErr error
	var once sync.Once
	for w := 0; w < max(1, o.Workers); w++ {
		p, err := cfg.proc()
		if err != nil {
			once.Do(func() { setupErr = err })
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.Close()
			for i := range jobs {
				results[i] = one(ctx, p, cfg, o, paths[i])
				progress.done(i, results[i])
			}
		}()
	}
	if setupErr != nil {
		close(jobs)
		wg.Wait()
		return setupErr
	}
feed:
	for i := range paths {
		select {
		case jobs <- i:
		case <-sigCtx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	progress.finish()

	if o.Manifest != "" {
		if err := writeManifest(o.Manifest, results); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if sigCtx.Err() != nil {
		done := 0
		for _, r := range results {
			if r.Status != "" {
				done++
			}
		}
		return &cmdutil.ExitError{Code: cmdutil.ExitFailed, Err: fmt.Errorf(
			"interrupted after %d of %d inputs; run the same command again for the rest (outputs are named by content, so those done are overwritten, not duplicated)",
			done, len(paths))}
	}
	for _, r := range results {
		if r.Status == StatusFailed {
			return cmdutil.Failed
		}
	}
	return nil
}

func setup(o *Options) (*config, error) {
	if o.Out == "" {
		return nil, cmdutil.UsageError("--out is required")
	}
	if o.NoDetect {
		if o.Regions == "" {
			return nil, cmdutil.UsageError("--no-detect needs --regions")
		}
		o.Detectors = "none"
	}
	parser, err := ingest.NewParser(o.NamePattern)
	if err != nil {
		return nil, cmdutil.UsageError("--name-pattern: %w", err)
	}
	cfg := &config{parser: parser, closeAll: func() {}}
	if o.Regions != "" {
		f, err := os.Open(o.Regions)
		if err != nil {
			return nil, cmdutil.UsageError("--regions: %w", err)
		}
		cfg.manual, err = redact.ReadRegions(f)
		f.Close()
		if err != nil {
			return nil, cmdutil.UsageError("--regions: %w", err)
		}
	}
	if _, cfg.proc, err = o.RedactFlags.Setup(o.IO.ErrOut); err != nil {
		return nil, err
	}
	return cfg, nil
}

// one processes a single input and writes its output.
func one(ctx context.Context, p *redact.Processor, cfg *config, o *Options, path string) Result {
	res := Result{Input: path}
	fail := func(err error) Result {
		res.Status, res.Reason = StatusFailed, err.Error()
		return res
	}
	data, err := readLimited(path, p.Limits.MaxBytes)
	if err != nil {
		return fail(err)
	}
	name := cfg.parser.Parse(path)
	camera := o.Camera
	if camera == "" {
		camera = name.Camera
	}
	job := &redact.Job{Data: data, Source: filepath.Base(path), Camera: camera, Name: name,
		Manual: cfg.manual[filepath.Base(path)]}
	err = p.Process(ctx, job)
	switch {
	case errors.Is(err, redact.ErrNoPlate):
		res.Status = StatusQuarantined
		return res
	case err != nil:
		return fail(err)
	}
	if err := cfg.out.Put(ctx, job.Record, job.Output); err != nil {
		return fail(err)
	}
	res.Status, res.Output, res.Regions = StatusRedacted, job.Record.Image, job.Record.Regions
	return res
}

// readLimited reads at most limit bytes, refusing larger files before they
// are read whole. Its errors drop the *PathError's path (errors.Unwrap):
// an input's name may hold a plate or a time, and reasons are printed.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open input: %w", errors.Unwrap(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat input: %w", errors.Unwrap(err))
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", codec.ErrTooLarge, st.Size(), limit)
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("read input: %w", errors.Unwrap(err))
	}
	return data, nil
}

// unmatched counts the images named in --regions that no input has as
// its base name.
func unmatched(manual map[string][]image.Rectangle, paths []string) int {
	names := map[string]bool{}
	for _, p := range paths {
		names[filepath.Base(p)] = true
	}
	n := 0
	for name := range manual {
		if !names[name] {
			n++
		}
	}
	return n
}

// outsideInputs refuses an output folder inside an input folder: the next
// run would take its outputs for inputs and redact them again.
func outsideInputs(out string, inputs []string) error {
	abs, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	for i, in := range inputs {
		st, err := os.Stat(in)
		if err != nil || !st.IsDir() {
			continue // files, and inputs Walk reports
		}
		dir, err := filepath.Abs(in)
		if err != nil {
			return fmt.Errorf("input %d: %w", i+1, err)
		}
		if rel, err := filepath.Rel(dir, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return cmdutil.UsageError("--out lies inside input folder %d: its outputs would be taken as inputs on the next run", i+1)
		}
	}
	return nil
}

func writeManifest(path string, results []Result) error {
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write([]string{"input", "output", "status", "regions"})
	for _, r := range results {
		if r.Status == "" {
			continue // not reached: the run was interrupted
		}
		w.Write([]string{r.Input, r.Output, r.Status, strconv.Itoa(r.Regions)})
	}
	w.Flush()
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

// progress reports on stderr: a live line on a terminal, and one line per
// failure (by position, never by name: the manifest maps positions).
type progress struct {
	io    *cmdutil.IOStreams
	total int
	mu    sync.Mutex
	n     int
	shown int // n at the last line printed
	count map[string]int
	start time.Time
	last  time.Time
}

func newProgress(io *cmdutil.IOStreams, total int) *progress {
	return &progress{io: io, total: total, count: map[string]int{}, start: time.Now()}
}

func (p *progress) done(i int, r Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	p.count[r.Status]++
	if r.Status == StatusFailed {
		p.clearLine()
		fmt.Fprintf(p.io.ErrOut, "platemask: input %d of %d failed: %s\n", i+1, p.total, r.Reason)
	}
	interval := 10 * time.Second
	if p.io.ErrTTY {
		interval = 200 * time.Millisecond
	}
	if time.Since(p.last) >= interval {
		p.last = time.Now()
		p.line()
	}
}

func (p *progress) clearLine() {
	if p.io.ErrTTY {
		fmt.Fprint(p.io.ErrOut, "\r\033[K")
	}
}

func (p *progress) line() {
	p.shown = p.n
	rate := float64(p.n) / time.Since(p.start).Seconds()
	msg := fmt.Sprintf("%d/%d images, %d redacted, %d quarantined, %d failed, %.1f images/s",
		p.n, p.total, p.count[StatusRedacted], p.count[StatusQuarantined], p.count[StatusFailed], rate)
	if p.io.ErrTTY {
		p.clearLine()
		fmt.Fprint(p.io.ErrOut, msg)
		return
	}
	fmt.Fprintln(p.io.ErrOut, msg)
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n != p.shown {
		p.line()
	}
	if p.io.ErrTTY {
		fmt.Fprintln(p.io.ErrOut)
	}
}

// Package reprocess is the `platemask reprocess` command: migrate an
// archive of raw camera images from one store into a pseudonymised one,
// resumably.
package reprocess

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/command/pipeline"
	"github.com/platemask/platemask/command/storeflag"
	"github.com/platemask/platemask/ingest"
	"github.com/platemask/platemask/keys"
	"github.com/platemask/platemask/queue"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/reprocess"
	"github.com/platemask/platemask/store"
)

// Options are the command's flags.
type Options struct {
	IO *cmdutil.IOStreams

	From, To, Quarantine string
	DataDir              string
	Workers              int
	Window               int
	DeleteSource         bool
	RetryFailed          bool
	Restart              bool
	NoCount              bool
	Manifest             string
	JSON                 bool
	Interval             time.Duration

	NamePattern string

	// The detector and policy flags, as redact, serve and worker take them.
	pipeline.RedactFlags

	// Broker, when --nats is set, sends the work to the workers of that
	// queue instead of running workers here.
	Broker   pipeline.BrokerFlags
	InFlight int
	Wait     time.Duration

	stores *storeflag.Flags
	// Store overrides the store configuration (tests).
	Store *store.Config
}

// New returns the cobra command.
func New(io *cmdutil.IOStreams) *cobra.Command {
	o := &Options{IO: io}
	cmd := &cobra.Command{
		Use:   "reprocess --from URL --to URL",
		Short: "Pseudonymise an existing archive from one store into another, resumably",
		Long: `Reprocess streams the listing of the --from store (never holding it whole),
redacts each JPEG with in-process workers and writes the output image and its
JSON record to the --to store under the opaque output name. Images in which
no plate is found are sealed (AES-256-GCM, the keys' sealing key) and stored
under quarantine/ in the sink, or in --quarantine. Objects that fail (not a
JPEG, corrupt, too large) are counted and written nowhere.

The run is resumable: progress is kept in a checkpoint under --data, keyed by
a hash of the two URLs. Killed and started again with the same URLs, it goes
on where it stopped; finished objects are not processed again, and an object
processed twice overwrites its own output (names derive from content and
keys). The checkpoint holds no names in clear: a sealed watermark key and
HMACs. --restart discards it; --retry-failed runs the failed objects again.

Run again after a complete pass, it makes an incremental one: it lists the
whole source again, since new objects may sort anywhere, and processes only
objects modified since the last complete pass began (objects modified
within 15 minutes of that start, the clock skew stores allow, are checked
one by one). A source whose writers keep old modification times (cp -p,
rsync -a into a folder) needs --restart to pick those up.

--delete-source removes a source object only after its output (or sealed
quarantine copy) has been read back from the sink with the right size.

With --nats, the work goes to the workers of that queue (platemask worker,
platemask serve) instead of workers in this process, so that many machines
share one archive: each object is published as a sealed job whose output
comes back through a results bucket on the broker, and is then written to
--to as above. Workers need the same keys, and their own settings (detector,
method, quality) apply. Images without a plate stay in the queue's
quarantine for review (platemask queue review), failures in its dead
letters. At most --in-flight jobs are out at once.

` + storeflag.Help + `

Exit status: 0 when every object was redacted or quarantined, 1 when any
failed or the run was interrupted, 2 on usage errors, 3 when a store or the
keys could not be used.`,
		Example: `  platemask reprocess --from /srv/anpr-dump --to s3://clean-archive/site-7
  platemask reprocess --from az://acct/raw --to az://acct/pseudonymised --delete-source
  AWS_ENDPOINT_URL=http://127.0.0.1:7070 platemask reprocess --from s3://raw --to s3://clean
  platemask reprocess --from az://acct/raw --to s3://clean --nats nats://broker:4222`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return Run(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.From, "from", "", "source store URL (required)")
	f.StringVar(&o.To, "to", "", "sink store URL (required)")
	f.StringVar(&o.Quarantine, "quarantine", "", "store URL for sealed images without a plate (default: quarantine/ in the sink)")
	f.StringVar(&o.DataDir, "data", DefaultCheckpointDir(), "folder for checkpoints")
	f.IntVar(&o.Workers, "workers", runtime.NumCPU(), "images processed in parallel")
	f.IntVar(&o.Window, "window", 4096, "most objects listed ahead of the oldest unfinished one")
	f.BoolVar(&o.DeleteSource, "delete-source", false, "delete each source object once its output is verified in the sink")
	f.BoolVar(&o.RetryFailed, "retry-failed", false, "list the whole source again and retry objects that failed before")
	f.BoolVar(&o.Restart, "restart", false, "discard the checkpoint and start from the beginning")
	f.BoolVar(&o.NoCount, "no-count", false, "do not list the source a second time to count it (no ETA)")
	f.StringVar(&o.Manifest, "manifest", "", "append a CSV mapping source keys to outputs (holds original names: keep it private)")
	f.BoolVar(&o.JSON, "json", false, "print the summary as JSON on stdout")
	f.DurationVar(&o.Interval, "progress-interval", 10*time.Second, "how often to print progress when stderr is not a terminal")
	f.StringVar(&o.NamePattern, "name-pattern", "", "regexp with named groups camera, time, plate for your camera's file names")
	o.RedactFlags.Register(f)
	o.stores = storeflag.Add(f)
	o.Broker.RegisterConnect(f)
	f.IntVar(&o.InFlight, "in-flight", 64, "with --nats: most jobs published and not yet settled")
	f.DurationVar(&o.Wait, "job-wait", 10*time.Minute, "with --nats: stop when a job has not settled within this time (no workers?)")
	return cmd
}

// DefaultCheckpointDir is $XDG_DATA_HOME/platemask, or
// ~/.local/share/platemask. Unlike serve's --data (a folder beside the
// deployment), checkpoints belong to the operator who runs the migration,
// wherever they run it from.
func DefaultCheckpointDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "platemask")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "platemask")
	}
	return filepath.Join(".", ".platemask")
}

// Summary is the --json output.
type Summary struct {
	Listed      int64          `json:"listed"`
	Redacted    int64          `json:"redacted"`
	Quarantined int64          `json:"quarantined"`
	Failed      int64          `json:"failed"`
	FailedBy    map[string]int `json:"failed_by_reason,omitempty"`
	// FailedEarlier are objects that failed in an earlier run and were not
	// tried again (--retry-failed does).
	FailedEarlier int64   `json:"failed_earlier_not_retried"`
	Skipped       int64   `json:"skipped_done_earlier"`
	Ignored       int64   `json:"ignored_not_jpeg"`
	Bytes         int64   `json:"bytes_read"`
	Seconds       float64 `json:"seconds"`
	PerSecond     float64 `json:"objects_per_second"`
	Complete      bool    `json:"complete"`
}

// Run reprocesses o.From into o.To.
func Run(ctx context.Context, o *Options) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.From == "" || o.To == "" {
		return cmdutil.UsageError("--from and --to are required")
	}
	cfg, err := storeflag.Resolve(o.Store, o.stores)
	if err != nil {
		return err
	}
	src, err := store.Open(ctx, o.From, cfg)
	if err != nil {
		return cmdutil.UsageError("--from: %w", err)
	}
	sink, err := store.Open(ctx, o.To, cfg)
	if err != nil {
		return cmdutil.UsageError("--to: %w", err)
	}
	if inside(sink.String(), src.String()) || inside(src.String(), sink.String()) {
		return cmdutil.UsageError("--from and --to overlap: the sink must not lie inside the source or the other way round")
	}
	var quar store.Store
	if o.Quarantine != "" {
		if quar, err = store.Open(ctx, o.Quarantine, cfg); err != nil {
			return cmdutil.UsageError("--quarantine: %w", err)
		}
		if inside(quar.String(), src.String()) {
			return cmdutil.UsageError("--quarantine must not lie inside the source")
		}
	}
	if o.Broker.URLs != "" {
		switch {
		case o.Quarantine != "":
			return cmdutil.UsageError("--quarantine does not apply with --nats: quarantined images stay in the queue's quarantine")
		case o.InFlight < 1:
			return cmdutil.UsageError("--in-flight must be at least 1")
		case o.Wait <= 0:
			return cmdutil.UsageError("--job-wait must be positive")
		}
	}
	ring, newProc, parser, err := setup(o)
	if err != nil {
		return err
	}
	var runner reprocess.Runner = &reprocess.InProcess{Workers: o.Workers, NewProcessor: newProc, Parser: parser, Keys: ring,
		Source: src, Sink: sink, Quarantine: quar, DeleteSource: o.DeleteSource}
	if o.Broker.URLs != "" {
		nc, err := o.Broker.Connect(o.Broker.URLs, "platemask-reprocess", pipeline.Logger(o.IO.ErrOut))
		if err != nil {
			return err
		}
		defer nc.Close()
		q, err := queue.Attach(ctx, nc, ring)
		if err != nil {
			return err
		}
		runner = &reprocess.Queued{Queue: q, Results: queue.ResultsBucket(reprocess.Label(src.String(), sink.String())),
			InFlight: o.InFlight, Wait: o.Wait, Parser: parser, MaxBytes: o.MaxBytes,
			Source: src, Sink: sink, DeleteSource: o.DeleteSource}
	}

	ckPath := reprocess.Path(o.DataDir, src.String(), sink.String())
	if o.Restart {
		if err := os.Remove(ckPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("checkpoint: %w", errors.Unwrap(err))
		}
	}
	ck, err := reprocess.OpenCheckpoint(ckPath, ring)
	if err != nil {
		return err
	}
	defer ck.Close()
	switch {
	case ck.Watermark() != "":
		fmt.Fprintln(o.IO.ErrOut, "platemask: resuming from the checkpoint (--restart to start over)")
	case !ck.Since().IsZero():
		fmt.Fprintf(o.IO.ErrOut, "platemask: incremental pass: objects modified since the last complete pass began (%s) (--restart to process everything)\n",
			ck.Since().UTC().Format(time.RFC3339))
	}

	var manifest *csv.Writer
	if o.Manifest != "" {
		mf, err := os.OpenFile(o.Manifest, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("manifest: %w", errors.Unwrap(err))
		}
		defer mf.Close()
		manifest = csv.NewWriter(mf)
		if st, _ := mf.Stat(); st != nil && st.Size() == 0 {
			manifest.Write([]string{"source", "output", "status", "regions", "reason"})
		}
		defer manifest.Flush()
	}

	failedBy := map[string]int{}
	var fmu sync.Mutex
	run := reprocess.New(reprocess.Config{
		Source:      src,
		Runner:      runner,
		Checkpoint:  ck,
		Window:      o.Window,
		RetryFailed: o.RetryFailed,
		Count:       !o.NoCount,
		OnResult: func(r reprocess.Result) {
			if r.Status == reprocess.Failed {
				fmu.Lock()
				failedBy[r.Reason]++
				fmu.Unlock()
			}
			if manifest != nil {
				manifest.Write([]string{r.Key, r.Output, string(r.Status), strconv.Itoa(r.Regions), r.Reason})
			}
		},
	})

	sigCtx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	bar := newProgress(o.IO, o.Interval, run.Stats)
	bar.start()
	runErr := run.Run(sigCtx)
	bar.stop()

	st := run.Stats()
	fmu.Lock()
	sum := Summary{Listed: st.Listed, Redacted: st.Redacted, Quarantined: st.Quarantined, Failed: st.Failed,
		Skipped: st.Skipped, Ignored: st.Ignored, Bytes: st.Bytes, Seconds: st.Elapsed.Seconds(),
		Complete: runErr == nil, FailedBy: failedBy}
	fmu.Unlock()
	if left := int64(ck.Failures()) - st.Failed; left > 0 {
		sum.FailedEarlier = left
	}
	if s := st.Elapsed.Seconds(); s > 0 {
		sum.PerSecond = float64(st.Redacted+st.Quarantined+st.Failed) / s
	}
	printSummary(o.IO, sum)
	if o.JSON {
		if err := cmdutil.WriteJSON(o.IO.Out, sum); err != nil {
			return err
		}
	}
	switch {
	case runErr != nil && ctx.Err() == nil && sigCtx.Err() != nil:
		return &cmdutil.ExitError{Code: cmdutil.ExitFailed, Err: errors.New("interrupted; run the same command again to resume")}
	case errors.Is(runErr, context.Canceled) || errors.Is(runErr, context.DeadlineExceeded):
		return runErr
	case runErr != nil:
		return fmt.Errorf("%w (run the same command again to resume)", runErr)
	case st.Failed > 0 || sum.FailedEarlier > 0:
		// A re-run must not read as a clean finish while failures remain.
		return cmdutil.Failed
	}
	return nil
}

// inside reports whether store URL a lies within store URL b.
func inside(a, b string) bool {
	return strings.HasPrefix(strings.TrimSuffix(a, "/")+"/", strings.TrimSuffix(b, "/")+"/")
}

func setup(o *Options) (*keys.Ring, func() (*redact.Processor, error), *ingest.Parser, error) {
	parser, err := ingest.NewParser(o.NamePattern)
	if err != nil {
		return nil, nil, nil, cmdutil.UsageError("--name-pattern: %w", err)
	}
	// Queued work is opened by the workers: they must hold these keys.
	o.KeysMustExist = o.Broker.URLs != ""
	ring, newProc, err := o.RedactFlags.Setup(o.IO.ErrOut)
	if err != nil {
		return nil, nil, nil, err
	}
	return ring, newProc, parser, nil
}

func printSummary(io *cmdutil.IOStreams, s Summary) {
	fmt.Fprintf(io.ErrOut, "reprocess: %d listed: %d redacted, %d quarantined, %d failed, %d done earlier, %d not JPEG; %.1f MB read in %.1fs (%.1f objects/s)\n",
		s.Listed, s.Redacted, s.Quarantined, s.Failed, s.Skipped, s.Ignored, float64(s.Bytes)/1e6, s.Seconds, s.PerSecond)
	if s.FailedEarlier > 0 {
		fmt.Fprintf(io.ErrOut, "reprocess: %d failed in an earlier run and were not tried again (--retry-failed)\n", s.FailedEarlier)
	}
	if len(s.FailedBy) > 0 {
		reasons := make([]string, 0, len(s.FailedBy))
		for r := range s.FailedBy {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		for _, r := range reasons {
			fmt.Fprintf(io.ErrOut, "reprocess: %d failed: %s\n", s.FailedBy[r], r)
		}
	}
}

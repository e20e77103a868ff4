// Package serve is the `platemask serve` command: the whole pipeline on
// one machine (embedded broker, HTTP ingest, drop folder, workers, sink),
// or the ingest and workers of a bigger deployment with --nats.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/platemask/platemask/cameras"
	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/command/pipeline"
	"github.com/platemask/platemask/ingest/receive"
	"github.com/platemask/platemask/metrics"
	"github.com/platemask/platemask/queue"
	"github.com/platemask/platemask/sink"
	"github.com/platemask/platemask/worker"
)

// Options are the command's flags.
type Options struct {
	IO *cmdutil.IOStreams

	Data       string
	Listen     string
	Inbox      string
	Out        string
	Sink       string
	Workers    int
	BrokerPort int
	NoInbox    bool
	SyncAlways bool
	Broker     pipeline.BrokerFlags
	Redact     pipeline.RedactFlags

	// Started, when set, is told the addresses once everything runs
	// (tests use it instead of fixed ports).
	Started func(Addrs)
	// Log replaces the text logger on stderr.
	Log *slog.Logger
}

// Addrs are where a running serve can be reached.
type Addrs struct {
	HTTP   string // base URL of the ingest endpoint
	Broker string // client URL of the broker
}

// New returns the cobra command.
func New(io *cmdutil.IOStreams) *cobra.Command { return NewWithRun(io, nil) }

// NewWithRun returns the command calling runF instead of Run when set (the
// cli/cli pattern: tests get the parsed options).
func NewWithRun(io *cmdutil.IOStreams, runF func(*Options) error) *cobra.Command {
	o := &Options{IO: io}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the pipeline: ingest, queue, workers and sink",
		Long: `Run the redaction pipeline. With no flags everything runs on this machine:
an embedded NATS JetStream broker (store encrypted at rest, listening on
loopback only), the HTTP upload endpoint, a drop folder, one worker per
core, and the output folder. Cameras are registered with
'platemask cameras add'; each pushes with its bearer token:

  curl -H "Authorization: Bearer $TOKEN" -H "Content-Type: image/jpeg" \
       --data-binary @photo.jpg http://127.0.0.1:8080/v1/images

or drops files into the drop folder (in a subfolder named after the camera
id). Redacted images and their records land in --out; images without a
plate are quarantined (sealed) in the broker. SIGTERM or Ctrl-C drains the
jobs in hand before exiting.

With --nats the broker is external (a NATS server or cluster) and more
workers can join from other machines with 'platemask worker'.`,
		Example: `  platemask cameras add gate-1 --site north
  platemask serve
  platemask serve --data /var/lib/platemask --listen :8080 --out /srv/redacted
  platemask serve --nats nats://n1:4222,nats://n2:4222 --replicas 3 --workers 0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return Run(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Data, "data", pipeline.DefaultDataDir, "folder for all state: broker store and key, camera registry")
	f.StringVar(&o.Listen, "listen", "127.0.0.1:8080", "HTTP address of the upload endpoint, /healthz, /readyz and /metrics (empty: none)")
	f.StringVar(&o.Inbox, "inbox", "", "drop folder (default DATA/inbox)")
	f.BoolVar(&o.NoInbox, "no-inbox", false, "watch no drop folder")
	f.StringVar(&o.Out, "out", "", "output folder (default DATA/out)")
	f.StringVar(&o.Sink, "sink", "fs", "where outputs go: fs (--out) or objects (the broker's "+queue.BucketOut+" bucket)")
	f.IntVar(&o.Workers, "workers", runtime.NumCPU(), "images processed in parallel (0: ingest only)")
	f.IntVar(&o.BrokerPort, "broker-port", queue.DefaultPort, "loopback port of the embedded broker (-1: any free port)")
	f.BoolVar(&o.SyncAlways, "sync-always", false, "flush the embedded broker's store to disk before acknowledging each upload, so accepted images survive a power loss (slower; by default they survive a killed process)")
	o.Broker.Register(f)
	o.Redact.Register(f)
	return cmd
}

// Run runs the pipeline until ctx ends, then drains it.
func Run(ctx context.Context, o *Options) error {
	log := o.Log
	if log == nil {
		log = pipeline.Logger(o.IO.ErrOut)
	}
	if o.Workers < 0 {
		return cmdutil.UsageError("--workers must be 0 or more")
	}
	if o.Sink != "fs" && o.Sink != "objects" {
		return cmdutil.UsageError("--sink: fs or objects")
	}
	qcfg, err := o.Broker.QueueConfig()
	if err != nil {
		return err
	}
	lim, err := o.Redact.Limits()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.Data, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	ring, newProc, err := o.Redact.Setup(o.IO.ErrOut)
	if err != nil {
		return err
	}
	reg, err := cameras.Open(filepath.Join(o.Data, cameras.DefaultFile))
	if err != nil {
		return err
	}
	// Listen before the broker starts, so that a taken address fails fast
	// and leaves nothing behind.
	var ln net.Listener
	if o.Listen != "" {
		if ln, err = net.Listen("tcp", o.Listen); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		defer ln.Close()
	}

	url := o.Broker.URLs
	if url == "" {
		srv, err := queue.StartServer(queue.ServerConfig{DataDir: filepath.Join(o.Data, "broker"), Port: o.BrokerPort, Logger: log, SyncAlways: o.SyncAlways})
		if errors.Is(err, queue.ErrPortTaken) {
			return fmt.Errorf("%w; pass --broker-port with a free port, or -1 for any", err)
		}
		if err != nil {
			return err
		}
		defer srv.Stop()
		url = srv.URL()
	}
	nc, err := o.Broker.Connect(url, "platemask-serve", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	q, err := queue.Open(ctx, nc, ring, qcfg)
	if err != nil {
		return err
	}
	out, where, err := o.openSink(ctx, q, qcfg.Replicas)
	if err != nil {
		return err
	}
	m := metrics.New()

	// Every part is built before any starts, so one that cannot be built
	// leaves nothing running.
	var folder *receive.Folder
	inbox := ""
	if !o.NoInbox {
		inbox = o.Inbox
		if inbox == "" {
			inbox = filepath.Join(o.Data, "inbox")
		}
		fc := receive.NewDefaultFolderConfig(inbox)
		fc.MaxBytes = lim.MaxBytes
		if folder, err = receive.NewFolder(fc, reg, q, m, log); err != nil {
			return err
		}
	}
	var pool *worker.Pool
	if o.Workers > 0 {
		wc := worker.NewDefaultConfig()
		wc.Workers, wc.NewProcessor, wc.Log, wc.Metrics = o.Workers, newProc, log, m
		if pool, err = worker.New(q, out, wc); err != nil {
			return err
		}
	}

	// The parts run until ctx ends; the first to fail stops the others.
	g, gctx := errgroup.WithContext(ctx)
	addrs := Addrs{Broker: url}
	if ln != nil {
		hc := receive.NewDefaultHTTPConfig()
		hc.Limits, hc.MaxBody, hc.Ready = lim, 2*lim.MaxBytes, q.Ready
		hs := &http.Server{Handler: receive.NewHTTP(hc, reg, q, m, log), ReadHeaderTimeout: 10 * time.Second}
		addrs.HTTP = "http://" + ln.Addr().String()
		g.Go(func() error { return serveHTTP(gctx, hs, ln) })
	}
	if folder != nil {
		g.Go(func() error { return folder.Run(gctx) })
	}
	if pool != nil {
		g.Go(func() error { return pool.Run(gctx) })
	}
	g.Go(func() error { worker.SampleDepth(gctx, q, m, 5*time.Second); return nil })

	log.Info("platemask serve running", "ingest", addrs.HTTP, "inbox", inbox, "out", where,
		"broker", url, "workers", o.Workers)
	if o.Started != nil {
		o.Started(addrs)
	}
	<-gctx.Done()
	log.Info("platemask serve draining")
	if err := g.Wait(); err != nil {
		return err
	}
	log.Info("platemask serve stopped")
	return nil
}

// openSink opens the output sink --sink names, and says where it is.
func (o *Options) openSink(ctx context.Context, q *queue.Queue, replicas int) (sink.Sink, string, error) {
	if o.Sink == "objects" {
		out, err := sink.NewObjects(ctx, q.JetStream(), sink.ObjectsConfig{Bucket: queue.BucketOut, Replicas: replicas})
		return out, "bucket " + queue.BucketOut, err
	}
	if o.Out == "" {
		o.Out = filepath.Join(o.Data, "out")
	}
	out, err := sink.NewDir(o.Out)
	return out, o.Out, err
}

// serveHTTP serves the upload endpoint on ln until ctx ends, then gives
// requests in flight ten seconds to finish.
func serveHTTP(ctx context.Context, hs *http.Server, ln net.Listener) error {
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http: %w", err)
	}
	return nil
}

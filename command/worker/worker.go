// Package worker is the `platemask worker` command: workers alone, against
// an external broker, so that many machines share one queue.
package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/command/pipeline"
	"github.com/platemask/platemask/metrics"
	"github.com/platemask/platemask/queue"
	"github.com/platemask/platemask/sink"
	"github.com/platemask/platemask/worker"
)

// Options are the command's flags.
type Options struct {
	IO *cmdutil.IOStreams

	Out     string
	Sink    string
	Workers int
	Metrics string
	Broker  pipeline.BrokerFlags
	Redact  pipeline.RedactFlags
}

// New returns the cobra command.
func New(io *cmdutil.IOStreams) *cobra.Command {
	o := &Options{IO: io}
	cmd := &cobra.Command{
		Use:   "worker --nats URL",
		Short: "Run workers against a shared queue",
		Long: `Run redaction workers against an external NATS broker or cluster, next
to a 'platemask serve' that does the ingest. Every worker needs the same
keys as the ingest (to open sealed images and derive names). Each of the
--workers holds up to two jobs: one being redacted, and the next (fetched
while it runs) or the last (being stored and acknowledged). SIGTERM or
Ctrl-C drains the jobs in hand before exiting.`,
		Example: `  platemask worker --nats nats://n1:4222,nats://n2:4222 --replicas 3 --out /srv/redacted
  platemask worker --nats tls://broker:4222 --nats-creds worker.creds --nats-ca ca.pem --sink objects`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return Run(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Out, "out", "", "output folder (with --sink fs)")
	f.StringVar(&o.Sink, "sink", "fs", "where outputs go: fs (--out) or objects (the broker's "+queue.BucketOut+" bucket)")
	f.IntVar(&o.Workers, "workers", runtime.NumCPU(), "images processed in parallel")
	f.StringVar(&o.Metrics, "metrics-listen", "", "serve /metrics on this address")
	o.Broker.Register(f)
	o.Redact.Register(f)
	return cmd
}

// Run runs workers until ctx ends, then drains them.
func Run(ctx context.Context, o *Options) error {
	if o.Broker.URLs == "" {
		return cmdutil.UsageError("--nats is required (serve runs workers itself on one machine)")
	}
	if o.Sink == "fs" && o.Out == "" {
		return cmdutil.UsageError("--out is required with --sink fs")
	}
	if o.Sink != "fs" && o.Sink != "objects" {
		return cmdutil.UsageError("--sink: fs or objects")
	}
	qcfg, err := o.Broker.QueueConfig()
	if err != nil {
		return err
	}
	o.Redact.KeysMustExist = true
	ring, newProc, err := o.Redact.Setup(o.IO.ErrOut)
	if err != nil {
		return err
	}
	log := pipeline.Logger(o.IO.ErrOut)
	nc, err := o.Broker.Connect(o.Broker.URLs, "platemask-worker", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	q, err := queue.Open(ctx, nc, ring, qcfg)
	if err != nil {
		return err
	}
	var out sink.Sink
	if o.Sink == "objects" {
		out, err = sink.NewObjects(ctx, q.JetStream(), sink.ObjectsConfig{Bucket: queue.BucketOut, Replicas: qcfg.Replicas})
	} else {
		out, err = sink.NewDir(o.Out)
	}
	if err != nil {
		return err
	}
	m := metrics.New()
	if o.Metrics != "" {
		ln, err := net.Listen("tcp", o.Metrics)
		if err != nil {
			return fmt.Errorf("metrics listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics endpoint failed", "err", err)
			}
		}()
		defer hs.Close()
	}
	wc := worker.NewDefaultConfig()
	wc.Workers, wc.NewProcessor, wc.Log, wc.Metrics = o.Workers, newProc, log, m
	pool, err := worker.New(q, out, wc)
	if err != nil {
		return err
	}
	go worker.SampleDepth(ctx, q, m, 5*time.Second)
	log.Info("platemask worker running", "workers", o.Workers)
	err = pool.Run(ctx)
	log.Info("platemask worker stopped")
	return err
}

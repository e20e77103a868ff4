// Package queue is the `platemask queue` command: the operator's view of
// the queue (depth, rates, dead letters, quarantine) and its controls
// (retry, purge, pause, release after review). It shows job ids,
// pseudonymous camera labels, ages, delivery counts and public reasons,
// never anything from an image or its original name.
package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/command/pipeline"
	"github.com/platemask/platemask/keys"
	"github.com/platemask/platemask/queue"
	"github.com/platemask/platemask/redact"
)

// Options are the flags every subcommand shares.
type Options struct {
	IO *cmdutil.IOStreams

	Data    string
	Broker  pipeline.BrokerFlags
	KeyFile string
	Timeout time.Duration
	// Now is the clock ages are measured with (tests).
	Now func() time.Time
}

// New returns the cobra command.
func New(io *cmdutil.IOStreams) *cobra.Command {
	o := &Options{IO: io}
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "See and steer the job queue: depth, failures, quarantine",
		Long: `Inspect and control platemask's queue. By default it works on the embedded
broker of 'platemask serve --data DIR': when serve runs, it connects to it;
when not, it opens the store itself for the duration of the command. With
--nats it connects to an external broker.

Output shows job ids, pseudonymous camera labels, ages, delivery counts
and public reasons only. Viewing or releasing a quarantined image needs the
keys and is recorded in DATA/audit.log.

Exit status: 0 ok, 1 something failed or was not found, 2 usage, 3 broker
unreachable (or no queue on it).`,
		Example: `  platemask queue stats
  platemask queue ls dead --json
  platemask queue retry --all
  platemask queue pause && platemask queue resume
  platemask queue view 7kq... --out /secure/review.jpg
  platemask queue release 7kq... --regions boxes.csv`,
	}
	f := cmd.PersistentFlags()
	f.StringVar(&o.Data, "data", pipeline.DefaultDataDir, "serve's data folder (embedded broker; audit log)")
	f.StringVar(&o.KeyFile, "keys", "", "key file (default "+keys.DefaultPath()+"; or set "+keys.EnvHMAC+" and "+keys.EnvSeal+"); camera labels, view and release need it")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Second, "give up on an unresponsive broker after this long")
	o.Broker.RegisterConnect(f)
	cmd.AddCommand(
		newStats(o), newWatch(o), newLs(o), newShow(o), newRetry(o), newPurge(o),
		newPause(o, true), newPause(o, false), newRelease(o), newView(o),
	)
	return cmd
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// conn is an attached queue and what to close after it.
type conn struct {
	q     *queue.Queue
	close func()
}

// brokerDown marks errors reaching the broker (exit 3).
func brokerDown(err error) error {
	return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: err}
}

// open attaches to the queue. With needKeys it fails without keys;
// otherwise keys are used when present and never created.
func (o *Options) open(ctx context.Context, needKeys bool) (*conn, error) {
	ring, err := o.keys(needKeys)
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var cleanup []func()
	done := func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}
	url := o.Broker.URLs
	if url == "" {
		dir := filepath.Join(o.Data, "broker")
		if _, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil {
			return nil, brokerDown(fmt.Errorf("no broker store in %s (give serve's --data, or --nats URL)", o.Data))
		}
		if url, err = queue.RunningURL(dir); err != nil {
			return nil, brokerDown(err)
		}
		if url == "" {
			// serve is not running: open the store here, on a free
			// loopback port, for as long as the command runs.
			srv, err := queue.StartServer(queue.ServerConfig{DataDir: dir, Port: -1})
			if errors.Is(err, queue.ErrInUse) {
				url, err = queue.RunningURL(dir) // serve started meanwhile
			} else if err == nil {
				cleanup = append(cleanup, srv.Stop)
				url = srv.URL()
			}
			if err != nil {
				return nil, brokerDown(fmt.Errorf("open broker store: %w", err))
			}
		}
	}
	nc, err := o.Broker.Connect(url, "platemask-queue", quiet)
	if err != nil {
		done()
		return nil, brokerDown(fmt.Errorf("broker unreachable: %w", err))
	}
	cleanup = append(cleanup, nc.Close)
	actx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	q, err := queue.Attach(actx, nc, ring)
	if err != nil {
		done()
		return nil, brokerDown(fmt.Errorf("attach to queue: %w", err))
	}
	return &conn{q: q, close: done}, nil
}

// keys loads the ring when one is configured; it never creates keys.
func (o *Options) keys(need bool) (*keys.Ring, error) {
	path := o.KeyFile
	if path == "" {
		path = keys.DefaultPath()
	}
	if os.Getenv(keys.EnvHMAC) == "" {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if need {
				return nil, &cmdutil.ExitError{Code: cmdutil.ExitFailure,
					Err: fmt.Errorf("this needs the keys: no key file at %s (--keys, or set %s and %s)", path, keys.EnvHMAC, keys.EnvSeal)}
			}
			return nil, nil
		}
	}
	ring, err := keys.Load(path, nil)
	if err != nil {
		return nil, &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: err}
	}
	return ring, nil
}

// call bounds one round of broker requests.
func (o *Options) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, o.Timeout)
}

// label is a job's pseudonymous camera label ("" without keys).
func label(q *queue.Queue, j queue.JobInfo) string {
	ring := q.Ring()
	if ring == nil || len(j.Meta) == 0 {
		return ""
	}
	meta, err := q.OpenMeta(j)
	if err != nil {
		return ""
	}
	return redact.CameraLabel(ring.Current().HMAC, meta.Camera)
}

// notFound marks a missing job (exit 1).
func notFound(id string) error {
	return &cmdutil.ExitError{Code: cmdutil.ExitFailed, Err: fmt.Errorf("job %s: %w", id, queue.ErrJobNotFound)}
}

// age renders d for people: 42s, 3m12s, 5h2m, 3d4h.
func age(d time.Duration) string {
	d = max(d, 0).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

package queue

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/queue"
)

// Stats is the queue at a glance.
type Stats struct {
	Pending     int `json:"pending"`
	InFlight    int `json:"in_flight"`
	Redelivered int `json:"redelivered"`
	Dead        int `json:"dead_letters"`
	Quarantined int `json:"quarantined"`
	// OldestAge is the age in seconds of the oldest job not yet settled
	// (0: none).
	OldestAge int64 `json:"oldest_pending_age_seconds"`
	Last1m    Rates `json:"last_1m"`
	Last5m    Rates `json:"last_5m"`
	// Workers counts worker processes with a live heartbeat; Slots and
	// Busy are their parallel jobs, all and in use.
	Workers int  `json:"workers"`
	Slots   int  `json:"worker_slots"`
	Busy    int  `json:"workers_busy"`
	Paused  bool `json:"paused"`
}

// Rates count settled jobs over a window. Processed are stored or
// quarantined; failed are dead-lettered or sent back for a retry.
type Rates struct {
	Processed   uint64 `json:"processed"`
	Failed      uint64 `json:"failed"`
	Stored      uint64 `json:"stored"`
	Quarantined uint64 `json:"quarantined"`
	Dead        uint64 `json:"dead"`
	Retried     uint64 `json:"retried"`
}

type statsOptions struct {
	*Options
	JSON bool
}

func newStats(o *Options) *cobra.Command {
	so := &statsOptions{Options: o}
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Depth, rates, dead letters, quarantine, workers, pause",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStats(cmd.Context(), so)
		},
	}
	cmd.Flags().BoolVar(&so.JSON, "json", false, "write JSON")
	return cmd
}

func runStats(ctx context.Context, o *statsOptions) error {
	c, err := o.open(ctx, false)
	if err != nil {
		return err
	}
	defer c.close()
	s, err := o.stats(ctx, c.q)
	if err != nil {
		return err
	}
	if o.JSON {
		return cmdutil.WriteJSON(o.IO.Out, s)
	}
	return s.table(o.IO.Out)
}

// stats gathers Stats; a broker that stops answering is exit 3.
func (o *Options) stats(ctx context.Context, q *queue.Queue) (Stats, error) {
	ctx, cancel := o.call(ctx)
	defer cancel()
	var s Stats
	st, err := q.State(ctx)
	if err != nil {
		return s, brokerDown(err)
	}
	s.Pending, s.InFlight, s.Redelivered = st.Pending, st.InFlight, st.Redelivered
	dead, err := q.Held(ctx, true)
	if err != nil {
		return s, brokerDown(err)
	}
	quar, err := q.Held(ctx, false)
	if err != nil {
		return s, brokerDown(err)
	}
	s.Dead, s.Quarantined = len(dead), len(quar)
	if s.Pending+s.InFlight > 0 {
		oldest, err := q.Oldest(ctx)
		if err != nil {
			return s, brokerDown(err)
		}
		if !oldest.IsZero() {
			s.OldestAge = int64(o.now().Sub(oldest).Seconds())
		}
	}
	now := o.now()
	for _, w := range []struct {
		dst *Rates
		d   time.Duration
	}{{&s.Last1m, time.Minute}, {&s.Last5m, 5 * time.Minute}} {
		n, err := q.EventCounts(ctx, now.Add(-w.d), queue.EventStored, queue.EventQuarantined, queue.EventDead, queue.EventRetried)
		if err != nil {
			return s, brokerDown(err)
		}
		*w.dst = Rates{Stored: n[queue.EventStored], Quarantined: n[queue.EventQuarantined],
			Dead: n[queue.EventDead], Retried: n[queue.EventRetried]}
		w.dst.Processed = w.dst.Stored + w.dst.Quarantined
		w.dst.Failed = w.dst.Dead + w.dst.Retried
	}
	beats, err := q.Workers(ctx)
	if err != nil {
		return s, brokerDown(err)
	}
	for _, b := range beats {
		s.Workers++
		s.Slots += b.Slots
		s.Busy += b.Busy
	}
	if s.Paused, err = q.Paused(ctx); err != nil {
		return s, brokerDown(err)
	}
	return s, nil
}

func (s Stats) table(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	state := "running"
	if s.Paused {
		state = "PAUSED"
	}
	oldest := "-"
	if s.OldestAge > 0 || s.Pending+s.InFlight > 0 {
		oldest = age(time.Duration(s.OldestAge) * time.Second)
	}
	fmt.Fprintf(tw, "queue\t%s\n", state)
	fmt.Fprintf(tw, "pending\t%d\n", s.Pending)
	fmt.Fprintf(tw, "in flight\t%d\n", s.InFlight)
	fmt.Fprintf(tw, "redelivered\t%d\n", s.Redelivered)
	fmt.Fprintf(tw, "oldest job\t%s\n", oldest)
	fmt.Fprintf(tw, "dead letters\t%d\n", s.Dead)
	fmt.Fprintf(tw, "quarantined\t%d\n", s.Quarantined)
	fmt.Fprintf(tw, "workers\t%d (%d/%d busy)\n", s.Workers, s.Busy, s.Slots)
	fmt.Fprintf(tw, "\tlast 1m\tlast 5m\n")
	for _, r := range []struct {
		name string
		a, b uint64
	}{
		{"processed", s.Last1m.Processed, s.Last5m.Processed},
		{"  stored", s.Last1m.Stored, s.Last5m.Stored},
		{"  quarantined", s.Last1m.Quarantined, s.Last5m.Quarantined},
		{"failed", s.Last1m.Failed, s.Last5m.Failed},
		{"  dead", s.Last1m.Dead, s.Last5m.Dead},
		{"  retried", s.Last1m.Retried, s.Last5m.Retried},
	} {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", r.name, r.a, r.b)
	}
	return tw.Flush()
}

// line is Stats on one line, for logs and pipes.
func (s Stats) line(now time.Time) string {
	return fmt.Sprintf("%s pending=%d in_flight=%d redelivered=%d dead=%d quarantined=%d oldest=%ds processed_1m=%d failed_1m=%d processed_5m=%d failed_5m=%d workers=%d paused=%t",
		now.UTC().Format(time.TimeOnly), s.Pending, s.InFlight, s.Redelivered, s.Dead, s.Quarantined, s.OldestAge,
		s.Last1m.Processed, s.Last1m.Failed, s.Last5m.Processed, s.Last5m.Failed, s.Workers, s.Paused)
}

type watchOptions struct {
	*Options
	JSON     bool
	Interval time.Duration
	// Count stops after this many refreshes (0: until interrupted).
	Count int
}

func newWatch(o *Options) *cobra.Command {
	wo := &watchOptions{Options: o}
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Stats, refreshed live until Ctrl-C",
		Long: `Show stats refreshed every --interval: redrawn in place on a terminal,
one line per refresh otherwise (or one JSON document with --json).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runWatch(ctx, wo)
		},
	}
	cmd.Flags().BoolVar(&wo.JSON, "json", false, "write one JSON document per refresh")
	cmd.Flags().DurationVar(&wo.Interval, "interval", 2*time.Second, "time between refreshes")
	cmd.Flags().IntVar(&wo.Count, "count", 0, "stop after this many refreshes (0: until interrupted)")
	return cmd
}

func runWatch(ctx context.Context, o *watchOptions) error {
	if o.Interval < 100*time.Millisecond {
		return cmdutil.UsageError("--interval must be at least 100ms")
	}
	c, err := o.open(ctx, false)
	if err != nil {
		return err
	}
	defer c.close()
	t := time.NewTicker(o.Interval)
	defer t.Stop()
	for n := 1; ; n++ {
		s, err := o.stats(ctx, c.q)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			// A broker blip is shown and waited out, not fatal.
			fmt.Fprintf(o.IO.ErrOut, "platemask: %v\n", err)
		case o.JSON:
			if err := cmdutil.WriteJSON(o.IO.Out, s); err != nil {
				return err
			}
		case o.IO.OutTTY:
			fmt.Fprint(o.IO.Out, "\033[H\033[2J")
			fmt.Fprintf(o.IO.Out, "platemask queue — every %s, Ctrl-C to stop\n\n", o.Interval)
			if err := s.table(o.IO.Out); err != nil {
				return err
			}
		default:
			fmt.Fprintln(o.IO.Out, s.line(o.now()))
		}
		if o.Count > 0 && n >= o.Count {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

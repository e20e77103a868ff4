package queue

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/queue"
)

// Job is one row of `queue ls`.
type Job struct {
	ID         string `json:"id"`
	State      string `json:"state"`
	Camera     string `json:"camera,omitempty"`
	AgeSeconds int64  `json:"age_seconds"`
	Deliveries uint64 `json:"deliveries"`
	Reason     string `json:"reason,omitempty"`
}

type lsOptions struct {
	*Options
	What      string
	JSON      bool
	Limit     int
	Camera    string
	OlderThan time.Duration
	NewerThan time.Duration
}

func newLs(o *Options) *cobra.Command {
	lo := &lsOptions{Options: o}
	cmd := &cobra.Command{
		Use:   "ls pending|dead|quarantine",
		Short: "List queued jobs, dead letters or quarantined jobs",
		Long: `List jobs, oldest first: id, state, pseudonymous camera label (with the
keys), age, deliveries and the public reason of the last failure.

Queued jobs are "pending" (never delivered) or "delivered" (with a worker
now, or waiting for a retry).`,
		Example: `  platemask queue ls dead
  platemask queue ls pending --older-than 10m --limit 20
  platemask queue ls quarantine --camera cam-ab12cd34ef --json`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"pending", "dead", "quarantine"},
		RunE: func(cmd *cobra.Command, args []string) error {
			lo.What = args[0]
			return runLs(cmd.Context(), lo)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&lo.JSON, "json", false, "write JSON")
	f.IntVar(&lo.Limit, "limit", 50, "list at most this many (0: all)")
	f.StringVar(&lo.Camera, "camera", "", "only jobs of this camera label (cam-...; needs the keys)")
	f.DurationVar(&lo.OlderThan, "older-than", 0, "only jobs older than this")
	f.DurationVar(&lo.NewerThan, "newer-than", 0, "only jobs newer than this")
	return cmd
}

func runLs(ctx context.Context, o *lsOptions) error {
	if o.What != "pending" && o.What != "dead" && o.What != "quarantine" {
		return cmdutil.UsageError("ls: pending, dead or quarantine, not %q", o.What)
	}
	if o.Limit < 0 || o.OlderThan < 0 || o.NewerThan < 0 {
		return cmdutil.UsageError("--limit, --older-than and --newer-than must not be negative")
	}
	c, err := o.open(ctx, o.Camera != "")
	if err != nil {
		return err
	}
	defer c.close()
	ctx, cancel := o.call(ctx)
	defer cancel()
	now := o.now()
	rows := []Job{}
	// keep reports whether to go on looking.
	keep := func(j queue.JobInfo) bool {
		a := now.Sub(j.Since)
		if o.OlderThan > 0 && a < o.OlderThan {
			return j.State == queue.StateDead || j.State == queue.StateQuarantined
		}
		if o.NewerThan > 0 && a > o.NewerThan {
			return true
		}
		cam := label(c.q, j)
		if o.Camera != "" && cam != o.Camera {
			return true
		}
		rows = append(rows, Job{ID: j.ID, State: j.State, Camera: cam, AgeSeconds: int64(a.Seconds()),
			Deliveries: j.Deliveries, Reason: j.Reason})
		return o.Limit == 0 || len(rows) < o.Limit
	}
	if o.What == "pending" {
		// Jobs come in queue order, which is age order: the first one
		// younger than --older-than ends the search.
		err = c.q.Pending(ctx, keep)
	} else {
		var held []queue.JobInfo
		held, err = c.q.HeldJobs(ctx, o.What == "dead")
		for _, j := range held {
			if !keep(j) {
				break
			}
		}
	}
	if err != nil {
		return brokerDown(err)
	}
	if o.JSON {
		return cmdutil.WriteJSON(o.IO.Out, rows)
	}
	return jobTable(o.IO.Out, rows)
}

func jobTable(w io.Writer, rows []Job) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATE\tCAMERA\tAGE\tDELIVERIES\tREASON")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", r.ID, r.State, dash(r.Camera),
			age(time.Duration(r.AgeSeconds)*time.Second), r.Deliveries, dash(r.Reason))
	}
	return tw.Flush()
}

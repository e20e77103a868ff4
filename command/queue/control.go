package queue

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/queue"
)

// RetryResult is what `queue retry` did.
type RetryResult struct {
	Retried []string      `json:"retried"`
	Failed  []RetryFailed `json:"failed"`
}

// RetryFailed is a dead letter that could not be retried.
type RetryFailed struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

type retryOptions struct {
	*Options
	IDs  []string
	All  bool
	JSON bool
}

func newRetry(o *Options) *cobra.Command {
	ro := &retryOptions{Options: o}
	cmd := &cobra.Command{
		Use:   "retry JOB...|--all",
		Short: "Move dead letters back to the workers",
		Long: `Queue dead letters again. Each job keeps its id, so a job that now
succeeds writes the output it would have written the first time.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ro.IDs = args
			return runRetry(cmd.Context(), ro)
		},
	}
	cmd.Flags().BoolVar(&ro.All, "all", false, "retry every dead letter")
	cmd.Flags().BoolVar(&ro.JSON, "json", false, "write JSON")
	return cmd
}

func runRetry(ctx context.Context, o *retryOptions) error {
	if o.All == (len(o.IDs) > 0) {
		return cmdutil.UsageError("retry: give job ids or --all, not both or neither")
	}
	c, err := o.open(ctx, false)
	if err != nil {
		return err
	}
	defer c.close()
	ctx, cancel := o.call(ctx)
	defer cancel()
	ids := o.IDs
	if o.All {
		held, err := c.q.HeldJobs(ctx, true)
		if err != nil {
			return brokerDown(err)
		}
		for _, j := range held {
			ids = append(ids, j.ID)
		}
	}
	res := RetryResult{Retried: []string{}, Failed: []RetryFailed{}}
	for _, id := range ids {
		err := c.q.Requeue(ctx, true, id, nil)
		switch {
		case err == nil:
			res.Retried = append(res.Retried, id)
		case errors.Is(err, queue.ErrJobNotFound):
			res.Failed = append(res.Failed, RetryFailed{id, "not a dead letter"})
		case errors.Is(err, queue.ErrNoPayload):
			res.Failed = append(res.Failed, RetryFailed{id, "payload missing"})
		default:
			return brokerDown(fmt.Errorf("retry %s: %w", id, err))
		}
	}
	if o.JSON {
		if err := cmdutil.WriteJSON(o.IO.Out, res); err != nil {
			return err
		}
	}
	for _, f := range res.Failed {
		fmt.Fprintf(o.IO.ErrOut, "platemask: %s: %s\n", f.ID, f.Reason)
	}
	fmt.Fprintf(o.IO.ErrOut, "retried %d dead letter(s)\n", len(res.Retried))
	if len(res.Failed) > 0 {
		return cmdutil.Failed
	}
	return nil
}

// PurgeResult is what `queue purge` did.
type PurgeResult struct {
	What   string `json:"what"`
	Purged int    `json:"purged"`
}

type purgeOptions struct {
	*Options
	What string
	Yes  bool
	JSON bool
}

func newPurge(o *Options) *cobra.Command {
	po := &purgeOptions{Options: o}
	cmd := &cobra.Command{
		Use:   "purge pending|dead|quarantine",
		Short: "Drop every queued job, dead letter or quarantined job",
		Long: `Drop jobs for good. Purging pending drops every job not yet settled,
including those in hand with workers. Asks first on a terminal; scripts
pass --yes (without it, purge refuses when stdin is not a terminal).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			po.What = args[0]
			return runPurge(cmd.Context(), po)
		},
	}
	cmd.Flags().BoolVarP(&po.Yes, "yes", "y", false, "do not ask")
	cmd.Flags().BoolVar(&po.JSON, "json", false, "write JSON")
	return cmd
}

func runPurge(ctx context.Context, o *purgeOptions) error {
	switch o.What {
	case queue.PurgePending, queue.PurgeDead, queue.PurgeQuarantine:
	default:
		return cmdutil.UsageError("purge: pending, dead or quarantine, not %q", o.What)
	}
	if !o.Yes && !o.IO.InTTY {
		return cmdutil.UsageError("purge: refusing without --yes when stdin is not a terminal")
	}
	c, err := o.open(ctx, false)
	if err != nil {
		return err
	}
	defer c.close()
	if !o.Yes {
		fmt.Fprintf(o.IO.ErrOut, "Drop every %s job for good? Type 'yes' to confirm: ", o.What)
		line, _ := bufio.NewReader(o.IO.In).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "yes" && a != "y" {
			fmt.Fprintln(o.IO.ErrOut, "nothing purged")
			return cmdutil.Failed
		}
	}
	ctx, cancel := o.call(ctx)
	defer cancel()
	n, err := c.q.Purge(ctx, o.What)
	if err != nil {
		return brokerDown(err)
	}
	if o.JSON {
		return cmdutil.WriteJSON(o.IO.Out, PurgeResult{What: o.What, Purged: n})
	}
	fmt.Fprintf(o.IO.ErrOut, "purged %d %s job(s)\n", n, o.What)
	return nil
}

// PauseResult is the state after `queue pause` or `queue resume`.
type PauseResult struct {
	Paused bool `json:"paused"`
}

func newPause(o *Options, pause bool) *cobra.Command {
	var asJSON bool
	use, short := "resume", "Let workers take jobs again"
	if pause {
		use, short = "pause", "Stop workers taking new jobs (those in hand finish)"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer c.close()
			ctx, cancel := o.call(cmd.Context())
			defer cancel()
			if err := c.q.SetPaused(ctx, pause); err != nil {
				return brokerDown(err)
			}
			if asJSON {
				return cmdutil.WriteJSON(o.IO.Out, PauseResult{Paused: pause})
			}
			if pause {
				fmt.Fprintln(o.IO.ErrOut, "queue paused: workers finish the jobs in hand and take no new ones")
			} else {
				fmt.Fprintln(o.IO.ErrOut, "queue resumed")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "write JSON")
	return cmd
}

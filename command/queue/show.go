package queue

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/queue"
)

// JobDetail is everything `queue show` tells about a job: never its
// content, original name, plate or capture time.
type JobDetail struct {
	Job
	SealedBytes uint64 `json:"sealed_bytes"`
	// Payload is inline (in the job message), object (in the raw
	// bucket), held (in dead letters or quarantine) or missing.
	Payload string `json:"payload"`
	// Sequence is the job message's place in the stream (queued jobs).
	Sequence uint64 `json:"sequence,omitempty"`
	// Known only with the keys:
	StaticMasks   int    `json:"static_masks,omitempty"`
	ManualRegions int    `json:"manual_regions,omitempty"`
	Network       string `json:"network,omitempty"`
	Review        string `json:"review,omitempty"`
	Keys          bool   `json:"keys"`
}

type showOptions struct {
	*Options
	ID   string
	JSON bool
}

func newShow(o *Options) *cobra.Command {
	so := &showOptions{Options: o}
	cmd := &cobra.Command{
		Use:   "show JOB",
		Short: "Everything known about a job, except its content and name",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			so.ID = args[0]
			return runShow(cmd.Context(), so)
		},
	}
	cmd.Flags().BoolVar(&so.JSON, "json", false, "write JSON")
	return cmd
}

func runShow(ctx context.Context, o *showOptions) error {
	c, err := o.open(ctx, false)
	if err != nil {
		return err
	}
	defer c.close()
	ctx, cancel := o.call(ctx)
	defer cancel()
	j, err := c.q.Find(ctx, o.ID)
	if errors.Is(err, queue.ErrJobNotFound) {
		return notFound(o.ID)
	}
	if err != nil {
		return brokerDown(err)
	}
	d := JobDetail{
		Job: Job{ID: j.ID, State: j.State, Camera: label(c.q, j), AgeSeconds: int64(o.now().Sub(j.Since).Seconds()),
			Deliveries: j.Deliveries, Reason: j.Reason},
		SealedBytes: j.Size, Sequence: j.Seq, Keys: c.q.Ring() != nil,
	}
	switch {
	case j.State == queue.StateDead || j.State == queue.StateQuarantined:
		d.Payload = "held"
		if j.Size == 0 {
			d.Payload = "missing"
		}
	case j.Object:
		d.Payload = "object"
	default:
		d.Payload = "inline"
	}
	if meta, err := c.q.OpenMeta(j); err == nil {
		d.StaticMasks, d.ManualRegions, d.Review = len(meta.Static), len(meta.Manual), meta.Review
		d.Network = meta.Network
	}
	if o.JSON {
		return cmdutil.WriteJSON(o.IO.Out, d)
	}
	tw := tabwriter.NewWriter(o.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "job\t%s\n", d.ID)
	fmt.Fprintf(tw, "state\t%s\n", d.State)
	fmt.Fprintf(tw, "camera\t%s\n", dash(d.Camera))
	fmt.Fprintf(tw, "age\t%s\n", age(time.Duration(d.AgeSeconds)*time.Second))
	fmt.Fprintf(tw, "deliveries\t%d\n", d.Deliveries)
	fmt.Fprintf(tw, "reason\t%s\n", dash(d.Reason))
	fmt.Fprintf(tw, "payload\t%s (%d bytes sealed)\n", d.Payload, d.SealedBytes)
	if d.Sequence > 0 {
		fmt.Fprintf(tw, "sequence\t%d\n", d.Sequence)
	}
	if d.Keys {
		fmt.Fprintf(tw, "static masks\t%d\n", d.StaticMasks)
		fmt.Fprintf(tw, "manual regions\t%d\n", d.ManualRegions)
		fmt.Fprintf(tw, "network\t%s\n", dash(d.Network))
		fmt.Fprintf(tw, "review\t%s\n", dash(d.Review))
	}
	return tw.Flush()
}

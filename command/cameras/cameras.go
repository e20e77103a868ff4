// Package cameras is the `platemask cameras` command: register the
// cameras allowed to push images, each with its own bearer token.
package cameras

import (
	"errors"
	"fmt"
	"image"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/platemask/platemask/cameras"
	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/command/pipeline"
	"github.com/platemask/platemask/models"
)

// Options are the flags every subcommand shares.
type Options struct {
	IO   *cmdutil.IOStreams
	Data string
	JSON bool
}

// New returns the cobra command with its subcommands.
func New(io *cmdutil.IOStreams) *cobra.Command {
	o := &Options{IO: io}
	cmd := &cobra.Command{
		Use:   "cameras",
		Short: "Register the cameras that may push images",
		Long: `Manage the camera registry in the data folder. 'add' prints a new bearer
token once; only its hash is stored. Each camera may have static mask
rectangles (burned-in timestamp overlays, always destroyed) and a file-name
pattern (a regexp with named groups camera, time, plate).`,
	}
	cmd.PersistentFlags().StringVar(&o.Data, "data", pipeline.DefaultDataDir, "data folder of platemask serve")
	cmd.AddCommand(newAdd(o), newSet(o), newList(o), newRemove(o))
	return cmd
}

func (o *Options) registry() (*cameras.Registry, error) {
	return cameras.Open(o.registryPath())
}

// registryPath is said back to the operator: --data is relative to the
// working directory, and a registry made elsewhere is one serve never reads.
func (o *Options) registryPath() string {
	return filepath.Join(o.Data, cameras.DefaultFile)
}

// Entry is one camera in --json output: never its token or hash.
type Entry struct {
	ID      string            `json:"id"`
	Site    string            `json:"site,omitempty"`
	Masks   []image.Rectangle `json:"masks,omitempty"`
	Pattern string            `json:"pattern,omitempty"`
	Network string            `json:"network,omitempty"`
	Added   string            `json:"added"`
	Token   string            `json:"token,omitempty"` // only from add
}

func entry(c cameras.Camera) Entry {
	return Entry{ID: c.ID, Site: c.Site, Masks: c.Masks, Pattern: c.Pattern, Network: c.Network, Added: c.Added.Format("2006-01-02T15:04:05Z")}
}

type details struct {
	site    string
	masks   []string
	pattern string
	network string
}

func (d *details) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&d.site, "site", "", "site the camera belongs to")
	f.StringArrayVar(&d.masks, "mask", nil, "static region to always destroy, x,y,w,h (repeatable)")
	f.StringVar(&d.pattern, "pattern", "", "file-name regexp with named groups camera, time, plate")
	f.StringVar(&d.network, "network", "", fmt.Sprintf("detector network for this camera's images: %s, or \"\" for the workers' own (fences: a camera that looks through a fence; see models/README.md)",
		strings.Join(models.Networks, ", ")))
}

func (d *details) rects() ([]image.Rectangle, error) {
	var out []image.Rectangle
	for _, m := range d.masks {
		r, err := cameras.ParseRect(m)
		if err != nil {
			return nil, cmdutil.UsageError("--mask: %w", err)
		}
		out = append(out, r)
	}
	return out, nil
}

func newAdd(o *Options) *cobra.Command {
	var d details
	cmd := &cobra.Command{
		Use:   "add ID",
		Short: "Register a camera and print its bearer token (shown once)",
		Example: `  platemask cameras add gate-1 --site north --mask 0,0,640,40
  platemask cameras add yard-2 --network fences`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := o.registry()
			if err != nil {
				return err
			}
			masks, err := d.rects()
			if err != nil {
				return err
			}
			tok, err := reg.Add(cameras.Camera{ID: args[0], Site: d.site, Masks: masks, Pattern: d.pattern, Network: d.network})
			if err != nil {
				if errors.Is(err, cameras.ErrExists) {
					return &cmdutil.ExitError{Code: cmdutil.ExitFailed, Err: err}
				}
				return cmdutil.UsageError("%w", err)
			}
			if o.JSON {
				c, _, err := reg.Get(args[0])
				if err != nil {
					return err
				}
				e := entry(c)
				e.Token = tok
				return cmdutil.WriteJSON(o.IO.Out, e)
			}
			fmt.Fprintln(o.IO.Out, tok)
			fmt.Fprintf(o.IO.ErrOut, "platemask: camera %s registered in %s; the token above is shown only once: configure the camera with it\n", args[0], o.registryPath())
			return nil
		},
	}
	d.register(cmd)
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the camera and token as JSON")
	return cmd
}

func newSet(o *Options) *cobra.Command {
	var d details
	var clear bool
	cmd := &cobra.Command{
		Use:   "set ID",
		Short: "Change a camera's site, masks, file-name pattern or network",
		Example: `  platemask cameras set yard-2 --network fences
  platemask cameras set yard-2 --network ""   # back to the workers' own`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := o.registry()
			if err != nil {
				return err
			}
			c, ok, err := reg.Get(args[0])
			if err != nil {
				return err
			}
			if !ok {
				return &cmdutil.ExitError{Code: cmdutil.ExitFailed, Err: fmt.Errorf("%w: %s", cameras.ErrNotFound, args[0])}
			}
			masks, err := d.rects()
			if err != nil {
				return err
			}
			if clear {
				c.Masks = nil
			}
			c.Masks = append(c.Masks, masks...)
			if cmd.Flags().Changed("site") {
				c.Site = d.site
			}
			if cmd.Flags().Changed("pattern") {
				c.Pattern = d.pattern
			}
			if cmd.Flags().Changed("network") {
				c.Network = d.network
			}
			if err := reg.Update(c); err != nil {
				return cmdutil.UsageError("%w", err)
			}
			return nil
		},
	}
	d.register(cmd)
	cmd.Flags().BoolVar(&clear, "clear-masks", false, "remove the existing masks first")
	return cmd
}

func newList(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "ls",
		Short:   "List registered cameras",
		Aliases: []string{"list"},
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := o.registry()
			if err != nil {
				return err
			}
			cams, err := reg.List()
			if err != nil {
				return err
			}
			if len(cams) == 0 {
				fmt.Fprintf(o.IO.ErrOut, "platemask: no cameras registered in %s (is --data serve's data folder?)\n", o.registryPath())
			}
			if o.JSON {
				out := []Entry{}
				for _, c := range cams {
					out = append(out, entry(c))
				}
				return cmdutil.WriteJSON(o.IO.Out, out)
			}
			tw := tabwriter.NewWriter(o.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSITE\tMASKS\tPATTERN\tNETWORK\tADDED")
			for _, c := range cams {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", c.ID, c.Site, len(c.Masks), strings.TrimSpace(c.Pattern), c.Network, c.Added.Format("2006-01-02"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON")
	return cmd
}

func newRemove(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:     "rm ID",
		Short:   "Remove a camera; its token stops working at once",
		Aliases: []string{"remove"},
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := o.registry()
			if err != nil {
				return err
			}
			if err := reg.Remove(args[0]); err != nil {
				if errors.Is(err, cameras.ErrNotFound) {
					return &cmdutil.ExitError{Code: cmdutil.ExitFailed, Err: err}
				}
				return err
			}
			return nil
		},
	}
}

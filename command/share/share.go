// Package share is the `platemask share` command: a read-only link to one
// redacted object that expires.
package share

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/platemask/platemask/audit"
	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/command/storeflag"
	"github.com/platemask/platemask/store"
)

// Options are the command's flags.
type Options struct {
	IO *cmdutil.IOStreams

	URL    string
	TTL    time.Duration
	MaxTTL time.Duration
	JSON   bool

	stores *storeflag.Flags
	// Store overrides the store configuration (tests).
	Store *store.Config
	// Now is the clock (tests).
	Now func() time.Time
}

// DefaultMaxTTL is the cap on --ttl unless --max-ttl says otherwise.
const DefaultMaxTTL = 24 * time.Hour

// New returns the cobra command.
func New(io *cmdutil.IOStreams) *cobra.Command {
	o := &Options{IO: io}
	cmd := &cobra.Command{
		Use:   "share URL",
		Short: "Print a read-only link to one redacted object that expires",
		Long: `Share prints a link that lets anyone holding it read one object, and nothing
else, until it expires: an S3 presigned GET, or an Azure service SAS scoped
to that one blob with read permission only (signing it needs the account
key). Never an account-wide token.

The lifetime (--ttl) may not exceed --max-ttl (default 24h), and --max-ttl
may not exceed 7 days. Before signing, the object's name and metadata are
checked as audit does: an object whose name holds a timestamp, plate or
other identifier, or which carries metadata, is refused.

` + storeflag.Help,
		Example: `  platemask share s3://clean-archive/site-7/kfqm3bdyu7wvyjxw2mpbnz4gxe.jpg --ttl 1h
  platemask share az://acct/pseudonymised/kfqm3bdyu7wvyjxw2mpbnz4gxe.jpg --ttl 30m --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.URL = args[0]
			return Run(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.TTL, "ttl", time.Hour, "how long the link works")
	f.DurationVar(&o.MaxTTL, "max-ttl", DefaultMaxTTL, "refuse a --ttl longer than this (at most 168h)")
	f.BoolVar(&o.JSON, "json", false, "print the link and its expiry as JSON")
	o.stores = storeflag.Add(f)
	return cmd
}

// Link is the --json output.
type Link struct {
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
}

// Run prints a link to o.URL.
func Run(ctx context.Context, o *Options) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case o.MaxTTL <= 0 || o.MaxTTL > store.MaxShareTTL:
		return cmdutil.UsageError("--max-ttl must be between 1s and %s", store.MaxShareTTL)
	case o.TTL <= 0:
		return cmdutil.UsageError("--ttl must be positive")
	case o.TTL > o.MaxTTL:
		return cmdutil.UsageError("--ttl %s is longer than the cap of %s (--max-ttl)", o.TTL, o.MaxTTL)
	}
	cfg, err := storeflag.Resolve(o.Store, o.stores)
	if err != nil {
		return err
	}
	storeURL, key, err := store.Split(o.URL)
	if err != nil {
		return cmdutil.UsageError("%w", err)
	}
	s, err := store.Open(ctx, storeURL, cfg)
	if err != nil {
		return cmdutil.UsageError("%w", err)
	}
	if kinds := audit.NameKinds(key); len(kinds) > 0 {
		return refuse("its name holds %s", strings.Join(kinds, ", "))
	}
	data, err := s.Get(ctx, key, codec.DefaultLimits().MaxBytes)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &cmdutil.ExitError{Code: cmdutil.ExitFailed, Err: errors.New("no such object")}
	case errors.Is(err, store.ErrTooLarge):
		return refuse("it is larger than any redacted image")
	case err != nil:
		return err
	}
	if string(data[:min(4, len(data))]) == "PMS1" {
		return refuse("it is a sealed quarantined image")
	}
	meta, trailing, err := audit.Metadata(data)
	switch {
	case err != nil:
		return refuse("it is not a well-formed JPEG")
	case len(meta) > 0:
		return refuse("it carries metadata (%s)", strings.Join(meta, ", "))
	case trailing > 0:
		return refuse("it carries bytes after the end of the image")
	}
	expires := o.Now().Add(o.TTL).UTC().Truncate(time.Second)
	u, err := s.Share(ctx, key, o.TTL)
	if errors.Is(err, store.ErrNoShare) {
		return cmdutil.UsageError("%w", err)
	}
	if err != nil {
		return err
	}
	if o.JSON {
		return cmdutil.WriteJSON(o.IO.Out, Link{URL: u, Expires: expires})
	}
	fmt.Fprintln(o.IO.Out, u)
	fmt.Fprintf(o.IO.ErrOut, "share: read-only link to one object, expires %s (in %s)\n", expires.Format(time.RFC3339), o.TTL)
	return nil
}

func refuse(format string, a ...any) error {
	return &cmdutil.ExitError{Code: cmdutil.ExitFailed, Err: fmt.Errorf("refusing to share this object: "+format, a...)}
}

// Package command assembles the platemask CLI from one package per command.
package command

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	auditcmd "github.com/platemask/platemask/command/audit"
	camerascmd "github.com/platemask/platemask/command/cameras"
	"github.com/platemask/platemask/command/cmdutil"
	evalcmd "github.com/platemask/platemask/command/eval"
	queuecmd "github.com/platemask/platemask/command/queue"
	redactcmd "github.com/platemask/platemask/command/redact"
	reprocesscmd "github.com/platemask/platemask/command/reprocess"
	samplescmd "github.com/platemask/platemask/command/samples"
	servecmd "github.com/platemask/platemask/command/serve"
	sharecmd "github.com/platemask/platemask/command/share"
	workercmd "github.com/platemask/platemask/command/worker"
)

// Version is set at build time.
var Version = "dev"

// NewRoot returns the platemask command tree.
func NewRoot(io *cmdutil.IOStreams) *cobra.Command {
	root := &cobra.Command{
		Use:   "platemask",
		Short: "Destroy licence plates and identifiers in ANPR camera images",
		Long: `platemask pseudonymises ANPR camera images: it finds licence plates,
destroys them in the pixels, strips all metadata by re-encoding, and names
outputs with an opaque keyed hash so that no timestamp, plate or camera
identifier survives in anything stored.`,
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return cmdutil.UsageError("%w", err)
	})
	root.AddCommand(
		redactcmd.New(io),
		evalcmd.New(io),
		samplescmd.New(io),
		servecmd.New(io),
		workercmd.New(io),
		queuecmd.New(io),
		camerascmd.New(io),
		reprocesscmd.New(io),
		auditcmd.New(io),
		sharecmd.New(io),
	)
	return root
}

// Execute runs the CLI with args and returns the exit code.
func Execute(io *cmdutil.IOStreams, args []string) int {
	root := NewRoot(io)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err != nil {
		var ee *cmdutil.ExitError
		if !errors.As(err, &ee) && isUsage(err) {
			if cmd != nil && strings.Contains(err.Error(), "arg(s)") {
				// cobra's "accepts 1 arg(s), received 0" says not which.
				err = fmt.Errorf("%w; usage: %s (see --help)", err, cmd.UseLine())
			}
			err = &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: err}
		}
		if msg := err.Error(); msg != "" && !errors.Is(err, cmdutil.Failed) {
			fmt.Fprintln(io.ErrOut, "platemask:", msg)
		}
	}
	return cmdutil.ExitCode(err)
}

// isUsage recognises cobra's own argument errors.
func isUsage(err error) bool {
	m := err.Error()
	return strings.HasPrefix(m, "unknown command") || strings.Contains(m, "arg(s)") ||
		strings.HasPrefix(m, "required flag")
}

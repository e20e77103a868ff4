package serve_test

import (
	"testing"

	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/command/serve"
)

// options parses args as the command line would and returns the options.
func options(t testing.TB, args []string, io *cmdutil.IOStreams) *serve.Options {
	t.Helper()
	var got *serve.Options
	c := serve.NewWithRun(io, func(o *serve.Options) error { got = o; return nil })
	c.SetArgs(args)
	if err := c.Execute(); err != nil {
		t.Fatal(err)
	}
	return got
}

package command_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/platemask/platemask/command"
	"github.com/platemask/platemask/command/cmdutil"
)

// A missing or extra argument is a usage error that shows what the
// command takes, not only cobra's count.
func TestArgumentErrorsShowUsage(t *testing.T) {
	tests := []struct {
		args []string
		use  string
	}{
		{[]string{"audit"}, "usage: platemask audit URL"},
		{[]string{"samples"}, "usage: platemask samples DIR"},
		{[]string{"share"}, "usage: platemask share URL"},
		{[]string{"queue", "show"}, "usage: platemask queue show JOB"},
		{[]string{"redact", "--out", "x"}, "usage: platemask redact [flags] INPUT..."},
		{[]string{"cameras", "rm"}, "usage: platemask cameras rm ID"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		code := command.Execute(&cmdutil.IOStreams{Out: &out, ErrOut: &errOut}, tt.args)
		if code != cmdutil.ExitUsage || !strings.Contains(errOut.String(), tt.use) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tt.args, code, errOut.String(), cmdutil.ExitUsage, tt.use)
		}
	}
}

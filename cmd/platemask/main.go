// Command platemask pseudonymises ANPR camera images. See README.md.
package main

import (
	"os"

	"github.com/platemask/platemask/command"
	"github.com/platemask/platemask/command/cmdutil"
)

func main() {
	os.Exit(command.Execute(cmdutil.System(), os.Args[1:]))
}
